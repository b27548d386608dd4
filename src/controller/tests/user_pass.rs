//! CustomerUser passes, each with the exact calls it makes to Kubernetes and to the Admin API.

use serde_json::{Value, json};

use super::{SECRET, World, deleting, object, secret, secret_path};
use crate::admin_api::NewCustomer;
use crate::crd::{Customer, CustomerUser};

const USERS: &str = "/apis/admin.corti.app/v1alpha1/namespaces/tenant/customerusers";
const SECRET_PATH: &str = "/api/v1/namespaces/tenant/secrets/corti-admin";
const LIST_USERS: &str = "GET /projects/{projectId}/customers/{customerId}/users 200";

fn lines(calls: &[&str]) -> Vec<String> {
    calls.iter().map(ToString::to_string).collect()
}

/// A Ready Customer `c` (remote `contoso`) in the cache, made through the Console.
pub(super) async fn ready_customer(world: &mut World) {
    let (console, credentials) = world.console();
    let body = NewCustomer {
        customer_id: "contoso".into(),
        display_name: "Contoso".into(),
        tenant_name: None,
        region: Some("eu".into()),
        is_nfr: false,
    };
    console
        .create_customer(&credentials, &body)
        .await
        .expect("console create");
    let customer: Customer = object(
        "Customer",
        "c",
        json!({ "customerId": "contoso", "displayName": "Contoso", "credentialsSecretRef": { "name": SECRET } }),
        json!({ "observedGeneration": 1, "customerId": "contoso", "projectId": super::PROJECT, "ownership": "Adopted",
            "conditions": [{ "type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
                "observedGeneration": 1, "lastTransitionTime": "2026-11-26T00:00:00Z" }] }),
    );
    world.customer(&customer);
    world.reset_calls();
}

fn spec(extra: Value) -> Value {
    let mut spec = json!({ "customerRef": { "name": "c" }, "email": "Jane@Contoso.example", "firstName": "Jane", "lastName": "Smith" });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    spec
}

pub(super) fn user(extra: Value, status: Value) -> CustomerUser {
    object("CustomerUser", "jane", spec(extra), status)
}

pub(super) async fn created(world: &mut World, extra: Value) -> CustomerUser {
    let fresh = user(extra.clone(), json!({}));
    world.user(&fresh);
    world.pass(&fresh).await;
    let status = world
        .kube
        .status_writes()
        .last()
        .cloned()
        .expect("a status");
    let done = user(extra, status);
    world.user(&done);
    world.reset_calls();
    done
}

#[tokio::test]
async fn a_disabled_user_is_created_then_updated_once() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    world.kube.put(
        &secret_path("jane-pw"),
        secret("jane-pw", &[("password", "a-password-of-16-or-more")]),
    );
    let fresh = user(
        json!({ "enabled": false, "passwordSecretRef": { "name": "jane-pw" } }),
        json!({}),
    );
    world.user(&fresh);
    world.pass(&fresh).await;
    assert_eq!(
        world.admin_calls(),
        lines(&[
            LIST_USERS,
            "PATCH /projects/{projectId}/customers/{customerId}/users/{userId} 200",
            "POST /projects/{projectId}/customers/{customerId}/users 201",
        ]),
        "create (names and password), then one update (enabled is not in the create body)"
    );
    let writes = world.kube.status_writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0]["ownership"], "Creating");
    assert_eq!(
        writes[0]["customerId"], "contoso",
        "the claim's key is on record with the intent"
    );
    assert_eq!(writes[1]["ownership"], "Created");
    assert_eq!(
        writes[1]["passwordVersion"], "/1/password",
        "the Secret's version, nothing derived from the password"
    );
    let update = world.sim.sim.snapshot().projects[0].customers[0].users[0].clone();
    assert!(!update.user.enabled);
    assert!(
        world
            .kube
            .call_lines()
            .contains(&format!("PATCH {SECRET_PATH}")),
        "the credentials Secret is held"
    );
}

#[tokio::test]
async fn a_user_in_sync_writes_nothing_anywhere() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    world.pass(&done).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(
        world.kube.call_lines(),
        lines(&[&format!("GET {SECRET_PATH}")])
    );
    assert!(world.kube.events().is_empty());
}

#[tokio::test]
async fn a_console_user_is_adopted_on_record_before_its_update() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let id = world.console_user("J", "Console").await;
    let fresh = user(json!({}), json!({}));
    world.user(&fresh);
    world.pass(&fresh).await;
    assert_eq!(
        world.admin_calls(),
        lines(&[
            LIST_USERS,
            "PATCH /projects/{projectId}/customers/{customerId}/users/{userId} 200"
        ])
    );
    let writes = world.kube.status_writes();
    assert_eq!(
        writes[0]["ownership"], "Adopted",
        "on record before the update"
    );
    assert_eq!(writes[0]["userId"], id.as_str());
    assert_eq!(writes[1]["ownership"], "Adopted");
    assert!(world.kube.events().contains(&"Adopted".into()));
}

#[tokio::test]
async fn drift_on_a_user_is_reverted() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    let id = done
        .status
        .as_ref()
        .and_then(|s| s.user_id.clone())
        .expect("id");
    world.console_sets_enabled(&id, false).await;
    world.pass(&done).await;
    assert_eq!(
        world.admin_calls(),
        lines(&[
            LIST_USERS,
            "PATCH /projects/{projectId}/customers/{customerId}/users/{userId} 200"
        ])
    );
    assert_eq!(world.kube.events(), lines(&["DriftReverted"]));
}

#[tokio::test]
async fn a_second_claim_on_an_email_gets_conflict_and_calls_nothing_remote() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let mut holder: CustomerUser = object(
        "CustomerUser",
        "holder",
        spec(json!({ "email": "JANE@contoso.example" })),
        json!({ "customerId": "contoso", "projectId": super::PROJECT, "ownership": "Created" }),
    );
    holder.metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().expect("time"),
        ));
    world.user(&holder);
    let fresh = user(json!({}), json!({}));
    world.user(&fresh);
    world.pass(&fresh).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    let writes = world.kube.status_writes();
    assert_eq!(writes[0]["conditions"][0]["reason"], "Conflict");
    assert!(
        writes[0]["conditions"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("CustomerUser holder")
    );
}

#[tokio::test]
async fn a_user_waits_for_its_customer() {
    let mut world = World::new().await;
    let fresh = user(json!({}), json!({}));
    world.user(&fresh);
    world.pass(&fresh).await;
    assert!(world.admin_calls().is_empty());
    assert_eq!(
        world.kube.status_writes()[0]["conditions"][0]["reason"],
        "CustomerNotReady"
    );
}

#[tokio::test]
async fn delete_removes_only_the_recorded_user_without_its_customer() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    // The Customer resource is gone already: the user's own record is enough.
    world
        .customers
        .apply_watcher_event(&kube::runtime::watcher::Event::Delete(
            world.ctx.customers.state()[0].as_ref().clone(),
        ));
    world.pass(&deleting(&done)).await;
    assert_eq!(
        world.admin_calls(),
        lines(&["DELETE /projects/{projectId}/customers/{customerId}/users/{userId} 204"])
    );
    assert_eq!(
        world.kube.call_lines()[..2],
        lines(&[
            &format!("GET {SECRET_PATH}"),
            &format!("PATCH {USERS}/jane")
        ])
    );
    assert_eq!(world.kube.events(), lines(&["Deleted"]));
}

#[tokio::test]
async fn a_user_that_never_owned_its_console_user_deletes_nothing() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    world.console_user("J", "Console").await;
    let never = user(
        json!({}),
        json!({ "customerId": "contoso", "projectId": super::PROJECT }),
    );
    world.user(&never);
    world.pass(&deleting(&never)).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(
        world.kube.call_lines(),
        lines(&[&format!("PATCH {USERS}/jane")])
    );
    assert_eq!(world.kube.events(), lines(&["Orphaned"]));
}

#[tokio::test]
async fn orphan_keeps_the_remote_user() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({ "deletionPolicy": "Orphan" })).await;
    world.pass(&deleting(&done)).await;
    assert!(world.admin_calls().is_empty());
    assert_eq!(world.kube.events(), lines(&["Orphaned"]));
    assert_eq!(world.remote_users(), 1);
}

#[tokio::test]
async fn a_view_that_lags_behind_never_turns_our_user_into_an_adoption() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    // The snapshot misses our user (a write lost to a race, say): the pass tries to create it.
    world
        .ctx
        .snapshots
        .forget_user(super::PROJECT, "contoso", "jane@contoso.example");
    world.pass(&done).await;
    assert!(
        world
            .admin_calls()
            .contains(&"POST /projects/{projectId}/customers/{customerId}/users 409".to_string()),
        "{:?}",
        world.admin_calls()
    );
    let last = world.kube.status_writes().last().cloned().expect("status");
    assert_eq!(last["ownership"], "Created", "still ours, as recorded");
    assert_eq!(
        last["userId"],
        done.status
            .as_ref()
            .and_then(|s| s.user_id.clone())
            .unwrap_or_default()
    );
    assert!(!world.kube.events().contains(&"Adopted".into()));
    assert_eq!(world.remote_users(), 1);
}

#[tokio::test]
async fn a_failed_update_after_a_create_still_records_the_user_as_created() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    world.sim.sim.set_faults(crate::sim::Faults {
        fail_next: [(
            "PATCH /projects/{projectId}/customers/{customerId}/users/{userId}".to_string(),
            crate::sim::FailNext {
                count: 1,
                status: 503,
            },
        )]
        .into(),
        ..crate::sim::Faults::default()
    });
    let fresh = user(json!({ "enabled": false }), json!({}));
    world.user(&fresh);
    world.pass(&fresh).await;
    let last = world.kube.status_writes().last().cloned().expect("status");
    assert_eq!(last["conditions"][0]["reason"], "RemoteUnavailable");
    assert_eq!(last["ownership"], "Created");
    assert!(last["userId"].is_string(), "the id is on record: {last}");
    // The next pass keeps it as its own: one update, no adoption.
    let after = user(json!({ "enabled": false }), last);
    world.user(&after);
    world.reset_calls();
    world.pass(&after).await;
    assert!(!world.kube.events().contains(&"Adopted".into()));
    assert_eq!(
        world
            .kube
            .status_writes()
            .last()
            .map(|s| s["ownership"].clone()),
        Some(json!("Created"))
    );
}

#[tokio::test]
async fn a_create_is_one_event_and_a_refused_create_after_its_intent_is_still_told() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let fresh = user(json!({}), json!({}));
    world.user(&fresh);
    world.pass(&fresh).await;
    assert_eq!(world.kube.events(), vec!["Created".to_string()]);

    let mut world = World::new().await;
    ready_customer(&mut world).await;
    world.sim.sim.set_faults(crate::sim::Faults {
        fail_next: [(
            "POST /projects/{projectId}/customers/{customerId}/users".to_string(),
            crate::sim::FailNext {
                count: 1,
                status: 503,
            },
        )]
        .into(),
        ..crate::sim::Faults::default()
    });
    world.user(&fresh);
    world.pass(&fresh).await;
    let writes = world.kube.status_writes();
    assert_eq!(writes[0]["conditions"][0]["reason"], "Creating");
    assert_eq!(writes[1]["conditions"][0]["reason"], "RemoteUnavailable");
    assert_eq!(
        world.kube.events(),
        vec!["RemoteUnavailable".to_string()],
        "the intent is not told; the failure after it is"
    );
}
