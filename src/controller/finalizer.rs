//! Act on Kubernetes metadata: the cleanup finalizer on the two kinds, and the finalizer that
//! holds a credentials Secret while resources that act with it own remote objects (so that a
//! namespace deletion cannot take the credentials a pending remote delete needs).

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::context::Context;
use super::error::Error;
use super::managed::{Managed, api, object_key};
use super::secret_reader::Account;
use crate::crd::{Customer, CustomerUser, FINALIZER, OwnershipStatus};

/// Held on a same-namespace credentials Secret while a resource that acts with it owns something.
pub const SECRET_FINALIZER: &str = "admin.corti.app/credentials-in-use";

pub fn has_finalizer<K: Managed>(object: &K) -> bool {
    object.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds the cleanup finalizer; whether it is in place now, so that the pass may go on to apply.
/// The copy this write brings starts no pass of its own (see `triggers`), and no later pass starts
/// from a copy older than it (see `own_writes`).
pub async fn add_finalizer<K: Managed>(ctx: &Context, object: &K) -> Result<bool, Error> {
    ctx.triggers.expect_finalizer(object, FINALIZER);
    match add(&api(&ctx.kube, object), object, FINALIZER).await {
        Ok(written) => {
            ctx.own_writes
                .wrote(&object_key(object), written.as_deref());
            Ok(true)
        }
        // The guard failed (422): the object changed since this copy was read. Its watch event
        // brings the new copy, and with it the next pass.
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 422 => {
            tracing::debug!(object = %object_key(object), "stale copy; finalizer added on the next pass");
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

pub async fn remove_finalizer<K: Managed>(ctx: &Context, object: &K) -> Result<(), Error> {
    remove(&api(&ctx.kube, object), object, FINALIZER).await
}

/// Holds the credentials Secret `object` acts with, when it is one of its own namespace.
pub async fn hold_secret_of<K: Managed>(
    ctx: &Context,
    object: &K,
    account: &Account,
) -> Result<(), Error> {
    match &account.secret {
        Some(secret) if !account.held => {
            hold_secret(ctx, &object.namespace().unwrap_or_default(), secret).await
        }
        _ => Ok(()),
    }
}

/// Moves an owner's record to the Secret it acts with now (its spec named another): the new one
/// is held, and the pass lets the old one go once its status is written.
pub async fn follow_secret<K: Managed>(
    ctx: &Context,
    object: &K,
    owner: &mut OwnershipStatus,
    account: &Account,
) -> Result<(), Error> {
    if owner.ownership.is_some() && owner.credentials_secret != account.secret {
        hold_secret_of(ctx, object, account).await?;
        owner.credentials_secret.clone_from(&account.secret);
    }
    Ok(())
}

/// Holds the Secret; the hold is taken only when ownership is recorded, so a Secret that changed
/// meanwhile (the guard's 422) is read again and tried again, not left for a later pass.
async fn hold_secret(ctx: &Context, namespace: &str, name: &str) -> Result<(), Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.kube.clone(), namespace);
    let mut attempts = 0;
    loop {
        let Some(secret) = secrets.get_opt(name).await.map_err(Error::Kube)? else {
            return Ok(());
        };
        if secret.finalizers().iter().any(|f| f == SECRET_FINALIZER) {
            return Ok(());
        }
        match add(&secrets, &secret, SECRET_FINALIZER).await {
            Err(Error::Kube(kube::Error::Api(status))) if status.code == 422 && attempts < 3 => {
                attempts += 1;
            }
            other => return other.map(drop),
        }
    }
}

/// Lets go of the Secret `namespace/name` once no resource of the namespace but `leaving` names it
/// or acts with it. Confirmed with a live list: the caches may not have seen a new user of it.
pub async fn release_secret(
    ctx: &Context,
    namespace: &str,
    name: &str,
    leaving: Option<&str>,
) -> Result<(), Error> {
    let others = |uid: Option<String>| uid.as_deref() != leaving;
    let customers: Api<Customer> = Api::namespaced(ctx.kube.clone(), namespace);
    let users: Api<CustomerUser> = Api::namespaced(ctx.kube.clone(), namespace);
    let params = ListParams::default();
    let in_use = customers
        .list(&params)
        .await
        .map_err(Error::Kube)?
        .items
        .iter()
        .any(|c| others(c.uid()) && c.uses_secret(name))
        || users
            .list(&params)
            .await
            .map_err(Error::Kube)?
            .items
            .iter()
            .any(|u| others(u.uid()) && u.uses_secret(name));
    if in_use {
        return Ok(());
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.kube.clone(), namespace);
    let Some(secret) = secrets.get_opt(name).await.map_err(Error::Kube)? else {
        return Ok(());
    };
    remove(&secrets, &secret, SECRET_FINALIZER).await
}

/// A namespaced object this module patches: the two kinds, and Secrets.
trait Patchable:
    Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug
{
}

impl<K> Patchable for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
{
}

/// Adds `finalizer`, guarded: the first finalizer by the object's resourceVersion (so a stale copy
/// cannot resurrect a list someone else emptied), later ones by appending. The resourceVersion
/// written.
async fn add<K: Patchable>(
    api: &Api<K>,
    object: &K,
    finalizer: &str,
) -> Result<Option<String>, Error> {
    let patch = if object.finalizers().is_empty() {
        serde_json::json!([
            { "op": "test", "path": "/metadata/resourceVersion", "value": object.resource_version() },
            { "op": "add", "path": "/metadata/finalizers", "value": [finalizer] },
        ])
    } else {
        serde_json::json!([{ "op": "add", "path": "/metadata/finalizers/-", "value": finalizer }])
    };
    json_patch(api, object, patch).await
}

/// Removes `finalizer`, guarded by a test of its position; a 404 means someone else finished.
async fn remove<K: Patchable>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), Error> {
    let Some(index) = object.finalizers().iter().position(|f| f == finalizer) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{index}");
    let patch = serde_json::json!([
        { "op": "test", "path": path, "value": finalizer },
        { "op": "remove", "path": path },
    ]);
    match json_patch(api, object, patch).await {
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 404 => Ok(()),
        other => other.map(drop),
    }
}

/// The resourceVersion written.
async fn json_patch<K: Patchable>(
    api: &Api<K>,
    object: &K,
    patch: serde_json::Value,
) -> Result<Option<String>, Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| Error::Kube(kube::Error::SerdeError(e)))?;
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await
    .map(|written| written.meta().resource_version.clone())
    .map_err(Error::Kube)
}
