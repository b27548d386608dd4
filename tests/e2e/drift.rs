//! Changes made in the Console are reverted at the next resync; a remote user deleted by hand is
//! created again.

use corti_operator::admin_api::{CustomerPatch, UserPatch};
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn console_changes_are_reverted_and_deleted_users_recreated() {
    let env = Env::start("e2e-drift").await;
    env.customer("c", json!({ "customerId": "drifty", "displayName": "Drifty", "credentialsSecretRef": { "name": CREDENTIALS } })).await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    env.user("u", json!({ "customerRef": { "name": "c" }, "email": "u@drifty.example", "firstName": "Una", "lastName": "User" })).await;
    let user = env
        .wait_ready(&env.users(), "u", "True", "Reconciled")
        .await;
    let first_id = user.status.and_then(|s| s.user_id).expect("user id");

    let (console, credentials) = env.console();
    console
        .update_customer(
            &credentials,
            "drifty",
            &CustomerPatch {
                display_name: Some("Edited in Console".into()),
                is_nfr: Some(true),
            },
        )
        .await
        .expect("console edit");
    console
        .update_user(
            &credentials,
            "drifty",
            &first_id,
            &UserPatch {
                enabled: Some(false),
                first_name: Some("Ona".into()),
                ..UserPatch::default()
            },
        )
        .await
        .expect("console edit");
    eventually("the Console edits reverted", WAIT, || async {
        let customer = env.remote_customer("drifty").map(|c| c.customer);
        let user = env
            .remote_users("drifty")
            .into_iter()
            .next()
            .map(|u| u.user);
        customer.is_some_and(|c| c.display_name == "Drifty" && !c.is_nfr)
            && user.is_some_and(|u| u.enabled && u.first_name == "Una")
    })
    .await;

    console
        .delete_user(&credentials, "drifty", &first_id)
        .await
        .expect("console delete");
    eventually("the deleted user recreated", WAIT, || async {
        env.remote_users("drifty")
            .iter()
            .any(|u| u.user.email == "u@drifty.example" && u.user.id.to_string() != first_id)
    })
    .await;
    eventually("status follows the new user id", WAIT, || async {
        let user = env.users().get("u").await.expect("get");
        user.status
            .and_then(|s| s.user_id)
            .is_some_and(|id| id != first_id)
    })
    .await;
    assert_eq!(env.remote_users("drifty").len(), 1, "one user, never two");
    env.finish().await;
}
