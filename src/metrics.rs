//! Prometheus metrics. Every label is drawn from a fixed set (endpoint, status, kind, reason) or
//! names a credentials Secret in use, so the series count is bounded whatever the cluster holds;
//! no label ever names a customer, a user or an email.

use std::fmt::Write as _;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// An Admin API operation: the `endpoint` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Endpoint {
    Login,
    ListCustomers,
    CreateCustomer,
    UpdateCustomer,
    DeleteCustomer,
    ListUsers,
    CreateUser,
    UpdateUser,
    DeleteUser,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiCallLabels {
    endpoint: Endpoint,
    /// An HTTP status, or `timeout` / `network` when there was none.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: Endpoint,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileErrorLabels {
    kind: &'static str,
    reason: &'static str,
}

/// A credentials Secret, as `namespace/name` (or `default`): bounded by the Secrets in use, never
/// an email.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SecretLabels {
    secret: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    api_calls: Family<ApiCallLabels, Counter>,
    api_latency: HistogramFamily<EndpointLabels>,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    reconcile_duration: HistogramFamily<ReconcileLabels>,
    leader: Gauge,
    credentials_refused: Family<SecretLabels, Gauge>,
    credentials_next_login: Family<SecretLabels, Gauge>,
    credentials_last_success: Family<SecretLabels, Gauge>,
    credentials_refused_passes: Family<SecretLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("corti_operator");
        let api_calls = Family::<ApiCallLabels, Counter>::default();
        let api_latency: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(latency_histogram);
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ReconcileErrorLabels, Counter>::default();
        let reconcile_duration: HistogramFamily<ReconcileLabels> =
            Family::new_with_constructor(latency_histogram);
        let leader = Gauge::default();
        let credentials_refused = Family::<SecretLabels, Gauge>::default();
        let credentials_next_login = Family::<SecretLabels, Gauge>::default();
        let credentials_last_success = Family::<SecretLabels, Gauge>::default();
        let credentials_refused_passes = Family::<SecretLabels, Gauge>::default();
        registry.register(
            "credentials_last_success_timestamp_seconds",
            "When a pass last reached the Admin API with this Secret's credentials (Unix time)",
            credentials_last_success.clone(),
        );
        registry.register(
            "credentials_refused_passes",
            "Passes in a row that found this Secret's credentials refused, since the last success",
            credentials_refused_passes.clone(),
        );
        registry.register(
            "credentials_refused",
            "1 while the Admin API refuses the credentials of this Secret",
            credentials_refused.clone(),
        );
        registry.register(
            "credentials_next_login_seconds",
            "Seconds until a login with this Secret's refused credentials may be tried again",
            credentials_next_login.clone(),
        );
        registry.register(
            "admin_api_calls",
            "Admin API calls by endpoint and status",
            api_calls.clone(),
        );
        registry.register(
            "admin_api_call_duration_seconds",
            "Admin API call latency by endpoint",
            api_latency.clone(),
        );
        registry.register("reconciles", "Reconcile passes by kind", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconcile passes that ended in an error, by kind and condition reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile pass duration by kind",
            reconcile_duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry,
            api_calls,
            api_latency,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            leader,
            credentials_refused,
            credentials_next_login,
            credentials_last_success,
            credentials_refused_passes,
        }
    }
}

impl Metrics {
    pub fn api_call(&self, endpoint: Endpoint, status: &str, elapsed: Duration) {
        self.api_calls
            .get_or_create(&ApiCallLabels {
                endpoint,
                status: status.to_string(),
            })
            .inc();
        self.api_latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    pub fn reconciled(&self, kind: &'static str, elapsed: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels { kind })
            .inc();
        self.reconcile_duration
            .get_or_create(&ReconcileLabels { kind })
            .observe(elapsed.as_secs_f64());
    }

    pub fn reconcile_error(&self, kind: &'static str, reason: &'static str) {
        self.reconcile_errors
            .get_or_create(&ReconcileErrorLabels { kind, reason })
            .inc();
    }

    /// Whether the credentials of `secret` are refused, and how long until the next login.
    pub fn credentials(&self, secret: &str, refused: bool, next_login: Option<Duration>) {
        let labels = SecretLabels {
            secret: secret.to_string(),
        };
        self.credentials_refused
            .get_or_create(&labels)
            .set(i64::from(refused));
        let wait = next_login.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.credentials_next_login.get_or_create(&labels).set(wait);
    }

    /// What one pass found with the credentials of `secret`: a success (the Admin API answered)
    /// restarts the count of refused passes; a refusal adds one.
    pub fn credentials_outcome(&self, secret: &str, reached: bool, refused: bool) {
        let labels = SecretLabels {
            secret: secret.to_string(),
        };
        let refused_passes = self.credentials_refused_passes.get_or_create(&labels);
        if reached {
            let now = jiff::Timestamp::now().as_second();
            self.credentials_last_success
                .get_or_create(&labels)
                .set(now);
            refused_passes.set(0);
        } else if refused {
            refused_passes.inc();
        }
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The text exposition format, for `/metrics`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            let _ = writeln!(out, "# metrics encoding failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_calls_with_bounded_labels() {
        let metrics = Metrics::default();
        metrics.api_call(Endpoint::ListUsers, "200", Duration::from_millis(12));
        metrics.reconcile_error("Customer", "RemoteUnavailable");
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"corti_operator_admin_api_calls_total{endpoint="ListUsers",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"corti_operator_reconcile_errors_total{kind="Customer",reason="RemoteUnavailable"} 1"#
        ));
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
        let last = text
            .lines()
            .find(|l| l.starts_with("corti_operator_credentials_last_success_timestamp_seconds{"))
            .expect(&text);
        let seconds: i64 = last.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(
            (seconds - jiff::Timestamp::now().as_second()).abs() < 5,
            "{last}"
        );
    }
}
