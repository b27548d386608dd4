//! Invitation state. Decide (pure): whether a user this operator created has left its email
//! unverified past the Console's invitation window, and when that window ends. Record: one
//! Warning Event when it does (status keeps `invitationOverdue`, so the Event is not repeated).
//! Adopted users are left out: when their invitation was sent is not known.

use std::time::Duration;

use jiff::Timestamp;

use super::condition::Readiness;
use super::context::Context;
use super::events::{Happened, publish};
use crate::crd::{CustomerUser, CustomerUserStatus, Ownership};

/// The Console's invitation window.
pub const INVITATION_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub overdue: bool,
    /// Until the window ends, while the user is unverified and it is ahead.
    pub ends_in: Option<Duration>,
}

/// `owned_since`: when the status recorded the create (the invitation went out then).
pub fn invitation_at(
    ownership: Option<Ownership>,
    owned_since: Option<&str>,
    verified: bool,
    now: Timestamp,
) -> Invitation {
    let quiet = Invitation {
        overdue: false,
        ends_in: None,
    };
    let sent = owned_since.and_then(|s| s.parse::<Timestamp>().ok());
    let (Some(Ownership::Created), Some(sent), false) = (ownership, sent, verified) else {
        return quiet;
    };
    let window = jiff::SignedDuration::try_from(INVITATION_WINDOW).unwrap_or_default();
    match Duration::try_from(now.duration_until(sent + window)) {
        Ok(left) if !left.is_zero() => Invitation {
            overdue: false,
            ends_in: Some(left),
        },
        _ => Invitation {
            overdue: true,
            ends_in: None,
        },
    }
}

/// Records the invitation state in `status` (one Warning Event when it becomes overdue) and
/// returns `readiness` waking at the end of the window.
pub async fn record_invitation(
    ctx: &Context,
    user: &CustomerUser,
    status: &mut CustomerUserStatus,
    verified: bool,
    mut readiness: Readiness,
) -> Readiness {
    let owner = &status.sync.owner;
    let now = Timestamp::now();
    let invitation = invitation_at(owner.ownership, owner.owned_since.as_deref(), verified, now);
    if invitation.overdue && !status.invitation_overdue {
        let note = "the user has not verified their email within the 7-day invitation window";
        publish(ctx, user, Happened::InvitationExpired, note).await;
    }
    status.invitation_overdue = invitation.overdue;
    readiness.wake_in = match (readiness.wake_in, invitation.ends_in) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    readiness
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_created_unverified_user_past_seven_days_is_overdue() {
        let now: Timestamp = "2027-01-08T00:00:01Z".parse().unwrap();
        let sent = Some("2027-01-01T00:00:00Z");
        let created = Some(Ownership::Created);
        assert!(invitation_at(created, sent, false, now).overdue);
        assert!(!invitation_at(created, sent, true, now).overdue, "verified");
        assert!(
            !invitation_at(Some(Ownership::Adopted), sent, false, now).overdue,
            "adopted: when the invitation went out is unknown"
        );
        assert!(!invitation_at(None, sent, false, now).overdue);
        let early: Timestamp = "2027-01-07T23:00:00Z".parse().unwrap();
        let pending = invitation_at(created, sent, false, early);
        assert_eq!(
            pending,
            Invitation {
                overdue: false,
                ends_in: Some(Duration::from_secs(3600))
            }
        );
    }
}
