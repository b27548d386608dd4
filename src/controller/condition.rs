//! The `Ready` condition: a status, a reason from a fixed set, and the server's words; and how
//! any condition of a status is built and kept.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
/// Whether the credentials a resource acts with log in (see `credential_health`).
pub const CREDENTIALS_VALID: &str = "CredentialsValid";

/// Whether the operator writes the condition `type_` (others belong to other field managers, and
/// server-side apply keeps them).
pub fn is_own_condition(type_: &str) -> bool {
    type_ == READY || type_ == CREDENTIALS_VALID
}

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
    pub fn as_str(self) -> &'static str {
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
    let said = Said {
        status: readiness.status,
        reason: readiness.reason.as_str(),
        message: &readiness.message,
    };
    condition_of(previous, READY, &said, generation, now)
}

/// What a condition says, before it is stamped with a generation and a transition time.
#[derive(Clone, Copy, Debug)]
pub struct Said<'a> {
    pub status: Status,
    pub reason: &'a str,
    pub message: &'a str,
}

/// The condition `type_` saying `said`; `lastTransitionTime` moves only when its status does.
pub fn condition_of(
    previous: &[Condition],
    type_: &str,
    said: &Said<'_>,
    generation: Option<i64>,
    now: Time,
) -> Condition {
    let status = said.status.as_str();
    let last_transition_time = find_condition(previous, type_)
        .filter(|old| old.status == status)
        .map_or(now, |old| old.last_transition_time.clone());
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: said.reason.into(),
        message: said.message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

pub fn find_ready(conditions: &[Condition]) -> Option<&Condition> {
    find_condition(conditions, READY)
}

/// Puts `condition` in place of the one of its type, keeping the others and their order; `Ready`
/// always comes first.
pub fn set_condition(conditions: &mut Vec<Condition>, condition: Condition) {
    if condition.type_ == READY {
        conditions.retain(|c| c.type_ != READY);
        conditions.insert(0, condition);
    } else if let Some(slot) = conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        *slot = condition;
    } else {
        conditions.push(condition);
    }
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

    #[test]
    fn conditions_keep_their_places_and_ready_comes_first() {
        let said = |status, reason| Said {
            status,
            reason,
            message: "m",
        };
        let mut conditions = Vec::new();
        let other = condition_of(
            &[],
            "CredentialsValid",
            &said(Status::True, "A"),
            None,
            time(1),
        );
        set_condition(&mut conditions, other);
        let ready = ready_condition(&[], &Readiness::ready("ok"), Some(1), time(1));
        set_condition(&mut conditions, ready.clone());
        let types = |c: &[Condition]| c.iter().map(|c| c.type_.clone()).collect::<Vec<_>>();
        assert_eq!(types(&conditions), ["Ready", "CredentialsValid"]);
        let refused = condition_of(
            &conditions,
            "CredentialsValid",
            &said(Status::False, "B"),
            None,
            time(5),
        );
        assert_eq!(refused.last_transition_time, time(5), "a new status");
        set_condition(&mut conditions, refused);
        set_condition(&mut conditions, ready);
        assert_eq!(types(&conditions), ["Ready", "CredentialsValid"]);
        assert_eq!(conditions[1].reason, "B");
        let same = condition_of(
            &conditions,
            "CredentialsValid",
            &said(Status::False, "C"),
            None,
            time(9),
        );
        assert_eq!(same.last_transition_time, time(5), "the same status");
    }
}
