//! What every reconcile shares: clients, caches, settings, and per-object failure counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use super::credentials::SecretReader;
use super::error::Retry;
use super::retry::{backoff_delay, resync_delay};
use crate::admin_api::AdminClient;
use crate::crd::{Customer, CustomerUser};
use crate::metrics::Metrics;
use crate::observe::Snapshots;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "corti-operator";

#[derive(Clone, Debug)]
pub struct Settings {
    /// How often a Ready resource is compared with the Admin API again.
    pub resync_period: Duration,
    /// How often a resource that waits for a person is looked at again.
    pub slow_retry: Duration,
}

pub struct Context {
    pub kube: kube::Client,
    pub admin: AdminClient,
    pub snapshots: Snapshots,
    pub secrets: SecretReader,
    pub customers: Store<Customer>,
    pub users: Store<CustomerUser>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    failures: Mutex<HashMap<String, u32>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kube: kube::Client,
        admin: AdminClient,
        snapshots: Snapshots,
        secrets: SecretReader,
        stores: (Store<Customer>, Store<CustomerUser>),
        recorder: Recorder,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Self {
        let (customers, users) = stores;
        Self {
            kube,
            admin,
            snapshots,
            secrets,
            customers,
            users,
            recorder,
            metrics,
            settings,
            failures: Mutex::default(),
        }
    }

    /// The next look at `object` (a `kind/namespace/name` key) after a pass that ended in `retry`
    /// (`None`: success).
    pub fn next_action(&self, object: &str, retry: Option<Retry>) -> Action {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let jitter: f64 = rand::random();
        match retry {
            None => {
                failures.remove(object);
                Action::requeue(resync_delay(self.settings.resync_period, jitter))
            }
            Some(Retry::Backoff(retry_after)) => {
                let attempt = failures.entry(object.to_string()).or_insert(0);
                let delay = backoff_delay(*attempt, retry_after, jitter);
                *attempt = attempt.saturating_add(1);
                Action::requeue(delay)
            }
            // Waiting on another resource: its change wakes this one, but that wake can beat the
            // cache this pass reads (each controller has its own watch), so look again soon, then
            // less and less often. Only the caches and the Secret are read meanwhile.
            Some(Retry::Waiting) => {
                let attempt = failures.entry(object.to_string()).or_insert(0);
                let delay = backoff_delay(*attempt, None, jitter).min(self.settings.slow_retry);
                *attempt = attempt.saturating_add(1);
                Action::requeue(delay)
            }
            Some(Retry::Slowly) => {
                failures.remove(object);
                Action::requeue(resync_delay(self.settings.slow_retry, jitter))
            }
        }
    }

    pub fn forget(&self, object: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(object);
    }
}
