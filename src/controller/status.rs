//! Record: a resource's status, by server-side apply of `status` only, and only when it changed.
//! A change of what `Ready` says is also an Event, unless the pass's own Event already said it:
//! a record written midway (the intent to create, an adoption) is followed by the act's own Event
//! (`Created`, `Adopted`), which also stands for the `Ready` it leads to. A failure after it is
//! still told. Other conditions are the pass's to set in the status it hands over.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

use super::condition::{
    Readiness, Status, is_own_condition, is_transition, ready_condition, set_condition,
};
use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use super::events::publish_transition;
use super::managed::{Managed, object_key};

/// Writes `status` with a `Ready` condition for `readiness`, unless nothing would change (compared
/// with the object the pass began from, unless the pass already wrote a record midway).
pub async fn commit<K: Managed>(
    ctx: &Context,
    object: &K,
    status: K::Status,
    readiness: &Readiness,
) -> Result<(), Error> {
    let midway = ctx.midway_written(&object_key(object));
    let tell = if midway && readiness.status == Status::True {
        Tell::Silent
    } else {
        Tell::Transition
    };
    write(ctx, object, status, readiness, midway, tell).await
}

/// Whether a write that changes what `Ready` says is also an Event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tell {
    Transition,
    /// The pass's own Event says it (see the module's comment).
    Silent,
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
    write(ctx, object, status, readiness, true, Tell::Silent).await?;
    ctx.mark_midway(&object_key(object));
    Ok(())
}

async fn write<K: Managed>(
    ctx: &Context,
    object: &K,
    mut status: K::Status,
    readiness: &Readiness,
    always: bool,
    tell: Tell,
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
    let written = apply_status(&ctx.kube, object, &patch)
        .await
        .map_err(Error::Kube)?;
    ctx.own_writes
        .wrote(&object_key(object), written.as_deref());
    ctx.metrics
        .resource_status(K::KIND, &object_key(object), readiness.reason.as_str());
    if transition && tell == Tell::Transition {
        publish_transition(ctx, object, readiness).await;
    }
    Ok(())
}

/// Server-side applies `status`; the resourceVersion written. Of the answer only that is read:
/// decoding the whole object it carries cost more CPU than the rest of the write.
async fn apply_status<K: Managed>(
    kube: &kube::Client,
    object: &K,
    patch: &serde_json::Value,
) -> Result<Option<String>, kube::Error> {
    #[derive(serde::Deserialize)]
    struct Written {
        metadata: WrittenMeta,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct WrittenMeta {
        resource_version: Option<String>,
    }
    let url = K::url_path(&(), object.namespace().as_deref());
    let request = kube::core::Request::new(url)
        .patch_subresource(
            "status",
            &object.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .map_err(kube::Error::BuildRequest)?;
    let written: Written = kube.request(request).await?;
    Ok(written.metadata.resource_version)
}
