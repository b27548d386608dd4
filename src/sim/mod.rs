//! A simulator of the Corti Admin API (`corti-admin-sim`): the remote that tests run against,
//! and a way for users to try manifests without a Corti account.
//!
//! It follows `admin-api/openapi.yaml` where the contract speaks and the "simulator does" column
//! of `admin-api/NOTES.md` where it is silent. State is kept per project (optionally in a JSON
//! file); tokens really expire; faults can be injected and calls are counted, both through the
//! [`Simulator`] handle and through the control endpoint under `/_sim`.
//!
//! The control endpoint has no authentication and the server has no TLS: run the simulator on
//! loopback only.
//!
//! ```no_run
//! # async fn demo() -> Result<(), corti_operator::sim::SimError> {
//! use corti_operator::sim::{Role, SimConfig, Simulator};
//! let config = SimConfig::new()
//!     .project("p1")
//!     .account("a@x.io", "pass1234567890123", Role::Admin);
//! let running = Simulator::bind(config, "127.0.0.1:0".parse().expect("address")).await?;
//! println!("Admin API at {}", running.base_url);
//! # Ok(()) }
//! ```
//!
//! Files: `config` (what it starts with), `wire` (customers, users and the state dump as they
//! are shown and kept), `state` and `state_users` (the store and its rules, pure), `pagination`
//! (list pages), `body` and `validate` (request bodies and their rules), `auth` (logins,
//! tokens), `faults`, `counters`, `endpoint` (endpoint names), `handlers` (HTTP), `control`
//! (`/_sim`), `persist` (state file), `flags` (command line), `simulator` (the handle and the
//! running server).

mod auth;
mod body;
mod config;
mod control;
mod counters;
mod endpoint;
mod faults;
mod flags;
mod handlers;
mod pagination;
mod persist;
mod simulator;
mod state;
mod state_users;
mod validate;
mod wire;

pub use auth::AuthError;
pub use body::{Problem, ValidationError};
pub use config::{
    Account, DEFAULT_MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, DEFAULT_TOKEN_TTL, PaginationStyle,
    ProjectConfig, Role, SimConfig,
};
pub use control::{ControlError, TokenTtl};
pub use counters::{CallCount, LOG_CAPACITY, LoggedCall};
pub use endpoint::{ENDPOINTS, SimEndpoint};
pub use faults::{FailNext, Faults, FaultsError, LatencySpike, RateLimit};
pub use flags::{DEMO_EMAIL, DEMO_PASSWORD, DEMO_PROJECT, DemoDefaults, FlagsError, SimArgs};
pub use handlers::SimApiError;
pub use pagination::Pagination;
pub use persist::PersistError;
pub use simulator::{RunningSim, SimError, Simulator};
pub use state::StateError;
pub use state_users::password_fingerprint;
pub use wire::{
    ProjectDump, SimCustomer, SimRegion, SimUser, StateDump, StoredCustomer, StoredUser, UserFacts,
};
