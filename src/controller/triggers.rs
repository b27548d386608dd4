//! Wiring: which copies from the watch start a pass. A pass is for what a person (or another
//! controller) changed: identity, spec (generation), annotations (pause, resync), finalizers and
//! deletion. Status and managedFields are left out, so the operator's own status writes never come
//! back as passes and a backoff or `Retry-After` holds. Its own finalizer write does not come back
//! either: the pass that adds the finalizer goes on to apply, and says beforehand which copy its
//! write will bring, so that this copy starts nothing.
//!
//! kube-runtime's `predicate_filter` does the same for the first part, but its memory cannot be
//! told what to expect.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::managed::Keyed;

/// The trigger hash of the last copy seen of each object, keyed by a hash of its kind, namespace
/// and name (8 bytes instead of a key string). Two objects whose keys collide could at worst see one
/// another's copy as a change: an extra pass, never a missed one unless their hashes collide too.
#[derive(Debug, Default)]
pub struct Triggers(Mutex<HashMap<u64, u64>>);

impl Triggers {
    /// Whether this copy from the watch differs from the last one in what starts a pass;
    /// remembers it.
    pub fn worth_a_pass<K: Keyed>(&self, object: &K) -> bool {
        let key = key_of(object);
        let hash = trigger_hash(object.meta(), None);
        self.lock().insert(key, hash) != Some(hash)
    }

    /// The pass is about to add `finalizer` to `object`: the copy that write brings is not a
    /// change worth a pass (a change made meanwhile by someone else still is).
    pub fn expect_finalizer<K: Keyed>(&self, object: &K, finalizer: &str) {
        let hash = trigger_hash(object.meta(), Some(finalizer));
        self.lock().insert(key_of(object), hash);
    }

    pub fn forget<K: Keyed>(&self, object: &K) {
        self.lock().remove(&key_of(object));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The parts of `object_key`, hashed without building its string (once per watch event).
fn key_of<K: Keyed>(object: &K) -> u64 {
    let meta = object.meta();
    crate::hash_of(&(K::KIND, meta.namespace.as_deref(), meta.name.as_deref()))
}

/// What makes a change worth a pass, with `added` appended to the finalizers (the copy a finalizer
/// write will bring).
fn trigger_hash(meta: &ObjectMeta, added: Option<&str>) -> u64 {
    let finalizers = meta.finalizers.iter().flatten().map(String::as_str);
    let finalizers: Vec<&str> = finalizers.chain(added).collect();
    crate::hash_of(&(
        &meta.uid,
        meta.generation,
        &meta.annotations,
        finalizers,
        meta.deletion_timestamp.is_some(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::controller::tests::object;
    use crate::crd::{CustomerUser, FINALIZER};

    fn user(name: &str) -> CustomerUser {
        let spec = json!({ "customerRef": { "name": "contoso" }, "email": "jane@example.com",
            "firstName": "Jane", "lastName": "Doe" });
        object("CustomerUser", name, spec, json!(null))
    }

    #[test]
    fn only_a_change_of_spec_annotations_finalizers_or_deletion_starts_a_pass() {
        let triggers = Triggers::default();
        let mut copy = user("jane");
        assert!(triggers.worth_a_pass(&copy), "first sight");
        assert!(
            !triggers.worth_a_pass(&copy),
            "the same copy again (a relist)"
        );
        copy.metadata.resource_version = Some("99".into());
        copy.status = Some(crate::crd::CustomerUserStatus::default());
        assert!(!triggers.worth_a_pass(&copy), "a status write");
        copy.metadata.generation = Some(2);
        assert!(triggers.worth_a_pass(&copy), "a spec change");
        copy.metadata.finalizers = None;
        assert!(
            triggers.worth_a_pass(&copy),
            "someone removed the finalizer"
        );
    }

    #[test]
    fn the_copy_of_the_passs_own_finalizer_write_starts_nothing_but_a_change_meanwhile_does() {
        let triggers = Triggers::default();
        let mut created = user("jane");
        created.metadata.finalizers = None;
        assert!(triggers.worth_a_pass(&created));
        triggers.expect_finalizer(&created, FINALIZER);
        let mut written = created.clone();
        written.metadata.finalizers = Some(vec![FINALIZER.into()]);
        assert!(!triggers.worth_a_pass(&written), "its own write");

        triggers.expect_finalizer(&created, FINALIZER);
        let mut edited = written.clone();
        edited.metadata.generation = Some(2);
        assert!(
            triggers.worth_a_pass(&edited),
            "an edit made while the finalizer was written"
        );
    }

    #[test]
    fn a_deleted_and_recreated_object_is_new() {
        let triggers = Triggers::default();
        let first = user("jane");
        assert!(triggers.worth_a_pass(&first));
        triggers.forget(&first);
        assert!(triggers.worth_a_pass(&first), "forgotten on deletion");
        let mut again = first.clone();
        again.metadata.uid = Some("another-uid".into());
        assert!(triggers.worth_a_pass(&again), "same name, new uid");
    }
}
