//! Record: Events on a resource, for what a pass did remotely and for changes of `Ready`. Their
//! reasons form a closed set, like the condition's. Notes name resources and remote ids, never
//! an email.

use kube::runtime::events::{Event, EventType};

use super::condition::{Readiness, Reason, Status};
use super::context::Context;
use super::managed::{Managed, object_key};

/// What a pass did, or decided not to do, to a remote object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happened {
    Created,
    Adopted,
    Updated,
    DriftReverted,
    PasswordSet,
    /// The owned remote object was gone; it is made again.
    RemoteMissing,
    Deleted,
    /// Deleted with `deletionPolicy: Orphan`, or owning nothing: released, nothing remote touched.
    Orphaned,
    /// Deleted, but the remote object was left in place for a reason a person should know.
    LeftInPlace,
    /// `accessExpiresAt` passed: the remote user was disabled.
    AccessExpired,
    /// Deleted with `deletionPolicy: Disable`: the remote user is disabled and kept.
    Disabled,
    /// A created user has not verified their email within the invitation window.
    InvitationExpired,
    /// Another resource holds the claim this one had recorded: it gives up its ownership.
    ClaimLost,
}

impl Happened {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Adopted => "Adopted",
            Self::Updated => "Updated",
            Self::DriftReverted => "DriftReverted",
            Self::PasswordSet => "PasswordSet",
            Self::RemoteMissing => "RemoteMissing",
            Self::Deleted => "Deleted",
            Self::Orphaned => "Orphaned",
            Self::LeftInPlace => "LeftInPlace",
            Self::ClaimLost => "ClaimLost",
            Self::AccessExpired => "AccessExpired",
            Self::Disabled => "Disabled",
            Self::InvitationExpired => "InvitationExpired",
        }
    }

    fn event_type(self) -> EventType {
        match self {
            Self::RemoteMissing | Self::LeftInPlace | Self::ClaimLost | Self::InvitationExpired => {
                EventType::Warning
            }
            _ => EventType::Normal,
        }
    }
}

/// An Event for what a pass did.
pub async fn publish<K: Managed>(ctx: &Context, object: &K, happened: Happened, note: &str) {
    send(ctx, object, happened.event_type(), happened.as_str(), note).await;
}

/// An Event for a change of what `Ready` says.
pub async fn publish_transition<K: Managed>(ctx: &Context, object: &K, readiness: &Readiness) {
    let kind = match readiness.status {
        Status::True => EventType::Normal,
        _ if readiness.reason.needs_attention()
            || readiness.reason == Reason::RemoteUnavailable =>
        {
            EventType::Warning
        }
        _ => EventType::Normal,
    };
    send(
        ctx,
        object,
        kind,
        readiness.reason.as_str(),
        &readiness.message,
    )
    .await;
}

/// A failure to record an Event is logged, never fatal.
async fn send<K: Managed>(ctx: &Context, object: &K, kind: EventType, reason: &str, note: &str) {
    let event = Event {
        type_: kind,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        tracing::warn!(object = %object_key(object), %error, "cannot record an Event");
    }
}
