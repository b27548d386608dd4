//! The `corti-operator` command line: its flags, and the `crds` subcommand (`run` is in
//! `runtime.rs`). Flags have
//! environment fallbacks (`CORTI_*`) so a Deployment can be configured either way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::controller::SecretKey;
pub use crate::runtime::RunError;

/// The production Admin API.
pub const DEFAULT_ADMIN_API_URL: &str = "https://api.console.corti.app/functions/v1/public";

#[derive(Debug, Parser)]
#[command(
    name = "corti-operator",
    version,
    about = "Keeps Corti Admin API customers and users in sync with Kubernetes resources"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Customer and CustomerUser controllers.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions (YAML), or write one file per CRD into --dir.
    Crds {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print manifests of a project's customers and users that adopt them as they are (no write
    /// to the Admin API when applied). Credentials: --credentials-secret, else the environment
    /// (CORTI_ADMIN_EMAIL, CORTI_ADMIN_PASSWORD, CORTI_PROJECT_ID).
    Export(Box<crate::export::ExportArgs>),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the Admin API. Only the operator's configuration sets it: no resource can.
    #[arg(long, env = "CORTI_ADMIN_API_URL", default_value = DEFAULT_ADMIN_API_URL)]
    pub admin_api_url: String,
    /// The credentials Secret (NAMESPACE/NAME) for resources that name none.
    #[arg(long, env = "CORTI_DEFAULT_CREDENTIALS_SECRET", value_parser = parse_secret_key)]
    pub default_credentials_secret: Option<SecretKey>,
    /// The namespaces whose resources may act with the default credentials, comma-separated; `*`
    /// for every watched namespace. None by default: whoever may create a resource in a namespace
    /// served by them may act on the whole project with them.
    #[arg(
        long,
        env = "CORTI_DEFAULT_CREDENTIALS_NAMESPACES",
        value_delimiter = ','
    )]
    pub default_credentials_namespaces: Vec<String>,
    /// Namespaces to reconcile, comma-separated; all when empty.
    #[arg(long, env = "CORTI_WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Admin API calls in flight at once for the whole process, and passes at once per kind.
    #[arg(long, env = "CORTI_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
    /// Threads that run passes and watches. 1 (the default) runs everything on one thread: the
    /// operator waits on I/O far more than it computes, and handing work between threads cost a
    /// quarter of its CPU (measured: see the README's benchmark).
    #[arg(long, env = "CORTI_WORKER_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub worker_threads: u16,
    /// How often a Ready resource is compared with the Admin API (drift is reverted then).
    #[arg(long, env = "CORTI_RESYNC_PERIOD", default_value = "5m", value_parser = humantime::parse_duration)]
    pub resync_period: Duration,
    /// Age at which an observation of the Admin API is listed again; default: half the resync period.
    #[arg(long, env = "CORTI_SNAPSHOT_TTL", value_parser = humantime::parse_duration)]
    pub snapshot_ttl: Option<Duration>,
    /// How often a resource waiting for a person (bad credentials, invalid spec) is retried; default: the resync period.
    #[arg(long, env = "CORTI_SLOW_RETRY", value_parser = humantime::parse_duration)]
    pub slow_retry: Option<Duration>,
    /// Whether a resource may adopt a remote customer or user that already exists under its key
    /// and that it did not create (made in the Console, or left behind by a deleted resource).
    /// Adoption is recorded in status with an Event; `false` turns such resources to `Conflict`.
    #[arg(long, env = "CORTI_ADOPT_EXISTING", default_value_t = true, action = clap::ArgAction::Set)]
    pub adopt_existing: bool,
    /// Treat every resource as `managementPolicy: Observe`: read the Admin API and report drift
    /// and the calls that would be made, but write nothing to it.
    #[arg(long, env = "CORTI_DRY_RUN", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,
    /// Admin API calls per second, across the process (0: no limit).
    #[arg(long, env = "CORTI_ADMIN_API_RATE_LIMIT", default_value_t = 10.0)]
    pub admin_api_rate_limit: f64,
    /// Deadline of one Admin API call.
    #[arg(long, env = "CORTI_ADMIN_API_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub admin_api_timeout: Duration,
    /// Hold a Lease before reconciling, so only one replica writes.
    #[arg(long, env = "CORTI_LEADER_ELECTION", default_value_t = false)]
    pub leader_election: bool,
    /// Namespace of the Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub leader_election_namespace: String,
    #[arg(long, env = "CORTI_LEASE_NAME", default_value = "corti-operator")]
    pub lease_name: String,
    /// This replica's name in the Lease and in Events.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "CORTI_HEALTH_ADDR", default_value = "0.0.0.0:8080")]
    pub health_addr: SocketAddr,
    #[arg(long, env = "CORTI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("cannot write CRDs")]
    Crds(#[source] std::io::Error),
    #[error("cannot render CRDs")]
    Yaml(#[source] serde_norway::Error),
}

pub(crate) fn parse_secret_key(value: &str) -> Result<SecretKey, String> {
    match value.split_once('/') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok((namespace.to_string(), name.to_string()))
        }
        _ => Err(format!("expected NAMESPACE/NAME, got {value:?}")),
    }
}

/// An error and its causes on one line, `outer: inner: root`, for a binary's last words.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The async runtime: one thread for `threads == 1`, else a work-stealing pool of `threads`.
pub fn runtime(threads: u16) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut pool = tokio::runtime::Builder::new_multi_thread();
        pool.worker_threads(usize::from(threads));
        pool
    };
    builder.enable_all().build()
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn,hyper=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into log files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// `corti-operator crds`.
pub fn print_crds(dir: Option<PathBuf>) -> Result<(), CliError> {
    let crds = crate::crd::crds();
    match dir {
        None => {
            for crd in &crds {
                print!(
                    "---\n{}",
                    crate::crd::crd_yaml(crd).map_err(CliError::Yaml)?
                );
            }
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(CliError::Crds)?;
            for crd in &crds {
                let name = crd.metadata.name.clone().unwrap_or_default();
                let yaml = crate::crd::crd_yaml(crd).map_err(CliError::Yaml)?;
                std::fs::write(dir.join(format!("{name}.yaml")), yaml).map_err(CliError::Crds)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_defaults() {
        let cli = Cli::try_parse_from([
            "corti-operator",
            "run",
            "--default-credentials-secret",
            "corti-system/corti-admin",
            "--namespaces",
            "a,b",
            "--resync-period",
            "30s",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(
            args.default_credentials_secret,
            Some(("corti-system".into(), "corti-admin".into()))
        );
        assert_eq!(args.namespaces, vec!["a", "b"]);
        assert_eq!(args.resync_period, Duration::from_secs(30));
        assert_eq!(args.admin_api_url, DEFAULT_ADMIN_API_URL);
    }

    #[test]
    fn dry_run_is_a_switch_off_by_default() {
        let parse = |extra: &[&str]| {
            let args = ["corti-operator", "run"].iter().chain(extra).copied();
            match Cli::try_parse_from(args).unwrap().command {
                Command::Run(args) => args.dry_run,
                _ => panic!("expected run"),
            }
        };
        assert!(!parse(&[]));
        assert!(parse(&["--dry-run"]));
        assert!(!parse(&["--dry-run=false"]));
    }

    #[test]
    fn a_bad_secret_reference_is_refused_with_the_expected_form() {
        let error = Cli::try_parse_from([
            "corti-operator",
            "run",
            "--default-credentials-secret",
            "just-a-name",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("NAMESPACE/NAME"), "{error}");
    }
}
