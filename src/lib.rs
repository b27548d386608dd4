//! corti-operator: Kubernetes controllers for Corti Admin API customers and users, the Admin API
//! client they use, and a simulator of the Admin API for tests and trials without an account.

pub mod admin_api;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod export;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod runtime;
pub mod server;
pub mod sim;
