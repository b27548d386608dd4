//! Customer passes, each with the exact calls it makes to Kubernetes and to the Admin API.

use serde_json::{Value, json};

use super::{PROJECT, SECRET, World, deleting, object};
use crate::admin_api::NewCustomer;
use crate::crd::{Customer, CustomerUser};

const CUSTOMERS: &str = "/apis/admin.corti.app/v1alpha1/namespaces/tenant/customers";
const USERS: &str = "/apis/admin.corti.app/v1alpha1/namespaces/tenant/customerusers";
const SECRET_PATH: &str = "/api/v1/namespaces/tenant/secrets/corti-admin";

fn spec(policy: &str) -> Value {
    json!({ "customerId": "contoso", "displayName": "Contoso", "credentialsSecretRef": { "name": SECRET }, "deletionPolicy": policy })
}

fn customer(name: &str, policy: &str, status: Value) -> Customer {
    object("Customer", name, spec(policy), status)
}

fn lines(calls: &[&str]) -> Vec<String> {
    calls.iter().map(ToString::to_string).collect()
}

/// A Customer after a create pass: the object with the status the pass wrote.
async fn created(world: &mut World, policy: &str) -> Customer {
    let fresh = customer("c", policy, json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    let status = world
        .kube
        .status_writes()
        .last()
        .cloned()
        .expect("a status");
    let done = customer("c", policy, status);
    world.customer(&done);
    world.reset_calls();
    done
}

async fn console_customer(world: &World, display_name: &str) {
    let (console, credentials) = world.console();
    console
        .create_customer(
            &credentials,
            &NewCustomer {
                customer_id: "contoso".into(),
                display_name: display_name.into(),
                tenant_name: None,
                region: Some("eu".into()),
                is_nfr: false,
            },
        )
        .await
        .expect("console create");
    world.reset_calls();
}

#[tokio::test]
async fn the_first_pass_adds_the_finalizer_then_goes_on_and_no_pass_starts_from_the_copy_before_it()
{
    let mut world = World::new().await;
    let mut fresh = customer("c", "Delete", json!({}));
    fresh.metadata.finalizers = None;
    world.customer(&fresh);
    // What the API server answers to the operator's writes: the copy after them.
    let mut written = serde_json::to_value(&fresh).expect("json");
    written["metadata"]["resourceVersion"] = json!("2");
    written["metadata"]["finalizers"] = json!(["admin.corti.app/cleanup"]);
    world.kube.put(&format!("{CUSTOMERS}/c"), written);
    world.pass(&fresh).await;
    let calls = world.kube.call_lines();
    assert_eq!(calls[0], format!("PATCH {CUSTOMERS}/c"), "{calls:?}");
    let patch = &world.kube.calls()[0].body;
    assert_eq!(
        patch[0]["op"], "test",
        "guarded by the resourceVersion: {patch}"
    );
    assert_eq!(
        calls.last(),
        Some(&format!("PATCH {CUSTOMERS}/c/status")),
        "then the create and its record, in the same pass: {calls:?}"
    );
    assert_eq!(
        world.admin_calls().last().map(String::as_str),
        Some("POST /projects/{projectId}/customers 201")
    );
    assert_eq!(
        world.kube.events(),
        vec!["Created".to_string()],
        "one Event for the create: the intent and the Ready it led to are not told again"
    );

    // A pass (a wake, a timer) over the copy from before the finalizer write waits for the cache.
    world.reset_calls();
    world.pass(&fresh).await;
    assert!(world.kube.calls().is_empty() && world.admin_calls().is_empty());
    assert!(world.kube.events().is_empty());
}

#[tokio::test]
async fn create_records_the_intent_before_the_call_then_created() {
    let mut world = World::new().await;
    let fresh = customer("c", "Delete", json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    assert_eq!(
        world.kube.call_lines(),
        lines(&[
            &format!("GET {SECRET_PATH}"),
            &format!("GET {SECRET_PATH}"),
            &format!("PATCH {SECRET_PATH}"),
            &format!("PATCH {CUSTOMERS}/c/status"),
            &format!("PATCH {CUSTOMERS}/c/status"),
        ]),
        "read the credentials, hold their Secret, record the intent, record the outcome"
    );
    assert_eq!(
        world.admin_calls(),
        lines(&[
            "GET /projects/{projectId}/customers 200",
            "POST /projects/{projectId}/customers 201"
        ])
    );
    let writes = world.kube.status_writes();
    assert_eq!(writes[0]["ownership"], "Creating");
    assert_eq!(writes[0]["conditions"][0]["reason"], "Creating");
    assert_eq!(writes[1]["ownership"], "Created");
    assert_eq!(writes[1]["credentialsSecret"], SECRET);
    assert_eq!(writes[1]["customerId"], "contoso");
    assert_eq!(writes[1]["conditions"][0]["status"], "True");
    let events = world.kube.events();
    assert!(
        events.contains(&"Created".into()) && !events.contains(&"Adopted".into()),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_pass_in_sync_writes_nothing_anywhere() {
    let mut world = World::new().await;
    let done = created(&mut world, "Delete").await;
    world.pass(&done).await;
    assert_eq!(
        world.kube.call_lines(),
        lines(&[&format!("GET {SECRET_PATH}")]),
        "only the credentials are read"
    );
    assert!(
        world.admin_calls().is_empty(),
        "the snapshot serves: {:?}",
        world.admin_calls()
    );
    assert!(world.kube.events().is_empty());
}

#[tokio::test]
async fn an_existing_customer_is_adopted_on_record_then_updated() {
    let mut world = World::new().await;
    console_customer(&world, "Old name").await;
    let fresh = customer("c", "Delete", json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    assert_eq!(
        world.admin_calls(),
        lines(&[
            "GET /projects/{projectId}/customers 200",
            "PATCH /projects/{projectId}/customers/{customerId} 200"
        ]),
        "no create"
    );
    let writes = world.kube.status_writes();
    assert_eq!(
        writes.len(),
        2,
        "the adoption is on record before the update"
    );
    assert_eq!(writes[0]["ownership"], "Adopted");
    assert_eq!(writes[1]["ownership"], "Adopted");
    assert!(world.kube.events().contains(&"Adopted".into()));
}

#[tokio::test]
async fn with_adoption_off_an_existing_customer_is_a_conflict_and_untouched() {
    let mut world = World::with(false).await;
    console_customer(&world, "Old name").await;
    let fresh = customer("c", "Delete", json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    assert_eq!(
        world.admin_calls(),
        lines(&["GET /projects/{projectId}/customers 200"])
    );
    let writes = world.kube.status_writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0]["conditions"][0]["reason"], "Conflict");
    assert!(writes[0].get("ownership").is_none());
}

#[tokio::test]
async fn drift_is_reverted_with_one_update() {
    let mut world = World::new().await;
    let done = created(&mut world, "Delete").await;
    let (console, credentials) = world.console();
    let patch = crate::admin_api::CustomerPatch {
        display_name: Some("Edited".into()),
        is_nfr: None,
    };
    console
        .update_customer(&credentials, "contoso", &patch)
        .await
        .expect("console edit");
    world.ctx.snapshots.invalidate_customers(PROJECT);
    world.reset_calls();
    world.pass(&done).await;
    assert_eq!(
        world.admin_calls(),
        lines(&[
            "GET /projects/{projectId}/customers 200",
            "PATCH /projects/{projectId}/customers/{customerId} 200"
        ])
    );
    assert_eq!(
        world.kube.call_lines(),
        lines(&[&format!("GET {SECRET_PATH}")]),
        "status unchanged: no write"
    );
    assert_eq!(world.kube.events(), lines(&["DriftReverted"]));
}

#[tokio::test]
async fn the_later_claim_gets_conflict_and_calls_nothing_remote() {
    let mut world = World::new().await;
    let mut first = customer(
        "first",
        "Orphan",
        json!({ "projectId": PROJECT, "ownership": "Created" }),
    );
    first.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-01T00:00:00Z".parse().expect("time"),
    ));
    world.customer(&first);
    let second = customer("second", "Delete", json!({}));
    world.customer(&second);
    world.pass(&second).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    let writes = world.kube.status_writes();
    assert_eq!(writes[0]["conditions"][0]["reason"], "Conflict");
    let message = writes[0]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("Customer first"), "{message}");
}

#[tokio::test]
async fn deletion_waits_for_the_users_of_the_customer() {
    let mut world = World::new().await;
    let done = created(&mut world, "Delete").await;
    let user: CustomerUser = object(
        "CustomerUser",
        "u",
        json!({ "customerRef": { "name": "c" }, "email": "u@x.example", "firstName": "U", "lastName": "U" }),
        json!({}),
    );
    world.user(&user);
    world.pass(&deleting(&done)).await;
    assert!(world.admin_calls().is_empty());
    assert_eq!(
        world.kube.call_lines(),
        lines(&[&format!("PATCH {CUSTOMERS}/c/status")]),
        "no finalizer removed"
    );
    assert_eq!(
        world.kube.status_writes()[0]["conditions"][0]["reason"],
        "Deleting"
    );
}

#[tokio::test]
async fn orphan_releases_without_a_remote_call_after_a_live_look_for_users() {
    let mut world = World::new().await;
    let done = created(&mut world, "Orphan").await;
    world.pass(&deleting(&done)).await;
    assert!(world.admin_calls().is_empty());
    assert_eq!(
        world.kube.call_lines(),
        lines(&[
            &format!("GET {USERS}"),
            &format!("PATCH {CUSTOMERS}/c"),
            &format!("GET {CUSTOMERS}"),
            &format!("GET {USERS}"),
            &format!("GET {SECRET_PATH}"),
        ]),
        "users confirmed live, finalizer removed, then the Secret's hold looked at"
    );
    assert_eq!(world.kube.events(), lines(&["Orphaned"]));
    assert!(
        world.sim.sim.snapshot().projects[0].customers.len() == 1,
        "the remote customer stays"
    );
}

#[tokio::test]
async fn delete_removes_the_owned_customer_after_live_checks() {
    let mut world = World::new().await;
    let done = created(&mut world, "Delete").await;
    world.pass(&deleting(&done)).await;
    assert_eq!(
        world.admin_calls(),
        lines(&["DELETE /projects/{projectId}/customers/{customerId} 204"]),
        "the snapshot is fresh: no list needed"
    );
    assert_eq!(
        world.kube.call_lines()[..3],
        lines(&[
            &format!("GET {USERS}"),
            &format!("GET {SECRET_PATH}"),
            &format!("GET {CUSTOMERS}")
        ])
    );
    assert_eq!(world.kube.events(), lines(&["Deleted"]));
}

#[tokio::test]
async fn a_resource_that_owns_nothing_is_released_at_once() {
    let mut world = World::new().await;
    console_customer(&world, "Contoso").await;
    let never = customer("c", "Delete", json!({ "conditions": [] }));
    world.customer(&never);
    world.pass(&deleting(&never)).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(
        world.kube.call_lines(),
        lines(&[&format!("PATCH {CUSTOMERS}/c")])
    );
    assert_eq!(world.sim.sim.snapshot().projects[0].customers.len(), 1);
}

#[tokio::test]
async fn a_replaced_remote_customer_is_left_in_place() {
    let mut world = World::new().await;
    let done = created(&mut world, "Delete").await;
    let mut status = done.status.clone().expect("status");
    status.created_at = Some("2020-01-01T00:00:00Z".into()); // not the object the Admin API holds
    let mut replaced = done.clone();
    replaced.status = Some(status);
    world.customer(&replaced);
    world.pass(&deleting(&replaced)).await;
    assert!(
        world.admin_calls().is_empty(),
        "no DELETE: {:?}",
        world.admin_calls()
    );
    assert_eq!(world.kube.events(), lines(&["LeftInPlace"]));
}

#[tokio::test]
async fn with_its_credentials_gone_a_deleted_owner_is_released_with_a_warning() {
    let mut world = World::new().await;
    // Recorded as owner with a Secret this process never read, and that is gone now.
    let orphaned = customer(
        "c",
        "Delete",
        json!({ "customerId": "contoso", "projectId": PROJECT, "ownership": "Created",
            "credentialsSecret": "gone", "createdAt": "2026-11-26T00:00:00Z" }),
    );
    world.customer(&orphaned);
    world.pass(&deleting(&orphaned)).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(world.kube.events(), lines(&["LeftInPlace"]));
    assert!(
        world
            .kube
            .call_lines()
            .contains(&format!("PATCH {CUSTOMERS}/c")),
        "released, never stuck"
    );
}

#[tokio::test]
async fn switching_credentials_moves_the_hold_to_the_new_secret() {
    let mut world = World::new().await;
    let done = created(&mut world, "Delete").await;
    // As if it had been created with the Secret `old`, which it no longer names.
    let mut status = done.status.clone().expect("status");
    status.sync.owner.credentials_secret = Some("old".into());
    let mut held = super::secret("old", &[("password", "x")]);
    held["metadata"]["finalizers"] = json!([crate::controller::SECRET_FINALIZER]);
    world.kube.put(&super::secret_path("old"), held);
    let mut moved = done.clone();
    moved.status = Some(status);
    world.customer(&moved);
    world.pass(&moved).await;
    let lines = world.kube.call_lines();
    assert!(
        lines.contains(&format!("PATCH {SECRET_PATH}")),
        "the new Secret is held: {lines:?}"
    );
    assert!(
        lines.contains(&"PATCH /api/v1/namespaces/tenant/secrets/old".to_string()),
        "the old one is let go: {lines:?}"
    );
    assert_eq!(
        world
            .kube
            .status_writes()
            .last()
            .map(|s| s["credentialsSecret"].clone()),
        Some(json!(SECRET))
    );
    assert!(world.admin_calls().is_empty());
}

#[tokio::test]
async fn a_secret_already_held_costs_no_further_call() {
    let mut world = World::new().await;
    let mut held = super::secret(
        SECRET,
        &[
            ("email", super::EMAIL),
            ("password", super::PASSWORD),
            ("projectId", PROJECT),
        ],
    );
    held["metadata"]["finalizers"] = json!([crate::controller::SECRET_FINALIZER]);
    world.kube.put(SECRET_PATH, held);
    let fresh = customer("c", "Delete", json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    assert_eq!(
        world.kube.call_lines(),
        lines(&[
            &format!("GET {SECRET_PATH}"),
            &format!("PATCH {CUSTOMERS}/c/status"),
            &format!("PATCH {CUSTOMERS}/c/status"),
        ]),
        "one read of the Secret serves both the credentials and the hold"
    );
}
