//! Act and record for a deleted resource, shared by both kinds: what it tells about the remote
//! object it let go of, and its release (claim, credentials Secret, finalizer).

use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::condition::Readiness;
use super::context::Context;
use super::error::Error;
use super::events::{Happened, publish};
use super::finalizer::{release_secret, remove_finalizer};
use super::managed::{Managed, object_key};
use super::ownership::Left;
use super::status::commit;

/// How a deleted resource parted with its remote object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parted {
    Deleted,
    /// `deletionPolicy: Disable`: the owned remote user is disabled and kept.
    Disabled,
    Left(Left),
    /// Left in place for a reason a person must know (credentials gone, another project); the
    /// message names the remote object by id.
    Stranded(String),
}

/// Ends a cleanup pass: released with the Event that says how it parted, or the failure on record
/// in status (and tried again); `what` is "customer" or "user".
pub async fn finish_cleanup<K: Managed>(
    ctx: &Context,
    object: &K,
    status: K::Status,
    parted: Result<Parted, Error>,
    what: &str,
    claim_key: Option<String>,
) -> Result<Action, Error> {
    match parted {
        Ok(parted) => {
            announce(ctx, object, &parted, what).await;
            release(ctx, object, claim_key.as_deref()).await
        }
        Err(error) => {
            let failed = Readiness::not_ready(
                error.reason(),
                format!("cannot delete the remote {what}: {}", error.chain()),
            );
            commit(ctx, object, status, &failed).await?;
            Ok(ctx.next_action(&object_key(object), Some(error.retry())))
        }
    }
}

/// The Event (and, for a stranded object, the log line) for `parted`; `what` is "customer" or
/// "user".
async fn announce<K: Managed>(ctx: &Context, object: &K, parted: &Parted, what: &str) {
    let (happened, note) = match parted {
        Parted::Deleted => (Happened::Deleted, format!("deleted the remote {what}")),
        Parted::Disabled => (
            Happened::Disabled,
            format!("disabled the remote {what} and kept it (deletionPolicy Disable)"),
        ),
        Parted::Left(Left::AlreadyGone) => (
            Happened::Deleted,
            format!("the remote {what} was already gone"),
        ),
        Parted::Left(Left::Orphaned) => (
            Happened::Orphaned,
            format!("left the remote {what} in place (deletionPolicy Orphan)"),
        ),
        Parted::Left(Left::OwnedNothing) => (
            Happened::Orphaned,
            format!(
                "released with no remote call: this resource never created or adopted a remote {what}"
            ),
        ),
        Parted::Left(Left::NotOurs) => (
            Happened::LeftInPlace,
            format!(
                "left the remote {what} in place: what is under its key now is not the object this resource owned, or another resource holds it"
            ),
        ),
        Parted::Stranded(message) => {
            tracing::warn!(object = %object_key(object), %message, "remote object left behind");
            (Happened::LeftInPlace, message.clone())
        }
    };
    publish(ctx, object, happened, &note).await;
}

/// Lets the resource go: its claim in this process, its finalizer, then its hold on a credentials
/// Secret. The Secret is looked at after the finalizer is gone, so that of two resources released
/// at once, the one that looks last sees neither and lets the Secret go.
async fn release<K: Managed>(
    ctx: &Context,
    object: &K,
    claim_key: Option<&str>,
) -> Result<Action, Error> {
    let namespace = object.namespace().unwrap_or_default();
    if let Some(key) = claim_key {
        ctx.claims.give_up(key, &namespace, &object.name_any());
    }
    remove_finalizer(ctx, object).await?;
    ctx.forget(&object_key(object));
    ctx.metrics.resource_gone(&object_key(object));
    let held = object
        .current_status()
        .and_then(|s| K::sync_status(s).owner.credentials_secret.clone());
    if let Some(secret) = held {
        // The resource is gone now, so no later pass retries this: try a few times here.
        for attempt in 1..=3_u32 {
            match release_secret(ctx, &namespace, &secret, object.uid().as_deref()).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(object = %object_key(object), error = %error.chain(), attempt, "cannot release the credentials Secret");
                    tokio::time::sleep(std::time::Duration::from_millis(500) * attempt).await;
                }
            }
        }
    }
    Ok(Action::await_change())
}
