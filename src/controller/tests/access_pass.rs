//! A clinician's access lifecycle, with the exact calls each pass makes: `accessExpiresAt` and
//! `deletionPolicy: Disable`. The adversary: a user enabled in the spec whose access has ended,
//! one re-enabled in the Console after expiry, and a Disable deletion of what it does not own.

use serde_json::json;

use super::user_pass::{created, ready_customer, user};
use super::{World, deleting};

const PATCH_USER: &str = "PATCH /projects/{projectId}/customers/{customerId}/users/{userId} 200";

fn remote_enabled(world: &World) -> Vec<bool> {
    let snapshot = world.sim.sim.snapshot();
    snapshot.projects[0].customers[0]
        .users
        .iter()
        .map(|u| u.user.enabled)
        .collect()
}

fn rfc3339_in(seconds: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    at.to_string()
}

/// The delay of a requeue, read off its Debug form (`Action` keeps it private).
fn requeue_secs(action: &kube::runtime::controller::Action) -> f64 {
    let shown = format!("{action:?}");
    let start = shown.find("Some(").map(|i| i + 5).expect(&shown);
    let rest = &shown[start..];
    let end = rest.find("s)").expect(&shown);
    let number = &rest[..end];
    match number.strip_suffix('m') {
        Some(ms) => ms.parse::<f64>().unwrap() / 1000.0,
        None => number.parse().unwrap(),
    }
}

#[tokio::test]
async fn an_ended_access_disables_the_user_once_and_keeps_it_disabled() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    let expired = user(
        json!({ "accessExpiresAt": "2026-01-01T00:00:00Z" }),
        done.status
            .as_ref()
            .map(|s| serde_json::to_value(s).unwrap())
            .unwrap(),
    );
    world.user(&expired);
    world.pass(&expired).await;
    assert_eq!(world.admin_calls(), vec![PATCH_USER]);
    assert_eq!(remote_enabled(&world), vec![false]);
    assert!(world.kube.events().contains(&"AccessExpired".to_string()));
    let status = world.last_status();
    assert_eq!(status["accessExpired"], true);
    let message = status["conditions"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("access ended at 2026-01-01T00:00:00Z"),
        "{message}"
    );

    // Re-enabled in the Console: disabled again at the next look.
    let id = status["userId"].as_str().unwrap().to_string();
    world.console_sets_enabled(&id, true).await;
    let expired = user(
        json!({ "accessExpiresAt": "2026-01-01T00:00:00Z" }),
        status.clone(),
    );
    world.user(&expired);
    world.reset_calls();
    world.pass(&expired).await;
    assert!(world.admin_calls().contains(&PATCH_USER.to_string()));
    assert_eq!(remote_enabled(&world), vec![false]);

    // A later date: enabled again (spec.enabled is true), and no longer reported as ended.
    // (That pass changed nothing in status: the record is as before.)
    let extended = user(json!({ "accessExpiresAt": rfc3339_in(3600) }), status);
    world.user(&extended);
    world.reset_calls();
    world.pass(&extended).await;
    assert_eq!(world.admin_calls(), vec![PATCH_USER]);
    assert_eq!(remote_enabled(&world), vec![true]);
    assert!(world.last_status().get("accessExpired").is_none());
}

#[tokio::test]
async fn the_pass_before_expiry_wakes_at_the_expiry_instant() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let ending = created(&mut world, json!({ "accessExpiresAt": rfc3339_in(10) })).await;
    let action = world.pass(&ending).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    let secs = requeue_secs(&action);
    assert!(secs > 9.0 && secs <= 11.0, "{action:?}");
    assert_eq!(remote_enabled(&world), vec![true]);
}

#[tokio::test]
async fn disable_on_deletion_keeps_the_owned_user_disabled_and_never_deletes() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({ "deletionPolicy": "Disable" })).await;
    world.pass(&deleting(&done)).await;
    assert_eq!(world.admin_calls(), vec![PATCH_USER], "no DELETE");
    assert_eq!(remote_enabled(&world), vec![false], "kept, disabled");
    assert!(world.kube.events().contains(&"Disabled".to_string()));
    assert!(
        world
            .kube
            .call_lines()
            .iter()
            .any(|l| l.starts_with("PATCH") && l.ends_with("/customerusers/jane")),
        "released: {:?}",
        world.kube.call_lines()
    );
}

#[tokio::test]
async fn disable_on_deletion_touches_nothing_it_does_not_own() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    // A user made in the Console; the resource never adopted it (no ownership on record).
    let (console, credentials) = world.console();
    let body = crate::admin_api::NewUser {
        email: "jane@contoso.example".into(),
        first_name: "Jane".into(),
        last_name: "Smith".into(),
        password: None,
    };
    console
        .create_user(&credentials, "contoso", &body)
        .await
        .expect("console create");
    world.reset_calls();
    let stranger = user(json!({ "deletionPolicy": "Disable" }), json!({}));
    world.user(&stranger);
    world.pass(&deleting(&stranger)).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(remote_enabled(&world), vec![true]);

    // Observed and owned on record: still nothing.
    let done = created(&mut world, json!({ "deletionPolicy": "Disable" })).await;
    let mut observed = done.clone();
    observed.spec.management_policy = crate::crd::ManagementPolicy::Observe;
    world.pass(&deleting(&observed)).await;
    assert!(world.admin_calls().is_empty(), "{:?}", world.admin_calls());
    assert_eq!(remote_enabled(&world), vec![true]);
}

#[tokio::test]
async fn a_created_user_unverified_past_the_invitation_window_gets_one_warning() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    // Eight days pass for the Admin API (the status's own record of the create stays recent:
    // the service's createdAt is what counts).
    eight_days_pass(&world, &done, None);
    world.pass(&done).await;
    assert_eq!(
        world.admin_calls(),
        vec!["GET /projects/{projectId}/customers/{customerId}/users 200"]
    );
    assert_eq!(world.kube.events(), vec!["InvitationExpired".to_string()]);
    let status = world.last_status();
    assert_eq!(status["invitationOverdue"], true);

    let again = user(json!({}), status);
    world.user(&again);
    world.reset_calls();
    world.pass(&again).await;
    assert!(world.kube.events().is_empty(), "once, not every pass");
    assert!(world.kube.status_writes().is_empty());
}

/// The Admin API's `createdAt` of `user` set eight days back (and `verified`, if given); the
/// operator's snapshot is dropped so its next pass sees it.
fn eight_days_pass(world: &World, user: &crate::crd::CustomerUser, verified: Option<bool>) {
    let id = user.status.as_ref().and_then(|s| s.user_id.clone());
    let eight_days_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(8 * 24);
    let facts = crate::sim::UserFacts {
        created_at: Some(eight_days_ago),
        email_verified: verified,
    };
    world
        .sim
        .sim
        .set_user_facts(super::PROJECT, "contoso", &id.expect("id"), facts)
        .expect("set back");
    world
        .ctx
        .snapshots
        .invalidate_users(super::PROJECT, "contoso");
}

#[tokio::test]
async fn a_verified_user_past_the_invitation_window_gets_no_warning() {
    let mut world = World::new().await;
    ready_customer(&mut world).await;
    let done = created(&mut world, json!({})).await;
    eight_days_pass(&world, &done, Some(true));
    world.pass(&done).await;
    assert!(world.kube.events().is_empty(), "{:?}", world.kube.events());
    let status = world.last_status();
    assert_eq!(
        (&status["emailVerified"], status.get("invitationOverdue")),
        (&json!(true), None)
    );
}
