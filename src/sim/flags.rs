//! Simulator: the `corti-admin-sim` command line.
//!
//! Flags with `CORTI_SIM_*` environment fallbacks, turned into a [`SimConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::config::{DEFAULT_MAX_PAGE_SIZE, PaginationStyle, Role, SimConfig};
use super::endpoint::SimEndpoint;
use super::faults::{Faults, FaultsError, LatencySpike};

#[derive(Debug, thiserror::Error)]
pub enum FlagsError {
    #[error("--account must be EMAIL:PASSWORD[:ROLE] with a non-empty email and password")]
    Account,
    #[error("--error-rate must be 'METHOD /path-template=RATE', e.g. 'POST /auth/token=0.5'")]
    ErrorRate,
    #[error("--latency-spike must be 'PROBABILITY:MS', e.g. '0.05:2000'")]
    LatencySpike,
    #[error(transparent)]
    Faults(#[from] FaultsError),
}

pub const DEMO_PROJECT: &str = "demo-project";
pub const DEMO_EMAIL: &str = "admin@example.com";
pub const DEMO_PASSWORD: &str = "demo-password-123456";

const CONTROL_HELP: &str = "\
ADMIN API (base URL http://LISTEN):
  POST   /auth/token                                    {email, password} -> {accessToken, tokenType, expiresIn}
  GET    /projects/{projectId}/customers                ?page=1&pageSize=20 -> {customers, pagination}
  POST   /projects/{projectId}/customers                -> 201 customer
  PATCH  /projects/{projectId}/customers/{customerId}   displayName, customerId (rename), isNfr
  DELETE /projects/{projectId}/customers/{customerId}   -> 204
  GET    /projects/{projectId}/customers/{customerId}/users           -> {users, pagination}
  POST   /projects/{projectId}/customers/{customerId}/users           -> 201 user
  PATCH  /projects/{projectId}/customers/{customerId}/users/{userId}  firstName, lastName, enabled, password
  DELETE /projects/{projectId}/customers/{customerId}/users/{userId}  -> 204
  Errors: {\"error\": \"...\", \"message\": \"<field>: <why>\"} with 400, 401, 403, 404, 409, 429, 5xx.

CONTROL ENDPOINT (no authentication: keep the simulator on loopback):
  GET    /_sim/healthz        {\"status\":\"ok\"}
  GET    /_sim/calls          {\"calls\":[{\"method\",\"path\",\"status\",\"count\"}]} (path is the template)
  GET    /_sim/requests       {\"requests\":[{\"atMicros\",\"method\",\"path\",\"status\",\"client\"}]}: the last
                              100000 calls in order (arrival time; client: the listener's label)
  DELETE /_sim/calls          reset the counters and the request log
  GET    /_sim/faults         the active faults (counts left)
  PUT    /_sim/faults         replace them, e.g.
         {\"latencyMs\": 50, \"latencySpike\": {\"probability\": 0.05, \"ms\": 2000},
          \"errorRate\": {\"GET /projects/{projectId}/customers\": 0.1}, \"errorStatus\": 503,
          \"errorRateAll\": 0.3 (every endpoint errorRate does not name),
          \"failNext\": {\"POST /auth/token\": {\"count\": 1, \"status\": 500}},
          \"failAfterApply\": {\"POST /projects/{projectId}/customers\": 1},
          \"failAfterApplyRate\": 0.05 (any create, update or delete: applied, then 500),
          \"rateLimit\": {\"count\": 3, \"retryAfterSeconds\": 2}}
  POST   /_sim/tokens/expire  every token issued so far answers 401
  GET|PUT /_sim/token-ttl     {\"seconds\": N}, for tokens issued from now on
  GET    /_sim/state          all projects, customers and users (passwordSet and
                              passwordFingerprint = first 16 hex of sha256(\"corti-admin-sim:\" + password))
  PATCH  /_sim/projects/{projectId}/customers/{customerId}/users/{userId}
                              what happens outside the API: {\"emailVerified\": true} (the person
                              accepted the invitation), {\"createdAt\": \"2026-01-01T00:00:00Z\"} (set back
                              to stand for time passed, e.g. past the 7-day invitation window)

Endpoint names for faults are \"METHOD path-template\" as listed above.
Logging: RUST_LOG (default info; debug logs one line per API call).";

/// A simulator of the Corti Admin API, for trying manifests and running tests without a Corti
/// account. Without --project and --account it starts with a demo project and account.
#[derive(Debug, Parser)]
#[command(name = "corti-admin-sim", version, after_long_help = CONTROL_HELP)]
pub struct SimArgs {
    /// Address to listen on. The simulator has no TLS and an unauthenticated control endpoint:
    /// keep it on loopback.
    #[arg(long, env = "CORTI_SIM_LISTEN", default_value = "127.0.0.1:8089")]
    pub listen: SocketAddr,

    /// A project with Embedded Assistant enabled (repeatable; comma-separated in the env var).
    #[arg(
        long = "project",
        value_name = "ID",
        env = "CORTI_SIM_PROJECTS",
        value_delimiter = ','
    )]
    pub projects: Vec<String>,

    /// A project without Embedded Assistant: its /customers and /users calls answer 403.
    #[arg(
        long = "project-without-embedded",
        value_name = "ID",
        env = "CORTI_SIM_PROJECTS_WITHOUT_EMBEDDED",
        value_delimiter = ','
    )]
    pub projects_without_embedded: Vec<String>,

    /// An account that may use every project: EMAIL:PASSWORD[:ROLE], role owner|admin|member
    /// (default admin; members may only list). The password may contain ':'. Repeatable;
    /// newline-separated in the env var.
    #[arg(
        long = "account",
        value_name = "EMAIL:PASSWORD[:ROLE]",
        env = "CORTI_SIM_ACCOUNTS",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub accounts: Vec<String>,

    /// Lifetime of issued tokens (expiresIn), in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "CORTI_SIM_TOKEN_TTL",
        default_value_t = 3600
    )]
    pub token_ttl: u64,

    /// Which pagination field lists return besides page and pageSize.
    #[arg(long, env = "CORTI_SIM_PAGINATION", value_enum, default_value_t = PaginationFlag::HasNextPage)]
    pub pagination: PaginationFlag,

    /// Larger pageSize requests are clamped to this.
    #[arg(long, value_name = "N", env = "CORTI_SIM_MAX_PAGE_SIZE", default_value_t = DEFAULT_MAX_PAGE_SIZE,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_page_size: u32,

    /// Keep the state in this JSON file: loaded at start (missing = empty), rewritten atomically
    /// after every write. Tokens are not kept.
    #[arg(long, value_name = "PATH", env = "CORTI_SIM_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// Delay added to every Admin API call.
    #[arg(
        long,
        value_name = "N",
        env = "CORTI_SIM_LATENCY_MS",
        default_value_t = 0
    )]
    pub latency_ms: u64,

    /// Random failures: 'METHOD /path-template=RATE' with RATE from 0.0 to 1.0, e.g.
    /// 'POST /projects/{projectId}/customers=0.2' (repeatable; comma-separated in the env var).
    #[arg(
        long = "error-rate",
        value_name = "ENDPOINT=RATE",
        env = "CORTI_SIM_ERROR_RATES",
        value_delimiter = ','
    )]
    pub error_rates: Vec<String>,

    /// Random failures on every endpoint that --error-rate does not name (0.0 to 1.0).
    #[arg(
        long,
        value_name = "RATE",
        env = "CORTI_SIM_ERROR_RATE_ALL",
        default_value_t = 0.0
    )]
    pub error_rate_all: f64,

    /// Latency spikes: with probability PROBABILITY a call is delayed MS more, e.g. '0.05:2000'.
    #[arg(long, value_name = "PROBABILITY:MS", env = "CORTI_SIM_LATENCY_SPIKE")]
    pub latency_spike: Option<String>,

    /// Lost responses at random: the probability that a successful create, update or delete
    /// answers 500 after its work was done.
    #[arg(
        long,
        value_name = "RATE",
        env = "CORTI_SIM_FAIL_AFTER_APPLY_RATE",
        default_value_t = 0.0
    )]
    pub fail_after_apply_rate: f64,

    /// Status of the random failures.
    #[arg(
        long,
        value_name = "N",
        env = "CORTI_SIM_ERROR_STATUS",
        default_value_t = 503
    )]
    pub error_status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaginationFlag {
    HasNextPage,
    Total,
}

/// What the flags left to the demo defaults, so the binary can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DemoDefaults {
    pub project: bool,
    pub account: bool,
}

impl SimArgs {
    pub fn into_config(self) -> Result<(SimConfig, DemoDefaults), FlagsError> {
        let mut config = SimConfig::new()
            .token_ttl(Duration::from_secs(self.token_ttl))
            .pagination(match self.pagination {
                PaginationFlag::HasNextPage => PaginationStyle::HasNextPage,
                PaginationFlag::Total => PaginationStyle::Total,
            })
            .max_page_size(self.max_page_size);
        for id in &self.projects {
            config = config.project(id);
        }
        for id in &self.projects_without_embedded {
            config = config.project_without_embedded(id);
        }
        for spec in &self.accounts {
            let (email, password, role) = parse_account(spec)?;
            config = config.account(email, password, role);
        }
        if let Some(path) = self.state_file {
            config = config.state_file(path);
        }
        let latency_spike = match &self.latency_spike {
            Some(spec) => Some(parse_latency_spike(spec)?),
            None => None,
        };
        let mut faults = Faults {
            latency_ms: self.latency_ms,
            latency_spike,
            error_rate_all: self.error_rate_all,
            fail_after_apply_rate: self.fail_after_apply_rate,
            error_status: self.error_status,
            ..Faults::default()
        };
        for spec in &self.error_rates {
            let (endpoint, rate) = parse_error_rate(spec)?;
            faults.error_rate.insert(endpoint, rate);
        }
        faults.validate()?;
        config = config.faults(faults);

        let demo = DemoDefaults {
            project: !config.has_projects(),
            account: !config.has_accounts(),
        };
        if demo.project {
            config = config.project(DEMO_PROJECT);
        }
        if demo.account {
            config = config.account(DEMO_EMAIL, DEMO_PASSWORD, Role::Admin);
        }
        Ok((config, demo))
    }
}

/// `EMAIL:PASSWORD[:ROLE]`: the email ends at the first ':'; the last segment is a role only if
/// it is exactly one, so passwords may contain ':'.
pub fn parse_account(spec: &str) -> Result<(&str, &str, Role), FlagsError> {
    let (email, rest) = spec.split_once(':').ok_or(FlagsError::Account)?;
    let (password, role) = match rest.rsplit_once(':') {
        Some((password, role)) => match role.parse::<Role>() {
            Ok(role) => (password, role),
            Err(()) => (rest, Role::Admin),
        },
        None => (rest, Role::Admin),
    };
    if email.trim().is_empty() || password.is_empty() {
        return Err(FlagsError::Account);
    }
    Ok((email.trim(), password, role))
}

/// `METHOD /path-template=RATE`, split at the last '='.
fn parse_error_rate(spec: &str) -> Result<(String, f64), FlagsError> {
    let (endpoint, rate) = spec.rsplit_once('=').ok_or(FlagsError::ErrorRate)?;
    let endpoint = endpoint.trim();
    let rate: f64 = rate.trim().parse().map_err(|_| FlagsError::ErrorRate)?;
    if SimEndpoint::from_name(endpoint).is_none() {
        return Err(FaultsError::UnknownEndpoint(endpoint.to_owned()).into());
    }
    Ok((endpoint.to_owned(), rate))
}

/// `PROBABILITY:MS`.
fn parse_latency_spike(spec: &str) -> Result<LatencySpike, FlagsError> {
    let (probability, ms) = spec.split_once(':').ok_or(FlagsError::LatencySpike)?;
    Ok(LatencySpike {
        probability: probability
            .trim()
            .parse()
            .map_err(|_| FlagsError::LatencySpike)?,
        ms: ms.trim().parse().map_err(|_| FlagsError::LatencySpike)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> SimArgs {
        SimArgs::try_parse_from(std::iter::once("corti-admin-sim").chain(flags.iter().copied()))
            .unwrap()
    }

    #[test]
    fn accounts_split_email_first_and_role_last() {
        let cases = [
            (
                "a@x.io:pass1234567890123:admin",
                ("a@x.io", "pass1234567890123", Role::Admin),
            ),
            (
                "a@x.io:pass1234567890123",
                ("a@x.io", "pass1234567890123", Role::Admin),
            ),
            ("a@x.io:pa:ss:member", ("a@x.io", "pa:ss", Role::Member)),
            ("a@x.io:pa:ss:Owner", ("a@x.io", "pa:ss:Owner", Role::Admin)),
            ("a@x.io:owner", ("a@x.io", "owner", Role::Admin)),
            ("a@x.io:pw:", ("a@x.io", "pw:", Role::Admin)),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_account(spec).unwrap(), want, "{spec}");
        }
        for bad in ["a@x.io", ":pw", "a@x.io:", "a@x.io::admin"] {
            assert!(parse_account(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_projects_or_accounts_means_the_demo() {
        let (config, demo) = args(&[]).into_config().unwrap();
        assert_eq!(
            demo,
            DemoDefaults {
                project: true,
                account: true
            }
        );
        assert_eq!(config.projects[0].id, DEMO_PROJECT);
        assert_eq!(config.accounts[0].email, DEMO_EMAIL);
        let (config, demo) = args(&["--project", "p1", "--account", "a@x.io:pw:member"])
            .into_config()
            .unwrap();
        assert_eq!(demo, DemoDefaults::default());
        assert_eq!(config.accounts[0].role, Role::Member);
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let (config, _) = args(&[
            "--listen",
            "127.0.0.1:0",
            "--project",
            "p1",
            "--project",
            "p2",
            "--project-without-embedded",
            "p3",
            "--account",
            "a@x.io:pw",
            "--token-ttl",
            "5",
            "--pagination",
            "total",
            "--max-page-size",
            "7",
            "--state-file",
            "/tmp/x.json",
            "--latency-ms",
            "9",
            "--error-rate",
            "POST /auth/token=0.5",
            "--error-status",
            "502",
            "--error-rate-all",
            "0.3",
            "--latency-spike",
            "0.05:2000",
            "--fail-after-apply-rate",
            "0.1",
        ])
        .into_config()
        .unwrap();
        assert_eq!(config.projects.len(), 3);
        assert!(!config.projects[2].embedded_assistant);
        assert_eq!(config.token_ttl, Duration::from_secs(5));
        assert_eq!(config.pagination, PaginationStyle::Total);
        assert_eq!(config.max_page_size, 7);
        assert_eq!(config.state_file, Some(PathBuf::from("/tmp/x.json")));
        assert_eq!(config.faults.latency_ms, 9);
        assert!((config.faults.error_rate["POST /auth/token"] - 0.5).abs() < f64::EPSILON);
        assert_eq!(config.faults.error_status, 502);
        assert!((config.faults.error_rate_all - 0.3).abs() < f64::EPSILON);
        assert_eq!(
            config.faults.latency_spike,
            Some(LatencySpike {
                probability: 0.05,
                ms: 2000
            })
        );
        assert!((config.faults.fail_after_apply_rate - 0.1).abs() < f64::EPSILON);
    }

    #[test]
    fn bad_fault_flags_are_refused() {
        for flags in [
            ["--error-rate", "POST /customers=0.5"].as_slice(),
            &["--error-rate", "POST /auth/token"],
            &["--error-rate", "POST /auth/token=2"],
            &["--error-status", "200"],
            &["--error-rate-all", "1.5"],
            &["--fail-after-apply-rate=-0.1"],
            &["--latency-spike", "0.5"],
            &["--latency-spike", "2:100"],
            &["--latency-spike", "0.5:x"],
        ] {
            assert!(args(flags).into_config().is_err(), "{flags:?}");
        }
        assert!(SimArgs::try_parse_from(["x", "--max-page-size", "0"]).is_err());
    }
}
