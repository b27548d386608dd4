//! Ownership: the operator deletes only what a resource created or adopted, decides only on
//! synced caches, and keeps what a pending deletion needs. Each case is one that once destroyed
//! remote accounts; each asserts on the simulator's state, as a user would see it.

use std::time::Duration;

use corti_operator::admin_api::{NewCustomer, NewUser};
use corti_operator::controller::SECRET_FINALIZER;
use corti_operator::crd::Ownership;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT, ready_message};
use crate::support::eventually;

/// A customer and one user made in the Console, before any resource names them.
async fn console_customer(env: &Env, customer_id: &str, region: &str, email: &str) {
    let (console, credentials) = env.console();
    console
        .create_customer(
            &credentials,
            &NewCustomer {
                customer_id: customer_id.into(),
                display_name: "Made in the Console".into(),
                tenant_name: None,
                region: Some(region.into()),
                is_nfr: false,
            },
        )
        .await
        .expect("console creates the customer");
    console
        .create_user(
            &credentials,
            customer_id,
            &NewUser {
                email: email.into(),
                first_name: "Console".into(),
                last_name: "User".into(),
                password: None,
            },
        )
        .await
        .expect("console creates the user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn resources_that_never_owned_anything_delete_nothing() {
    let env = Env::start("e2e-own-never").await;
    console_customer(&env, "console-made", "us", "clinician@console.example").await;

    // A Customer whose region disagrees with the remote one: InvalidSpec, never adopted.
    env.customer(
        "wrong-region",
        json!({ "customerId": "console-made", "displayName": "X", "region": "eu",
        "credentialsSecretRef": { "name": CREDENTIALS }, "deletionPolicy": "Delete" }),
    )
    .await;
    let refused = env
        .wait_ready(&env.customers(), "wrong-region", "False", "InvalidSpec")
        .await;
    assert_eq!(
        refused.status.as_ref().and_then(|s| s.sync.owner.ownership),
        None,
        "nothing recorded as owned"
    );

    // A CustomerUser of a customerId not managed here, whose password is too short: never adopted.
    env.put_secret("short", json!({ "password": "too-short" }))
        .await;
    env.user(
        "bad-password",
        json!({ "customerId": "console-made", "email": "Clinician@Console.example",
        "firstName": "C", "lastName": "U", "credentialsSecretRef": { "name": CREDENTIALS },
        "passwordSecretRef": { "name": "short" } }),
    )
    .await;
    env.wait_ready(&env.users(), "bad-password", "False", "InvalidPassword")
        .await;

    let deletes = || -> u64 {
        env.sim
            .sim
            .calls()
            .iter()
            .filter(|c| c.method == "DELETE")
            .map(|c| c.count)
            .sum()
    };
    let deletes_before = deletes();
    env.delete(&env.users(), "bad-password").await;
    env.delete(&env.customers(), "wrong-region").await;
    env.wait_gone(&env.users(), "bad-password").await;
    env.wait_gone(&env.customers(), "wrong-region").await;
    assert!(
        env.remote_customer("console-made").is_some(),
        "the Console's customer stays"
    );
    assert_eq!(
        env.remote_users("console-made").len(),
        1,
        "the Console's user stays"
    );
    let deletes_after = deletes();
    assert_eq!(deletes_before, deletes_after, "no DELETE call at all");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn the_loser_of_a_claim_never_deletes_the_winners_customer() {
    let env = Env::start("e2e-own-claim").await;
    env.customer(
        "first",
        json!({ "customerId": "shared", "displayName": "Shared",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    let first = env
        .wait_ready(&env.customers(), "first", "True", "Reconciled")
        .await;
    assert_eq!(
        first.status.as_ref().and_then(|s| s.sync.owner.ownership),
        Some(Ownership::Created)
    );
    env.customer(
        "second",
        json!({ "customerId": "shared", "displayName": "Shared too",
        "credentialsSecretRef": { "name": CREDENTIALS }, "deletionPolicy": "Delete" }),
    )
    .await;
    let second = env
        .wait_ready(&env.customers(), "second", "False", "Conflict")
        .await;
    assert!(
        ready_message(&second).contains("Customer first"),
        "same namespace: the holder is named: {}",
        ready_message(&second)
    );
    assert_eq!(
        second.status.as_ref().and_then(|s| s.sync.owner.ownership),
        None
    );

    // Both deleted at the same moment: only the owner decides, and it orphans (its default).
    env.customers()
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete both");
    env.wait_gone(&env.customers(), "first").await;
    env.wait_gone(&env.customers(), "second").await;
    let remote = env
        .remote_customer("shared")
        .expect("the remote customer stays");
    assert_eq!(
        remote.customer.display_name, "Shared",
        "the loser never wrote to it either"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn adoption_is_recorded_and_can_be_turned_off() {
    let mut env = Env::start_with(
        "e2e-own-adopt",
        corti_operator::sim::SimConfig::new(),
        &["--adopt-existing=false"],
    )
    .await;
    console_customer(&env, "existing", "eu", "jane@existing.example").await;
    env.customer(
        "c",
        json!({ "customerId": "existing", "displayName": "Made in the Console",
        "credentialsSecretRef": { "name": CREDENTIALS }, "deletionPolicy": "Delete" }),
    )
    .await;
    let refused = env
        .wait_ready(&env.customers(), "c", "False", "Conflict")
        .await;
    assert!(
        ready_message(&refused).contains("adoption is off"),
        "{}",
        ready_message(&refused)
    );
    assert_eq!(
        refused.status.as_ref().and_then(|s| s.sync.owner.ownership),
        None
    );

    // Adoption allowed again (operator-wide): recorded in status, with an Event.
    env.kill_operator().await;
    env.extra_args.clear();
    env.start_operator();
    let adopted = env
        .wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    assert_eq!(
        adopted.status.as_ref().and_then(|s| s.sync.owner.ownership),
        Some(Ownership::Adopted)
    );
    eventually("an Adopted Event", WAIT, || async {
        env.event_reasons("c").await.iter().any(|r| r == "Adopted")
    })
    .await;
    env.user(
        "jane",
        json!({ "customerRef": { "name": "c" }, "email": "JANE@existing.example",
        "firstName": "Jane", "lastName": "Doe" }),
    )
    .await;
    let jane = env
        .wait_ready(&env.users(), "jane", "True", "Reconciled")
        .await;
    let status = jane.status.expect("status");
    assert_eq!(status.sync.owner.ownership, Some(Ownership::Adopted));
    let remote = env.remote_users("existing");
    assert_eq!(remote.len(), 1, "adopted, not duplicated");
    assert_eq!(
        status.user_id.as_deref(),
        Some(remote[0].user.id.to_string().as_str())
    );
    assert_eq!(
        remote[0].user.last_name, "Doe",
        "adopted, then brought to the spec"
    );

    // An adopted object with deletionPolicy Delete is deleted: the user asked for it, on record.
    env.delete(&env.users(), "jane").await;
    env.wait_gone(&env.users(), "jane").await;
    assert!(env.remote_users("existing").is_empty());
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn restarts_with_deletions_pending_never_delete_a_customer_before_its_users() {
    const USERS: usize = 12;
    let mut env = Env::start("e2e-own-restart").await;
    env.customer(
        "c",
        json!({ "customerId": "pending", "displayName": "Pending",
        "credentialsSecretRef": { "name": CREDENTIALS }, "deletionPolicy": "Delete" }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    for i in 0..USERS {
        env.user(&format!("u{i}"), json!({ "customerRef": { "name": "c" },
            "email": format!("u{i}@pending.example"), "firstName": "U", "lastName": format!("{i}") })).await;
    }
    eventually("every user Ready", WAIT, || async {
        env.remote_users("pending").len() == USERS
    })
    .await;
    for i in 0..USERS {
        env.wait_ready(&env.users(), &format!("u{i}"), "True", "Reconciled")
            .await;
    }

    // The operator is down when the Customer is deleted; it starts (and is killed) several times
    // while that deletion is pending. Each start must wait for its caches: the users are there.
    env.kill_operator().await;
    env.delete(&env.customers(), "c").await;
    for _ in 0..3 {
        env.start_operator();
        tokio::time::sleep(Duration::from_secs(3)).await;
        env.kill_operator().await;
        assert!(
            env.remote_customer("pending").is_some(),
            "the customer is never deleted before its users"
        );
        assert_eq!(env.remote_users("pending").len(), USERS);
    }
    env.start_operator();
    let waiting = env
        .wait_ready(&env.customers(), "c", "False", "Deleting")
        .await;
    assert!(
        ready_message(&waiting).contains(&format!("{USERS} CustomerUser")),
        "{}",
        ready_message(&waiting)
    );

    // Now the users go too, with restarts in between: every remote user is deleted exactly once,
    // then the customer.
    env.users()
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete the users");
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.kill_operator().await;
    env.start_operator();
    env.wait_gone(&env.customers(), "c").await;
    assert!(env.remote_customer("pending").is_none(), "deleted last");
    let user_deletes = env.calls(
        "DELETE",
        "/projects/{projectId}/customers/{customerId}/users/{userId}",
    );
    assert!(
        user_deletes <= USERS as u64,
        "each user deleted at most once: {user_deletes}"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn a_namespace_deleted_while_the_operator_is_down_still_deletes_its_users() {
    let mut env = Env::start("e2e-own-ns").await;
    env.kill_operator().await;
    // The chart's Role for one namespace lives in that namespace and goes with it; a cluster-wide
    // installation keeps its ClusterRole. Run as the latter would.
    env.run_as_admin();
    env.start_operator();
    env.customer(
        "c",
        json!({ "customerId": "tenant", "displayName": "Tenant",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    env.user("u", json!({ "customerRef": { "name": "c" }, "email": "u@tenant.example", "firstName": "U", "lastName": "U" })).await;
    env.wait_ready(&env.users(), "u", "True", "Reconciled")
        .await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), env.namespace());
    let held = secrets.get(CREDENTIALS).await.expect("the Secret");
    assert!(
        held.finalizers().iter().any(|f| f == SECRET_FINALIZER),
        "the credentials Secret is held while resources own remote objects with it"
    );

    env.kill_operator().await;
    env.delete_namespace().await;
    eventually(
        "the namespace controller to mark everything deleted",
        // The namespace controller walks every API group first: slow on a busy 2-core machine.
        WAIT * 2,
        || async {
            secrets
                .get_opt(CREDENTIALS)
                .await
                .ok()
                .flatten()
                .is_some_and(|s| s.metadata.deletion_timestamp.is_some())
        },
    )
    .await;
    env.start_operator();
    eventually(
        "the remote user deleted (deletionPolicy Delete)",
        WAIT,
        || async { env.remote_users("tenant").is_empty() },
    )
    .await;
    assert!(
        env.remote_customer("tenant").is_some(),
        "the customer stays (deletionPolicy Orphan, the Customer's default)"
    );
    eventually("the Secret released, then gone", WAIT, || async {
        matches!(secrets.get_opt(CREDENTIALS).await, Ok(None))
    })
    .await;
    env.kill_operator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn the_intent_to_create_is_on_record_before_the_remote_object_exists() {
    let mut env = Env::start("e2e-own-intent").await;
    env.customer(
        "c",
        json!({ "customerId": "intent", "displayName": "Intent",
        "credentialsSecretRef": { "name": CREDENTIALS }, "deletionPolicy": "Delete" }),
    )
    .await;
    eventually("the remote create", WAIT, || async {
        env.remote_customer("intent").is_some()
    })
    .await;
    env.kill_operator().await;
    let at_kill = env.customers().get("c").await.expect("get");
    let ownership = at_kill.status.as_ref().and_then(|s| s.sync.owner.ownership);
    assert!(
        matches!(ownership, Some(Ownership::Creating | Ownership::Created)),
        "the intent was recorded before the call: {ownership:?}"
    );
    env.start_operator();
    let ready = env
        .wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    assert_eq!(
        ready.status.as_ref().and_then(|s| s.sync.owner.ownership),
        Some(Ownership::Created),
        "its own lost create, not an adoption"
    );
    assert!(!env.event_reasons("c").await.iter().any(|r| r == "Adopted"));
    assert_eq!(env.remote_customers().len(), 1);
    // Deleting it deletes the one remote customer it created.
    env.delete(&env.customers(), "c").await;
    env.wait_gone(&env.customers(), "c").await;
    assert!(env.remote_customer("intent").is_none());
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn restarts_while_a_large_customer_is_provisioned_leave_one_owned_user_each() {
    const USERS: usize = 40;
    let mut env = Env::start("e2e-own-provision").await;
    env.customer(
        "c",
        json!({ "customerId": "large", "displayName": "Large",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    for i in 0..USERS {
        env.user(
            &format!("u{i}"),
            json!({ "customerRef": { "name": "c" },
            "email": format!("u{i}@large.example"), "firstName": "U", "lastName": format!("{i}") }),
        )
        .await;
    }
    // SIGKILL at random points of the provisioning, a few times in a row.
    for pause in [300_u64, 700, 1100] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        env.kill_operator().await;
        env.start_operator();
    }
    eventually("every user Ready", WAIT, || async {
        let users = env
            .users()
            .list(&ListParams::default())
            .await
            .expect("list");
        users
            .items
            .iter()
            .all(|u| crate::harness::ready_is(u, "True", "Reconciled"))
    })
    .await;
    let remote = env.remote_users("large");
    assert_eq!(remote.len(), USERS, "exactly one remote user per resource");
    let users = env
        .users()
        .list(&ListParams::default())
        .await
        .expect("list");
    for user in &users.items {
        let status = user.status.as_ref().expect("status");
        assert_eq!(
            status.sync.owner.ownership,
            Some(Ownership::Created),
            "{}: its own create (found again after a kill), never an adoption",
            user.name_any()
        );
        assert!(
            remote
                .iter()
                .any(|r| Some(r.user.id.to_string()) == status.user_id),
            "{}: status names its remote user",
            user.name_any()
        );
    }
    env.finish().await;
}
