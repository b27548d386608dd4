//! Observe: how the watches read a copy of a resource. The API server sends the whole object, and
//! most of its bytes are what no pass reads: `managedFields` (a JSON tree per field manager), the
//! `last-applied-configuration` annotation (a second copy of the spec), labels, Argo CD's and
//! Helm's tracking. `Lean<K>` reads a copy straight into what the caches keep and skips the rest
//! without building it: decoding it all only to drop it was most of a watch event's cost.
//!
//! What a cached copy keeps: the metadata a pass or its trigger reads, only the operator's own
//! annotations (`admin.corti.app/*`: pause, resync), no labels, and of the managed fields only
//! when the resync annotation was last written (see `resync::requested_at`). Customers are
//! cached as `Lean<Customer>`, users as `packed::Packed` (the same metadata; the status as text).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::managed::Managed;
use super::resync;
use crate::crd::{Customer, CustomerUser};

/// The annotations a pass reads (pause, resync) all carry this prefix.
const OWN_ANNOTATIONS: &str = "admin.corti.app/";

/// A kind put together from its parts, as the watch reads them.
pub trait FromParts: Managed<Status: DeserializeOwned> {
    type Spec: DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;
    fn from_parts(metadata: ObjectMeta, spec: Self::Spec, status: Option<Self::Status>) -> Self;
    fn into_parts(self) -> (ObjectMeta, Self::Spec, Option<Self::Status>);
}

/// Both kinds are put together alike.
macro_rules! from_parts {
    ($kind:ty, $spec:ty) => {
        impl FromParts for $kind {
            type Spec = $spec;
            fn from_parts(metadata: ObjectMeta, spec: $spec, status: Option<Self::Status>) -> Self {
                Self {
                    metadata,
                    spec,
                    status,
                }
            }
            fn into_parts(self) -> (ObjectMeta, $spec, Option<Self::Status>) {
                (self.metadata, self.spec, self.status)
            }
        }
    };
}

from_parts!(Customer, crate::crd::CustomerSpec);
from_parts!(CustomerUser, crate::crd::CustomerUserSpec);

/// A copy of `K` as the caches keep it (what the watches decode).
#[derive(Clone, Debug)]
pub struct Lean<K>(pub K);

/// The kind-level half of `Resource` for a copy of `K` (`Lean`, `Packed`): `K`'s own.
macro_rules! kind_of {
    ($k:ident) => {
        type DynamicType = ();
        type Scope = $k::Scope;

        fn kind(dt: &()) -> std::borrow::Cow<'_, str> {
            $k::kind(dt)
        }
        fn group(dt: &()) -> std::borrow::Cow<'_, str> {
            $k::group(dt)
        }
        fn version(dt: &()) -> std::borrow::Cow<'_, str> {
            $k::version(dt)
        }
        fn plural(dt: &()) -> std::borrow::Cow<'_, str> {
            $k::plural(dt)
        }
    };
}
pub(super) use kind_of;

impl<K: Managed> Resource for Lean<K> {
    kind_of!(K);

    fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

impl<'de, K: FromParts> Deserialize<'de> for Lean<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (metadata, spec, status) = decode::<D, K::Spec, K::Status>(deserializer)?;
        Ok(Self(K::from_parts(metadata, spec, status)))
    }
}

/// Reads a copy's metadata (lean), spec and status (as `St`: typed, or kept as text by `Packed`).
pub fn decode<'de, D, S, St>(deserializer: D) -> Result<(ObjectMeta, S, Option<St>), D::Error>
where
    D: Deserializer<'de>,
    S: DeserializeOwned,
    St: DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(bound(deserialize = "S: DeserializeOwned, St: DeserializeOwned"))]
    struct Wire<S, St> {
        metadata: LeanMeta,
        spec: S,
        #[serde(default)]
        status: Option<St>,
    }
    let wire = Wire::<S, St>::deserialize(deserializer)?;
    Ok((wire.metadata.into_meta(), wire.spec, wire.status))
}

/// The metadata a cached copy keeps; every other field is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    finalizers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "own_annotations")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    managed_fields: Vec<FieldsWritten>,
}

impl LeanMeta {
    fn into_meta(self) -> ObjectMeta {
        let request = self
            .managed_fields
            .iter()
            .filter(|entry| entry.touches_resync())
            .filter_map(|entry| entry.time.as_ref().map(|time| time.0))
            .max();
        ObjectMeta {
            name: self.name,
            namespace: self.namespace,
            uid: self.uid,
            resource_version: self.resource_version,
            generation: self.generation,
            creation_timestamp: self.creation_timestamp,
            deletion_timestamp: self.deletion_timestamp,
            deletion_grace_period_seconds: self.deletion_grace_period_seconds,
            finalizers: self.finalizers,
            annotations: self.annotations,
            managed_fields: resync::request_time_entry(request),
            ..ObjectMeta::default()
        }
    }
}

/// Of a managedFields entry: when, and whether it owns the resync annotation.
#[derive(Deserialize)]
struct FieldsWritten {
    time: Option<Time>,
    #[serde(rename = "fieldsV1", default)]
    fields: Option<Touched>,
}

impl FieldsWritten {
    fn touches_resync(&self) -> bool {
        self.fields
            .as_ref()
            .and_then(|f| f.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .is_some_and(|a| a.resync.is_some())
    }
}

#[derive(Deserialize)]
struct Touched {
    #[serde(rename = "f:metadata", default)]
    metadata: Option<TouchedMeta>,
}

#[derive(Deserialize)]
struct TouchedMeta {
    #[serde(rename = "f:annotations", default)]
    annotations: Option<TouchedAnnotations>,
}

/// `f:` + `crd::RESYNC_ANNOTATION` (a test holds them together).
#[derive(Deserialize)]
struct TouchedAnnotations {
    #[serde(rename = "f:admin.corti.app/resync", default)]
    resync: Option<IgnoredAny>,
}

/// The operator's own annotations; the others' values are skipped unread (`None` if none is left).
fn own_annotations<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Own;
    impl<'de> Visitor<'de> for Own {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of annotations")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut own = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if key.starts_with(OWN_ANNOTATIONS) {
                    own.insert(key, map.next_value()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok((!own.is_empty()).then_some(own))
        }
    }
    deserializer.deserialize_any(Own)
}

/// A watch event of `Lean<K>`, as one of `K`.
pub fn unwrap<K>(
    event: kube::runtime::watcher::Event<Lean<K>>,
) -> kube::runtime::watcher::Event<K> {
    use kube::runtime::watcher::Event;
    match event {
        Event::Apply(Lean(object)) => Event::Apply(object),
        Event::Delete(Lean(object)) => Event::Delete(object),
        Event::InitApply(Lean(object)) => Event::InitApply(object),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::crd::RESYNC_ANNOTATION;

    fn copy(metadata: &serde_json::Value) -> CustomerUser {
        let value = json!({
            "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
            "metadata": metadata,
            "spec": { "customerRef": { "name": "c" }, "email": "jane@example.com",
                "firstName": "Jane", "lastName": "Doe" },
            "status": { "customerId": "contoso" },
        });
        serde_json::from_value::<Lean<CustomerUser>>(value)
            .expect("a copy")
            .0
    }

    #[test]
    fn a_copy_keeps_what_a_pass_reads_and_skips_the_rest() {
        let cached = copy(&json!({
            "name": "jane", "namespace": "tenant", "uid": "u1", "resourceVersion": "7",
            "generation": 3, "creationTimestamp": "2026-11-26T10:00:00Z",
            "finalizers": ["admin.corti.app/cleanup"],
            "labels": { "app": "x" },
            "ownerReferences": [{ "apiVersion": "v1", "kind": "X", "name": "x", "uid": "x" }],
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{}}",
                "argocd.argoproj.io/tracking-id": "app:x",
                RESYNC_ANNOTATION: "r1",
            },
            "managedFields": [
                { "manager": "kubectl", "operation": "Update", "time": "2026-11-26T10:00:00Z",
                  "fieldsType": "FieldsV1",
                  "fieldsV1": { "f:spec": { "f:email": {} }, "f:metadata": { "f:labels": {} } } },
                { "manager": "kubectl-annotate", "operation": "Update",
                  "time": "2026-11-26T10:05:00Z", "fieldsType": "FieldsV1",
                  "fieldsV1": { "f:metadata": { "f:annotations": {
                      format!("f:{RESYNC_ANNOTATION}"): {} } } } },
                { "manager": "corti-operator", "operation": "Apply", "subresource": "status",
                  "time": "2026-11-26T10:06:00Z", "fieldsType": "FieldsV1",
                  "fieldsV1": { "f:status": { "f:customerId": {} } } },
            ],
        }));
        let meta = &cached.metadata;
        assert_eq!(meta.name.as_deref(), Some("jane"));
        assert_eq!(meta.uid.as_deref(), Some("u1"));
        assert_eq!(meta.resource_version.as_deref(), Some("7"));
        assert_eq!(meta.generation, Some(3));
        assert_eq!(
            meta.finalizers.as_deref(),
            Some(&["admin.corti.app/cleanup".to_string()][..])
        );
        assert_eq!(
            meta.annotations,
            Some([(RESYNC_ANNOTATION.to_string(), "r1".to_string())].into()),
            "only the operator's own annotations"
        );
        assert_eq!(meta.labels, None);
        assert_eq!(meta.owner_references, None);
        let at = resync::requested_at(meta.managed_fields.as_deref().unwrap_or_default());
        assert_eq!(
            at,
            Some("2026-11-26T10:05:00Z".parse().expect("time")),
            "when the resync annotation was written, not the later status write"
        );
        assert_eq!(cached.spec.email, "jane@example.com");
        assert_eq!(
            cached.status.and_then(|s| s.customer_id).as_deref(),
            Some("contoso")
        );
    }

    #[test]
    fn a_copy_without_annotations_or_managed_fields_has_none() {
        let cached = copy(&json!({ "name": "jane", "annotations": { "other/x": "1" } }));
        assert_eq!(cached.metadata.annotations, None);
        assert_eq!(cached.metadata.managed_fields, None);
        let bare = copy(&json!({ "name": "jane", "annotations": null }));
        assert_eq!(bare.metadata.annotations, None);
    }

    #[test]
    fn the_resync_field_name_is_the_annotations() {
        let fields = json!({ "f:metadata": { "f:annotations": {
            format!("f:{RESYNC_ANNOTATION}"): {} } } });
        let touched: Touched = serde_json::from_value(fields).expect("fields");
        let entry = FieldsWritten {
            time: None,
            fields: Some(touched),
        };
        assert!(entry.touches_resync());
    }
}
