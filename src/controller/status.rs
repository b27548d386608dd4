//! Writing back: status by server-side apply of `status` only (and only when it changed), the
//! finalizer by JSON patch, Events on transitions and on remote writes.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::condition::{Readiness, Reason, Status, is_transition, ready_condition};
use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use crate::crd::{Customer, CustomerStatus, CustomerUser, CustomerUserStatus, FINALIZER};

/// A kind this operator manages.
pub trait Managed:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    type Status: Clone + Debug + Default + PartialEq + Serialize + Send;
    const KIND: &'static str;
    fn current_status(&self) -> Option<&Self::Status>;
    fn conditions(status: &Self::Status) -> &[Condition];
    fn set_conditions(
        status: &mut Self::Status,
        conditions: Vec<Condition>,
        generation: Option<i64>,
    );
}

impl Managed for Customer {
    type Status = CustomerStatus;
    const KIND: &'static str = "Customer";

    fn current_status(&self) -> Option<&CustomerStatus> {
        self.status.as_ref()
    }

    fn conditions(status: &CustomerStatus) -> &[Condition] {
        &status.conditions
    }

    fn set_conditions(
        status: &mut CustomerStatus,
        conditions: Vec<Condition>,
        generation: Option<i64>,
    ) {
        status.conditions = conditions;
        status.observed_generation = generation;
    }
}

impl Managed for CustomerUser {
    type Status = CustomerUserStatus;
    const KIND: &'static str = "CustomerUser";

    fn current_status(&self) -> Option<&CustomerUserStatus> {
        self.status.as_ref()
    }

    fn conditions(status: &CustomerUserStatus) -> &[Condition] {
        &status.conditions
    }

    fn set_conditions(
        status: &mut CustomerUserStatus,
        conditions: Vec<Condition>,
        generation: Option<i64>,
    ) {
        status.conditions = conditions;
        status.observed_generation = generation;
    }
}

/// `kind/namespace/name`: how logs, metrics keys and backoff name a resource (never an email).
pub fn object_key<K: Managed>(object: &K) -> String {
    format!(
        "{}/{}/{}",
        K::KIND,
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

pub fn api<K: Managed>(ctx: &Context, object: &K) -> Api<K> {
    Api::namespaced(ctx.kube.clone(), &object.namespace().unwrap_or_default())
}

/// Writes `status` with a `Ready` condition for `readiness`, unless nothing would change; an
/// Event marks a change of what `Ready` says.
pub async fn commit<K: Managed>(
    ctx: &Context,
    object: &K,
    mut status: K::Status,
    readiness: &Readiness,
) -> Result<(), Error> {
    let previous = object
        .current_status()
        .map(K::conditions)
        .unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let condition = ready_condition(previous, readiness, object.meta().generation, now);
    let transition = is_transition(previous, &condition);
    K::set_conditions(&mut status, vec![condition], object.meta().generation);
    if object.current_status() == Some(&status) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api(ctx, object)
        .patch_status(
            &object.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::Kube)?;
    if transition {
        let kind = match readiness.status {
            Status::True => EventType::Normal,
            _ if readiness.reason.needs_attention()
                || readiness.reason == Reason::RemoteUnavailable =>
            {
                EventType::Warning
            }
            _ => EventType::Normal,
        };
        publish(
            ctx,
            object,
            kind,
            readiness.reason.as_str(),
            &readiness.message,
        )
        .await;
    }
    Ok(())
}

/// An Event on `object`. A failure to record one is logged, never fatal.
pub async fn publish<K: Managed>(
    ctx: &Context,
    object: &K,
    kind: EventType,
    reason: &str,
    note: &str,
) {
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

pub fn has_finalizer<K: Managed>(object: &K) -> bool {
    object.finalizers().iter().any(|f| f == FINALIZER)
}

pub async fn add_finalizer<K: Managed>(ctx: &Context, object: &K) -> Result<(), Error> {
    let guarded = object.finalizers().is_empty();
    let patch = if guarded {
        serde_json::json!([
            { "op": "test", "path": "/metadata/resourceVersion", "value": object.resource_version() },
            { "op": "add", "path": "/metadata/finalizers", "value": [FINALIZER] },
        ])
    } else {
        serde_json::json!([{ "op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER }])
    };
    match json_patch(ctx, object, patch).await {
        // The `test` failed (422): the object changed since this copy was read. Its watch event
        // brings the new copy, and with it the next pass.
        Err(Error::Kube(kube::Error::Api(status))) if guarded && status.code == 422 => {
            tracing::debug!(object = %object_key(object), "stale copy; finalizer added on the next pass");
            Ok(())
        }
        other => other,
    }
}

pub async fn remove_finalizer<K: Managed>(ctx: &Context, object: &K) -> Result<(), Error> {
    let Some(index) = object.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{index}");
    let patch = serde_json::json!([
        { "op": "test", "path": path, "value": FINALIZER },
        { "op": "remove", "path": path },
    ]);
    match json_patch(ctx, object, patch).await {
        // Already gone: someone else finished the job.
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 404 => Ok(()),
        other => other,
    }
}

async fn json_patch<K: Managed>(
    ctx: &Context,
    object: &K,
    patch: serde_json::Value,
) -> Result<(), Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| Error::Kube(kube::Error::SerdeError(e)))?;
    api(ctx, object)
        .patch(
            &object.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
        .map(drop)
        .map_err(Error::Kube)
}
