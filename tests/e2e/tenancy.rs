//! Tenancy and leadership: the default credentials reach only the namespaces allowed, and a
//! leader frozen past its lease makes no Admin API call when it wakes.

use std::time::Duration;

use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT, ready_message};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn default_credentials_serve_only_the_namespaces_allowed() {
    let mut env = Env::start("e2e-scope").await;
    env.kill_operator().await;
    let default_secret = format!("{}/{CREDENTIALS}", env.namespace());
    env.extra_args = vec![
        "--default-credentials-secret".into(),
        default_secret.clone(),
    ];
    env.start_operator();
    env.customer(
        "c",
        json!({ "customerId": "scoped", "displayName": "Scoped" }),
    )
    .await;
    let refused = env
        .wait_ready(&env.customers(), "c", "False", "CredentialsNotFound")
        .await;
    assert!(
        ready_message(&refused).contains("do not serve namespace"),
        "the message says why: {}",
        ready_message(&refused)
    );
    assert!(env.remote_customers().is_empty());
    assert_eq!(env.calls("POST", "/auth/token"), 0, "not even a login");

    // Allowed: the same resource goes Ready.
    env.kill_operator().await;
    let namespace = env.namespace().to_string();
    env.extra_args
        .extend(["--default-credentials-namespaces".into(), namespace]);
    env.start_operator();
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    env.finish().await;
}

fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill {signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn a_leader_frozen_past_its_lease_calls_nothing_when_it_wakes() {
    let mut env = Env::start("e2e-fence").await;
    env.kill_operator().await;
    let namespace = env.namespace().to_string();
    env.extra_args = vec![
        "--leader-election".into(),
        "--leader-election-namespace".into(),
        namespace,
    ];
    env.start_operator();
    env.customer(
        "c",
        json!({ "customerId": "fenced", "displayName": "Fenced",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    let (standby, standby_log) = env.start_replica("standby", &[]);

    // Freeze the leader past its 15 s lease; the standby takes over and does the work.
    let (pid, leader_log) = env.operator_pid();
    signal(pid, "-STOP");
    env.patch(
        &env.customers(),
        "c",
        json!({ "spec": { "displayName": "Renamed meanwhile" } }),
    )
    .await;
    eventually("the standby to take over and rename", WAIT, || async {
        env.remote_customer("fenced")
            .is_some_and(|c| c.customer.display_name == "Renamed meanwhile")
    })
    .await;
    let standby_said = std::fs::read_to_string(&standby_log).unwrap_or_default();
    assert!(
        standby_said.contains("became leader"),
        "see {}",
        standby_log.display()
    );

    // Wake the old leader with work waiting for it (the rename): it must not call the Admin API.
    env.patch(
        &env.customers(),
        "c",
        json!({ "spec": { "displayName": "Renamed again" } }),
    )
    .await;
    let before = std::fs::read_to_string(&leader_log)
        .unwrap_or_default()
        .len();
    signal(pid, "-CONT");
    tokio::time::sleep(Duration::from_secs(8)).await;
    let woke = std::fs::read_to_string(&leader_log).unwrap_or_default();
    let after_wake = &woke[before.min(woke.len())..];
    assert!(
        !after_wake.contains("admin api call"),
        "the deposed leader called the Admin API after waking:\n{after_wake}"
    );
    eventually("the standby applies the second rename", WAIT, || async {
        env.remote_customer("fenced")
            .is_some_and(|c| c.customer.display_name == "Renamed again")
    })
    .await;
    drop(standby);
    env.kill_operator().await;
    env.extra_args.clear();
    env.start_operator();
    env.finish().await;
}
