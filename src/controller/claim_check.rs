//! Observe and record a pass's claim on its remote key, for both kinds: the verdict of `claims`
//! on what the cache shows, what a resource that lost gives up, and, for an observer (which
//! claims nothing), who would keep the object from it were it managed.

use kube::ResourceExt;

use super::claims::{self, Claim};
use super::context::Context;
use super::error::{Conflict, Error, RemoteObject};
use super::events::{Happened, publish};
use super::managed::Managed;
use crate::crd::{ManagementPolicy, OwnershipStatus};

/// The claim `object` makes, as Kubernetes shows it.
pub fn claim_of<K: Managed>(object: &K) -> Claim {
    Claim {
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
        created: object.meta().creation_timestamp.clone(),
        owns: object
            .current_status()
            .is_some_and(|s| K::sync_status(s).owner.ownership.is_some()),
        observes: object.management_policy() == ManagementPolicy::Observe,
    }
}

/// The claim step of a pass on `key`, the remote `object_wanted`; `others`: the other resources
/// with this key. A resource that claims (it may write, or it records ownership) either may act
/// (`Ok(None)`) or gets `Err(Conflict)`. One that only observes claims nothing and blocks no one:
/// `Ok(Some(holder))` names, as its reader may see it, the resource that would keep the object
/// from it were it managed.
pub async fn settle_claim<K: Managed>(
    ctx: &Context,
    object: &K,
    key: &str,
    others: &[Claim],
    status: &mut K::Status,
    object_wanted: RemoteObject,
) -> Result<Option<String>, Error> {
    let mine = claim_of(object);
    let namespace = object.namespace().unwrap_or_default();
    if !mine.counts(ctx.settings.dry_run) {
        // A grant it got while it managed is not kept either.
        ctx.claims.give_up(key, &namespace, &object.name_any());
        let holder = claims::would_be_held_by(&mine, others);
        return Ok(holder.map(|h| format!("{} {}", K::KIND, h.describe_for(&namespace))));
    }
    let dry_run = ctx.settings.dry_run;
    let Err(holder) = claims::check(&ctx.claims, key, &mine, others, dry_run) else {
        return Ok(None);
    };
    // A loser that had recorded ownership gives it up, with an Event, so it can never write to or
    // delete what another holds.
    if K::sync_status(status).owner.ownership.is_some() {
        K::sync_status_mut(status).owner = OwnershipStatus::default();
        let note =
            "another resource holds this remote object; this one gives up its ownership record";
        publish(ctx, object, Happened::ClaimLost, note).await;
    }
    Err(Conflict::Claimed {
        object: object_wanted,
        kind: K::KIND,
        holder: holder.describe_for(&namespace),
    }
    .into())
}
