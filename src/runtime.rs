//! The operator process behind `corti-operator run`: the Kubernetes and Admin API clients, the
//! health and metrics server, the Lease, and the controllers, until SIGTERM or SIGINT.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::admin_api::{AdminClient, BuildError, ClientConfig, LeaseFence};
use crate::cli::RunArgs;
use crate::controller::{self, RunConfig, Settings};
use crate::leader::{self, LeaderError, LeaseConfig};
use crate::metrics::Metrics;
use crate::server::{self, Health};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot connect to Kubernetes (in a cluster, or via KUBECONFIG)")]
    Kube(#[source] kube::Error),
    #[error("invalid Admin API settings")]
    AdminApi(#[source] BuildError),
    #[error("cannot serve health and metrics")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Leader(#[from] LeaderError),
}

/// `corti-operator run`: serves health and metrics at once, then (as leader, when elected)
/// runs the controllers until SIGTERM or SIGINT.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let kube = kube::Client::try_default().await.map_err(RunError::Kube)?;
    let metrics = Arc::new(Metrics::default());
    // With leader election, the Admin API client makes no call unless the lease is surely held.
    let fence = args
        .leader_election
        .then(|| Arc::new(LeaseFence::default()));
    let admin = AdminClient::new(
        &ClientConfig {
            rate_limit: Some(args.admin_api_rate_limit),
            concurrency: Some(usize::from(args.concurrency.max(1))),
            timeout: args.admin_api_timeout,
            fence: fence.clone(),
            ..ClientConfig::new(&args.admin_api_url)
        },
        metrics.clone(),
    )
    .map_err(RunError::AdminApi)?;
    let identity = args.identity.clone().unwrap_or_else(default_identity);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let ready = Arc::new(AtomicBool::new(false));
    let health = Health {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let listener = tokio::net::TcpListener::bind(args.health_addr)
        .await
        .map_err(RunError::Serve)?;
    let server = tokio::spawn(server::serve_on(listener, health, stopped()));
    ready.store(true, Ordering::Relaxed);

    let lease = args.leader_election.then(|| LeaseConfig {
        namespace: args.leader_election_namespace.clone(),
        name: args.lease_name.clone(),
        identity: identity.clone(),
        duration: Duration::from_secs(15),
        renew_every: Duration::from_secs(5),
    });
    let fence = fence.unwrap_or_default();
    if let Some(lease) = &lease {
        tokio::select! {
            () = leader::acquire(&kube, lease, &fence) => {},
            () = stopped() => return Ok(()),
        }
    }
    metrics.set_leader(true);
    // A standby is ready (it serves and waits); a leader is ready once its caches are synced.
    ready.store(false, Ordering::Relaxed);

    let config = RunConfig {
        namespaces: args
            .namespaces
            .into_iter()
            .filter(|ns| !ns.is_empty())
            .collect(),
        // As many passes per kind as Admin API call slots: more passes (tried: four times as
        // many) cost 12 % more CPU and did not converge faster, the API server setting the pace.
        concurrency: args.concurrency.max(1),
        snapshot_ttl: args.snapshot_ttl.unwrap_or(args.resync_period / 2),
        default_credentials: args.default_credentials_secret,
        default_credentials_namespaces: args
            .default_credentials_namespaces
            .into_iter()
            .filter(|ns| !ns.is_empty())
            .collect(),
        settings: Settings {
            resync_period: args.resync_period,
            slow_retry: args.slow_retry.unwrap_or(args.resync_period),
            adopt_existing: args.adopt_existing,
            dry_run: args.dry_run,
        },
        instance: identity,
        synced: ready.clone(),
    };
    if config.default_credentials.is_some() && config.default_credentials_namespaces.is_empty() {
        tracing::warn!(
            "the default credentials serve no namespace: set --default-credentials-namespaces"
        );
    }
    tracing::info!(admin_api = %args.admin_api_url, namespaces = ?config.namespaces, "starting controllers");
    let controllers = controller::run(kube.clone(), admin, metrics.clone(), config, stopped());
    let outcome = match &lease {
        Some(lease) => tokio::select! {
            () = controllers => Ok(()),
            lost = leader::hold(&kube, lease, &fence) => Err(RunError::Leader(lost)),
        },
        None => {
            controllers.await;
            Ok(())
        }
    };
    metrics.set_leader(false);
    if let Some(lease) = &lease {
        leader::release(&kube, lease).await;
    }
    server.abort();
    outcome
}

fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "corti-operator".into());
    format!("{host}-{}", uuid::Uuid::new_v4().simple())
}

/// SIGTERM (how Kubernetes stops a Pod) or SIGINT (Ctrl-C), whichever comes first.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
