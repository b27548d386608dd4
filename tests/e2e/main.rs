//! End-to-end tests: the operator binary against a real control plane and the simulator.
//! `tests/run-all` shares one control plane (`CORTI_TEST_KUBECONFIG`); alone, the support module
//! starts one for this binary.

#[path = "../support/mod.rs"]
mod support;

mod budget;
mod credentials;
mod drift;
mod faults;
mod harness;
mod lifecycle;
mod metrics;
mod ownership;
mod tenancy;
mod validation;
