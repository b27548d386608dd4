//! Simulator: call counters.
//!
//! By method, path template and status: what tests and benchmarks read to see how many calls a
//! client made.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::endpoint::SimEndpoint;

/// How many calls to one endpoint ended with one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    pub method: String,
    /// The path template, e.g. `/projects/{projectId}/customers`.
    pub path: String,
    pub status: u16,
    pub count: u64,
}

#[derive(Debug, Default)]
pub struct Counters {
    counts: Mutex<BTreeMap<(SimEndpoint, u16), u64>>,
}

impl Counters {
    pub fn record(&self, endpoint: SimEndpoint, status: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((endpoint, status)).or_default() += 1;
    }

    /// Sorted by method, path, status.
    pub fn snapshot(&self) -> Vec<CallCount> {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .iter()
            .map(|(&(endpoint, status), &count)| CallCount {
                method: endpoint.method.to_owned(),
                path: endpoint.template.to_owned(),
                status,
                count,
            })
            .collect()
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::endpoint::ENDPOINTS;

    #[test]
    fn counts_by_endpoint_and_status() {
        let counters = Counters::default();
        counters.record(ENDPOINTS[1], 200);
        counters.record(ENDPOINTS[1], 200);
        counters.record(ENDPOINTS[1], 401);
        let calls = counters.snapshot();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0],
            CallCount {
                method: "GET".into(),
                path: "/projects/{projectId}/customers".into(),
                status: 200,
                count: 2
            }
        );
        counters.reset();
        assert!(counters.snapshot().is_empty());
    }
}
