//! Create, update and delete of both kinds, each verified in the simulator.

use corti_operator::sim::password_fingerprint;
use serde_json::json;

use crate::harness::{CREDENTIALS, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn customers_and_users_are_created_updated_and_deleted_remotely() {
    let env = Env::start("e2e-life").await;
    env.customer(
        "contoso",
        json!({ "customerId": "contosohospital", "displayName": "Contoso Hospital", "credentialsSecretRef": { "name": CREDENTIALS }, "deletionPolicy": "Delete" }),
    )
    .await;
    let customer = env
        .wait_ready(&env.customers(), "contoso", "True", "Reconciled")
        .await;
    let status = customer.status.expect("status");
    assert_eq!(status.customer_id.as_deref(), Some("contosohospital"));
    assert_eq!(status.project_id.as_deref(), Some(env.project.as_str()));
    let remote = env
        .remote_customer("contosohospital")
        .expect("the remote customer exists")
        .customer;
    assert_eq!(
        (remote.display_name.as_str(), remote.tenant_name.as_str()),
        ("Contoso Hospital", "base")
    );

    env.put_secret(
        "jane-password",
        json!({ "password": "Initial-Passw0rd-For-Jane" }),
    )
    .await;
    env.user(
        "jane",
        json!({ "customerRef": { "name": "contoso" }, "email": "Jane.Smith@contoso.example", "firstName": "Jane", "lastName": "Smith",
                "passwordSecretRef": { "name": "jane-password" } }),
    )
    .await;
    env.user(
        "john",
        json!({ "customerRef": { "name": "contoso" }, "email": "john@contoso.example", "firstName": "John", "lastName": "Doe", "enabled": false }),
    )
    .await;
    let jane = env
        .wait_ready(&env.users(), "jane", "True", "Reconciled")
        .await;
    env.wait_ready(&env.users(), "john", "True", "Reconciled")
        .await;
    let remote_users = env.remote_users("contosohospital");
    assert_eq!(remote_users.len(), 2);
    let remote_jane = remote_users
        .iter()
        .find(|u| {
            u.user
                .email
                .eq_ignore_ascii_case("jane.smith@contoso.example")
        })
        .expect("jane");
    assert_eq!(
        jane.status.as_ref().and_then(|s| s.user_id.clone()),
        Some(remote_jane.user.id.to_string())
    );
    assert_eq!(
        remote_jane.password_fingerprint.as_deref(),
        Some(password_fingerprint("Initial-Passw0rd-For-Jane").as_str())
    );
    let remote_john = remote_users
        .iter()
        .find(|u| u.user.email == "john@contoso.example")
        .expect("john");
    assert!(!remote_john.user.enabled, "john is created disabled");
    let version = jane
        .status
        .as_ref()
        .and_then(|s| s.password_version.clone())
        .expect("the applied password Secret's version in status");
    assert!(
        version.ends_with("/password") && !version.contains("Initial-Passw0rd"),
        "status names the Secret's version, nothing derived from the password: {version}"
    );

    // Updates: names, enabled, isNfr; then a new password in the Secret.
    env.patch(
        &env.customers(),
        "contoso",
        json!({ "spec": { "displayName": "Contoso General", "isNfr": true } }),
    )
    .await;
    env.patch(
        &env.users(),
        "john",
        json!({ "spec": { "lastName": "Dough", "enabled": true } }),
    )
    .await;
    env.wait_ready(&env.customers(), "contoso", "True", "Reconciled")
        .await;
    env.wait_ready(&env.users(), "john", "True", "Reconciled")
        .await;
    let remote = env
        .remote_customer("contosohospital")
        .expect("customer")
        .customer;
    assert_eq!(
        (remote.display_name.as_str(), remote.is_nfr),
        ("Contoso General", true)
    );
    let john = env
        .remote_users("contosohospital")
        .into_iter()
        .find(|u| u.user.email == "john@contoso.example")
        .expect("john");
    assert_eq!(
        (john.user.last_name.as_str(), john.user.enabled),
        ("Dough", true)
    );

    env.put_secret(
        "jane-password",
        json!({ "password": "Rotated-Passw0rd-For-Jane" }),
    )
    .await;
    crate::support::eventually(
        "the new password applied remotely",
        crate::harness::WAIT,
        || async {
            env.remote_users("contosohospital").iter().any(|u| {
                u.password_fingerprint.as_deref()
                    == Some(password_fingerprint("Rotated-Passw0rd-For-Jane").as_str())
            })
        },
    )
    .await;

    // Delete: users (policy Delete) go remotely, then the customer (policy Delete).
    env.delete(&env.users(), "john").await;
    env.wait_gone(&env.users(), "john").await;
    assert_eq!(env.remote_users("contosohospital").len(), 1);
    env.delete(&env.users(), "jane").await;
    env.delete(&env.customers(), "contoso").await;
    env.wait_gone(&env.customers(), "contoso").await;
    assert!(
        env.remote_customer("contosohospital").is_none(),
        "deletionPolicy Delete removed the remote customer"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn customer_deletion_waits_for_its_users_and_orphan_keeps_the_remote() {
    let env = Env::start("e2e-delete").await;
    let creds = json!({ "name": CREDENTIALS });
    env.customer(
        "kept",
        json!({ "displayName": "Kept Clinic", "credentialsSecretRef": creds }),
    )
    .await;
    env.customer("gone", json!({ "displayName": "Gone Clinic", "credentialsSecretRef": creds, "deletionPolicy": "Delete" })).await;
    env.wait_ready(&env.customers(), "kept", "True", "Reconciled")
        .await;
    env.wait_ready(&env.customers(), "gone", "True", "Reconciled")
        .await;
    env.user("ann", json!({ "customerRef": { "name": "gone" }, "email": "ann@gone.example", "firstName": "Ann", "lastName": "A" })).await;
    env.wait_ready(&env.users(), "ann", "True", "Reconciled")
        .await;

    env.delete(&env.customers(), "gone").await;
    let waiting = env
        .wait_ready(&env.customers(), "gone", "False", "Deleting")
        .await;
    assert!(
        crate::harness::ready_message(&waiting).contains("1 CustomerUser"),
        "{}",
        crate::harness::ready_message(&waiting)
    );
    assert!(
        env.remote_customer("gone").is_some(),
        "nothing deleted while users remain"
    );

    env.delete(&env.users(), "ann").await;
    env.wait_gone(&env.customers(), "gone").await;
    assert!(env.remote_customer("gone").is_none());

    env.delete(&env.customers(), "kept").await;
    env.wait_gone(&env.customers(), "kept").await;
    assert!(
        env.remote_customer("kept").is_some(),
        "the default deletionPolicy Orphan leaves the remote customer"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn a_second_claim_on_one_remote_key_gets_conflict_and_touches_nothing() {
    let env = Env::start("e2e-claim").await;
    let creds = json!({ "name": CREDENTIALS });
    env.customer(
        "first",
        json!({ "customerId": "shared", "displayName": "First", "credentialsSecretRef": creds }),
    )
    .await;
    env.wait_ready(&env.customers(), "first", "True", "Reconciled")
        .await;
    env.customer(
        "second",
        json!({ "customerId": "shared", "displayName": "Second", "credentialsSecretRef": creds }),
    )
    .await;
    env.wait_ready(&env.customers(), "second", "False", "Conflict")
        .await;

    env.user("u1", json!({ "customerRef": { "name": "first" }, "email": "dup@x.example", "firstName": "A", "lastName": "A" })).await;
    env.wait_ready(&env.users(), "u1", "True", "Reconciled")
        .await;
    env.user("u2", json!({ "customerId": "shared", "credentialsSecretRef": creds, "email": "DUP@x.example", "firstName": "B", "lastName": "B" })).await;
    env.wait_ready(&env.users(), "u2", "False", "Conflict")
        .await;

    // Give the loser a few resyncs to misbehave, then look: the winner's values stand.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let remote = env.remote_customer("shared").expect("customer");
    assert_eq!(remote.customer.display_name, "First");
    assert_eq!(remote.users.len(), 1);
    assert_eq!(remote.users[0].user.first_name, "A");

    // Deleting the loser (even with policy Delete) leaves the winner's remote objects alone.
    env.patch(
        &env.users(),
        "u2",
        json!({ "spec": { "deletionPolicy": "Delete" } }),
    )
    .await;
    env.delete(&env.users(), "u2").await;
    env.wait_gone(&env.users(), "u2").await;
    assert_eq!(env.remote_users("shared").len(), 1);
    env.finish().await;
}
