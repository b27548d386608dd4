//! What every reconcile shares: clients, caches, settings, the claim registry, and per-object
//! failure counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;

use super::claims::Registry;
use super::error::Retry;
use super::own_writes::OwnWrites;
use super::retry::{backoff_delay, resync_delay};
use super::secret_reader::SecretReader;
use crate::admin_api::AdminClient;
use crate::crd::Customer;
use crate::metrics::Metrics;
use crate::observe::Snapshots;

/// How often a resource whose credentials were refused re-reads its Secret.
const CREDENTIALS_RECHECK: Duration = Duration::from_secs(10);

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "corti-operator";

#[derive(Clone, Debug)]
pub struct Settings {
    /// How often a Ready resource is compared with the Admin API again.
    pub resync_period: Duration,
    /// How often a resource that waits for a person is looked at again.
    pub slow_retry: Duration,
    /// Whether a resource may adopt a remote object that exists under its key but that it did
    /// not create (made in the Console, or left by a deleted resource).
    pub adopt_existing: bool,
    /// `--dry-run`: every resource is treated as `managementPolicy: Observe`.
    pub dry_run: bool,
}

/// Built field by field (every field is the caller's to give).
pub struct Context {
    pub kube: kube::Client,
    pub admin: AdminClient,
    pub snapshots: Snapshots,
    pub secrets: SecretReader,
    pub customers: Store<Customer>,
    pub users: Store<super::packed::PackedUser>,
    /// Users by email and by Customer, kept with `users`.
    pub user_index: super::user_index::UserIndex,
    pub events: super::events::EventWriter,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// The namespaces watched; empty: all.
    pub namespaces: Vec<String>,
    pub claims: Registry,
    pub backoff: Backoff,
    /// This process's writes (status, finalizer) the cache does not show yet.
    pub own_writes: Arc<OwnWrites>,
    /// Which copies from the watch start a pass.
    pub triggers: Arc<super::triggers::Triggers>,
    /// Objects whose current pass wrote a record midway (see `status::commit_midway`).
    pub midway: Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Whether both caches hold their first full list: no decision is made on a partial view (at
    /// start-up, "no users are left" would otherwise be read off an empty cache). Not a wait: a
    /// pass that waited would hold a slot of the controller, whose own watch fills the cache.
    pub fn caches_synced(&self) -> bool {
        use futures::FutureExt;
        self.customers.wait_until_ready().now_or_never().is_some()
            && self.users.wait_until_ready().now_or_never().is_some()
    }

    /// Customers as the controller sees them (one namespace, or all), for live reads.
    pub fn customers_api(&self) -> kube::Api<Customer> {
        match self.namespaces.as_slice() {
            [namespace] => kube::Api::namespaced(self.kube.clone(), namespace),
            _ => kube::Api::all(self.kube.clone()),
        }
    }

    pub fn mark_midway(&self, object: &str) {
        self.midway
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(object.to_string());
    }

    /// Whether this pass wrote a record midway; forgets it (the final write is about to be made).
    pub fn midway_written(&self, object: &str) -> bool {
        self.midway
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(object)
    }

    /// The next look at `object` (a `kind/namespace/name` key) after a pass that ended in `retry`
    /// (`None`: success).
    pub fn next_action(&self, object: &str, retry: Option<Retry>) -> Action {
        self.backoff.next_action(&self.settings, object, retry)
    }

    /// After a successful pass that must look again within `limit`: a timer of its own when that
    /// comes before the periodic resync (see `sweep`).
    pub fn next_action_within(&self, object: &str, limit: Duration) -> Action {
        self.backoff.forget(object);
        if limit < self.settings.resync_period {
            Action::requeue(limit)
        } else {
            Action::await_change()
        }
    }

    pub fn forget(&self, object: &str) {
        self.backoff.forget(object);
    }
}

/// Per object, the current streak of transient failures and the current streak of waits, each
/// for its own exponential backoff: a Customer that waited long for its users retries its first
/// failed delete after a second, not after its waits' minutes.
#[derive(Debug, Default)]
pub struct Backoff {
    streaks: Mutex<HashMap<String, Streak>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Streak {
    failures: u32,
    waits: u32,
}

impl Backoff {
    fn next_action(&self, settings: &Settings, object: &str, retry: Option<Retry>) -> Action {
        let mut streaks = self.streaks.lock().unwrap_or_else(PoisonError::into_inner);
        let jitter: f64 = rand::random();
        match retry {
            // The periodic resync comes from `sweep`, not from a timer per resource.
            None => {
                streaks.remove(object);
                Action::await_change()
            }
            Some(Retry::Backoff(retry_after)) => {
                let streak = streaks.entry(object.to_string()).or_default();
                let delay = backoff_delay(streak.failures, retry_after, jitter);
                *streak = Streak {
                    failures: streak.failures.saturating_add(1),
                    waits: 0,
                };
                Action::requeue(delay)
            }
            // Waiting on another resource: its change wakes this one, but look again now and then
            // in case a wake is lost (a restart between the change and the wake), less and less
            // often. Only the caches and the Secret are read meanwhile.
            Some(Retry::Waiting) => {
                let streak = streaks.entry(object.to_string()).or_default();
                let delay = backoff_delay(streak.waits, None, jitter).min(settings.slow_retry);
                *streak = Streak {
                    failures: 0,
                    waits: streak.waits.saturating_add(1),
                };
                Action::requeue(delay)
            }
            Some(Retry::Recheck) => {
                streaks.remove(object);
                Action::requeue(resync_delay(
                    CREDENTIALS_RECHECK.min(settings.slow_retry),
                    jitter,
                ))
            }
            Some(Retry::Slowly) => {
                streaks.remove(object);
                Action::requeue(resync_delay(settings.slow_retry, jitter))
            }
        }
    }

    fn forget(&self, object: &str) {
        self.streaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(object);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(action: &Action) -> Duration {
        // `Action` keeps its delay private; its Debug form is `Action { requeue_after: Some(..) }`.
        let text = format!("{action:?}");
        let inner = text
            .split("Some(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_else(|| panic!("a requeue delay in {text}"));
        let (number, scale) = [("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9), ("s", 1.0)]
            .iter()
            .find_map(|(unit, scale)| inner.strip_suffix(unit).map(|n| (n, *scale)))
            .unwrap_or_else(|| panic!("a unit in {inner}"));
        Duration::from_secs_f64(number.parse::<f64>().expect("a number") * scale)
    }

    #[test]
    fn a_long_wait_does_not_lengthen_the_backoff_of_the_first_failure_after_it() {
        let settings = Settings {
            resync_period: Duration::from_secs(600),
            slow_retry: Duration::from_secs(300),
            adopt_existing: true,
            dry_run: false,
        };
        let backoff = Backoff::default();
        let key = "Customer/tenants/c";
        for _ in 0..8 {
            backoff.next_action(&settings, key, Some(Retry::Waiting));
        }
        let waited = delay(&backoff.next_action(&settings, key, Some(Retry::Waiting)));
        assert!(
            waited >= Duration::from_secs(120),
            "waits back off: {waited:?}"
        );
        let first_failure = delay(&backoff.next_action(&settings, key, Some(Retry::Backoff(None))));
        assert!(first_failure <= Duration::from_secs(1), "{first_failure:?}");
        let second_failure =
            delay(&backoff.next_action(&settings, key, Some(Retry::Backoff(None))));
        assert!(
            second_failure <= Duration::from_secs(2),
            "{second_failure:?}"
        );
        // And a wait after failures starts its own streak afresh.
        let wait_again = delay(&backoff.next_action(&settings, key, Some(Retry::Waiting)));
        assert!(wait_again <= Duration::from_secs(1), "{wait_again:?}");
    }
}
