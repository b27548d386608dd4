//! Simulator: the handle and the running server.
//!
//! Shared state behind a cheap `Clone`, the router, and a server running in a tokio task.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use secrecy::SecretString;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::auth::{AuthError, IssuedToken, Tokens};
use super::config::{Account, PaginationStyle, Role, SimConfig};
use super::counters::{CallCount, Counters, LoggedCall};
use super::faults::{Faults, FaultsError};
use super::persist::{self, PersistError};
use super::state::Store;
use super::wire::StateDump;
use super::{control, handlers};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot load the simulator state")]
    LoadState(#[source] PersistError),
    #[error("invalid initial faults")]
    Faults(#[source] FaultsError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the simulator's server failed")]
    Serve(#[source] std::io::Error),
}

/// A handle to one simulated Admin API. Clones share the same state.
#[derive(Debug, Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    accounts: Vec<Account>,
    pagination: PaginationStyle,
    max_page_size: u32,
    state_file: Option<PathBuf>,
    store: Mutex<Store>,
    tokens: Mutex<Tokens>,
    faults: Mutex<Faults>,
    counters: Counters,
}

// A panic while a lock is held cannot leave these structures half-updated in a way that matters
// to a simulator, so a poisoned lock is simply taken over.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Simulator {
    /// Builds the simulator, loading the state file if one is configured (a missing file is an
    /// empty state).
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        config.faults.validate().map_err(SimError::Faults)?;
        let mut store = Store::new(&config.projects);
        if let Some(path) = &config.state_file
            && let Some(saved) = persist::load(path).map_err(SimError::LoadState)?
        {
            store.restore(saved);
        }
        Ok(Self {
            shared: Arc::new(Shared {
                accounts: config.accounts,
                pagination: config.pagination,
                max_page_size: config.max_page_size,
                state_file: config.state_file,
                store: Mutex::new(store),
                tokens: Mutex::new(Tokens::new(config.token_ttl)),
                faults: Mutex::new(config.faults),
                counters: Counters::default(),
            }),
        })
    }

    /// The Admin API at `/` and the control endpoint at `/_sim`.
    pub fn router(&self) -> Router {
        handlers::routes()
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                handlers::faults_and_counters,
            ))
            .merge(control::routes())
            .fallback(handlers::no_such_endpoint)
            .with_state(self.clone())
    }

    /// Serves a new simulator on `addr` (port 0 picks a free port) in a tokio task.
    pub async fn bind(config: SimConfig, addr: SocketAddr) -> Result<RunningSim, SimError> {
        Self::new(config)?.serve(addr, None).await
    }

    /// Serves this simulator (its state, faults and counters) on one more address. Calls that
    /// come through it are logged with `client`, so a test that gives each of two clients its own
    /// listener can tell their calls apart (`requests()`, `GET /_sim/requests`).
    pub async fn serve(
        &self,
        addr: SocketAddr,
        client: Option<&str>,
    ) -> Result<RunningSim, SimError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let mut router = self.router();
        if let Some(client) = client {
            router = router.layer(axum::Extension(handlers::ClientLabel(client.into())));
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, router).with_graceful_shutdown(async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { server.await });
        let host = if local.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local.ip()
        };
        Ok(RunningSim {
            base_url: format!("http://{}", SocketAddr::new(host, local.port())),
            addr: local,
            sim: self.clone(),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The last calls (up to [`LOG_CAPACITY`](super::counters::LOG_CAPACITY)), oldest first.
    pub fn requests(&self) -> Vec<LoggedCall> {
        self.shared.counters.log()
    }

    /// Changes the active faults in place (e.g. re-arms a `rate_limit` burst, keeping the rest).
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut lock(&self.shared.faults));
    }

    /// Every call counted so far, sorted by method, path template and status.
    pub fn calls(&self) -> Vec<CallCount> {
        self.shared.counters.snapshot()
    }

    /// The count of calls to one endpoint (`"METHOD template"`) that ended with `status`.
    pub fn call_count(&self, method: &str, path: &str, status: u16) -> u64 {
        self.calls()
            .iter()
            .filter(|c| c.method == method && c.path == path && c.status == status)
            .map(|c| c.count)
            .sum()
    }

    pub fn reset_calls(&self) {
        self.shared.counters.reset();
    }

    /// Replaces the active faults. Use [`Faults::validate`] first to catch typos in endpoint
    /// names; a fault on an unknown endpoint never fires.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// The active faults, with the counts that are left.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).clone()
    }

    /// Every token issued so far answers 401 from now on.
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).expire_all(Instant::now());
    }

    pub fn token_ttl(&self) -> Duration {
        lock(&self.shared.tokens).ttl()
    }

    /// The lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        lock(&self.shared.tokens).set_ttl(ttl);
    }

    /// What happens to a user outside the Admin API: an invitation accepted, time passed.
    pub fn set_user_facts(
        &self,
        project_id: &str,
        customer_id: &str,
        user_id: &str,
        facts: super::wire::UserFacts,
    ) -> Result<super::wire::SimUser, control::ControlError> {
        self.write(|store| {
            store
                .set_user_facts(project_id, customer_id, user_id, facts)
                .map_err(control::ControlError::from)
        })
    }

    /// All projects, customers and users (no passwords).
    pub fn snapshot(&self) -> StateDump {
        lock(&self.shared.store).dump()
    }

    pub(crate) fn login(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<IssuedToken, AuthError> {
        lock(&self.shared.tokens).login(&self.shared.accounts, email, password, Instant::now())
    }

    /// The role of the caller's bearer token.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<Role, AuthError> {
        let header = match headers.get(AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| AuthError::Malformed)?),
        };
        lock(&self.shared.tokens).check(header, Instant::now())
    }

    pub(crate) fn pagination(&self) -> (PaginationStyle, u32) {
        (self.shared.pagination, self.shared.max_page_size)
    }

    pub(crate) fn read<T>(&self, op: impl FnOnce(&Store) -> T) -> T {
        op(&lock(&self.shared.store))
    }

    /// Runs a write and, when it succeeds, saves the state file before anyone sees the result.
    pub(crate) fn write<T, E: From<PersistError>>(
        &self,
        op: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut store = lock(&self.shared.store);
        let value = op(&mut store)?;
        if let Some(path) = &self.shared.state_file {
            persist::save(path, &store.dump())?;
        }
        Ok(value)
    }

    pub(crate) fn with_faults<T>(&self, op: impl FnOnce(&mut Faults) -> T) -> T {
        op(&mut lock(&self.shared.faults))
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.shared.counters
    }
}

/// A simulator serving in a tokio task. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningSim {
    /// `http://127.0.0.1:PORT`: the Admin API base URL.
    pub base_url: String,
    pub addr: SocketAddr,
    pub sim: Simulator,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// How long a graceful stop may wait for open requests before the server task is dropped.
const STOP_GRACE: Duration = Duration::from_secs(5);

impl RunningSim {
    /// Stops accepting connections and waits (a bounded time) for open requests to finish.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        let abort = task.abort_handle();
        match tokio::time::timeout(STOP_GRACE, task).await {
            Ok(Ok(result)) => result.map_err(SimError::Serve),
            // Cancelled or panicked: either way the server is gone.
            Ok(Err(_)) => Ok(()),
            Err(_) => {
                abort.abort();
                Ok(())
            }
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
