//! `managementPolicy: Observe` and `--dry-run`: passes that read and report, with the exact calls
//! they make. The adversary: an observer that owns its object on record (it was managed before),
//! a deletionPolicy of Delete, drift made in the Console, and a missing remote object.

use serde_json::{Value, json};

use super::{SECRET, World, deleting, object};
use crate::admin_api::{CustomerPatch, NewCustomer};
use crate::crd::{Customer, CustomerUser};

const CUSTOMERS: &str = "/apis/admin.corti.app/v1alpha1/namespaces/tenant/customers";
const USERS: &str = "/apis/admin.corti.app/v1alpha1/namespaces/tenant/customerusers";
const SECRET_PATH: &str = "/api/v1/namespaces/tenant/secrets/corti-admin";

fn customer(policy: &str, status: Value) -> Customer {
    object(
        "Customer",
        "c",
        json!({ "customerId": "contoso", "displayName": "Contoso", "credentialsSecretRef": { "name": SECRET },
            "deletionPolicy": "Delete", "managementPolicy": policy }),
        status,
    )
}

async fn console_customer(world: &World, display_name: &str) {
    let (console, credentials) = world.console();
    let body = NewCustomer {
        customer_id: "contoso".into(),
        display_name: display_name.into(),
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

/// Every Admin API call the world saw was a read.
fn only_reads(world: &World) -> bool {
    world.admin_calls().iter().all(|c| c.starts_with("GET "))
}

#[tokio::test]
async fn an_observed_customer_reports_drift_records_no_ownership_and_manage_then_applies_it() {
    let mut world = World::new().await;
    console_customer(&world, "Renamed in Console").await;
    let observed = customer("Observe", json!({}));
    world.customer(&observed);
    world.pass(&observed).await;

    assert_eq!(
        world.admin_calls(),
        vec!["GET /projects/{projectId}/customers 200"]
    );
    assert_eq!(
        world.kube.call_lines(),
        vec![
            format!("GET {SECRET_PATH}"),
            format!("PATCH {CUSTOMERS}/c/status")
        ],
        "no hold on the credentials Secret: nothing is owned"
    );
    let status = world.last_status();
    assert_eq!(
        status["drift"],
        json!([{ "field": "displayName", "spec": "Contoso", "remote": "Renamed in Console" }])
    );
    assert!(status.get("ownership").is_none(), "{status}");
    let ready = &status["conditions"][0];
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("True"), &json!("Observed"))
    );
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.contains("adopt it") && message.contains("PATCH customers/contoso (displayName)"),
        "{message}"
    );
    assert!(!world.kube.events().contains(&"Adopted".to_string()));

    // Back to Manage: the calls it announced are made, and the drift report goes.
    let mut managed = customer("Manage", status);
    managed.metadata.generation = Some(2);
    world.customer(&managed);
    world.reset_calls();
    world.pass(&managed).await;
    assert_eq!(
        world.admin_calls(),
        vec!["PATCH /projects/{projectId}/customers/{customerId} 200"]
    );
    let status = world.last_status();
    assert_eq!(status["ownership"], "Adopted");
    assert!(status.get("drift").is_none(), "{status}");
    assert_eq!(status["conditions"][0]["reason"], "Reconciled");
}

#[tokio::test]
async fn a_missing_remote_customer_is_not_created_while_observed() {
    let mut world = World::new().await;
    let observed = customer("Observe", json!({}));
    world.customer(&observed);
    world.pass(&observed).await;
    assert!(only_reads(&world), "{:?}", world.admin_calls());
    let ready = &world.last_status()["conditions"][0];
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("Observed"))
    );
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("POST customers")
    );
    assert!(world.sim.sim.snapshot().projects[0].customers.is_empty());
}

#[tokio::test]
async fn an_owned_customer_switched_to_observe_is_neither_reverted_nor_deleted() {
    let mut world = World::new().await;
    // Created under Manage (status on record), then observed.
    let fresh = customer("Manage", json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    let owned = customer("Observe", world.last_status());
    world.customer(&owned);
    let (console, credentials) = world.console();
    let patch = CustomerPatch {
        is_nfr: Some(true),
        ..CustomerPatch::default()
    };
    console
        .update_customer(&credentials, "contoso", &patch)
        .await
        .expect("console edit");
    // The next resync: the snapshot the operator's own write left is stale now.
    world.ctx.snapshots.invalidate_customers(super::PROJECT);
    world.reset_calls();

    world.pass(&owned).await;
    assert!(only_reads(&world), "{:?}", world.admin_calls());
    let status = world.last_status();
    assert_eq!(
        status["ownership"], "Created",
        "the record is kept, not claimed anew"
    );
    assert_eq!(status["drift"][0]["field"], "isNfr");
    let message = status["conditions"][0]["message"].as_str().unwrap();
    assert!(!message.contains("adopt"), "{message}");

    // deletionPolicy Delete, owned on record: still released with no remote call.
    world.reset_calls();
    world.pass(&deleting(&owned)).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(world.sim.sim.snapshot().projects[0].customers.len(), 1);
    assert!(
        world
            .kube
            .call_lines()
            .contains(&format!("PATCH {CUSTOMERS}/c")),
        "the finalizer is removed: {:?}",
        world.kube.call_lines()
    );
}

/// A Ready Customer `c` (remote `contoso`) in the cache, and user `jane` in it remotely.
async fn customer_with_user(world: &mut World) -> String {
    super::user_pass::ready_customer(world).await;
    let id = world.console_user("Jane", "Smith").await;
    world.console_sets_enabled(&id, false).await;
    id
}

fn user(status: Value) -> CustomerUser {
    object(
        "CustomerUser",
        "jane",
        json!({ "customerRef": { "name": "c" }, "email": "Jane@Contoso.example", "firstName": "Jane",
            "lastName": "Smith", "managementPolicy": "Observe" }),
        status,
    )
}

#[tokio::test]
async fn an_observed_user_reports_drift_by_field_never_by_email_and_deletes_nothing() {
    let mut world = World::new().await;
    let id = customer_with_user(&mut world).await;
    let observed = user(json!({}));
    world.user(&observed);
    world.pass(&observed).await;
    assert!(only_reads(&world), "{:?}", world.admin_calls());
    let status = world.last_status();
    assert_eq!(
        status["drift"],
        json!([{ "field": "enabled", "spec": "true", "remote": "false" }])
    );
    assert!(status.get("ownership").is_none() && status.get("userId").is_none());
    let message = status["conditions"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("users/{id} (enabled)")),
        "{message}"
    );
    assert!(!status.to_string().contains('@'), "{status}");

    // Deleted (deletionPolicy Delete by default): released, the remote user untouched.
    world.reset_calls();
    world.pass(&deleting(&user(status))).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert!(
        world
            .kube
            .call_lines()
            .contains(&format!("PATCH {USERS}/jane"))
    );
    let users = &world.sim.sim.snapshot().projects[0].customers[0].users;
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn dry_run_turns_every_managed_resource_into_an_observer() {
    let mut world = World::dry_run().await;
    customer_with_user(&mut world).await;
    let managed_customer: Customer = object(
        "Customer",
        "fabrikam",
        json!({ "displayName": "Fabrikam", "credentialsSecretRef": { "name": SECRET } }),
        json!({}),
    );
    world.customer(&managed_customer);
    world.pass(&managed_customer).await;
    let mut managed_user = user(json!({}));
    managed_user.spec.management_policy = crate::crd::ManagementPolicy::Manage;
    let fresh: CustomerUser = object(
        "CustomerUser",
        "newbie",
        json!({ "customerRef": { "name": "c" }, "email": "new@contoso.example", "firstName": "New", "lastName": "User" }),
        json!({}),
    );
    for each in [&managed_user, &fresh] {
        world.user(each);
        world.pass(each).await;
    }
    assert!(only_reads(&world), "{:?}", world.admin_calls());
    let reasons: Vec<Value> = world
        .kube
        .status_writes()
        .iter()
        .map(|s| s["conditions"][0]["reason"].clone())
        .collect();
    assert_eq!(reasons, vec![json!("Observed"); 3]);
    let snapshot = world.sim.sim.snapshot();
    assert_eq!(
        snapshot.projects[0].customers[0].users.len(),
        1,
        "no user created"
    );
}
