//! The `admin.corti.app/resync` annotation: a request to compare with the Admin API now.
//!
//! "Now" means an observation begun at most [`GRACE`] before the request. The API server records
//! when the annotation was last set (the `time` of the managedFields entry that owns it), so a
//! batch annotated together (`kubectl annotate --all`, one resource after another over a few
//! seconds) is served by one fresh list per customer, however long the operator takes to work
//! through it, and no request is served by a list made long before it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

use crate::crd::RESYNC_ANNOTATION;

/// How much earlier than a request an observation may have begun and still serve it; also the
/// limit when no time was recorded (an API server that does not track managed fields).
pub const GRACE: Duration = Duration::from_secs(5);

/// The annotation's value, when it differs from the one last acted on.
pub fn requested(annotation: Option<&String>, last: Option<&str>) -> Option<String> {
    annotation
        .filter(|value| Some(value.as_str()) != last)
        .cloned()
}

/// When the API server last recorded a write of the annotation: from the managedFields entry that
/// owns it, or from the compact entry `trim_for_cache` leaves in its place.
pub fn requested_at(managed_fields: &[ManagedFieldsEntry]) -> Option<Timestamp> {
    managed_fields
        .iter()
        .filter(|entry| {
            entry.fields_type.as_deref() == Some(TRIMMED_REQUEST)
                || entry.fields_v1.as_ref().is_some_and(|fields| {
                    fields.0["f:metadata"]["f:annotations"]
                        .get(format!("f:{RESYNC_ANNOTATION}"))
                        .is_some()
                })
        })
        .filter_map(|entry| entry.time.as_ref().map(|time| time.0))
        .max()
}

/// The `fieldsType` of the one entry a cached object keeps: "the resync annotation was last
/// written at `time`". The API server's `fieldsV1` tree would cost more than the rest of the
/// object (three JSON maps); only its time is read.
const TRIMMED_REQUEST: &str = "ResyncRequestTime";

/// The annotations a pass reads (pause, resync) all carry this prefix.
const OWN_ANNOTATIONS: &str = "admin.corti.app/";

/// Trims an object for the operator's caches, keeping what a pass and its trigger read: of the
/// managed fields, only when the resync annotation was last written (what `requested_at` reads);
/// of the annotations, only the operator's own; no labels. The rest (`last-applied-configuration`,
/// a second copy of the spec; Argo CD's and Helm's tracking) is most of a cached object's bytes,
/// and a change of it is not worth a pass.
pub fn trim_for_cache(meta: &mut ObjectMeta) {
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|key, _| key.starts_with(OWN_ANNOTATIONS));
    }
    if meta.annotations.as_ref().is_some_and(BTreeMap::is_empty) {
        meta.annotations = None;
    }
    meta.labels = None;
    let at = requested_at(meta.managed_fields.as_deref().unwrap_or_default());
    meta.managed_fields = at.map(|time| {
        vec![ManagedFieldsEntry {
            time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(time)),
            fields_type: Some(TRIMMED_REQUEST.to_owned()),
            ..ManagedFieldsEntry::default()
        }]
    });
}

/// How old an observation may be, at `now`, to serve a request made at `requested_at`.
pub fn max_age(requested_at: Option<Timestamp>, now: Timestamp) -> Duration {
    let since = requested_at.map_or(Duration::ZERO, |at| {
        Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO)
    });
    since + GRACE
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, Time};
    use serde_json::json;

    use super::*;

    fn entry(time: &str, annotations: &[&str]) -> ManagedFieldsEntry {
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|name| (format!("f:{name}"), json!({})))
            .collect();
        ManagedFieldsEntry {
            time: Some(Time(time.parse().unwrap())),
            fields_v1: Some(FieldsV1(
                json!({ "f:metadata": { "f:annotations": annotations } }),
            )),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn trimming_keeps_the_request_time_and_drops_the_rest() {
        let mut meta = ObjectMeta {
            managed_fields: Some(vec![
                entry("2026-11-26T10:00:00Z", &[]),
                entry("2026-11-26T10:05:00Z", &[RESYNC_ANNOTATION]),
            ]),
            annotations: Some(
                [
                    (
                        "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                        "{...}".to_string(),
                    ),
                    (RESYNC_ANNOTATION.to_string(), "r1".to_string()),
                    (
                        "argocd.argoproj.io/tracking-id".to_string(),
                        "x".to_string(),
                    ),
                ]
                .into(),
            ),
            labels: Some([("app".to_string(), "a".to_string())].into()),
            ..ObjectMeta::default()
        };
        let before = requested_at(meta.managed_fields.as_deref().unwrap_or_default());
        trim_for_cache(&mut meta);
        assert_eq!(meta.managed_fields.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            requested_at(meta.managed_fields.as_deref().unwrap_or_default()),
            before
        );
        assert!(
            meta.managed_fields
                .iter()
                .flatten()
                .all(|e| e.fields_v1.is_none()),
            "no fields tree is kept"
        );
        let annotations = meta.annotations.unwrap_or_default();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            [RESYNC_ANNOTATION],
            "only the operator's own annotations"
        );
        assert_eq!(meta.labels, None);
        let mut trimmed_twice = ObjectMeta {
            managed_fields: meta.managed_fields.clone(),
            ..ObjectMeta::default()
        };
        trim_for_cache(&mut trimmed_twice);
        assert_eq!(
            trimmed_twice.managed_fields, meta.managed_fields,
            "idempotent"
        );
        let mut foreign_only = ObjectMeta {
            annotations: Some([("a".to_string(), "b".to_string())].into()),
            ..ObjectMeta::default()
        };
        trim_for_cache(&mut foreign_only);
        assert_eq!(foreign_only.annotations, None, "no empty map is kept");
        assert_eq!(foreign_only.managed_fields, None);
    }

    #[test]
    fn a_request_is_new_until_its_value_was_acted_on() {
        let value = "2026-11-22".to_string();
        assert_eq!(requested(Some(&value), None), Some(value.clone()));
        assert_eq!(
            requested(Some(&value), Some("earlier")),
            Some(value.clone())
        );
        assert_eq!(requested(Some(&value), Some("2026-11-22")), None);
        assert_eq!(requested(None, Some("earlier")), None);
    }

    #[test]
    fn the_time_is_that_of_the_entry_owning_the_annotation() {
        let fields = [
            entry("2026-11-22T10:00:00Z", &["other.example/x"]),
            entry("2026-11-22T09:00:00Z", &[RESYNC_ANNOTATION]),
            ManagedFieldsEntry::default(),
        ];
        assert_eq!(
            requested_at(&fields),
            Some("2026-11-22T09:00:00Z".parse().unwrap())
        );
        assert_eq!(requested_at(&fields[..1]), None);
        assert_eq!(requested_at(&[]), None);
    }

    #[test]
    fn observations_begun_shortly_before_the_request_or_later_serve_it() {
        let at: Timestamp = "2026-11-22T09:00:00Z".parse().unwrap();
        let later = |seconds: i64| at + k8s_openapi::jiff::SignedDuration::from_secs(seconds);
        // Eight seconds after a request, a list begun up to five seconds before the request.
        assert_eq!(max_age(Some(at), later(8)), Duration::from_secs(13));
        assert_eq!(max_age(Some(at), at), GRACE);
        // A clock behind the API server's: no older than the grace.
        assert_eq!(max_age(Some(at), later(-30)), GRACE);
        assert_eq!(max_age(None, later(8)), GRACE);
    }
}
