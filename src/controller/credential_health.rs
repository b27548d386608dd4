//! Credential health, for both kinds. Observe: what a pass's first look at the Admin API proved
//! about the credentials it read. Decide (pure): the `CredentialsValid` condition. Record: the
//! condition in the status the pass hands over, and the per-Secret metrics.
//!
//! The condition costs no call of its own: it is read off the pass's first look (whose login is a
//! cached token or the one login the look needs anyway). Its message names the Secret, never the
//! account's email, and changes only when what it says does, so an idle pass still writes nothing.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::condition::{CREDENTIALS_VALID, Reason, Said, Status, condition_of, find_condition};
use super::context::Context;
use super::error::{CredentialsGap, Error};
use super::managed::Managed;
use super::secret_reader::Account;
use crate::admin_api::ErrorClass;

/// What a pass's first look at the Admin API told of the credentials it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstLook {
    /// The Secret they were read from, `namespace/name`.
    pub secret: String,
    /// The Admin API answered the look (its login was proven). Otherwise the pass's error says
    /// why not.
    pub answered: bool,
    /// While logins with these credentials are held back after a refusal: when the next may be
    /// tried.
    pub next_login: Option<Timestamp>,
}

/// Every reason `CredentialsValid` can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsReason {
    LoginSucceeded,
    LoginRefused,
    ProjectNotFound,
    Forbidden,
    NoCredentials,
    OutOfScope,
    SecretNotFound,
    KeyMissing,
    /// The pass stopped before it logged in, or the login got no answer.
    NotChecked,
}

impl CredentialsReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "LoginSucceeded",
            Self::LoginRefused => "LoginRefused",
            Self::ProjectNotFound => "ProjectNotFound",
            Self::Forbidden => "Forbidden",
            Self::NoCredentials => "NoCredentials",
            Self::OutOfScope => "OutOfScope",
            Self::SecretNotFound => "SecretNotFound",
            Self::KeyMissing => "KeyMissing",
            Self::NotChecked => "NotChecked",
        }
    }
}

/// What `CredentialsValid` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsVerdict {
    pub status: Status,
    pub reason: CredentialsReason,
    pub message: String,
}

impl CredentialsVerdict {
    fn new(status: Status, reason: CredentialsReason, message: String) -> Self {
        Self {
            status,
            reason,
            message,
        }
    }
}

/// `CredentialsValid` after a pass that made `look` (if it got that far) and ended in `error`
/// (if any). `None`: the pass learned nothing new (its login got no answer); what status says
/// stands.
pub fn credentials_verdict(
    look: Option<&FirstLook>,
    error: Option<&Error>,
) -> Option<CredentialsVerdict> {
    use CredentialsReason as R;
    if let Some(Error::CredentialsNotFound(gap)) = error {
        let reason = match gap {
            CredentialsGap::NoneConfigured => R::NoCredentials,
            CredentialsGap::OutOfScope { .. } => R::OutOfScope,
            CredentialsGap::SecretMissing { .. } => R::SecretNotFound,
            CredentialsGap::KeyMissing { .. } => R::KeyMissing,
        };
        return Some(CredentialsVerdict::new(
            Status::False,
            reason,
            gap.to_string(),
        ));
    }
    let Some(look) = look else {
        return Some(CredentialsVerdict::new(
            Status::Unknown,
            R::NotChecked,
            "not checked: the pass stopped before it logged in to the Admin API (see Ready)".into(),
        ));
    };
    let secret = &look.secret;
    let class = match error {
        Some(Error::Api(error)) => Some(error.class()),
        _ => None,
    };
    if class == Some(ErrorClass::Unauthorized) {
        let held = look.next_login.map_or_else(String::new, |at| {
            format!("; the next login with them is held back until {at}")
        });
        let message = format!(
            "the Admin API refused the login with the credentials in Secret {secret}{held}; a changed Secret is tried at once"
        );
        return Some(CredentialsVerdict::new(
            Status::False,
            R::LoginRefused,
            message,
        ));
    }
    if let Some(Error::ProjectNotFound { project_id, .. }) = error {
        let message = format!(
            "the credentials in Secret {secret} log in, but their projectId {project_id:?} is not in the Admin API"
        );
        return Some(CredentialsVerdict::new(
            Status::False,
            R::ProjectNotFound,
            message,
        ));
    }
    if class == Some(ErrorClass::Forbidden) {
        let message = format!(
            "the account in Secret {secret} logs in but may not manage its project: it must be an admin or owner, and the project must have Embedded Assistant"
        );
        return Some(CredentialsVerdict::new(
            Status::False,
            R::Forbidden,
            message,
        ));
    }
    look.answered.then(|| {
        let message = format!("the credentials in Secret {secret} log in to the Admin API");
        CredentialsVerdict::new(Status::True, R::LoginSucceeded, message)
    })
}

/// After the pass's first look at the Admin API with `account`: the per-Secret metrics, and what
/// the look told, for `CredentialsValid`.
pub async fn note_first_look<T>(
    ctx: &Context,
    account: &Account,
    outcome: &Result<T, Error>,
) -> FirstLook {
    let secret = account.source();
    let refused = outcome
        .as_ref()
        .err()
        .is_some_and(|e| e.reason() == Reason::CredentialsRejected);
    let next_login = if refused {
        ctx.admin.login_paused_until(&account.credentials).await
    } else {
        None
    };
    let wait = next_login.map(|at| {
        let left = Timestamp::now().duration_until(at);
        std::time::Duration::try_from(left).unwrap_or_default()
    });
    ctx.metrics.credentials(&secret, refused, wait);
    ctx.metrics
        .credentials_outcome(&secret, outcome.is_ok(), refused);
    FirstLook {
        secret,
        answered: outcome.is_ok(),
        next_login,
    }
}

/// Sets `CredentialsValid` in `status` for a pass that ended in `outcome`; `generation`: the
/// object's. A pass that learned nothing new keeps what status says (or, if nothing, `Unknown`).
pub fn record_credentials_valid<K: Managed, T>(
    status: &mut K::Status,
    look: Option<&FirstLook>,
    outcome: &Result<T, Error>,
    generation: Option<i64>,
) {
    let conditions = &mut K::sync_status_mut(status).conditions;
    let previous = find_condition(conditions, CREDENTIALS_VALID);
    let verdict = match credentials_verdict(look, outcome.as_ref().err()) {
        Some(verdict) => verdict,
        None if previous.is_some() => return,
        None => CredentialsVerdict::new(
            Status::Unknown,
            CredentialsReason::NotChecked,
            "not checked: the Admin API did not answer the login".into(),
        ),
    };
    let said = Said {
        status: verdict.status,
        reason: verdict.reason.as_str(),
        message: &verdict.message,
    };
    let now = Time(Timestamp::now());
    let condition = condition_of(conditions, CREDENTIALS_VALID, &said, generation, now);
    super::condition::set_condition(conditions, condition);
}

#[cfg(test)]
#[path = "credential_health_tests.rs"]
mod tests;
