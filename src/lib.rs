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

/// A fixed (unkeyed) 64-bit hash of `value`, the same for the same value within a build: for maps
/// and slots that keep hashes instead of strings.
pub(crate) fn hash_of<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}
