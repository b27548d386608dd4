//! The simulator's soak faults over real HTTP: an error rate on every endpoint, latency spikes,
//! lost responses at random, and the request log that tells two listeners' clients apart.

use std::time::{Duration, Instant};

use corti_operator::sim::{Role, SimConfig, Simulator};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const P: &str = "p1";
const ADMIN: (&str, &str) = ("admin@x.io", "admin-password-1234");

fn http() -> Client {
    // reqwest is built without a TLS crypto provider; plain http needs none, but the builder asks.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

async fn put_faults(base: &str, faults: Value) {
    let response = http()
        .put(format!("{base}/_sim/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{faults}");
}

async fn login(base: &str) -> StatusCode {
    http()
        .post(format!("{base}/auth/token"))
        .json(&json!({"email": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn token(base: &str) -> String {
    let body: Value = http()
        .post(format!("{base}/auth/token"))
        .json(&json!({"email": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn soak_faults_and_the_request_log() {
    let config = SimConfig::new()
        .project(P)
        .account(ADMIN.0, ADMIN.1, Role::Admin);
    let first = Simulator::bind(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let second = first
        .sim
        .serve("127.0.0.1:0".parse().unwrap(), Some("b"))
        .await
        .unwrap();
    let (a, b) = (first.base_url.as_str(), second.base_url.as_str());

    // Every endpoint fails at errorRateAll 1.0, the login too; a typo'd probability is refused.
    put_faults(a, json!({"errorRateAll": 1.0, "errorStatus": 502})).await;
    assert_eq!(login(a).await, StatusCode::BAD_GATEWAY);
    let refused = http()
        .put(format!("{a}/_sim/faults"))
        .json(&json!({"failAfterApplyRate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    // A certain spike delays a call by its ms; through either listener, same faults.
    put_faults(a, json!({"latencySpike": {"probability": 1.0, "ms": 300}})).await;
    let started = Instant::now();
    assert_eq!(login(b).await, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A certain lost response: the create is applied, the client sees 500.
    put_faults(a, json!({"failAfterApplyRate": 1.0})).await;
    let token = token(b).await;
    let created = http()
        .post(format!("{b}/projects/{P}/customers"))
        .bearer_auth(&token)
        .json(&json!({"displayName": "C", "customerId": "c1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let customers = &first.sim.snapshot().projects[0].customers;
    assert_eq!(customers.len(), 1, "the write happened");

    // The log: every call in order, labelled by the listener it came through.
    let log: Value = http()
        .get(format!("{a}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls: Vec<(Option<&str>, u64, u64)> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["client"].as_str(),
                c["status"].as_u64().unwrap(),
                c["atMicros"].as_u64().unwrap(),
            )
        })
        .collect();
    let shape: Vec<_> = calls.iter().map(|(c, s, _)| (*c, *s)).collect();
    assert_eq!(
        shape,
        [
            (None, 502),
            (Some("b"), 200),
            (Some("b"), 200),
            (Some("b"), 500)
        ]
    );
    assert!(calls.windows(2).all(|w| w[0].2 <= w[1].2), "in order");
    assert_eq!(first.sim.requests().len(), 4);
    first.sim.reset_calls();
    assert!(first.sim.requests().is_empty());
}
