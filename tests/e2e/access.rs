//! A clinician's access lifecycle: access that ends is disabled on time (by a wake at the expiry
//! instant, not a resync: the resync period here is 5 minutes), a later date restores it, and
//! `deletionPolicy: Disable` keeps a disabled remote user. Bad values are refused at admission.

use std::time::{Duration, Instant};

use kube::api::PostParams;
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::eventually;

fn remote_enabled(env: &Env, email: &str) -> Option<bool> {
    env.remote_users("clinic")
        .into_iter()
        .find(|u| u.user.email == email)
        .map(|u| u.user.enabled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn access_ends_on_time_and_disable_on_deletion_keeps_a_disabled_user() {
    let env = Env::start_with(
        "e2e-access",
        corti_operator::sim::SimConfig::new(),
        &["--resync-period", "5m"],
    )
    .await;
    env.customer(
        "c",
        json!({ "customerId": "clinic", "displayName": "Clinic",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;

    // Refused at admission: an unreadable date; Disable on a Customer.
    let bad_date: corti_operator::crd::CustomerUser = serde_json::from_value(json!({
        "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser", "metadata": { "name": "bad" },
        "spec": { "customerRef": { "name": "c" }, "email": "b@clinic.example", "firstName": "B",
            "lastName": "B", "accessExpiresAt": "next tuesday" } }))
    .expect("a CustomerUser");
    let refused = env.users().create(&PostParams::default(), &bad_date).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("accessExpiresAt")),
        "{refused:?}"
    );
    let disable_customer: corti_operator::crd::Customer = serde_json::from_value(json!({
        "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer", "metadata": { "name": "d" },
        "spec": { "displayName": "D", "deletionPolicy": "Disable" } }))
    .expect("a Customer");
    let refused = env
        .customers()
        .create(&PostParams::default(), &disable_customer)
        .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("Disable is for CustomerUsers")),
        "{refused:?}"
    );

    let ends = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    env.user(
        "temp",
        json!({ "customerRef": { "name": "c" }, "email": "temp@clinic.example",
        "firstName": "Tem", "lastName": "Porary", "accessExpiresAt": ends.to_string() }),
    )
    .await;
    env.wait_ready(&env.users(), "temp", "True", "Reconciled")
        .await;
    assert_eq!(remote_enabled(&env, "temp@clinic.example"), Some(true));
    eventually("the user disabled when access ends", WAIT, || async {
        remote_enabled(&env, "temp@clinic.example") == Some(false)
    })
    .await;
    let late = jiff::Timestamp::now().duration_since(ends);
    eprintln!("disabled {late:?} after accessExpiresAt");
    assert!(!late.is_negative(), "never early: {late:?}");
    assert!(
        late < jiff::SignedDuration::from_secs(5),
        "on time: {late:?}"
    );
    eventually("status and an Event say so", WAIT, || async {
        let user = env.users().get("temp").await.expect("get");
        user.status.is_some_and(|s| s.access_expired)
            && env
                .event_reasons("temp")
                .await
                .iter()
                .any(|r| r == "AccessExpired")
    })
    .await;

    // A later date enables the user again.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
    env.patch(
        &env.users(),
        "temp",
        json!({ "spec": { "accessExpiresAt": later.to_string() } }),
    )
    .await;
    eventually("the user enabled again", WAIT, || async {
        remote_enabled(&env, "temp@clinic.example") == Some(true)
    })
    .await;

    // deletionPolicy Disable: deleting the resource disables the remote user and keeps it.
    env.user(
        "leaver",
        json!({ "customerRef": { "name": "c" }, "email": "leaver@clinic.example",
        "firstName": "Lea", "lastName": "Ver", "deletionPolicy": "Disable" }),
    )
    .await;
    env.wait_ready(&env.users(), "leaver", "True", "Reconciled")
        .await;
    let started = Instant::now();
    env.delete(&env.users(), "leaver").await;
    env.wait_gone(&env.users(), "leaver").await;
    eprintln!("Disable deletion released in {:?}", started.elapsed());
    assert_eq!(remote_enabled(&env, "leaver@clinic.example"), Some(false));
    assert_eq!(
        env.calls(
            "DELETE",
            "/projects/{projectId}/customers/{customerId}/users/{userId}"
        ),
        0
    );
    eventually("a Disabled Event", Duration::from_secs(10), || async {
        env.event_reasons("leaver")
            .await
            .iter()
            .any(|r| r == "Disabled")
    })
    .await;

    // The printer columns: when access ends, and whether the email is verified.
    let listed = crate::support::control_plane().kubectl(["get", "cuser", "-n", env.namespace()]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("ACCESS ENDS") && listed.contains("VERIFIED"),
        "{listed}"
    );
    assert!(listed.contains(&later.to_string()[..16]), "{listed}");
    env.finish().await;
}
