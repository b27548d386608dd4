//! Shared observation of the Admin API. It has no GET by id, only paged lists, so the operator
//! keeps one snapshot of each project's customers and one of each customer's users: loaded once
//! for all the reconciles that need it (single-flight), updated by the operator's own writes,
//! and reloaded when older than the TTL or when a reconcile needs a fresher one.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::admin_api::{AdminClient, ApiError, Credentials, Customer, User};

/// A project's customers by `customerId`.
pub type CustomerMap = BTreeMap<String, Customer>;
/// A customer's users by lower-cased email (emails are unique regardless of case).
pub type UserMap = BTreeMap<String, User>;

pub fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

#[derive(Debug)]
pub struct Snapshots {
    ttl: Duration,
    customers: Cells<String, CustomerMap>,
    users: Cells<(String, String), UserMap>,
}

impl Snapshots {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            customers: Cells::default(),
            users: Cells::default(),
        }
    }

    /// The project's customers, no older than the TTL, or than `max_age` when given.
    pub async fn customers(
        &self,
        client: &AdminClient,
        credentials: &Credentials,
        max_age: Option<Duration>,
    ) -> Result<Arc<CustomerMap>, ApiError> {
        // Proven credentials first: a cached token of this very account, or a login. A snapshot
        // loaded with another account's credentials is never served to a resource whose own are
        // wrong.
        client.login(credentials).await?;
        let max_age = max_age.map_or(self.ttl, |age| age.min(self.ttl));
        self.customers
            .get(credentials.project_id.clone(), max_age, || async {
                let list = client.list_customers(credentials).await?;
                Ok(list
                    .into_iter()
                    .map(|c| (c.customer_id.clone(), c))
                    .collect())
            })
            .await
    }

    /// The customer's users, no older than the TTL, or than `max_age` when given.
    pub async fn users(
        &self,
        client: &AdminClient,
        credentials: &Credentials,
        customer_id: &str,
        max_age: Option<Duration>,
    ) -> Result<Arc<UserMap>, ApiError> {
        client.login(credentials).await?;
        let max_age = max_age.map_or(self.ttl, |age| age.min(self.ttl));
        let key = (credentials.project_id.clone(), customer_id.to_string());
        self.users
            .get(key, max_age, || async {
                let list = client.list_users(credentials, customer_id).await?;
                Ok(list.into_iter().map(|u| (email_key(&u.email), u)).collect())
            })
            .await
    }

    /// Records the operator's own write, so the next reconcile needs no list call to see it.
    pub fn record_customer(&self, project_id: &str, customer: Customer) {
        self.customers.update(&project_id.to_string(), |map| {
            map.insert(customer.customer_id.clone(), customer);
        });
    }

    pub fn forget_customer(&self, project_id: &str, customer_id: &str) {
        let customer_id_owned = customer_id.to_string();
        self.customers.update(&project_id.to_string(), move |map| {
            map.remove(&customer_id_owned);
        });
        self.users
            .invalidate(&(project_id.to_string(), customer_id.to_string()));
    }

    pub fn record_user(&self, project_id: &str, customer_id: &str, user: User) {
        self.users
            .update(&(project_id.to_string(), customer_id.to_string()), |map| {
                map.insert(email_key(&user.email), user);
            });
    }

    pub fn forget_user(&self, project_id: &str, customer_id: &str, email: &str) {
        self.users
            .update(&(project_id.to_string(), customer_id.to_string()), {
                let key = email_key(email);
                move |map| {
                    map.remove(&key);
                }
            });
    }

    /// Drops a snapshot the operator no longer trusts (a write whose outcome is unknown, a 404 or
    /// 409 that contradicts it): the next reader lists afresh.
    pub fn invalidate_customers(&self, project_id: &str) {
        self.customers.invalidate(&project_id.to_string());
    }

    pub fn invalidate_users(&self, project_id: &str, customer_id: &str) {
        self.users
            .invalidate(&(project_id.to_string(), customer_id.to_string()));
    }
}

/// Single-flight cells: one loader at a time per key; the others wait and share its result.
#[derive(Debug)]
struct Cells<K, V> {
    cells: Mutex<HashMap<K, Arc<Cell<V>>>>,
}

impl<K, V> Default for Cells<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Debug)]
struct Cell<V> {
    slot: tokio::sync::Mutex<Option<Loaded<V>>>,
    /// Writes and invalidations that arrived while the slot was busy (a load, or a reader): the
    /// next holder of the slot applies them, so none is ever lost. A write made during a load is
    /// applied on top of what the load returns (inserts and removals by key are idempotent).
    pending: std::sync::Mutex<Vec<Pending<V>>>,
    /// The last failed load and when it ended: the callers that were already waiting for it get
    /// the same error instead of each trying again.
    failed: std::sync::Mutex<Option<(Instant, ApiError)>>,
}

/// A change for the next holder of a busy slot.
enum Pending<V> {
    Change(Box<dyn FnOnce(&mut V) + Send>),
    /// The snapshot is not to be trusted any more (a write of unknown outcome): a load in flight
    /// is used once and not kept.
    Invalidate,
}

impl<V> std::fmt::Debug for Pending<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Change(_) => "Change",
            Self::Invalidate => "Invalidate",
        })
    }
}

impl<V> Default for Cell<V> {
    fn default() -> Self {
        Self {
            slot: tokio::sync::Mutex::new(None),
            pending: std::sync::Mutex::new(Vec::new()),
            failed: std::sync::Mutex::new(None),
        }
    }
}

impl<V: Clone> Cell<V> {
    /// Applies what is pending to `slot` (an invalidation empties it).
    fn drain(&self, slot: &mut Option<Loaded<V>>) {
        for change in self.take_pending() {
            match change {
                Pending::Change(change) => {
                    if let Some(loaded) = slot.as_mut() {
                        change(Arc::make_mut(&mut loaded.value));
                    }
                }
                Pending::Invalidate => *slot = None,
            }
        }
    }

    fn take_pending(&self) -> Vec<Pending<V>> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, change: Pending<V>) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change);
    }
}

#[derive(Debug)]
struct Loaded<V> {
    at: Instant,
    value: Arc<V>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Cells<K, V> {
    async fn get<F, Fut>(&self, key: K, max_age: Duration, load: F) -> Result<Arc<V>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, ApiError>>,
    {
        let cell = self.cell(key);
        let queued = Instant::now();
        let mut slot = cell.slot.lock().await;
        cell.drain(&mut slot);
        if let Some(loaded) = slot.as_ref()
            && loaded.at.elapsed() <= max_age
        {
            return Ok(loaded.value.clone());
        }
        if let Some((at, error)) = cell
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && *at >= queued
        {
            return Err(error.clone());
        }
        let started = Instant::now();
        let value = match load().await {
            Ok(value) => value,
            Err(error) => {
                *cell.failed.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), error.clone()));
                return Err(error);
            }
        };
        // What was written while the list ran goes on top of it; an invalidation means the load
        // may predate a write of unknown outcome: it serves this caller once and is not kept.
        let mut value = value;
        let mut invalidated = false;
        for change in cell.take_pending() {
            match change {
                Pending::Change(change) => change(&mut value),
                Pending::Invalidate => invalidated = true,
            }
        }
        let value = Arc::new(value);
        *slot = (!invalidated).then(|| Loaded {
            at: started,
            value: value.clone(),
        });
        Ok(value)
    }

    /// Applies `change` to a loaded snapshot, now or (when the slot is busy) by its next holder.
    fn update(&self, key: &K, change: impl FnOnce(&mut V) + Send + 'static) {
        let Some(cell) = self.existing(key) else {
            return;
        };
        match cell.slot.try_lock() {
            Ok(mut slot) => {
                cell.drain(&mut slot);
                if let Some(loaded) = slot.as_mut() {
                    change(Arc::make_mut(&mut loaded.value));
                }
            }
            Err(_) => cell.push(Pending::Change(Box::new(change))),
        }
    }

    fn invalidate(&self, key: &K) {
        let Some(cell) = self.existing(key) else {
            return;
        };
        match cell.slot.try_lock() {
            Ok(mut slot) => {
                cell.drain(&mut slot);
                *slot = None;
            }
            Err(_) => cell.push(Pending::Invalidate),
        }
    }

    fn existing(&self, key: &K) -> Option<Arc<Cell<V>>> {
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn cell(&self, key: K) -> Arc<Cell<V>> {
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_load_for_concurrent_readers_then_reload_after_ttl() {
        let cells: Arc<Cells<&str, Vec<u32>>> = Arc::default();
        let loads = Arc::new(AtomicUsize::new(0));
        let load = |loads: Arc<AtomicUsize>| async move {
            loads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(vec![1, 2, 3])
        };
        let readers = (0..10).map(|_| {
            let (cells, loads) = (cells.clone(), loads.clone());
            tokio::spawn(async move {
                cells
                    .get("p", Duration::from_secs(60), || load(loads))
                    .await
            })
        });
        for reader in futures::future::join_all(readers).await {
            assert_eq!(*reader.unwrap().unwrap(), vec![1, 2, 3]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);

        tokio::time::advance(Duration::from_secs(30)).await;
        cells
            .get("p", Duration::from_secs(60), || load(loads.clone()))
            .await
            .unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1, "still fresh");
        cells
            .get("p", Duration::from_secs(10), || load(loads.clone()))
            .await
            .unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "a reader that needs fresher data reloads"
        );
    }

    #[tokio::test]
    async fn own_writes_update_the_snapshot_and_invalidate_forces_a_load() {
        let cells: Cells<&str, Vec<u32>> = Cells::default();
        cells
            .get("p", Duration::from_secs(60), || async { Ok(vec![1]) })
            .await
            .unwrap();
        cells.update(&"p", |v| v.push(2));
        let seen = cells
            .get("p", Duration::from_secs(60), || async { Ok(vec![99]) })
            .await
            .unwrap();
        assert_eq!(*seen, vec![1, 2]);
        cells.invalidate(&"p");
        let seen = cells
            .get("p", Duration::from_secs(60), || async { Ok(vec![7]) })
            .await
            .unwrap();
        assert_eq!(*seen, vec![7]);
    }

    #[tokio::test]
    async fn a_write_during_a_load_is_applied_on_top_of_it_never_lost() {
        let cells: Arc<Cells<&str, Vec<u32>>> = Arc::default();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let loader = {
            let cells = cells.clone();
            tokio::spawn(async move {
                cells
                    .get("p", Duration::from_secs(60), || async move {
                        let _ = started_tx.send(());
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(vec![1])
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        // The load began before this write (our own create): it must not hide it.
        cells.update(&"p", |v| v.push(2));
        assert_eq!(*loader.await.unwrap().unwrap(), vec![1, 2]);
        let seen = cells
            .get("p", Duration::from_secs(60), || async { Ok(vec![9]) })
            .await
            .unwrap();
        assert_eq!(*seen, vec![1, 2], "kept, with the write: no reload");

        // An invalidation during a load: that load serves its caller once and is not kept.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let loader = {
            let cells = cells.clone();
            tokio::spawn(async move {
                cells
                    .get("p", Duration::ZERO, || async move {
                        let _ = started_tx.send(());
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(vec![3])
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        cells.invalidate(&"p");
        assert_eq!(*loader.await.unwrap().unwrap(), vec![3]);
        let seen = cells
            .get("p", Duration::from_secs(60), || async { Ok(vec![4]) })
            .await
            .unwrap();
        assert_eq!(
            *seen,
            vec![4],
            "the load that may predate the write was not kept"
        );
    }

    #[tokio::test]
    async fn a_failed_load_is_shared_with_those_waiting_on_it() {
        let cells: Arc<Cells<&str, Vec<u32>>> = Arc::default();
        let loads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let callers = (0..10).map(|_| {
            let (cells, loads) = (cells.clone(), loads.clone());
            tokio::spawn(async move {
                cells
                    .get("p", Duration::from_secs(60), || async move {
                        loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Err::<Vec<u32>, _>(ApiError::RateLimited {
                            retry_after: Some(Duration::from_secs(9)),
                        })
                    })
                    .await
            })
        });
        for caller in futures::future::join_all(callers).await {
            assert!(matches!(caller.unwrap(), Err(ApiError::RateLimited { .. })));
        }
        assert_eq!(
            loads.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one failed list, not one per waiting reconcile"
        );
    }

    #[tokio::test]
    async fn a_failed_load_is_not_cached() {
        let cells: Cells<&str, Vec<u32>> = Cells::default();
        let failed = cells
            .get("p", Duration::from_secs(60), || async {
                Err(ApiError::Timeout)
            })
            .await;
        assert!(failed.is_err());
        let seen = cells
            .get("p", Duration::from_secs(60), || async { Ok(vec![5]) })
            .await
            .unwrap();
        assert_eq!(*seen, vec![5]);
    }
}
