//! Invitation state on the real control plane. Seven days cannot pass in a test; in the
//! simulator they can: its control endpoint sets a user's `createdAt` back, as the Admin API
//! would show a user made eight days ago, and marks the person's email verified. A created user
//! left unverified then gets one `InvitationExpired` Warning, not one per pass and not again
//! after a restart; a verified user and an adopted one get none. `Verified` shows in
//! `kubectl get`.

use std::time::Duration;

use corti_operator::admin_api::NewUser;
use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use serde_json::json;

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::{control_plane, eventually};

/// How many times `InvitationExpired` was said of `name`: Events, each with its series count.
async fn invitation_warnings(env: &Env, name: &str) -> i32 {
    let events: kube::Api<Event> = kube::Api::namespaced(env.client.clone(), env.namespace());
    let listed = events.list(&ListParams::default()).await.expect("Events");
    listed
        .items
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter(|e| e.reason.as_deref() == Some("InvitationExpired"))
        .map(|e| {
            assert_eq!(e.type_.as_deref(), Some("Warning"));
            assert!(
                !e.note.as_deref().unwrap_or_default().contains('@'),
                "{e:?}"
            );
            e.series.as_ref().map_or(1, |s| s.count)
        })
        .sum()
}

/// What the simulator's control endpoint is told happened to the user of resource `name`.
async fn happened(env: &Env, name: &str, facts: serde_json::Value) {
    let user = env.users().get(name).await.expect("get");
    let id = user.status.and_then(|s| s.user_id).expect("a user id");
    let url = format!(
        "{}/_sim/projects/{}/customers/clinic/users/{id}",
        env.sim.base_url, env.project
    );
    let response = reqwest::Client::new()
        .patch(url)
        .json(&facts)
        .send()
        .await
        .expect("the control endpoint answers");
    assert!(response.status().is_success(), "{response:?}");
}

/// The `Verified` printer column of each user, as `kubectl get` shows it.
fn verified_column(env: &Env) -> Vec<(String, String)> {
    let listed = control_plane().kubectl(["get", "cuser", "-n", env.namespace()]);
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let at = header.find("VERIFIED").expect("a VERIFIED column");
    lines
        .map(|line| {
            let name = line.split_whitespace().next().unwrap_or_default();
            let value = line.get(at..).unwrap_or_default();
            let value = value.split_whitespace().next().unwrap_or_default();
            (name.to_string(), value.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn an_unverified_created_user_is_warned_once_after_the_invitation_window() {
    let mut env = Env::start("e2e-invite").await;
    env.customer(
        "c",
        json!({ "customerId": "clinic", "displayName": "Clinic",
        "credentialsSecretRef": { "name": CREDENTIALS } }),
    )
    .await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    // Made in the Console, then adopted: when it was invited (again) is not known.
    let (console, credentials) = env.console();
    let body = NewUser {
        email: "adopted@clinic.example".into(),
        first_name: "Ad".into(),
        last_name: "Opted".into(),
        password: None,
    };
    console
        .create_user(&credentials, "clinic", &body)
        .await
        .expect("console creates the user");
    for name in ["late", "prompt", "adopted"] {
        env.user(
            name,
            json!({ "customerRef": { "name": "c" }, "email": format!("{name}@clinic.example"),
            "firstName": "In", "lastName": "Vited" }),
        )
        .await;
    }
    for name in ["late", "prompt", "adopted"] {
        env.wait_ready(&env.users(), name, "True", "Reconciled")
            .await;
    }
    let mut column = verified_column(&env);
    column.sort();
    assert_eq!(
        column,
        [("adopted", "false"), ("late", "false"), ("prompt", "false")]
            .map(|(n, v)| (n.to_string(), v.to_string()))
    );

    // Eight days pass; one person accepted the invitation meanwhile.
    let eight_days_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(8 * 24);
    let set_back = json!({ "createdAt": eight_days_ago.to_string() });
    happened(&env, "late", set_back.clone()).await;
    happened(&env, "adopted", set_back).await;
    let verified = json!({ "createdAt": eight_days_ago.to_string(), "emailVerified": true });
    happened(&env, "prompt", verified).await;
    eventually("the late user is warned", WAIT, || async {
        let late = env.users().get("late").await.expect("get");
        late.status.is_some_and(|s| s.invitation_overdue)
            && invitation_warnings(&env, "late").await == 1
    })
    .await;
    eventually("the verified user is seen verified", WAIT, || async {
        let prompt = env.users().get("prompt").await.expect("get");
        prompt
            .status
            .is_some_and(|s| s.email_verified == Some(true))
    })
    .await;
    let column = verified_column(&env);
    assert!(
        column.contains(&("prompt".into(), "true".into()))
            && column.contains(&("late".into(), "false".into())),
        "{column:?}"
    );

    // Several resyncs (every 3 s here), then a restart: still one warning, and no rewrite.
    let before = env.users().get("late").await.expect("get");
    tokio::time::sleep(Duration::from_secs(10)).await;
    env.kill_operator().await;
    env.start_operator();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(invitation_warnings(&env, "late").await, 1, "said once");
    let after = env.users().get("late").await.expect("get");
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "{:?}",
        after.status
    );
    for quiet in ["prompt", "adopted"] {
        assert_eq!(invitation_warnings(&env, quiet).await, 0, "{quiet}");
        let user = env.users().get(quiet).await.expect("get");
        assert!(
            !user.status.is_some_and(|s| s.invitation_overdue),
            "{quiet}"
        );
    }
    env.finish().await;
}
