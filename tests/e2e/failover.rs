//! High availability: two operator processes with leader election. Killing the leader hands over
//! within the lease, changes made while no one leads converge after, and only the holder of the
//! Lease ever calls the Admin API: each replica reaches the simulator through a listener of its
//! own, so the simulator's request log says which process made each call, and when.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::eventually;

const LEASE: &str = "corti-operator";
/// How often a standby retries its claim: `renew_every` in src/runtime.rs (not in the Lease).
const CLAIM_PERIOD: Duration = Duration::from_secs(5);
/// Slack for a loaded 2-core machine: the claim's own GET and replace, and our polling.
const SLACK: Duration = Duration::from_secs(2);

fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_micros()).expect("fits")
}

/// The Lease's holder, its acquire time (µs since the epoch) and its duration.
async fn holder(leases: &Api<Lease>) -> Option<(String, i64, u64)> {
    let spec = leases.get_opt(LEASE).await.ok()??.spec?;
    Some((
        spec.holder_identity?,
        spec.acquire_time?.0.as_microsecond(),
        u64::try_from(spec.lease_duration_seconds?).ok()?,
    ))
}

async fn wait_holder(leases: &Api<Lease>, who: &str) -> (i64, u64) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some((holder, acquired, duration)) = holder(leases).await
            && holder == who
        {
            return (acquired, duration);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{who} did not hold the Lease within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn user_spec(n: usize) -> serde_json::Value {
    json!({ "customerRef": { "name": "c" }, "email": format!("u{n}@failover.example"),
            "firstName": "U", "lastName": format!("{n}") })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn killing_the_leader_hands_over_in_a_lease_and_only_the_holder_calls() {
    let mut env = Env::start("e2e-failover").await;
    env.kill_operator().await;
    let namespace = env.namespace().to_string();
    env.extra_args = vec![
        "--leader-election".into(),
        "--leader-election-namespace".into(),
        namespace.clone(),
    ];
    let any = "127.0.0.1:0".parse().expect("address");
    let via_a = env.sim.sim.serve(any, Some("a")).await.expect("listener a");
    let via_b = env.sim.sim.serve(any, Some("b")).await.expect("listener b");
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), &namespace);

    // A first, so it leads; then B, a standby.
    let (mut a, _) = env.start_replica(
        "a",
        &["--admin-api-url", &via_a.base_url, "--identity", "a"],
    );
    wait_holder(&leases, "a").await;
    let (b, log_b) = env.start_replica(
        "b",
        &["--admin-api-url", &via_b.base_url, "--identity", "b"],
    );
    env.customer(
        "c",
        json!({ "customerId": "failover", "displayName": "Before",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    for n in 0..6 {
        env.user(&format!("u{n}"), user_spec(n)).await;
    }
    for n in 0..6 {
        env.wait_ready(&env.users(), &format!("u{n}"), "True", "Reconciled")
            .await;
    }
    let by = |client: &str| {
        let log = env.sim.sim.requests();
        log.iter()
            .filter(|c| c.client.as_deref() == Some(client))
            .count()
    };
    assert!(by("a") > 0, "the leader did the work");
    assert_eq!(by("b"), 0, "the standby called the Admin API");

    // SIGKILL the leader, then change things while no one leads.
    let killed_at = now_micros();
    a.kill().await.expect("SIGKILL the leader");
    env.patch(
        &env.customers(),
        "c",
        json!({ "spec": { "displayName": "After" } }),
    )
    .await;
    for n in 6..9 {
        env.user(&format!("u{n}"), user_spec(n)).await;
    }
    for n in 0..2 {
        env.delete(&env.users(), &format!("u{n}")).await;
    }
    let changed_at = now_micros();

    let (acquired, lease_seconds) = wait_holder(&leases, "b").await;
    let handover = Duration::from_micros(u64::try_from(acquired - killed_at).unwrap_or(0));
    let bound = Duration::from_secs(lease_seconds) + CLAIM_PERIOD + SLACK;
    eprintln!("failover: B took the Lease {handover:?} after A was killed (bound {bound:?})");
    assert!(
        acquired > killed_at && handover <= bound,
        "handover took {handover:?}; the Lease lasts {lease_seconds} s; see {}",
        log_b.display()
    );
    assert!(
        changed_at < acquired,
        "the changes were meant to be made while no one led"
    );

    // The changes made meanwhile converge under B.
    eventually("the rename", WAIT, || async {
        env.remote_customer("failover")
            .is_some_and(|c| c.customer.display_name == "After")
    })
    .await;
    for n in 2..9 {
        env.wait_ready(&env.users(), &format!("u{n}"), "True", "Reconciled")
            .await;
    }
    for n in 0..2 {
        env.wait_gone(&env.users(), &format!("u{n}")).await;
    }
    let mut emails: Vec<String> = env
        .remote_users("failover")
        .into_iter()
        .map(|u| u.user.email)
        .collect();
    emails.sort();
    let want: Vec<String> = (2..9).map(|n| format!("u{n}@failover.example")).collect();
    assert_eq!(emails, want, "exactly the remaining users, once each");

    // Only the holder called: A only before B acquired the Lease, B only after; nothing else.
    let log = env.sim.sim.requests();
    let (from_a, from_b): (Vec<_>, Vec<_>) =
        log.iter().partition(|c| c.client.as_deref() == Some("a"));
    assert!(
        from_b.iter().all(|c| c.client.as_deref() == Some("b")),
        "a call through neither replica's listener"
    );
    let micros = |c: &&corti_operator::sim::LoggedCall| i64::try_from(c.at_micros).unwrap_or(0);
    let a_last = from_a.iter().map(micros).max().expect("calls from A");
    let b_first = from_b.iter().map(micros).min().expect("calls from B");
    eprintln!(
        "failover: {} calls from A (last {} ms before the handover), {} from B (first {} ms after)",
        from_a.len(),
        (acquired - a_last) / 1000,
        from_b.len(),
        (b_first - acquired) / 1000
    );
    assert!(a_last < acquired, "A called after B acquired the Lease");
    assert!(b_first >= acquired, "B called before it held the Lease");

    env.finish().await;
    drop(b);
}
