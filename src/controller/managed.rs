//! The two kinds, seen alike by the shared steps of a pass (status, finalizer, events, claims).

use std::fmt::Debug;

use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::{
    Customer, CustomerStatus, CustomerUser, CustomerUserStatus, ManagementPolicy, SyncStatus,
};

/// What the wiring (triggers, own writes, sweep, backoff) reads of a cached copy: the name of its
/// kind, and its metadata. The two kinds, and a `Packed` copy of one.
pub trait Keyed:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: &'static str;
}

/// A kind this operator manages.
pub trait Managed: Keyed + Serialize {
    type Status: Clone + Debug + Default + PartialEq + Serialize + Send;
    fn current_status(&self) -> Option<&Self::Status>;
    /// The part of the status every managed kind shares.
    fn sync_status(status: &Self::Status) -> &SyncStatus;
    fn sync_status_mut(status: &mut Self::Status) -> &mut SyncStatus;
    /// The same-namespace credentials Secret named in the spec, if any.
    fn credentials_ref(&self) -> Option<&str>;
    /// `spec.managementPolicy`.
    fn management_policy(&self) -> ManagementPolicy;

    /// Whether this resource names, or acts with, the credentials Secret `name` of its namespace.
    fn uses_secret(&self, name: &str) -> bool {
        self.credentials_ref() == Some(name)
            || self
                .current_status()
                .and_then(|s| Self::sync_status(s).owner.credentials_secret.as_deref())
                == Some(name)
    }
}

/// Both kinds implement `Managed` alike: the shared part of their status, and the Secret their
/// spec names.
macro_rules! managed_kind {
    ($kind:ty, $status:ty, $name:literal) => {
        impl Keyed for $kind {
            const KIND: &'static str = $name;
        }

        impl Managed for $kind {
            type Status = $status;

            fn current_status(&self) -> Option<&$status> {
                self.status.as_ref()
            }

            fn sync_status(status: &$status) -> &SyncStatus {
                &status.sync
            }

            fn sync_status_mut(status: &mut $status) -> &mut SyncStatus {
                &mut status.sync
            }

            fn credentials_ref(&self) -> Option<&str> {
                self.spec
                    .credentials_secret_ref
                    .as_ref()
                    .map(|r| r.name.as_str())
            }

            fn management_policy(&self) -> ManagementPolicy {
                self.spec.management_policy
            }
        }
    };
}

managed_kind!(Customer, CustomerStatus, "Customer");
managed_kind!(CustomerUser, CustomerUserStatus, "CustomerUser");

/// `kind/namespace/name`: how logs, metrics keys and backoff name a resource (never an email).
pub fn object_key<K: Keyed>(object: &K) -> String {
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
