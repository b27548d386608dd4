//! The `Ready` condition: a status, a reason from a fixed set, and the server's words.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";

/// Every reason `Ready` can carry. The set is closed so that dashboards, alerts and the Argo CD
/// health check can rely on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Reconciled,
    Creating,
    Updating,
    Deleting,
    Paused,
    CustomerNotReady,
    CredentialsNotFound,
    CredentialsRejected,
    Forbidden,
    InvalidSpec,
    InvalidPassword,
    Conflict,
    RemoteUnavailable,
    /// A bug in the operator: its log says more.
    Internal,
    /// `managementPolicy: Observe` or `--dry-run`: read, compared, nothing written.
    Observed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reconciled => "Reconciled",
            Self::Creating => "Creating",
            Self::Updating => "Updating",
            Self::Deleting => "Deleting",
            Self::Paused => "Paused",
            Self::CustomerNotReady => "CustomerNotReady",
            Self::CredentialsNotFound => "CredentialsNotFound",
            Self::CredentialsRejected => "CredentialsRejected",
            Self::Forbidden => "Forbidden",
            Self::InvalidSpec => "InvalidSpec",
            Self::InvalidPassword => "InvalidPassword",
            Self::Conflict => "Conflict",
            Self::RemoteUnavailable => "RemoteUnavailable",
            Self::Internal => "Internal",
            Self::Observed => "Observed",
        }
    }

    /// A person must act (fix a Secret, a spec, a permission) before this clears.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            Self::CredentialsNotFound
                | Self::CredentialsRejected
                | Self::Forbidden
                | Self::InvalidSpec
                | Self::InvalidPassword
                | Self::Conflict
        )
    }
}

/// The tri-state of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

/// What a pass concluded, before it becomes a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub status: Status,
    pub reason: Reason,
    pub message: String,
    /// Look again within this long, sooner than the resync (e.g. when a user's access ends).
    pub wake_in: Option<std::time::Duration>,
}

impl Readiness {
    pub fn ready(message: impl Into<String>) -> Self {
        Self {
            status: Status::True,
            reason: Reason::Reconciled,
            message: message.into(),
            wake_in: None,
        }
    }

    pub fn not_ready(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            status: Status::False,
            reason,
            message: message.into(),
            wake_in: None,
        }
    }
}

/// The `Ready` condition for `readiness`; `lastTransitionTime` moves only when the status does.
pub fn ready_condition(
    previous: &[Condition],
    readiness: &Readiness,
    generation: Option<i64>,
    now: Time,
) -> Condition {
    let status = readiness.status.as_str();
    let last_transition_time = find_ready(previous)
        .filter(|old| old.status == status)
        .map_or(now, |old| old.last_transition_time.clone());
    Condition {
        type_: READY.into(),
        status: status.into(),
        reason: readiness.reason.as_str().into(),
        message: readiness.message.clone(),
        observed_generation: generation,
        last_transition_time,
    }
}

pub fn find_ready(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == READY)
}

/// Whether a pass changed what `Ready` says (status or reason): that, and only that, is an Event.
pub fn is_transition(previous: &[Condition], next: &Condition) -> bool {
    find_ready(previous).is_none_or(|old| old.status != next.status || old.reason != next.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let first = ready_condition(
            &[],
            &Readiness::not_ready(Reason::Creating, "creating"),
            Some(1),
            time(10),
        );
        assert_eq!(first.last_transition_time, time(10));
        let same_status = ready_condition(
            std::slice::from_ref(&first),
            &Readiness::not_ready(Reason::RemoteUnavailable, "503"),
            Some(1),
            time(20),
        );
        assert_eq!(same_status.last_transition_time, time(10));
        assert!(
            is_transition(std::slice::from_ref(&first), &same_status),
            "a new reason is a transition"
        );
        let ready = ready_condition(
            std::slice::from_ref(&same_status),
            &Readiness::ready("ok"),
            Some(2),
            time(30),
        );
        assert_eq!(
            (ready.status.as_str(), ready.last_transition_time.clone()),
            ("True", time(30))
        );
        assert_eq!(ready.observed_generation, Some(2));
        let again = ready_condition(
            std::slice::from_ref(&ready),
            &Readiness::ready("ok"),
            Some(2),
            time(40),
        );
        assert!(!is_transition(std::slice::from_ref(&ready), &again));
        assert_eq!(again, ready, "a pass with nothing new writes nothing new");
    }
}
