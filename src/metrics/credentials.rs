//! Metrics of credential health, per credentials Secret (`namespace/name`): refused logins, the
//! login pause, the last success and the expiry of the last token issued. Never an email.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A credentials Secret, as `namespace/name`: bounded by the Secrets in use, never an email.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SecretLabels {
    secret: String,
}

impl SecretLabels {
    fn of(secret: &str) -> Self {
        Self {
            secret: secret.to_string(),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct CredentialFamilies {
    refused: Family<SecretLabels, Gauge>,
    next_login: Family<SecretLabels, Gauge>,
    last_success: Family<SecretLabels, Gauge>,
    refused_passes: Family<SecretLabels, Gauge>,
    failed_logins: Family<SecretLabels, Counter>,
    token_expiry: Family<SecretLabels, Gauge>,
}

impl CredentialFamilies {
    pub(super) fn registered(registry: &mut Registry) -> Self {
        let families = Self::default();
        registry.register(
            "credentials_last_success_timestamp_seconds",
            "When a pass last reached the Admin API with this Secret's credentials (Unix time)",
            families.last_success.clone(),
        );
        registry.register(
            "credentials_refused_passes",
            "Passes in a row that found this Secret's credentials refused, since the last success",
            families.refused_passes.clone(),
        );
        registry.register(
            "credentials_failed_logins",
            "Logins the Admin API refused, by the credentials Secret they were read from",
            families.failed_logins.clone(),
        );
        registry.register(
            "credentials_refused",
            "1 while the Admin API refuses the credentials of this Secret",
            families.refused.clone(),
        );
        registry.register(
            "credentials_next_login_seconds",
            "Seconds until a login with this Secret's refused credentials may be tried again",
            families.next_login.clone(),
        );
        registry.register(
            "credentials_token_expiry_timestamp_seconds",
            "When the last token issued for this Secret's credentials expires (Unix time)",
            families.token_expiry.clone(),
        );
        families
    }
}

impl super::Metrics {
    /// The Admin API refused a login with credentials read from `secret` (`namespace/name`).
    pub fn failed_login(&self, secret: &str) {
        self.credential_families
            .failed_logins
            .get_or_create(&SecretLabels::of(secret))
            .inc();
    }

    /// A login with the credentials of `secret` got a token valid for `lifetime` from now.
    pub fn token_issued(&self, secret: &str, lifetime: Duration) {
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let expiry = jiff::Timestamp::now().as_second().saturating_add(lifetime);
        self.credential_families
            .token_expiry
            .get_or_create(&SecretLabels::of(secret))
            .set(expiry);
    }

    /// Whether the credentials of `secret` are refused, and how long until the next login.
    pub fn credentials(&self, secret: &str, refused: bool, next_login: Option<Duration>) {
        let labels = SecretLabels::of(secret);
        let families = &self.credential_families;
        families
            .refused
            .get_or_create(&labels)
            .set(i64::from(refused));
        let wait = next_login.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        families.next_login.get_or_create(&labels).set(wait);
    }

    /// What one pass found with the credentials of `secret`: a success (the Admin API answered)
    /// restarts the count of refused passes; a refusal adds one.
    pub fn credentials_outcome(&self, secret: &str, reached: bool, refused: bool) {
        let labels = SecretLabels::of(secret);
        let families = &self.credential_families;
        let refused_passes = families.refused_passes.get_or_create(&labels);
        if reached {
            let now = jiff::Timestamp::now().as_second();
            families.last_success.get_or_create(&labels).set(now);
            refused_passes.set(0);
        } else if refused {
            refused_passes.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::metrics::Metrics;

    /// The value of the one series that starts with `series`.
    fn value_of(text: &str, series: &str) -> i64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("{series} in {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn refusal_and_the_next_login_by_secret() {
        let metrics = Metrics::default();
        metrics.credentials("tenants/corti-admin", true, Some(Duration::from_secs(15)));
        let text = metrics.encode();
        assert!(
            text.contains(r#"corti_operator_credentials_refused{secret="tenants/corti-admin"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"corti_operator_credentials_next_login_seconds{secret="tenants/corti-admin"} 15"#
        ));
    }

    #[test]
    fn refused_passes_count_up_and_a_success_resets_them() {
        let metrics = Metrics::default();
        let secret = "tenants/corti-admin";
        metrics.credentials_outcome(secret, false, true);
        metrics.credentials_outcome(secret, false, true);
        metrics.credentials_outcome(secret, false, false); // another error: neither
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"corti_operator_credentials_refused_passes{secret="tenants/corti-admin"} 2"#
            ),
            "{text}"
        );
        metrics.credentials_outcome(secret, true, false);
        let text = metrics.encode();
        assert!(text.contains(
            r#"corti_operator_credentials_refused_passes{secret="tenants/corti-admin"} 0"#
        ));
        let last = value_of(
            &text,
            "corti_operator_credentials_last_success_timestamp_seconds{",
        );
        assert!(
            (last - jiff::Timestamp::now().as_second()).abs() < 5,
            "{last}"
        );
    }

    #[test]
    fn failed_logins_count_by_secret() {
        let metrics = Metrics::default();
        metrics.failed_login("tenants/corti-admin");
        metrics.failed_login("tenants/corti-admin");
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"corti_operator_credentials_failed_logins_total{secret="tenants/corti-admin"} 2"#
            ),
            "{text}"
        );
    }

    #[test]
    fn the_token_expiry_is_the_last_token_issued_per_secret() {
        let metrics = Metrics::default();
        metrics.token_issued("tenants/a", Duration::from_secs(3600));
        metrics.token_issued("tenants/b", Duration::from_secs(60));
        metrics.token_issued("tenants/b", Duration::from_secs(120));
        let text = metrics.encode();
        let now = jiff::Timestamp::now().as_second();
        let series = "corti_operator_credentials_token_expiry_timestamp_seconds";
        let a = value_of(&text, &format!(r#"{series}{{secret="tenants/a"}}"#));
        let b = value_of(&text, &format!(r#"{series}{{secret="tenants/b"}}"#));
        assert!((a - now - 3600).abs() < 5, "{a} {now}");
        assert!(
            (b - now - 120).abs() < 5,
            "the last token counts: {b} {now}"
        );
    }
}
