//! Observe and record a pass's claim on its remote key, for both kinds: the verdict of `claims`
//! on what the cache shows, and what a resource that lost gives up.

use kube::ResourceExt;

use super::claims::{self, Claim};
use super::context::Context;
use super::error::{Conflict, Error, RemoteObject};
use super::events::{Happened, publish};
use super::managed::Managed;
use crate::crd::OwnershipStatus;

/// The claim `object` makes, as Kubernetes shows it.
pub fn claim_of<K: Managed>(object: &K) -> Claim {
    Claim {
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
        created: object.meta().creation_timestamp.clone(),
        owns: object
            .current_status()
            .is_some_and(|s| K::sync_status(s).owner.ownership.is_some()),
    }
}

/// `Err(Conflict)` when another resource holds `key`, the remote `object`. A loser that had recorded ownership gives it up, with
/// an Event, so it can never write to or delete what another holds.
pub async fn check_claim<K: Managed>(
    ctx: &Context,
    object: &K,
    key: &str,
    others: &[Claim],
    status: &mut K::Status,
    object_wanted: RemoteObject,
) -> Result<(), Error> {
    let Err(holder) = claims::check(&ctx.claims, key, &claim_of(object), others) else {
        return Ok(());
    };
    if K::sync_status(status).owner.ownership.is_some() {
        K::sync_status_mut(status).owner = OwnershipStatus::default();
        let note =
            "another resource holds this remote object; this one gives up its ownership record";
        publish(ctx, object, Happened::ClaimLost, note).await;
    }
    let namespace = object.namespace().unwrap_or_default();
    Err(Conflict::Claimed {
        object: object_wanted,
        kind: K::KIND,
        holder: holder.describe_for(&namespace),
    }
    .into())
}
