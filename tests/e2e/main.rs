//! End-to-end tests: the operator binary against a real control plane and the simulator.
//! `tests/run-all` shares one control plane (`CORTI_TEST_KUBECONFIG`); alone, the support module
//! starts one for this binary.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod budget;
mod credentials;
mod drift;
mod export;
mod failover;
mod faults;
mod harness;
mod invitation;
mod lifecycle;
mod metrics;
mod observe;
mod own_plane;
mod ownership;
mod soak;
mod tenancy;
mod validation;
