//! `CredentialsValid` through whole passes: a wrong password is refused once and then held back
//! with no status write while nothing changes, a fixed Secret logs in at once, and a pass that
//! never reaches the credentials says so. No status ever carries the account's email.

use serde_json::{Value, json};

use super::user_pass::user;
use super::{EMAIL, PASSWORD, PROJECT, World, object, secret, secret_path};
use crate::crd::Customer;

const WRONG: &str = "wrong-credentials";

fn customer(status: Value) -> Customer {
    object(
        "Customer",
        "c",
        json!({ "customerId": "contoso", "displayName": "Contoso", "credentialsSecretRef": { "name": WRONG } }),
        status,
    )
}

fn put_credentials(world: &World, password: &str) {
    let values = [
        ("email", EMAIL),
        ("password", password),
        ("projectId", PROJECT),
    ];
    world.kube.put(&secret_path(WRONG), secret(WRONG, &values));
}

/// The condition `type_` of a written status.
fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("{type_} in {status}"))
}

#[tokio::test]
async fn a_refused_login_is_held_back_without_status_writes_and_a_fix_logs_in_at_once() {
    let mut world = World::new().await;
    put_credentials(&world, "not-the-password-at-all");
    let fresh = customer(json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    let refused = world.last_status();
    assert_eq!(
        condition(&refused, "Ready")["reason"],
        "CredentialsRejected"
    );
    let valid = condition(&refused, "CredentialsValid");
    assert_eq!(
        (&valid["status"], &valid["reason"]),
        (&json!("False"), &json!("LoginRefused"))
    );
    let message = valid["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Secret tenant/wrong-credentials"),
        "{message}"
    );
    assert!(message.contains("held back until"), "{message}");
    let text = refused.to_string();
    assert!(
        !text.contains(EMAIL) && !text.contains("not-the-password"),
        "{text}"
    );

    // Passes during the pause: no login (it is held back), and nothing new to write.
    let held = customer(refused);
    world.customer(&held);
    world.reset_calls();
    world.pass(&held).await;
    world.pass(&held).await;
    assert!(
        world.kube.status_writes().is_empty(),
        "{:?}",
        world.kube.status_writes()
    );
    assert_eq!(world.sim.sim.call_count("POST", "/auth/token", 401), 0);

    // The Secret is fixed: its new password is tried at once.
    put_credentials(&world, PASSWORD);
    world.pass(&held).await;
    let fixed = world.last_status();
    assert_eq!(condition(&fixed, "Ready")["status"], "True");
    let valid = condition(&fixed, "CredentialsValid");
    assert_eq!(
        (&valid["status"], &valid["reason"]),
        (&json!("True"), &json!("LoginSucceeded"))
    );
}

#[tokio::test]
async fn a_user_waiting_for_its_customer_has_not_checked_its_credentials() {
    let mut world = World::new().await;
    let waiting = user(json!({}), json!({}));
    world.user(&waiting);
    world.pass(&waiting).await;
    let status = world.last_status();
    assert_eq!(condition(&status, "Ready")["reason"], "CustomerNotReady");
    let valid = condition(&status, "CredentialsValid");
    assert_eq!(
        (&valid["status"], &valid["reason"]),
        (&json!("Unknown"), &json!("NotChecked"))
    );
    assert!(world.admin_calls().is_empty());
}

#[tokio::test]
async fn a_missing_secret_is_named_and_no_login_is_tried() {
    let mut world = World::new().await;
    let fresh = customer(json!({}));
    world.customer(&fresh);
    world.pass(&fresh).await;
    let status = world.last_status();
    let valid = condition(&status, "CredentialsValid");
    assert_eq!(
        (&valid["status"], &valid["reason"]),
        (&json!("False"), &json!("SecretNotFound"))
    );
    assert_eq!(
        valid["message"],
        "credentials Secret tenant/wrong-credentials not found"
    );
    assert_eq!(world.sim.sim.call_count("POST", "/auth/token", 200), 0);
}

#[tokio::test]
async fn passes_that_ask_together_share_a_read_and_none_uses_one_sent_before_it_asked() {
    let world = World::new().await;
    put_credentials(&world, "first-password-0123456789");
    let secrets = &world.ctx.secrets;
    let asks = (0..5).map(|_| secrets.account(super::NS, Some(WRONG)));
    for account in futures::future::join_all(asks).await {
        let account = account.expect("an account");
        assert_eq!(
            account.credentials.password.expose(),
            "first-password-0123456789"
        );
    }
    let gets = |world: &World| {
        world
            .kube
            .call_lines()
            .iter()
            .filter(|line| *line == &format!("GET {}", secret_path(WRONG)))
            .count()
    };
    assert_eq!(
        gets(&world),
        2,
        "the first read, then one for all who asked while it was in flight"
    );

    // Changed before the next pass asks: that pass reads it, not the earlier read.
    put_credentials(&world, "second-password-0123456789");
    let account = secrets
        .account(super::NS, Some(WRONG))
        .await
        .expect("an account");
    assert_eq!(
        account.credentials.password.expose(),
        "second-password-0123456789"
    );
    assert_eq!(gets(&world), 3);
}
