//! Simulator: call counters and the request log.
//!
//! Counts by method, path template and status: what tests and benchmarks read to see how many
//! calls a client made. The log keeps the last [`LOG_CAPACITY`] calls in order, each with when it
//! arrived and which listener (client label) it came through, so a test can tell apart the calls
//! of two clients given different base URLs.

use std::collections::{BTreeMap, VecDeque};
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

/// Older calls are dropped from the log beyond this many (the counts keep them).
pub const LOG_CAPACITY: usize = 100_000;

/// One call in the request log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedCall {
    /// When the call arrived, before any injected latency: microseconds since the Unix epoch.
    pub at_micros: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The label of the listener it came through (see `Simulator::serve`); none for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

#[derive(Debug, Default)]
pub struct Counters {
    counts: Mutex<BTreeMap<(SimEndpoint, u16), u64>>,
    log: Mutex<VecDeque<LoggedCall>>,
}

impl Counters {
    pub fn record(&self, endpoint: SimEndpoint, status: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((endpoint, status)).or_default() += 1;
    }

    /// Counts the call and appends it to the log.
    pub fn record_call(
        &self,
        endpoint: SimEndpoint,
        status: u16,
        at_micros: u64,
        client: Option<&str>,
    ) {
        self.record(endpoint, status);
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(LoggedCall {
            at_micros,
            method: endpoint.method.to_owned(),
            path: endpoint.template.to_owned(),
            status,
            client: client.map(ToOwned::to_owned),
        });
    }

    /// The logged calls, in the order they were answered.
    pub fn log(&self) -> Vec<LoggedCall> {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().cloned().collect()
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

    /// Clears the counts and the log.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.log
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

    #[test]
    fn the_log_keeps_order_and_client_and_is_bounded() {
        let counters = Counters::default();
        counters.record_call(ENDPOINTS[0], 200, 5, Some("a"));
        counters.record_call(ENDPOINTS[1], 503, 7, None);
        let log = counters.log();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].client.as_deref(), Some("a"));
        assert_eq!(
            (log[1].at_micros, log[1].status, log[1].client.as_deref()),
            (7, 503, None)
        );
        assert_eq!(counters.snapshot().iter().map(|c| c.count).sum::<u64>(), 2);
        for at in 0..LOG_CAPACITY as u64 {
            counters.record_call(ENDPOINTS[1], 200, 100 + at, None);
        }
        let log = counters.log();
        assert_eq!(log.len(), LOG_CAPACITY);
        assert_eq!(log[0].at_micros, 100, "the oldest calls went first");
        counters.reset();
        assert!(counters.log().is_empty());
    }
}
