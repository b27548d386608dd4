//! Invitation state. Decide (pure): whether a user this operator created has left its email
//! unverified past the Console's invitation window, and when that window ends. Record: one
//! Warning Event when it does (status keeps `invitationOverdue`, so the Event is not repeated,
//! a restart included). The invitation goes out when the Admin API makes the user: its
//! `createdAt`, else (a service that omits it) when the status recorded the create. Adopted users
//! are left out: whether, and when, they were invited again is not known.

use std::time::Duration;

use jiff::Timestamp;

use super::condition::Readiness;
use super::context::Context;
use super::events::{Happened, publish};
use crate::admin_api::User;
use crate::crd::{CustomerUser, CustomerUserStatus, Ownership};

/// The Console's invitation window.
pub const INVITATION_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub overdue: bool,
    /// Until the window ends, while the user is unverified and it is ahead.
    pub ends_in: Option<Duration>,
}

/// `created_at`: when the Admin API made the user (the invitation went out then), if it says;
/// `owned_since`: when the status recorded the create, the fallback.
pub fn invitation_at(
    ownership: Option<Ownership>,
    created_at: Option<&str>,
    owned_since: Option<&str>,
    verified: bool,
    now: Timestamp,
) -> Invitation {
    let quiet = Invitation {
        overdue: false,
        ends_in: None,
    };
    let parse = |at: Option<&str>| at.and_then(|s| s.parse::<Timestamp>().ok());
    let sent = parse(created_at).or_else(|| parse(owned_since));
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

/// Records the invitation state of `remote` in `status` (one Warning Event when it becomes
/// overdue) and returns `readiness` waking at the end of the window.
pub async fn record_invitation(
    ctx: &Context,
    user: &CustomerUser,
    status: &mut CustomerUserStatus,
    remote: &User,
    mut readiness: Readiness,
) -> Readiness {
    let owner = &status.sync.owner;
    let invitation = invitation_at(
        owner.ownership,
        remote.created_at.as_deref(),
        owner.owned_since.as_deref(),
        remote.email_verified,
        Timestamp::now(),
    );
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
        assert!(invitation_at(created, sent, None, false, now).overdue);
        assert!(
            invitation_at(created, None, sent, false, now).overdue,
            "no createdAt from the service: when the create was recorded"
        );
        assert!(
            !invitation_at(created, sent, None, true, now).overdue,
            "verified"
        );
        assert!(
            !invitation_at(Some(Ownership::Adopted), sent, None, false, now).overdue,
            "adopted: whether it was invited again is unknown"
        );
        assert!(!invitation_at(None, sent, None, false, now).overdue);
        assert!(!invitation_at(created, None, None, false, now).overdue);
        let early: Timestamp = "2027-01-07T23:00:00Z".parse().unwrap();
        let pending = invitation_at(created, sent, None, false, early);
        assert_eq!(
            pending,
            Invitation {
                overdue: false,
                ends_in: Some(Duration::from_secs(3600))
            }
        );
        // The service's word wins over the operator's record.
        let recorded = Some("2027-01-07T00:00:00Z");
        assert!(invitation_at(created, sent, recorded, false, now).overdue);
        assert!(!invitation_at(created, None, recorded, false, now).overdue);
    }
}
