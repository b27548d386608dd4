//! Record: a resource's status, by server-side apply of `status` only, and only when it changed.
//! A change of what `Ready` says is also an Event. Other conditions are the pass's to set in the
//! status it hands over.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

use super::condition::{
    Readiness, is_own_condition, is_transition, ready_condition, set_condition,
};
use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use super::events::publish_transition;
use super::managed::{Managed, api, object_key};

/// Writes `status` with a `Ready` condition for `readiness`, unless nothing would change (compared
/// with the object the pass began from, unless the pass already wrote a record midway).
pub async fn commit<K: Managed>(
    ctx: &Context,
    object: &K,
    status: K::Status,
    readiness: &Readiness,
) -> Result<(), Error> {
    let midway = ctx.midway_written(&object_key(object));
    write(ctx, object, status, readiness, midway).await
}

/// Writes a record before the remote call it describes (the intent to create, an adoption): always
/// written, and the pass's last `commit` is then written too, since the object the pass began
/// from no longer shows what the API server holds.
pub async fn commit_midway<K: Managed>(
    ctx: &Context,
    object: &K,
    status: K::Status,
    readiness: &Readiness,
) -> Result<(), Error> {
    write(ctx, object, status, readiness, true).await?;
    ctx.mark_midway(&object_key(object));
    Ok(())
}

async fn write<K: Managed>(
    ctx: &Context,
    object: &K,
    mut status: K::Status,
    readiness: &Readiness,
    always: bool,
) -> Result<(), Error> {
    let previous = object
        .current_status()
        .map(|s| K::sync_status(s).conditions.as_slice())
        .unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let condition = ready_condition(previous, readiness, object.meta().generation, now);
    let transition = is_transition(previous, &condition);
    let sync = K::sync_status_mut(&mut status);
    // The pass set its other conditions (`CredentialsValid`) in `status`; `Ready` goes first.
    sync.conditions.retain(|c| is_own_condition(&c.type_));
    set_condition(&mut sync.conditions, condition);
    sync.observed_generation = object.meta().generation;
    if !always && object.current_status() == Some(&status) {
        ctx.metrics
            .resource_status(K::KIND, &object_key(object), readiness.reason.as_str());
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let written = api(&ctx.kube, object)
        .patch_status(
            &object.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::Kube)?;
    ctx.own_writes.wrote(
        &object_key(object),
        written.meta().resource_version.as_deref(),
    );
    ctx.metrics
        .resource_status(K::KIND, &object_key(object), readiness.reason.as_str());
    if transition {
        publish_transition(ctx, object, readiness).await;
    }
    Ok(())
}
