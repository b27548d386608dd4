//! The `admin.corti.app/resync` annotation: a request to compare with the Admin API now.
//!
//! "Now" means an observation begun at most [`GRACE`] before the request. The API server records
//! when the annotation was last set (the `time` of the managedFields entry that owns it), so a
//! batch annotated together (`kubectl annotate --all`, one resource after another over a few
//! seconds) is served by one fresh list per customer, however long the operator takes to work
//! through it, and no request is served by a list made long before it.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
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
/// owns it, or from the compact entry a cached copy keeps in its place (`request_time_entry`).
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

/// The managed fields a cached copy keeps (see `lean`): when the resync annotation was last
/// written, if it was.
pub fn request_time_entry(at: Option<Timestamp>) -> Option<Vec<ManagedFieldsEntry>> {
    at.map(|time| {
        vec![ManagedFieldsEntry {
            time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(time)),
            fields_type: Some(TRIMMED_REQUEST.to_owned()),
            ..ManagedFieldsEntry::default()
        }]
    })
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
    fn the_entry_a_cached_copy_keeps_tells_the_same_time() {
        let fields = [
            entry("2026-11-26T10:00:00Z", &[]),
            entry("2026-11-26T10:05:00Z", &[RESYNC_ANNOTATION]),
        ];
        let at = requested_at(&fields);
        let kept = request_time_entry(at).expect("an entry");
        assert_eq!(requested_at(&kept), at);
        assert!(kept.iter().all(|e| e.fields_v1.is_none()), "no fields tree");
        assert_eq!(request_time_entry(None), None);
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
