//! Observe: the CustomerUser cache keeps each copy's status as the JSON text the API server sent,
//! unread until a pass needs it. Typed, a user's status is two conditions of four strings each,
//! three ids and a time: a dozen allocations, where its text is one. The wiring (triggers,
//! index, wakes, sweep) reads only metadata and spec; a pass reads one status, its own, and the
//! few of the users that share its email.
//!
//! Customers are few (one per hundred users) and their passes read one another's status from the
//! cache, so they are kept typed.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::error::Error;
use super::lean::{FromParts, decode, kind_of};
use super::managed::Keyed;
use super::pass::Reconciled;
use crate::crd::{Customer, CustomerUser};

/// A `CustomerUser` as its cache keeps it.
pub type PackedUser = Packed<CustomerUser>;

/// A copy of `K`: metadata (lean) and spec as read, the status as text (see the module's doc).
pub struct Packed<K: FromParts> {
    pub metadata: ObjectMeta,
    pub spec: K::Spec,
    status: Option<Box<RawValue>>,
}

impl<K: FromParts> Packed<K> {
    /// The whole object, status read. The API server validated the status against the schema
    /// that `K::Status` generates, so a failure is a bug of the operator's.
    pub fn unpack(&self) -> Result<K, serde_json::Error> {
        let status = self
            .status
            .as_deref()
            .map(|text| serde_json::from_str(text.get()))
            .transpose()?;
        Ok(K::from_parts(
            self.metadata.clone(),
            self.spec.clone(),
            status,
        ))
    }

    /// `object` as its cache would keep it.
    #[cfg(test)]
    pub fn pack(object: K) -> Self {
        let (metadata, spec, status) = object.into_parts();
        let status = status.map(|s| serde_json::value::to_raw_value(&s).expect("a status"));
        Self {
            metadata,
            spec,
            status,
        }
    }
}

impl<K: FromParts> Clone for Packed<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            spec: self.spec.clone(),
            status: self.status.clone(),
        }
    }
}

impl<K: FromParts> fmt::Debug for Packed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packed")
            .field("metadata", &self.metadata)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl<K: FromParts> Resource for Packed<K> {
    kind_of!(K);

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl<'de, K: FromParts> Deserialize<'de> for Packed<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (metadata, spec, status) = decode::<D, K::Spec, Box<RawValue>>(deserializer)?;
        Ok(Self {
            metadata,
            spec,
            status,
        })
    }
}

impl<K: FromParts> Keyed for Packed<K> {
    const KIND: &'static str = K::KIND;
}

/// A cached copy a controller runs over, and the whole object its pass reads.
pub trait Cached: Keyed {
    type Whole: Reconciled;
    fn whole(self: Arc<Self>) -> Result<Arc<Self::Whole>, Error>;
}

impl Cached for Customer {
    type Whole = Self;
    fn whole(self: Arc<Self>) -> Result<Arc<Self>, Error> {
        Ok(self)
    }
}

impl Cached for PackedUser {
    type Whole = CustomerUser;
    fn whole(self: Arc<Self>) -> Result<Arc<CustomerUser>, Error> {
        self.unpack().map(Arc::new).map_err(|_| Error::Internal {
            invariant: "a cached status reads as the type its schema was made from",
        })
    }
}

#[cfg(test)]
mod tests {
    use kube::core::WatchEvent;
    use serde_json::json;

    use super::*;

    fn user_json(status: &serde_json::Value) -> serde_json::Value {
        json!({
            "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
            "metadata": { "name": "jane", "namespace": "tenant", "resourceVersion": "7",
                "managedFields": [{ "manager": "kubectl", "operation": "Update" }],
                "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{}" } },
            "spec": { "customerRef": { "name": "c" }, "email": "jane@example.com",
                "firstName": "Jane", "lastName": "Doe" },
            "status": status,
        })
    }

    fn ready_status() -> serde_json::Value {
        json!({ "userId": "u-1", "customerId": "contoso", "projectId": "p", "observedGeneration": 1,
            "ownership": "Created", "ownedSince": "2026-11-26T10:00:00Z",
            "conditions": [{ "type": "Ready", "status": "True", "reason": "Created",
                "message": "created in the Admin API", "observedGeneration": 1,
                "lastTransitionTime": "2026-11-26T10:00:01Z" }] })
    }

    #[test]
    fn a_packed_copy_unpacks_to_the_lean_copy_from_a_watch_event() {
        // As the API server writes it: `type` first (Go's field order), so the object is read in
        // place, not buffered (a buffered object could not keep its status as text).
        let line = format!(
            r#"{{"type":"MODIFIED","object":{}}}"#,
            user_json(&ready_status())
        );
        let packed = match serde_json::from_str::<WatchEvent<PackedUser>>(&line).expect("event") {
            WatchEvent::Modified(user) => user,
            other => panic!("not a modification: {other:?}"),
        };
        let lean: super::super::lean::Lean<CustomerUser> =
            serde_json::from_value(user_json(&ready_status())).expect("lean");
        let unpacked = packed.unpack().expect("unpacks");
        assert_eq!(
            serde_json::to_value(&unpacked).expect("json"),
            serde_json::to_value(&lean.0).expect("json")
        );
        assert_eq!(
            packed.metadata.annotations, None,
            "foreign annotations are skipped"
        );
        assert_eq!(packed.spec.email, "jane@example.com");
        let list = format!(
            r#"{{"apiVersion":"admin.corti.app/v1alpha1","kind":"CustomerUserList","metadata":{{}},"items":[{}]}}"#,
            user_json(&ready_status())
        );
        let listed: kube::core::ObjectList<PackedUser> = serde_json::from_str(&list).expect("list");
        let text = |user: &PackedUser| user.status.as_ref().map(|s| s.get().to_string());
        assert_eq!(
            text(&listed.items[0]),
            text(&packed),
            "a list reads it alike"
        );
        let status = lean.0.status.expect("a status");
        assert_eq!(status.sync.conditions.len(), 1);
        assert_eq!(status.user_id.as_deref(), Some("u-1"));
    }

    #[test]
    fn a_copy_without_status_unpacks_without_one_and_packing_round_trips() {
        let bare: PackedUser = serde_json::from_value(user_json(&json!(null))).expect("bare");
        assert_eq!(bare.unpack().expect("unpacks").status, None);
        let whole: CustomerUser = serde_json::from_value(user_json(&ready_status())).expect("u");
        let again = Packed::pack(whole.clone()).unpack().expect("unpacks");
        assert_eq!(again.status, whole.status);
    }

    #[test]
    fn a_status_that_does_not_read_as_its_type_stops_the_pass_without_a_write() {
        // The schema rules this out; were it to happen, no pass may act on a status it cannot
        // read (it could be the record of what the resource owns).
        let odd: PackedUser =
            serde_json::from_value(user_json(&json!({ "ownership": "Stolen" }))).expect("decodes");
        let error = Arc::new(odd).whole().expect_err("unreadable");
        assert!(matches!(error, Error::Internal { .. }), "{error}");
    }
}
