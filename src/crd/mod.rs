//! The custom resources: `Customer` and `CustomerUser` in `admin.corti.app/v1alpha1`.

mod customer;
mod customer_user;
mod management;
mod ownership_status;

pub use customer::{Customer, CustomerSpec, CustomerStatus, Region};
pub use customer_user::{CustomerUser, CustomerUserSpec, CustomerUserStatus, PasswordSecretRef};
pub use management::{FieldDrift, ManagementPolicy};
pub use ownership_status::{OwnershipStatus, SyncStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The finalizer that holds a resource until its remote object is dealt with.
pub const FINALIZER: &str = "admin.corti.app/cleanup";
/// `"true"` stops all reconciliation of the resource (no remote calls) until removed.
pub const PAUSED_ANNOTATION: &str = "admin.corti.app/paused";
/// Set to a new value (e.g. a timestamp) to make the operator re-read the Admin API now.
pub const RESYNC_ANNOTATION: &str = "admin.corti.app/resync";

/// A Secret in the same namespace as the resource. There is deliberately no namespace field.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct SecretRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A resource in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct LocalRef {
    /// The resource's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What deleting the Kubernetes resource does to the remote object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave the remote object in the Admin API.
    Orphan,
    /// Delete the remote object in the Admin API.
    Delete,
    /// CustomerUser only: disable the remote user and keep it (for records), then release.
    Disable,
}

impl DeletionPolicy {
    fn orphan() -> Self {
        Self::Orphan
    }

    fn delete() -> Self {
        Self::Delete
    }
}

/// How a resource holds the remote object under its key. Only a resource that records one of
/// these ever writes to or deletes the remote object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Ownership {
    /// The operator decided to create it and recorded so before the create call: an object found
    /// later under the key, made at or after `ownedSince`, is this resource's own lost create.
    Creating,
    /// The operator created it for this resource.
    Created,
    /// It existed before this resource (made in the Console, or by an earlier resource) and this
    /// resource adopted it.
    Adopted,
}

/// `status.conditions` as a list map keyed by `type`: server-side apply then merges conditions one
/// type at a time, so another manager's condition is never replaced by the operator's list.
fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}

/// The CRDs, in the order they are installed.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Customer::crd(), CustomerUser::crd()]
}

/// A CRD as the YAML file committed under `crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_norway::Error> {
    serde_norway::to_string(crd)
}
