//! The two kinds, seen alike by the shared steps of a pass (status, finalizer, events, claims).

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::{Customer, CustomerStatus, CustomerUser, CustomerUserStatus, OwnershipStatus};

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
    fn owner(status: &Self::Status) -> &OwnershipStatus;
    fn owner_mut(status: &mut Self::Status) -> &mut OwnershipStatus;
    /// The same-namespace credentials Secret named in the spec, if any.
    fn credentials_ref(&self) -> Option<&str>;

    /// Whether this resource names, or acts with, the credentials Secret `name` of its namespace.
    fn uses_secret(&self, name: &str) -> bool {
        self.credentials_ref() == Some(name)
            || self
                .current_status()
                .and_then(|s| Self::owner(s).credentials_secret.as_deref())
                == Some(name)
    }
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

    fn owner(status: &CustomerStatus) -> &OwnershipStatus {
        &status.owner
    }

    fn owner_mut(status: &mut CustomerStatus) -> &mut OwnershipStatus {
        &mut status.owner
    }

    fn credentials_ref(&self) -> Option<&str> {
        self.spec
            .credentials_secret_ref
            .as_ref()
            .map(|r| r.name.as_str())
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

    fn owner(status: &CustomerUserStatus) -> &OwnershipStatus {
        &status.owner
    }

    fn owner_mut(status: &mut CustomerUserStatus) -> &mut OwnershipStatus {
        &mut status.owner
    }

    fn credentials_ref(&self) -> Option<&str> {
        self.spec
            .credentials_secret_ref
            .as_ref()
            .map(|r| r.name.as_str())
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

/// The resource's own namespace, for its writes.
pub fn api<K: Managed>(kube: &kube::Client, object: &K) -> Api<K> {
    Api::namespaced(kube.clone(), &object.namespace().unwrap_or_default())
}
