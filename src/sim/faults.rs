//! Simulator: fault injection.
//!
//! What the next API calls suffer before (or after) the simulator does the work. Keys of the
//! per-endpoint maps are endpoint names such as `"POST /projects/{projectId}/customers"`. The
//! JSON form (camelCase) is what `GET|PUT /_sim/faults` read and write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::endpoint::SimEndpoint;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultsError {
    #[error("{0:?} is not an endpoint; use one of: {list}", list = endpoint_list())]
    UnknownEndpoint(String),
    #[error("error rate {rate} for {endpoint:?} is not between 0.0 and 1.0")]
    RateOutOfRange { endpoint: String, rate: f64 },
    #[error("status {0} is not an error status (400 to 599)")]
    NotAnErrorStatus(u16),
    #[error("{what} {rate} is not between 0.0 and 1.0")]
    ProbabilityOutOfRange { what: &'static str, rate: f64 },
}

fn endpoint_list() -> String {
    super::endpoint::ENDPOINTS
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Faults {
    /// Delay added to every API call (not to `/_sim`).
    pub latency_ms: u64,
    /// With this probability (0.0 to 1.0) a call is delayed `ms` more: a latency spike.
    pub latency_spike: Option<LatencySpike>,
    /// Probability (0.0 to 1.0) that a call to the endpoint fails with `error_status`.
    pub error_rate: BTreeMap<String, f64>,
    /// The same, for every endpoint that `error_rate` does not name.
    pub error_rate_all: f64,
    pub error_status: u16,
    /// The next `count` calls to the endpoint fail with `status` before anything is done.
    pub fail_next: BTreeMap<String, FailNext>,
    /// The next `count` successful calls to the endpoint do their work, then answer 500: the
    /// client never learns its write was applied.
    pub fail_after_apply: BTreeMap<String, u32>,
    /// Probability (0.0 to 1.0) that any successful create, update or delete (not a login)
    /// answers 500 after its work was done: lost responses at random.
    pub fail_after_apply_rate: f64,
    /// The next `count` API calls, whatever the endpoint, answer 429 with `Retry-After`.
    pub rate_limit: Option<RateLimit>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            latency_spike: None,
            error_rate: BTreeMap::new(),
            error_rate_all: 0.0,
            error_status: 503,
            fail_next: BTreeMap::new(),
            fail_after_apply: BTreeMap::new(),
            fail_after_apply_rate: 0.0,
            rate_limit: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailNext {
    pub count: u32,
    #[serde(default = "default_fail_status")]
    pub status: u16,
}

fn default_fail_status() -> u16 {
    503
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    pub count: u32,
    #[serde(default = "default_retry_after")]
    pub retry_after_seconds: u64,
}

fn default_retry_after() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LatencySpike {
    /// Per call, 0.0 to 1.0.
    pub probability: f64,
    pub ms: u64,
}

/// What a fault does to a call instead of serving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    Fail { status: u16, fault: &'static str },
    RateLimited { retry_after_seconds: u64 },
}

impl Faults {
    /// Rejects typos (a fault on an endpoint that does not exist would silently never fire) and
    /// values that are not faults.
    pub fn validate(&self) -> Result<(), FaultsError> {
        let keys = self
            .error_rate
            .keys()
            .chain(self.fail_next.keys())
            .chain(self.fail_after_apply.keys());
        for key in keys {
            if SimEndpoint::from_name(key).is_none() {
                return Err(FaultsError::UnknownEndpoint(key.clone()));
            }
        }
        for (endpoint, &rate) in &self.error_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultsError::RateOutOfRange {
                    endpoint: endpoint.clone(),
                    rate,
                });
            }
        }
        let probabilities = [
            ("errorRateAll", self.error_rate_all),
            ("failAfterApplyRate", self.fail_after_apply_rate),
            (
                "latencySpike.probability",
                self.latency_spike.map_or(0.0, |s| s.probability),
            ),
        ];
        for (what, rate) in probabilities {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultsError::ProbabilityOutOfRange { what, rate });
            }
        }
        let statuses =
            std::iter::once(self.error_status).chain(self.fail_next.values().map(|f| f.status));
        for status in statuses {
            if !(400..=599).contains(&status) {
                return Err(FaultsError::NotAnErrorStatus(status));
            }
        }
        Ok(())
    }

    /// Consumes the fault, if any, that hits this call before it is served. `roll` is a uniform
    /// random number in `[0, 1)`, passed in so tests are deterministic.
    pub fn take_before(&mut self, endpoint: SimEndpoint, roll: f64) -> Option<Injected> {
        if let Some(limit) = self.rate_limit.as_mut()
            && limit.count > 0
        {
            limit.count -= 1;
            let retry_after_seconds = limit.retry_after_seconds;
            if limit.count == 0 {
                self.rate_limit = None;
            }
            return Some(Injected::RateLimited {
                retry_after_seconds,
            });
        }
        let name = endpoint.to_string();
        if let Some(next) = self.fail_next.get_mut(&name) {
            // A `count: 0` entry never fires; it is simply dropped.
            let fires = next.count > 0;
            let status = next.status;
            next.count = next.count.saturating_sub(1);
            if next.count == 0 {
                self.fail_next.remove(&name);
            }
            if fires {
                return Some(Injected::Fail {
                    status,
                    fault: "failNext",
                });
            }
        }
        let rate = self
            .error_rate
            .get(&name)
            .copied()
            .unwrap_or(self.error_rate_all);
        (roll < rate).then_some(Injected::Fail {
            status: self.error_status,
            fault: "errorRate",
        })
    }

    /// The delay before this call is served: `latency_ms`, plus a spike when `roll` (uniform in
    /// `[0, 1)`) falls under the spike's probability.
    pub fn delay_ms(&self, roll: f64) -> u64 {
        let spike = self
            .latency_spike
            .filter(|s| roll < s.probability)
            .map_or(0, |s| s.ms);
        self.latency_ms.saturating_add(spike)
    }

    /// Whether this successful call must answer 500 after its work was done (consumes one
    /// `fail_after_apply`; else rolls `fail_after_apply_rate` for writes other than a login).
    pub fn take_after_apply(&mut self, endpoint: SimEndpoint, roll: f64) -> bool {
        let name = endpoint.to_string();
        let Some(count) = self.fail_after_apply.get_mut(&name) else {
            let write = endpoint.method != "GET" && endpoint.template != super::endpoint::TOKEN;
            return write && roll < self.fail_after_apply_rate;
        };
        let hit = *count > 0;
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.fail_after_apply.remove(&name);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::endpoint::ENDPOINTS;

    const POST_CUSTOMERS: &str = "POST /projects/{projectId}/customers";

    fn post_customers() -> SimEndpoint {
        SimEndpoint::from_name(POST_CUSTOMERS).unwrap()
    }

    #[test]
    fn json_shape_is_camel_case_with_defaults() {
        let faults: Faults = serde_json::from_value(serde_json::json!({
            "failNext": { POST_CUSTOMERS: { "count": 2 } },
            "rateLimit": { "count": 1 },
        }))
        .unwrap();
        assert_eq!(faults.error_status, 503);
        assert_eq!(faults.fail_next[POST_CUSTOMERS].status, 503);
        assert_eq!(faults.rate_limit.unwrap().retry_after_seconds, 1);
        let back = serde_json::to_value(&faults).unwrap();
        assert_eq!(back["latencyMs"], 0);
        assert!(serde_json::from_value::<Faults>(serde_json::json!({"latency": 1})).is_err());
    }

    #[test]
    fn validate_names_the_problem() {
        let mut faults = Faults::default();
        faults.error_rate.insert("POST /customers".into(), 0.5);
        assert!(matches!(
            faults.validate(),
            Err(FaultsError::UnknownEndpoint(_))
        ));
        faults.error_rate = BTreeMap::from([(POST_CUSTOMERS.to_owned(), 1.5)]);
        assert!(matches!(
            faults.validate(),
            Err(FaultsError::RateOutOfRange { .. })
        ));
        faults.error_rate.clear();
        faults.error_status = 200;
        assert_eq!(faults.validate(), Err(FaultsError::NotAnErrorStatus(200)));
    }

    #[test]
    fn fail_next_fires_count_times_on_its_endpoint_only() {
        let mut faults = Faults::default();
        faults.fail_next.insert(
            POST_CUSTOMERS.into(),
            FailNext {
                count: 2,
                status: 500,
            },
        );
        assert_eq!(faults.take_before(ENDPOINTS[0], 0.0), None);
        for _ in 0..2 {
            assert_eq!(
                faults.take_before(post_customers(), 0.0),
                Some(Injected::Fail {
                    status: 500,
                    fault: "failNext"
                })
            );
        }
        assert_eq!(faults.take_before(post_customers(), 0.0), None);
        assert!(faults.fail_next.is_empty());
    }

    #[test]
    fn rate_limit_comes_first_and_runs_out() {
        let mut faults = Faults {
            rate_limit: Some(RateLimit {
                count: 1,
                retry_after_seconds: 7,
            }),
            ..Faults::default()
        };
        faults.error_rate.insert(POST_CUSTOMERS.into(), 1.0);
        assert_eq!(
            faults.take_before(post_customers(), 0.5),
            Some(Injected::RateLimited {
                retry_after_seconds: 7
            })
        );
        assert_eq!(faults.rate_limit, None);
        assert_eq!(
            faults.take_before(post_customers(), 0.5),
            Some(Injected::Fail {
                status: 503,
                fault: "errorRate"
            })
        );
    }

    #[test]
    fn error_rate_uses_the_roll() {
        let mut faults = Faults::default();
        faults.error_rate.insert(POST_CUSTOMERS.into(), 0.25);
        assert!(faults.take_before(post_customers(), 0.2).is_some());
        assert!(faults.take_before(post_customers(), 0.3).is_none());
    }

    #[test]
    fn fail_after_apply_counts_down() {
        let mut faults = Faults::default();
        faults.fail_after_apply.insert(POST_CUSTOMERS.into(), 1);
        assert!(faults.take_after_apply(post_customers(), 0.0));
        assert!(!faults.take_after_apply(post_customers(), 0.0));
        assert!(faults.fail_after_apply.is_empty());
    }

    fn endpoint(name: &str) -> SimEndpoint {
        SimEndpoint::from_name(name).unwrap()
    }

    #[test]
    fn error_rate_all_hits_every_endpoint_the_map_does_not_name() {
        let mut faults = Faults {
            error_rate_all: 0.3,
            ..Faults::default()
        };
        faults.error_rate.insert(POST_CUSTOMERS.into(), 0.0);
        for e in ENDPOINTS.iter().filter(|e| e.to_string() != POST_CUSTOMERS) {
            assert!(faults.take_before(*e, 0.29).is_some(), "{e}");
            assert!(faults.take_before(*e, 0.31).is_none(), "{e}");
        }
        assert!(
            faults.take_before(post_customers(), 0.0).is_none(),
            "a named endpoint keeps its own rate"
        );
    }

    #[test]
    fn latency_spikes_add_to_the_base_latency_by_the_roll() {
        let faults = Faults {
            latency_ms: 10,
            latency_spike: Some(LatencySpike {
                probability: 0.1,
                ms: 500,
            }),
            ..Faults::default()
        };
        assert_eq!(faults.delay_ms(0.05), 510);
        assert_eq!(faults.delay_ms(0.2), 10);
        assert_eq!(Faults::default().delay_ms(0.0), 0);
    }

    #[test]
    fn fail_after_apply_rate_loses_only_write_responses() {
        let mut faults = Faults {
            fail_after_apply_rate: 0.5,
            ..Faults::default()
        };
        assert!(faults.take_after_apply(post_customers(), 0.4));
        assert!(!faults.take_after_apply(post_customers(), 0.6));
        let never = [
            "POST /auth/token",
            "GET /projects/{projectId}/customers",
            "GET /projects/{projectId}/customers/{customerId}/users",
        ];
        for name in never {
            assert!(!faults.take_after_apply(endpoint(name), 0.0), "{name}");
        }
        let writes = [
            "PATCH /projects/{projectId}/customers/{customerId}",
            "DELETE /projects/{projectId}/customers/{customerId}/users/{userId}",
        ];
        for name in writes {
            assert!(faults.take_after_apply(endpoint(name), 0.0), "{name}");
        }
    }

    #[test]
    fn new_probabilities_are_validated_and_have_a_json_form() {
        for faults in [
            Faults {
                error_rate_all: 1.1,
                ..Faults::default()
            },
            Faults {
                fail_after_apply_rate: -0.1,
                ..Faults::default()
            },
            Faults {
                latency_spike: Some(LatencySpike {
                    probability: f64::NAN,
                    ms: 1,
                }),
                ..Faults::default()
            },
        ] {
            assert!(matches!(
                faults.validate(),
                Err(FaultsError::ProbabilityOutOfRange { .. })
            ));
        }
        let faults: Faults = serde_json::from_value(serde_json::json!({
            "errorRateAll": 0.3,
            "latencySpike": { "probability": 0.05, "ms": 2000 },
            "failAfterApplyRate": 0.02,
        }))
        .unwrap();
        assert!(faults.validate().is_ok());
        assert_eq!(faults.latency_spike.unwrap().ms, 2000);
    }
}
