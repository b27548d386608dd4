//! A clinician's access lifecycle. Decide (pure): whether `accessExpiresAt` has passed, the spec a
//! pass applies (not enabled once it has), and when to look again (at the expiry instant). Act:
//! `deletionPolicy: Disable`, which disables the owned remote user and keeps it.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use super::cleanup::Parted;
use super::condition::Readiness;
use super::context::Context;
use super::error::Error;
use super::events::{Happened, publish};
use super::ownership::Left;
use super::user_target::Target;
use crate::admin_api::{ApiError, User, UserPatch};
use crate::crd::{CustomerUser, CustomerUserSpec};

/// How long after the expiry instant the pass that enforces it runs: never a moment early.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// Where the user's access stands at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// `accessExpiresAt` as written, when set.
    pub ends_at: Option<String>,
    pub expired: bool,
    /// Until the expiry instant (plus a margin), while it is ahead.
    pub ends_in: Option<Duration>,
}

/// `expires_at` (RFC 3339) at `now`.
pub fn access_at(expires_at: Option<&str>, now: Timestamp) -> Result<Access, String> {
    let Some(raw) = expires_at else {
        return Ok(Access {
            ends_at: None,
            expired: false,
            ends_in: None,
        });
    };
    let at: Timestamp = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not an RFC 3339 time, like 2027-03-31T17:00:00Z"))?;
    let ahead = Duration::try_from(now.duration_until(at)).ok();
    Ok(Access {
        ends_at: Some(raw.to_string()),
        expired: ahead.is_none_or(|d| d.is_zero()),
        ends_in: ahead.filter(|d| !d.is_zero()).map(|d| d + EXPIRY_MARGIN),
    })
}

/// The user's access now; an unreadable date is an invalid spec.
pub fn access_of(user: &CustomerUser) -> Result<Access, Error> {
    access_at(user.spec.access_expires_at.as_deref(), Timestamp::now()).map_err(|why| {
        Error::InvalidSpec {
            field: "accessExpiresAt",
            why,
        }
    })
}

impl Access {
    /// The spec a pass applies: disabled once access has ended, whatever `enabled` says.
    pub fn effective(&self, spec: &CustomerUserSpec) -> CustomerUserSpec {
        CustomerUserSpec {
            enabled: spec.enabled && !self.expired,
            ..spec.clone()
        }
    }

    /// `readiness`, saying where access stands and looking again when it ends.
    pub fn annotate(&self, mut readiness: Readiness) -> Readiness {
        if let Some(at) = &self.ends_at {
            let said = &readiness.message;
            readiness.message = if self.expired {
                format!("{said}; access ended at {at}: the remote user is kept disabled")
            } else {
                format!("{said}; access ends at {at}")
            };
            if !self.expired {
                readiness.wake_in = self.ends_in;
            }
        }
        readiness
    }
}

/// The Event for an update that disabled the user because its access ended.
pub async fn announce_expiry(ctx: &Context, user: &CustomerUser, access: &Access, disabled: bool) {
    if access.expired && disabled && user.spec.enabled {
        let at = access.ends_at.as_deref().unwrap_or_default();
        let note = format!("access ended at {at}: disabled the remote user");
        publish(ctx, user, Happened::AccessExpired, &note).await;
    }
}

/// `deletionPolicy: Disable` for a deleted resource whose ownership of `found` is proven: the
/// remote user is disabled (no call when it already is) and kept.
pub async fn disable_remote(
    ctx: &Context,
    user: &CustomerUser,
    target: &Target,
    found: &User,
) -> Result<Parted, Error> {
    if !found.enabled {
        return Ok(Parted::Disabled);
    }
    let patch = UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    };
    let credentials = &target.account.credentials;
    let result = ctx
        .admin
        .update_user(credentials, &target.customer_id, &found.id, &patch)
        .await;
    match result {
        Ok(server_view) => {
            let disabled = server_view.unwrap_or_else(|| User {
                enabled: false,
                ..found.clone()
            });
            let project = &credentials.project_id;
            ctx.snapshots
                .record_user(project, &target.customer_id, disabled);
            tracing::info!(object = %format!("{}/{}", user.namespace().unwrap_or_default(), user.name_any()), user_id = %found.id, "disabled the remote user on deletion");
            Ok(Parted::Disabled)
        }
        Err(ApiError::NotFound { .. }) => Ok(Parted::Left(Left::AlreadyGone)),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn access_ends_at_the_instant_and_the_pass_wakes_just_after() {
        let now = at("2027-01-01T00:00:00Z");
        let ahead = access_at(Some("2027-01-01T00:10:00Z"), now).unwrap();
        assert!(!ahead.expired);
        assert_eq!(ahead.ends_in, Some(Duration::from_secs(601)));
        let offset = access_at(Some("2027-01-01T01:00:00+01:00"), now).unwrap();
        assert!(
            offset.expired,
            "the same instant as now, written with an offset"
        );
        let past = access_at(Some("2026-12-31T23:59:59Z"), now).unwrap();
        assert!(past.expired && past.ends_in.is_none());
        let unset = access_at(None, now).unwrap();
        assert!(!unset.expired && unset.ends_in.is_none());
        let bad = access_at(Some("next tuesday"), now).unwrap_err();
        assert!(bad.contains("RFC 3339"), "{bad}");
    }

    #[test]
    fn an_expired_user_is_disabled_whatever_enabled_says_and_a_later_date_restores_it() {
        let spec: CustomerUserSpec = serde_json::from_value(serde_json::json!({
            "customerId": "c", "email": "a@b.io", "firstName": "A", "lastName": "B",
            "accessExpiresAt": "2027-01-01T00:00:00Z"
        }))
        .unwrap();
        let now = at("2027-06-01T00:00:00Z");
        let expired = access_at(spec.access_expires_at.as_deref(), now).unwrap();
        assert!(!expired.effective(&spec).enabled);
        let later = access_at(Some("2028-01-01T00:00:00Z"), now).unwrap();
        assert!(later.effective(&spec).enabled);
        let off = CustomerUserSpec {
            enabled: false,
            ..spec
        };
        assert!(
            !later.effective(&off).enabled,
            "a later date never overrides enabled: false"
        );

        let said = expired.annotate(Readiness::ready("in sync"));
        assert!(said.message.contains("kept disabled") && said.wake_in.is_none());
        let said = later.annotate(Readiness::ready("in sync"));
        assert!(said.message.contains("access ends at") && said.wake_in.is_some());
    }
}
