//! Observers and claims, through whole passes: claims are for writers. The adversary: an observer
//! older than the manager (it used to win the key), an observer that still owns its object on
//! record, an observer switched to Manage, and two resources for one remote user.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::{PROJECT, SECRET, World, object};
use crate::admin_api::NewCustomer;
use crate::crd::{Customer, CustomerUser};

fn customer(name: &str, policy: &str, display_name: &str, status: Value) -> Customer {
    let mut made: Customer = object(
        "Customer",
        name,
        json!({ "customerId": "contoso", "displayName": display_name,
            "credentialsSecretRef": { "name": SECRET }, "managementPolicy": policy }),
        status,
    );
    if name == "watcher" {
        // The observer came first: by age alone it would outrank the manager.
        made.metadata.creation_timestamp = Some(Time("2026-01-01T00:00:00Z".parse().unwrap()));
    }
    made
}

async fn console_customer(world: &World) {
    let (console, credentials) = world.console();
    let body = NewCustomer {
        customer_id: "contoso".into(),
        display_name: "Console Name".into(),
        tenant_name: None,
        region: Some("eu".into()),
        is_nfr: false,
    };
    console
        .create_customer(&credentials, &body)
        .await
        .expect("console create");
    world.reset_calls();
}

/// One pass of `object`, then the object as the cache sees it with the status that pass wrote.
async fn pass_and_keep(world: &mut World, object: &Customer) -> Customer {
    world.customer(object);
    world.pass(object).await;
    let mut kept = object.clone();
    kept.status = serde_json::from_value(world.last_status()).ok();
    world.customer(&kept);
    kept
}

/// `Ready` of a written status: status, reason, message.
fn ready(status: &Value) -> (String, String, String) {
    let ready = &status["conditions"][0];
    let text = |field: &str| ready[field].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("message"))
}

#[tokio::test]
async fn an_older_observer_blocks_no_manager_and_then_says_who_manages() {
    let mut world = World::new().await;
    console_customer(&world).await;
    let watcher = customer("watcher", "Observe", "Watcher Name", json!({}));
    let watcher = pass_and_keep(&mut world, &watcher).await;
    assert_eq!(ready(&world.last_status()).1, "Observed");

    let owner = customer("owner", "Manage", "Owner Name", json!({}));
    world.reset_calls();
    let owner = pass_and_keep(&mut world, &owner).await;
    let status = world.last_status();
    assert_eq!(ready(&status).0, "True", "{status}");
    assert_eq!(status["ownership"], "Adopted");
    assert!(
        world
            .admin_calls()
            .contains(&"PATCH /projects/{projectId}/customers/{customerId} 200".to_string())
    );
    assert!(owner.status.is_some());

    // The observer's next look: the manager's name is the remote one now; it reads, reports the
    // drift from its own spec, names the manager, and writes nothing.
    world.ctx.snapshots.invalidate_customers(PROJECT);
    world.reset_calls();
    world.pass(&watcher).await;
    assert!(
        world.admin_calls().iter().all(|c| c.starts_with("GET ")),
        "{:?}",
        world.admin_calls()
    );
    let status = world.last_status();
    let (said, reason, message) = ready(&status);
    assert_eq!((said.as_str(), reason.as_str()), ("True", "Observed"));
    assert!(
        message.contains("none: Customer owner manages it (Conflict)"),
        "{message}"
    );
    assert_eq!(
        status["drift"],
        json!([{ "field": "displayName", "spec": "Watcher Name", "remote": "Owner Name" }])
    );
    assert!(status.get("ownership").is_none(), "{status}");

    // Switched to Manage, it is a claimant like any other: the owner keeps the object.
    let switched = customer("watcher", "Manage", "Watcher Name", status);
    world.reset_calls();
    world.pass(&switched).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    let (said, reason, message) = ready(&world.last_status());
    assert_eq!((said.as_str(), reason.as_str()), ("False", "Conflict"));
    assert!(message.contains("Customer owner"), "{message}");
}

#[tokio::test]
async fn an_observer_that_still_owns_its_object_keeps_it_from_a_later_manager() {
    let mut world = World::new().await;
    // Created under Manage, then switched to Observe: the ownership record stays.
    let created = customer("watcher", "Manage", "Contoso", json!({}));
    let created = pass_and_keep(&mut world, &created).await;
    let kept_status = serde_json::to_value(created.status.as_ref()).unwrap_or_default();
    assert_eq!(kept_status["ownership"], "Created");
    let observing = customer("watcher", "Observe", "Contoso", kept_status);
    world.customer(&observing);

    let owner = customer("owner", "Manage", "Owner Name", json!({}));
    world.reset_calls();
    world.customer(&owner);
    world.pass(&owner).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    let (said, reason, message) = ready(&world.last_status());
    assert_eq!((said.as_str(), reason.as_str()), ("False", "Conflict"));
    assert!(message.contains("Customer watcher"), "{message}");
}

fn user(name: &str, policy: &str, first_name: &str) -> CustomerUser {
    object(
        "CustomerUser",
        name,
        json!({ "customerRef": { "name": "c" }, "email": "Jane@Contoso.example",
            "firstName": first_name, "lastName": "Smith", "managementPolicy": policy }),
        json!({}),
    )
}

#[tokio::test]
async fn a_user_observed_first_does_not_keep_its_manager_from_adopting() {
    let mut world = World::new().await;
    super::user_pass::ready_customer(&mut world).await;
    world.console_user("Jane", "Smith").await;
    let mut watcher = user("watcher", "Observe", "Watcher");
    watcher.metadata.creation_timestamp = Some(Time("2026-01-01T00:00:00Z".parse().unwrap()));
    world.user(&watcher);
    world.pass(&watcher).await;
    watcher.status = serde_json::from_value(world.last_status()).ok();
    world.user(&watcher);

    let manager = user("manager", "Manage", "Manager");
    world.user(&manager);
    world.reset_calls();
    world.pass(&manager).await;
    let status = world.last_status();
    assert_eq!(ready(&status).0, "True", "{status}");
    assert_eq!(status["ownership"], "Adopted");
    let users = &world.sim.sim.snapshot().projects[0].customers[0].users;
    assert_eq!(users[0].user.first_name, "Manager");
}
