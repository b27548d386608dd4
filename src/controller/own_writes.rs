//! Observe: whether the cache has caught up with this process's own last write to an object (a
//! status write, or the finalizer its first pass adds). Such writes start no pass, so a pass that
//! starts soon after one (a Customer's wake, a timer, an edit) may get a cached copy from before
//! it: it would judge its own object without its latest record (a remote object it created, with
//! no record of the create) and write that judgement back. Such a pass waits instead, until the
//! watch brings the copy it wrote.
//!
//! resourceVersions are compared as numbers (etcd's revisions). One that is not a number turns the
//! check off for that write; a write the watch has not shown within `PATIENCE` is let go (a watch
//! that is down makes every copy old, and waiting would stop every pass).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long a pass waits for the cache to show its own last write.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// Writes held before old ones are swept.
const SWEEP_AT: usize = 1024;
/// How soon a pass that found its cached copy behind looks again.
pub const LAG_RETRY: Duration = Duration::from_millis(100);

/// The resourceVersion of this process's last write per object (by `object_key`), while the
/// cache has not shown it. Entries leave as the watch brings each copy, so it holds only writes in
/// flight.
#[derive(Debug, Default)]
pub struct OwnWrites(Mutex<HashMap<String, Written>>);

#[derive(Clone, Copy, Debug)]
struct Written {
    version: u64,
    at: Instant,
}

impl OwnWrites {
    /// Records a write the API server answered with `resource_version`.
    pub fn wrote(&self, key: &str, resource_version: Option<&str>) {
        let Some(version) = resource_version.and_then(|v| v.parse().ok()) else {
            return;
        };
        let mut writes = self.lock();
        // An answer can arrive after the watch showed its write, or a relist can show it: such
        // an entry waits for the object's next pass, or goes here once it is past its patience.
        if writes.len() >= SWEEP_AT {
            writes.retain(|_, written| written.at.elapsed() < PATIENCE);
        }
        // An older answer arriving late does not lower what the cache must show.
        if writes.get(key).is_none_or(|held| version >= held.version) {
            let at = Instant::now();
            writes.insert(key.to_owned(), Written { version, at });
        }
    }

    /// Whether a pass over the cached copy at `resource_version` should wait for a newer one.
    pub fn cache_behind(&self, key: &str, resource_version: Option<&str>) -> bool {
        let mut writes = self.lock();
        let Some(written) = writes.get(key).copied() else {
            return false;
        };
        match lag(written.version, resource_version, written.at.elapsed()) {
            Lag::Behind => true,
            Lag::CaughtUp | Lag::GaveUp => {
                writes.remove(key);
                false
            }
        }
    }

    /// Follows a copy the watch brought (or a deletion): a write it shows is forgotten.
    pub fn seen(&self, key: &str, resource_version: Option<&str>) {
        let mut writes = self.lock();
        if let Some(written) = writes.get(key).copied()
            && lag(written.version, resource_version, Duration::ZERO) != Lag::Behind
        {
            writes.remove(key);
        }
    }

    pub fn deleted(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lag {
    Behind,
    CaughtUp,
    GaveUp,
}

/// Whether a copy at `cached` shows a write answered at `written`, `waited` after it.
fn lag(written: u64, cached: Option<&str>, waited: Duration) -> Lag {
    match cached.and_then(|v| v.parse::<u64>().ok()) {
        // Not a number: nothing to compare with.
        None => Lag::CaughtUp,
        Some(cached) if cached >= written => Lag::CaughtUp,
        Some(_) if waited >= PATIENCE => Lag::GaveUp,
        Some(_) => Lag::Behind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_older_than_the_own_write_waits_and_a_newer_or_equal_one_does_not() {
        assert_eq!(lag(10, Some("9"), Duration::ZERO), Lag::Behind);
        assert_eq!(lag(10, Some("10"), Duration::ZERO), Lag::CaughtUp);
        assert_eq!(lag(10, Some("11"), Duration::ZERO), Lag::CaughtUp);
        assert_eq!(
            lag(10, Some("9"), PATIENCE),
            Lag::GaveUp,
            "a watch that is down"
        );
        assert_eq!(lag(10, Some("opaque"), Duration::ZERO), Lag::CaughtUp);
        assert_eq!(lag(10, None, Duration::ZERO), Lag::CaughtUp);
    }

    #[test]
    fn writes_are_held_only_until_the_watch_shows_them() {
        let writes = OwnWrites::default();
        writes.wrote("CustomerUser/ns/jane", Some("20"));
        writes.wrote("CustomerUser/ns/jane", Some("18")); // an older answer arriving late
        assert!(writes.cache_behind("CustomerUser/ns/jane", Some("19")));
        assert!(
            !writes.cache_behind("CustomerUser/ns/john", Some("1")),
            "never written"
        );
        writes.seen("CustomerUser/ns/jane", Some("19"));
        assert!(
            writes.cache_behind("CustomerUser/ns/jane", Some("19")),
            "still behind"
        );
        writes.seen("CustomerUser/ns/jane", Some("20"));
        assert!(writes.lock().is_empty(), "shown, so forgotten");
        writes.wrote("CustomerUser/ns/jane", Some("30"));
        writes.deleted("CustomerUser/ns/jane");
        assert!(!writes.cache_behind("CustomerUser/ns/jane", Some("1")));
        writes.wrote("CustomerUser/ns/jane", Some("not-a-number"));
        assert!(writes.lock().is_empty(), "nothing to compare with later");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_the_watch_showed_before_their_answer_are_swept_once_past_patience() {
        let writes = OwnWrites::default();
        for n in 0..SWEEP_AT {
            writes.wrote(&format!("CustomerUser/ns/u{n}"), Some("5"));
        }
        tokio::time::advance(PATIENCE).await;
        writes.wrote("CustomerUser/ns/fresh", Some("6"));
        assert_eq!(
            writes.lock().len(),
            1,
            "only the write still in its patience"
        );
    }
}
