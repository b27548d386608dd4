//! `managementPolicy: Observe`: resources over objects made in the Console report their drift and
//! write nothing, deleting one deletes nothing, and switching to `Manage` applies the drift.

use corti_operator::admin_api::{NewCustomer, NewUser, UserPatch};
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, ready_message};

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
