//! Failures: the create whose response is lost, the operator killed right after a create, and a
//! burst of server errors. Afterwards: exactly one remote object and a Ready resource.

use std::collections::BTreeMap;
use std::time::Duration;

use corti_operator::sim::{FailNext, Faults};
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::eventually;

const CREATE_CUSTOMER: &str = "POST /projects/{projectId}/customers";
const CREATE_USER: &str = "POST /projects/{projectId}/customers/{customerId}/users";
const LIST_CUSTOMERS: &str = "GET /projects/{projectId}/customers";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn a_lost_create_response_never_makes_a_duplicate() {
    let env = Env::start("e2e-lost").await;
    env.sim.sim.set_faults(Faults {
        fail_after_apply: BTreeMap::from([
            (CREATE_CUSTOMER.to_string(), 1),
            (CREATE_USER.to_string(), 1),
        ]),
        ..Faults::default()
    });
    env.customer("c", json!({ "customerId": "lost", "displayName": "Lost", "credentialsSecretRef": { "name": CREDENTIALS } })).await;
    env.user("u", json!({ "customerRef": { "name": "c" }, "email": "u@lost.example", "firstName": "U", "lastName": "U" })).await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    env.wait_ready(&env.users(), "u", "True", "Reconciled")
        .await;
    assert_eq!(env.remote_customers().len(), 1);
    assert_eq!(env.remote_users("lost").len(), 1);
    assert_eq!(
        env.sim
            .sim
            .call_count("POST", "/projects/{projectId}/customers", 500),
        1,
        "the fault fired"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn an_operator_killed_right_after_a_create_recovers_without_a_duplicate() {
    let mut env = Env::start("e2e-kill").await;
    env.customer("c", json!({ "customerId": "killed", "displayName": "Killed", "credentialsSecretRef": { "name": CREDENTIALS } })).await;
    // SIGKILL the moment the remote customer exists: the status write has most likely not happened.
    eventually("the remote create", WAIT, || async {
        env.remote_customer("killed").is_some()
    })
    .await;
    env.kill_operator().await;
    let status_at_kill = env
        .customers()
        .get("c")
        .await
        .expect("get")
        .status
        .and_then(|s| s.customer_id);
    eprintln!("status.customerId when killed: {status_at_kill:?}");

    env.start_operator();
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    assert_eq!(
        env.remote_customers().len(),
        1,
        "exactly one remote customer"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn server_errors_and_rate_limits_show_in_status_then_clear() {
    let env = Env::start("e2e-503").await;
    env.sim.sim.set_faults(Faults {
        fail_next: BTreeMap::from([(
            LIST_CUSTOMERS.to_string(),
            FailNext {
                count: 3,
                status: 503,
            },
        )]),
        ..Faults::default()
    });
    env.customer(
        "c",
        json!({ "displayName": "Flaky", "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    let unavailable = env
        .wait_ready(&env.customers(), "c", "False", "RemoteUnavailable")
        .await;
    assert!(
        crate::harness::ready_message(&unavailable).contains("503"),
        "the status carries the server's words"
    );
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    let failed = env
        .sim
        .sim
        .call_count("GET", "/projects/{projectId}/customers", 503);
    assert_eq!(
        failed, 3,
        "backoff, not a hot loop: each injected failure was met once"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn retry_after_holds_although_the_pass_writes_status() {
    const RETRY_AFTER: u64 = 6;
    let env = Env::start("e2e-429").await;
    env.customer("c", json!({ "customerId": "patient", "displayName": "Patient", "credentialsSecretRef": { "name": CREDENTIALS } })).await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    let total = || -> u64 { env.sim.sim.calls().iter().map(|c| c.count).sum() };
    let limited = || -> u64 {
        env.sim
            .sim
            .calls()
            .iter()
            .filter(|c| c.status == 429)
            .map(|c| c.count)
            .sum()
    };
    env.sim.sim.set_faults(Faults {
        rate_limit: Some(corti_operator::sim::RateLimit {
            count: 1,
            retry_after_seconds: RETRY_AFTER,
        }),
        ..Faults::default()
    });
    // A spec change: the pass calls the Admin API, gets 429, and writes RemoteUnavailable.
    env.patch(
        &env.customers(),
        "c",
        json!({ "spec": { "displayName": "Patient, renamed" } }),
    )
    .await;
    eventually("the 429", WAIT, || async { limited() == 1 }).await;
    let (refused_at, calls_then) = (std::time::Instant::now(), total());
    env.wait_ready(&env.customers(), "c", "False", "RemoteUnavailable")
        .await;
    eventually("the next call", WAIT, || async { total() > calls_then }).await;
    let waited = refused_at.elapsed();
    assert!(
        waited >= Duration::from_secs(RETRY_AFTER - 1),
        "the next Admin API call came {waited:?} after a Retry-After of {RETRY_AFTER} s: the status write must not trigger a pass"
    );
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    env.finish().await;
}
