//! Prometheus metrics. Every label is drawn from a fixed set (endpoint, status, kind, reason) or
//! names a credentials Secret in use, so the series count is bounded whatever the cluster holds;
//! no label ever names a customer, a user or an email.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use credentials::CredentialFamilies;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod credentials;

/// An Admin API operation: the `endpoint` label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Endpoint {
    Login,
    ListCustomers,
    CreateCustomer,
    UpdateCustomer,
    DeleteCustomer,
    ListUsers,
    CreateUser,
    UpdateUser,
    DeleteUser,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiCallLabels {
    endpoint: Endpoint,
    /// An HTTP status, or `timeout` / `network` when there was none.
    status: String,
}

/// A resource's kind and the reason of its `Ready` condition (a closed set: `condition::Reason`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    kind: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    git_commit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileErrorLabels {
    kind: &'static str,
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The git commit the binary was built from, when the build said (`CORTI_GIT_COMMIT`, e.g. a
/// Docker build argument); reading git at build time would rebuild on every commit.
const GIT_COMMIT: &str = match option_env!("CORTI_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    api_calls: Family<ApiCallLabels, Counter>,
    api_latency: HistogramFamily<ApiCallLabels>,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    reconcile_duration: HistogramFamily<ReconcileLabels>,
    in_flight: Family<ReconcileLabels, Gauge>,
    resources: Family<ResourceLabels, Gauge>,
    /// The labels each resource is counted under in `resources`, by a hash of its key: a few
    /// dozen bytes per resource, no names kept.
    resource_reasons: Mutex<HashMap<u64, ResourceLabels>>,
    leader: Gauge,
    credential_families: CredentialFamilies,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("corti_operator");
        let api_calls = Family::<ApiCallLabels, Counter>::default();
        let api_latency: HistogramFamily<ApiCallLabels> =
            Family::new_with_constructor(latency_histogram);
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ReconcileErrorLabels, Counter>::default();
        let reconcile_duration: HistogramFamily<ReconcileLabels> =
            Family::new_with_constructor(latency_histogram);
        let leader = Gauge::default();
        let credential_families = CredentialFamilies::registered(&mut registry);
        let in_flight = Family::<ReconcileLabels, Gauge>::default();
        let resources = Family::<ResourceLabels, Gauge>::default();
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                git_commit: GIT_COMMIT,
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the labels say which build is running",
            build_info,
        );
        registry.register(
            "resources",
            "Resources by kind and the reason of their Ready condition, as this replica last recorded it",
            resources.clone(),
        );
        registry.register(
            "reconciles_in_flight",
            "Passes running now, by kind; at the concurrency limit, further triggers are queued",
            in_flight.clone(),
        );
        registry.register(
            "admin_api_calls",
            "Admin API calls by endpoint and status",
            api_calls.clone(),
        );
        registry.register(
            "admin_api_call_duration_seconds",
            "Admin API call latency by endpoint and status",
            api_latency.clone(),
        );
        registry.register("reconciles", "Reconcile passes by kind", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconcile passes that ended in an error, by kind and condition reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile pass duration by kind",
            reconcile_duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry,
            api_calls,
            api_latency,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            in_flight,
            resources,
            resource_reasons: Mutex::default(),
            leader,
            credential_families,
        }
    }
}

impl Metrics {
    pub fn api_call(&self, endpoint: Endpoint, status: &str, elapsed: Duration) {
        let labels = ApiCallLabels {
            endpoint,
            status: status.to_string(),
        };
        self.api_calls.get_or_create(&labels).inc();
        self.api_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A pass begins; the returned guard ends it (also when the pass is dropped midway).
    pub fn pass_started(&self, kind: &'static str) -> InFlight {
        let gauge = self
            .in_flight
            .get_or_create(&ReconcileLabels { kind })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    /// The `Ready` reason a pass recorded for the resource `key` (e.g. `kind/namespace/name`).
    pub fn resource_status(&self, kind: &'static str, key: &str, reason: &'static str) {
        let labels = ResourceLabels { kind, reason };
        let previous = self
            .resource_reasons
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(crate::hash_of(key), labels);
        if previous != Some(labels) {
            if let Some(previous) = previous {
                self.resources.get_or_create(&previous).dec();
            }
            self.resources.get_or_create(&labels).inc();
        }
    }

    /// The resource `key` was released (its finalizer is gone): no longer counted.
    pub fn resource_gone(&self, key: &str) {
        let previous = self
            .resource_reasons
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&crate::hash_of(key));
        if let Some(previous) = previous {
            self.resources.get_or_create(&previous).dec();
        }
    }

    pub fn reconciled(&self, kind: &'static str, elapsed: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels { kind })
            .inc();
        self.reconcile_duration
            .get_or_create(&ReconcileLabels { kind })
            .observe(elapsed.as_secs_f64());
    }

    pub fn reconcile_error(&self, kind: &'static str, reason: &'static str) {
        self.reconcile_errors
            .get_or_create(&ReconcileErrorLabels { kind, reason })
            .inc();
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The text exposition format, for `/metrics`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            let _ = writeln!(out, "# metrics encoding failed");
        }
        out
    }
}

/// Keeps `reconciles_in_flight` counting a pass until it ends.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_calls_with_bounded_labels() {
        let metrics = Metrics::default();
        metrics.api_call(Endpoint::ListUsers, "200", Duration::from_millis(12));
        metrics.reconcile_error("Customer", "RemoteUnavailable");
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"corti_operator_admin_api_calls_total{endpoint="ListUsers",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"corti_operator_reconcile_errors_total{kind="Customer",reason="RemoteUnavailable"} 1"#
        ));
    }

    #[test]
    fn latency_is_by_endpoint_and_status() {
        let metrics = Metrics::default();
        metrics.api_call(Endpoint::Login, "401", Duration::from_millis(3));
        let text = metrics.encode();
        assert!(
            text.contains(r#"corti_operator_admin_api_call_duration_seconds_count{endpoint="Login",status="401"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn resources_move_between_reasons_and_leave_when_released() {
        let metrics = Metrics::default();
        metrics.resource_status("CustomerUser", "CustomerUser/ns/a", "Creating");
        metrics.resource_status("CustomerUser", "CustomerUser/ns/b", "Creating");
        metrics.resource_status("CustomerUser", "CustomerUser/ns/a", "Reconciled");
        metrics.resource_status("CustomerUser", "CustomerUser/ns/a", "Reconciled");
        metrics.resource_status("Customer", "Customer/ns/a", "Reconciled");
        let text = metrics.encode();
        for line in [
            r#"corti_operator_resources{kind="CustomerUser",reason="Reconciled"} 1"#,
            r#"corti_operator_resources{kind="CustomerUser",reason="Creating"} 1"#,
            r#"corti_operator_resources{kind="Customer",reason="Reconciled"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        metrics.resource_gone("CustomerUser/ns/b");
        metrics.resource_gone("CustomerUser/ns/never-seen");
        assert!(
            metrics
                .encode()
                .contains(r#"corti_operator_resources{kind="CustomerUser",reason="Creating"} 0"#)
        );
    }

    #[test]
    fn in_flight_counts_passes_until_their_guard_drops() {
        let metrics = Metrics::default();
        let first = metrics.pass_started("Customer");
        let second = metrics.pass_started("Customer");
        assert!(
            metrics
                .encode()
                .contains(r#"corti_operator_reconciles_in_flight{kind="Customer"} 2"#)
        );
        drop((first, second));
        assert!(
            metrics
                .encode()
                .contains(r#"corti_operator_reconciles_in_flight{kind="Customer"} 0"#)
        );
    }

    #[test]
    fn build_info_names_the_version() {
        let metrics = Metrics::default();
        let text = metrics.encode();
        let build = format!(
            r#"corti_operator_build_info{{version="{}",git_commit="{GIT_COMMIT}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&build), "{build} in {text}");
    }
}
