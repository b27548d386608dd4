//! Credentials: a missing Secret, a wrong password, a rotation to another account, and tokens
//! that expire every few seconds, as the operator meets them at run time.

use std::time::Duration;

use corti_operator::sim::{Role, SimConfig};
use kube::api::ListParams;
use serde_json::json;

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, Env, condition_of, ready_is};

/// `CredentialsValid` of the Customer `name`: status, reason, message.
async fn credentials_valid(env: &Env, name: &str) -> (String, String, String) {
    let customer = env.customers().get(name).await.expect("get");
    condition_of(&customer, "CredentialsValid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn missing_then_created_and_wrong_then_fixed_credentials() {
    let env = Env::start("e2e-creds").await;
    env.customer(
        "late",
        json!({ "displayName": "Late", "credentialsSecretRef": { "name": "not-yet" } }),
    )
    .await;
    let waiting = env
        .wait_ready(&env.customers(), "late", "False", "CredentialsNotFound")
        .await;
    assert!(
        crate::harness::ready_message(&waiting).contains("not-yet"),
        "the message names the Secret"
    );
    let ns = env.namespace().to_string();
    let (status, reason, message) = condition_of(&waiting, "CredentialsValid");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "SecretNotFound")
    );
    assert!(message.contains(&format!("{ns}/not-yet")), "{message}");
    env.put_credentials("not-yet", ADMIN_EMAIL, ADMIN_PASSWORD)
        .await;
    let late = env
        .wait_ready(&env.customers(), "late", "True", "Reconciled")
        .await;
    let (status, reason, _) = condition_of(&late, "CredentialsValid");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "LoginSucceeded")
    );
    // Idle: several resyncs (every 3 s here) and not one status write.
    let before = late.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = env.customers().get("late").await.expect("get");
    assert_eq!(
        after.metadata.resource_version, before,
        "an idle resource is not rewritten"
    );

    env.put_credentials("wrong", ADMIN_EMAIL, "not-the-password-at-all")
        .await;
    env.customer(
        "locked",
        json!({ "displayName": "Locked", "credentialsSecretRef": { "name": "wrong" } }),
    )
    .await;
    let rejected = env
        .wait_ready(&env.customers(), "locked", "False", "CredentialsRejected")
        .await;
    assert!(
        !crate::harness::ready_message(&rejected).contains("not-the-password"),
        "never a secret in status"
    );
    // The refusal holds further logins back, and both conditions say until when, from the
    // first write on.
    let locked = rejected;
    assert!(
        crate::harness::ready_message(&locked).contains("held back until"),
        "{:?}",
        locked.status
    );
    let (status, reason, _) = condition_of(&locked, "CredentialsValid");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "LoginRefused")
    );
    let (_, _, message) = condition_of(&locked, "CredentialsValid");
    assert!(message.contains(&format!("Secret {ns}/wrong")), "{message}");
    let text = serde_json::to_string(&locked.status).expect("status");
    assert!(
        !text.contains(ADMIN_EMAIL) && !text.contains("not-the-password"),
        "{text}"
    );
    // Re-read every 2 s here during the 15 s pause, and not rewritten: the status names a
    // fixed instant, not a countdown.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = env.customers().get("locked").await.expect("get");
    assert_eq!(
        later.metadata.resource_version, locked.metadata.resource_version,
        "{:?}",
        later.status
    );
    env.put_credentials("wrong", ADMIN_EMAIL, ADMIN_PASSWORD)
        .await;
    env.wait_ready(&env.customers(), "locked", "True", "Reconciled")
        .await;
    let (status, reason, _) = credentials_valid(&env, "locked").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "LoginSucceeded")
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn rotation_to_another_account_takes_effect_without_a_restart() {
    let sim = SimConfig::new()
        .account("member@corti.test", "member-password-0123", Role::Member)
        .account("second@corti.test", "second-password-0123", Role::Owner);
    let env = Env::start_with("e2e-rotate", sim, &[]).await;
    env.customer("c", json!({ "displayName": "C", "credentialsSecretRef": { "name": crate::harness::CREDENTIALS } })).await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;

    // A member may read but not write: a write now fails with Forbidden, proving the new account is used.
    env.put_credentials(
        crate::harness::CREDENTIALS,
        "member@corti.test",
        "member-password-0123",
    )
    .await;
    env.patch(
        &env.customers(),
        "c",
        json!({ "spec": { "displayName": "C2" } }),
    )
    .await;
    let forbidden = env
        .wait_ready(&env.customers(), "c", "False", "Forbidden")
        .await;
    let (status, reason, message) = condition_of(&forbidden, "CredentialsValid");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Forbidden"));
    assert!(!message.contains("member@"), "{message}");

    env.put_credentials(
        crate::harness::CREDENTIALS,
        "second@corti.test",
        "second-password-0123",
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    assert_eq!(
        env.remote_customer("c")
            .expect("customer")
            .customer
            .display_name,
        "C2"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn tokens_that_expire_every_two_seconds_never_reach_a_status() {
    let env = Env::start_with(
        "e2e-token",
        SimConfig::new().token_ttl(Duration::from_secs(2)),
        &[],
    )
    .await;
    let creds = json!({ "name": crate::harness::CREDENTIALS });
    env.customer(
        "c",
        json!({ "displayName": "C", "credentialsSecretRef": creds }),
    )
    .await;
    for i in 0..3 {
        env.user(&format!("u{i}"), json!({ "customerRef": { "name": "c" }, "email": format!("u{i}@x.example"), "firstName": "U", "lastName": format!("{i}") }))
            .await;
    }
    // Over ~12 s (several token lifetimes, several resyncs, some edits), no status may ever say
    // the credentials were rejected.
    let started = tokio::time::Instant::now();
    let mut edits = 0;
    while started.elapsed() < Duration::from_secs(12) {
        for user in env
            .users()
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
        {
            assert!(
                !ready_is(&user, "False", "CredentialsRejected"),
                "a token expiry reached a status"
            );
        }
        let customer = env.customers().get("c").await.expect("get");
        assert!(
            !ready_is(&customer, "False", "CredentialsRejected"),
            "a token expiry reached a status"
        );
        if started.elapsed() > Duration::from_secs(3 * (edits + 1)) {
            edits += 1;
            env.patch(
                &env.users(),
                "u0",
                json!({ "spec": { "firstName": format!("U{edits}") } }),
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.wait_ready(&env.users(), "u0", "True", "Reconciled")
        .await;
    assert!(
        env.calls("POST", "/auth/token") >= 3,
        "tokens were really renewed"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn a_wrong_password_costs_one_failed_login_and_serves_nothing() {
    const USERS: usize = 10;
    let env = Env::start("e2e-lockout").await;
    // The right account makes the customer, so a snapshot of it exists in the operator.
    env.customer(
        "c",
        json!({ "customerId": "shared", "displayName": "Shared",
        "credentialsSecretRef": { "name": crate::harness::CREDENTIALS } }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    // Ten users of that customer that act with a Secret of the same project but a wrong password.
    env.put_credentials("wrong", ADMIN_EMAIL, "not-the-password-at-all")
        .await;
    for i in 0..USERS {
        env.user(
            &format!("u{i}"),
            json!({ "customerId": "shared", "credentialsSecretRef": { "name": "wrong" },
            "email": format!("u{i}@shared.example"), "firstName": "U", "lastName": "U" }),
        )
        .await;
    }
    for i in 0..USERS {
        let user = env
            .wait_ready(
                &env.users(),
                &format!("u{i}"),
                "False",
                "CredentialsRejected",
            )
            .await;
        let status = user.status.expect("status");
        assert_eq!(
            status.user_id, None,
            "nothing learnt from the Admin API without proven credentials"
        );
    }
    // Twenty seconds of ten resources rechecking every few seconds: the pause holds.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let failed = env.sim.sim.call_count("POST", "/auth/token", 401);
    println!("{USERS} users on one wrong password: {failed} failed logins in about 25 s");
    assert!(
        failed <= 2,
        "{failed} failed logins for one wrong password (a first, and one after the 15 s pause)"
    );
    assert!(env.remote_users("shared").is_empty(), "nothing was created");
    let message = crate::harness::ready_message(&env.users().get("u0").await.expect("u0"));
    assert!(
        message.contains("held back until"),
        "the status says logins are held back: {message}"
    );

    // A fixed Secret takes effect within seconds, without waiting out the pause.
    let fixed_at = std::time::Instant::now();
    env.put_credentials("wrong", ADMIN_EMAIL, ADMIN_PASSWORD)
        .await;
    for i in 0..USERS {
        env.wait_ready(&env.users(), &format!("u{i}"), "True", "Reconciled")
            .await;
    }
    let took = fixed_at.elapsed();
    println!("a fixed credentials Secret took effect for {USERS} users in {took:?}");
    assert!(
        took < Duration::from_secs(30),
        "a fixed Secret must not wait out the login pause: {took:?}"
    );
    assert_eq!(env.remote_users("shared").len(), USERS);
    env.finish().await;
}
