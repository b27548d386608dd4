//! Wiring: the two controllers, `Customer` and `CustomerUser`, in one process over shared caches.
//! A pass reads observe -> decide -> act -> record; each file below is one of those steps or one
//! thing they share.

mod access; // decide + act: accessExpiresAt and deletionPolicy Disable
mod claim_check; // observe + record: a pass's claim
mod claims; // decide: who may act on a remote key
mod cleanup; // act + record for a deleted resource
mod condition; // record: the Ready condition and its reasons
mod context; // shared: clients, caches, settings
mod credential_health; // observe + decide + record: CredentialsValid and per-Secret metrics
mod customer; // the Customer pass
mod error; // why a pass stopped short
mod events; // record: Events
mod finalizer; // act: finalizers on resources and credentials Secrets
mod invitation; // decide + record: email verification past the invitation window
mod lean; // observe: what a watch reads of a copy
mod managed; // the two kinds seen alike
mod observe_only; // decide + record: managementPolicy Observe and --dry-run
mod own_writes; // observe: whether the cache shows this process's own last write
mod ownership; // decide: ownership, adoption, deletion
mod packed; // observe: the CustomerUser cache, statuses kept as text
mod pass; // the flow of one pass
pub(crate) mod plan; // decide: fields
mod resync; // observe: the resync annotation
mod retry; // when to look again
mod secret_reader; // observe: the Secrets a pass acts with
mod status; // record: status
mod sweep; // wiring: the periodic resync
mod triggers; // wiring: which changes start a pass
mod user; // the CustomerUser pass
mod user_index; // observe: users by email and by Customer
mod user_rivals; // observe: other claims on a user's remote key
mod user_target; // observe: where a user lives
mod wakes; // wiring: which change of one kind wakes the other

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::runtime::controller::{Action, Config as ControllerConfig};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::{self, reflector};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

pub use condition::{Readiness, Reason};
pub use context::{Context, FIELD_MANAGER, Settings};
pub use error::Error;
pub use finalizer::SECRET_FINALIZER;
pub use secret_reader::{SecretKey, SecretReader};

use self::managed::{Keyed, object_key};
use crate::admin_api::AdminClient;
use crate::crd::Customer;
use crate::metrics::Metrics;
use crate::observe::Snapshots;

#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Empty: all namespaces.
    pub namespaces: Vec<String>,
    /// Passes at once, per kind.
    pub concurrency: u16,
    pub snapshot_ttl: Duration,
    pub default_credentials: Option<SecretKey>,
    /// The namespaces the default credentials serve (`*`: all).
    pub default_credentials_namespaces: Vec<String>,
    pub settings: Settings,
    pub instance: String,
    /// Set once both caches hold their first list (what `/readyz` reports).
    pub synced: Arc<std::sync::atomic::AtomicBool>,
}

/// Runs both controllers until `shutdown` resolves; in-flight reconciles finish first.
pub async fn run(
    kube: kube::Client,
    admin: AdminClient,
    metrics: Arc<Metrics>,
    config: RunConfig,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (customers, users): (Api<lean::Lean<Customer>>, Api<packed::PackedUser>) =
        match config.namespaces.as_slice() {
            [namespace] => (
                Api::namespaced(kube.clone(), namespace),
                Api::namespaced(kube.clone(), namespace),
            ),
            _ => (Api::all(kube.clone()), Api::all(kube.clone())),
        };
    let watch = watcher::Config::default().any_semantic();
    let controller_config = ControllerConfig::default().concurrency(config.concurrency);

    // One watch per kind feeds its cache, its own passes and the other kind's wake-ups. A pass is
    // triggered only by what a person changes (see `triggers`), so the operator's own writes
    // never come back as passes and a backoff or `Retry-After` holds.
    let user_index = user_index::UserIndex::default();
    let own_writes = Arc::new(own_writes::OwnWrites::default());
    let triggers = Arc::new(triggers::Triggers::default());
    let (customer_store, customer_writer) = reflector::store();
    let (user_store, user_writer) = reflector::store();
    let (wake_users, users_woken) = futures::channel::mpsc::unbounded();
    let (wake_customers, customers_woken) = futures::channel::mpsc::unbounded();

    // Each resource is looked at again once per resync period (see `sweep`).
    let period = config.settings.resync_period;
    tokio::spawn(sweep::sweep(
        customer_store.clone(),
        wake_customers.clone(),
        period,
    ));
    tokio::spawn(sweep::sweep(user_store.clone(), wake_users.clone(), period));

    // A Customer wakes its users when its readiness changes (they wait for it to be Ready).
    let mut readiness = wakes::CustomerReadiness::default();
    let (index, written, seen) = (user_index.clone(), own_writes.clone(), triggers.clone());
    let customer_events = reflector(
        customer_writer,
        watcher(customers, watch.clone()).map_ok(lean::unwrap),
    )
    .inspect(move |event| {
        if let Ok(event) = event {
            follow_own_writes(&written, &seen, event);
            for user in readiness.users_to_wake(event, &index) {
                let _ = wake_users.unbounded_send(user);
            }
        }
    })
    .applied_objects()
    .try_filter(worth_a_pass(triggers.clone()));
    // A user's change or deletion wakes its Customer only while that Customer is being deleted
    // (it waits for its users to be gone; otherwise it needs nothing from them).
    let (index, deleting) = (user_index.clone(), customer_store.clone());
    let (written, seen) = (own_writes.clone(), triggers.clone());
    let user_events = reflector(user_writer, watcher(users, watch))
        .inspect(move |event| {
            if let Ok(event) = event {
                follow_own_writes(&written, &seen, event);
                index.follow(event);
                if let Some(customer) = wakes::deleting_customer(event, &deleting) {
                    let _ = wake_customers.unbounded_send(customer);
                }
            }
        })
        .applied_objects()
        .try_filter(worth_a_pass(triggers.clone()));
    let customer_controller = Controller::for_stream(customer_events, customer_store.clone())
        .with_config(controller_config.clone())
        .reconcile_on(customers_woken);
    let user_controller = Controller::for_stream(user_events, user_store.clone())
        .with_config(controller_config)
        .reconcile_on(users_woken);

    let context = Arc::new(Context {
        kube: kube.clone(),
        admin,
        snapshots: Snapshots::new(config.snapshot_ttl),
        secrets: SecretReader::new(
            kube.clone(),
            config.default_credentials.clone(),
            config.default_credentials_namespaces.clone(),
        ),
        customers: customer_store,
        users: user_store,
        user_index,
        events: events::EventWriter::new(kube, FIELD_MANAGER, &config.instance),
        metrics,
        settings: config.settings.clone(),
        namespaces: config.namespaces.clone(),
        claims: claims::Registry::default(),
        own_writes,
        triggers,
        backoff: context::Backoff::default(),
        midway: std::sync::Mutex::default(),
    });
    let namespaces = Arc::new(config.namespaces);
    // Polled, not awaited: a store's readiness wakes only its latest waiter, and every pass polls
    // it too (`caches_synced`), so a waiting task here would never be woken.
    let (watching, synced) = (Arc::downgrade(&context), config.synced.clone());
    tokio::spawn(async move {
        while let Some(context) = watching.upgrade() {
            if context.caches_synced() {
                synced.store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::info!("caches synced");
                return;
            }
            drop(context);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let (stop_customers, stop_users) = shutdown_pair(shutdown);
    let customers = customer_controller
        .graceful_shutdown_on(stop_customers)
        .run(
            scoped_pass::<Customer>(namespaces.clone()),
            error_policy::<Customer>,
            context.clone(),
        )
        .for_each(log_result);
    let users = user_controller
        .graceful_shutdown_on(stop_users)
        .run(
            scoped_pass::<packed::PackedUser>(namespaces),
            error_policy::<packed::PackedUser>,
            context,
        )
        .for_each(log_result);
    futures::join!(customers, users);
}

/// A pass over a cached copy of the watched namespaces; others (a cluster-wide watch that serves
/// a namespace list) are left alone.
fn scoped_pass<C: packed::Cached>(
    namespaces: Arc<Vec<String>>,
) -> impl FnMut(Arc<C>, Arc<Context>) -> futures::future::BoxFuture<'static, Result<Action, Error>>
{
    move |object, ctx| {
        let namespaces = namespaces.clone();
        Box::pin(async move {
            if !in_scope(&namespaces, object.as_ref()) {
                return Ok(Action::await_change());
            }
            pass::reconcile(object.whole()?, ctx).await
        })
    }
}

/// Copies worth a pass (see `triggers`).
fn worth_a_pass<K: Keyed>(
    triggers: Arc<triggers::Triggers>,
) -> impl FnMut(&K) -> futures::future::Ready<bool> {
    move |object| futures::future::ready(triggers.worth_a_pass(object))
}

/// Forgets this process's writes as the watch shows them (see `own_writes`), and a deleted
/// object's last trigger.
fn follow_own_writes<K: Keyed>(
    writes: &own_writes::OwnWrites,
    triggers: &triggers::Triggers,
    event: &watcher::Event<K>,
) {
    match event {
        // Not `InitApply`: a relist's copies reach the cache only at `InitDone`.
        watcher::Event::Apply(object) => {
            writes.seen(
                &object_key(object),
                object.meta().resource_version.as_deref(),
            );
        }
        watcher::Event::Delete(object) => {
            writes.deleted(&object_key(object));
            triggers.forget(object);
        }
        watcher::Event::Init | watcher::Event::InitApply(_) | watcher::Event::InitDone => {}
    }
}

fn shutdown_pair(
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> (
    impl Future<Output = ()> + Send + Sync + 'static,
    impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let wait = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    (wait(rx.clone()), wait(rx))
}

fn in_scope<K: Keyed>(namespaces: &[String], object: &K) -> bool {
    namespaces.is_empty()
        || object
            .namespace()
            .is_some_and(|ns| namespaces.contains(&ns))
}

async fn log_result<K, E: std::fmt::Display>(result: Result<(ObjectRef<K>, Action), E>)
where
    K: kube::Resource,
    K::DynamicType: std::fmt::Debug,
{
    if let Err(error) = result {
        tracing::debug!(%error, "controller event");
    }
}

/// Only errors that kept a pass from writing status land here (the Kubernetes API failed).
#[allow(clippy::needless_pass_by_value)] // the signature kube-runtime asks for
fn error_policy<K: Keyed>(object: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(object = %object_key(object.as_ref()), error = %error.chain(), "reconcile failed");
    ctx.metrics
        .reconcile_error(K::KIND, error.reason().as_str());
    ctx.next_action(&object_key(object.as_ref()), Some(error.retry()))
}
