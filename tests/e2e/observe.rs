//! `managementPolicy: Observe`: resources over objects made in the Console report their drift and
//! write nothing, deleting one deletes nothing, and switching to `Manage` applies the drift.
//! Observers claim nothing: a manager that comes later takes the object, and they go on reading.

use corti_operator::admin_api::{NewCustomer, NewUser, UserPatch};
use corti_operator::crd::Ownership;
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT, ready_is, ready_message};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn observed_resources_report_drift_write_nothing_and_manage_then_applies_it() {
    let env = Env::start("e2e-observe").await;
    let (console, credentials) = env.console();
    let customer = NewCustomer {
        customer_id: "watched".into(),
        display_name: "Console Name".into(),
        tenant_name: None,
        region: Some("eu".into()),
        is_nfr: false,
    };
    console
        .create_customer(&credentials, &customer)
        .await
        .expect("console creates the customer");
    let mut ids = Vec::new();
    for email in ["u@watched.example", "keep@watched.example"] {
        let user = NewUser {
            email: email.into(),
            first_name: "Una".into(),
            last_name: "User".into(),
            password: None,
        };
        let made = console
            .create_user(&credentials, "watched", &user)
            .await
            .expect("console creates the user");
        ids.push(made.id);
    }
    let disable = UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    };
    console
        .update_user(&credentials, "watched", &ids[0], &disable)
        .await
        .expect("console disables the user");
    env.sim.sim.reset_calls();

    env.customer(
        "c",
        json!({ "customerId": "watched", "displayName": "Spec Name", "deletionPolicy": "Delete",
        "credentialsSecretRef": { "name": CREDENTIALS }, "managementPolicy": "Observe" }),
    )
    .await;
    for (name, email) in [("u", "u@watched.example"), ("keep", "keep@watched.example")] {
        env.user(
            name,
            json!({ "customerRef": { "name": "c" }, "email": email, "firstName": "Una",
            "lastName": "User", "managementPolicy": "Observe" }),
        )
        .await;
    }
    let c = env
        .wait_ready(&env.customers(), "c", "True", "Observed")
        .await;
    let status = c.status.clone().expect("status");
    assert_eq!(status.sync.drift.len(), 1, "{:?}", status.sync.drift);
    assert_eq!(
        (
            status.sync.drift[0].field.as_str(),
            status.sync.drift[0].remote.as_str()
        ),
        ("displayName", "Console Name")
    );
    assert_eq!(
        status.sync.owner.ownership, None,
        "an observer claims nothing"
    );
    assert!(ready_message(&c).contains("PATCH customers/watched (displayName)"));
    let u = env.wait_ready(&env.users(), "u", "True", "Observed").await;
    let drift = u.status.clone().expect("status").sync.drift;
    assert_eq!(
        drift
            .iter()
            .map(|d| (d.field.as_str(), d.spec.as_str(), d.remote.as_str()))
            .collect::<Vec<_>>(),
        vec![("enabled", "true", "false")]
    );
    env.wait_ready(&env.users(), "keep", "True", "Observed")
        .await;
    assert_eq!(env.admin_writes(), 0, "{:?}", env.sim.sim.calls());

    // Deleting an observed user (deletionPolicy Delete by default) deletes nothing remotely.
    env.delete(&env.users(), "keep").await;
    env.wait_gone(&env.users(), "keep").await;
    assert_eq!(env.remote_users("watched").len(), 2);
    assert_eq!(env.admin_writes(), 0, "{:?}", env.sim.sim.calls());

    // Manage: the announced calls are made, and the drift report goes.
    env.patch(
        &env.customers(),
        "c",
        json!({ "spec": { "managementPolicy": "Manage" } }),
    )
    .await;
    let c = env
        .wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    assert!(c.status.expect("status").sync.drift.is_empty());
    env.patch(
        &env.users(),
        "u",
        json!({ "spec": { "managementPolicy": "Manage" } }),
    )
    .await;
    env.wait_ready(&env.users(), "u", "True", "Reconciled")
        .await;
    let remote = env.remote_customer("watched").expect("remote customer");
    assert_eq!(remote.customer.display_name, "Spec Name");
    let users = env.remote_users("watched");
    assert!(users.iter().all(|u| u.user.enabled), "enabled again");
    env.finish().await;
}

/// The `Ready` message and the drift (field, spec, remote) of an observer.
fn observed<K: kube::Resource + serde::Serialize>(object: &K) -> (String, Vec<[String; 3]>) {
    let status = serde_json::to_value(object).unwrap_or_default()["status"].clone();
    let drift = status["drift"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| ["field", "spec", "remote"].map(|k| d[k].as_str().unwrap_or_default().into()))
        .collect();
    (ready_message(object), drift)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn observers_claim_nothing_so_a_later_manager_takes_the_object_and_they_only_read() {
    let env = Env::start("e2e-observers").await;
    let (console, credentials) = env.console();
    let customer = NewCustomer {
        customer_id: "shared".into(),
        display_name: "Console Name".into(),
        tenant_name: None,
        region: Some("eu".into()),
        is_nfr: false,
    };
    console
        .create_customer(&credentials, &customer)
        .await
        .expect("console creates the customer");
    let jane = NewUser {
        email: "jane@shared.example".into(),
        first_name: "Jane".into(),
        last_name: "Smith".into(),
        password: None,
    };
    console
        .create_user(&credentials, "shared", &jane)
        .await
        .expect("console creates the user");
    env.sim.sim.reset_calls();

    // Observers first: by age they would have outranked any later resource for these objects.
    env.customer(
        "watcher",
        json!({ "customerId": "shared", "displayName": "Watcher Name",
        "credentialsSecretRef": { "name": CREDENTIALS }, "managementPolicy": "Observe" }),
    )
    .await;
    env.wait_ready(&env.customers(), "watcher", "True", "Observed")
        .await;
    env.user(
        "watcher-jane",
        json!({ "customerRef": { "name": "watcher" }, "email": "jane@shared.example",
        "firstName": "Watching", "lastName": "Smith", "managementPolicy": "Observe" }),
    )
    .await;
    env.wait_ready(&env.users(), "watcher-jane", "True", "Observed")
        .await;

    // Then managers of the same remote objects: they adopt them and bring them to their specs.
    env.customer(
        "owner",
        json!({ "customerId": "shared", "displayName": "Owner Name",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    let owner = env
        .wait_ready(&env.customers(), "owner", "True", "Reconciled")
        .await;
    env.user(
        "owner-jane",
        json!({ "customerRef": { "name": "owner" }, "email": "jane@shared.example",
        "firstName": "Owned", "lastName": "Smith" }),
    )
    .await;
    let owner_jane = env
        .wait_ready(&env.users(), "owner-jane", "True", "Reconciled")
        .await;
    assert_eq!(
        (
            owner.status.expect("status").sync.owner.ownership,
            owner_jane.status.expect("status").sync.owner.ownership,
        ),
        (Some(Ownership::Adopted), Some(Ownership::Adopted))
    );
    let remote = env.remote_customer("shared").expect("remote customer");
    assert_eq!(remote.customer.display_name, "Owner Name");
    assert_eq!(env.remote_users("shared")[0].user.first_name, "Owned");

    // The observers go on reading: their drift is now from the managers' values, and they say
    // who manages the objects.
    eventually("the observers report the managers", WAIT, || async {
        let watcher = env.customers().get("watcher").await.expect("get");
        let (message, drift) = observed(&watcher);
        let customer_seen = message.contains("none: Customer owner manages it (Conflict)")
            && drift == [["displayName", "Watcher Name", "Owner Name"].map(String::from)];
        let watcher_jane = env.users().get("watcher-jane").await.expect("get");
        let (message, drift) = observed(&watcher_jane);
        customer_seen
            && message.contains("none: CustomerUser owner-jane manages it (Conflict)")
            && drift == [["firstName", "Watching", "Owned"].map(String::from)]
    })
    .await;
    // Only the managers wrote (one update each), and over several resyncs nobody fights.
    assert_eq!(env.admin_writes(), 2, "{:?}", env.sim.sim.calls());
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    assert_eq!(env.admin_writes(), 2, "{:?}", env.sim.sim.calls());
    let watcher = env.customers().get("watcher").await.expect("get");
    assert!(ready_is(&watcher, "True", "Observed"));
    assert_eq!(watcher.status.expect("status").sync.owner.ownership, None);

    // An observer switched to Manage is a claimant like any other: the owner keeps the object.
    env.patch(
        &env.users(),
        "watcher-jane",
        json!({ "spec": { "managementPolicy": "Manage" } }),
    )
    .await;
    let refused = env
        .wait_ready(&env.users(), "watcher-jane", "False", "Conflict")
        .await;
    assert!(ready_message(&refused).contains("owner-jane"));
    assert_eq!(env.admin_writes(), 2, "{:?}", env.sim.sim.calls());
    env.finish().await;
}
