//! `/metrics` of a running operator: every family an operator of it relies on is there, with sane
//! values (the token's expiry among them), once a Customer and a CustomerUser are Ready and a
//! third resource's credentials are refused; no label carries an email.

use std::collections::BTreeMap;

use serde_json::json;

use crate::harness::{ADMIN_EMAIL, CREDENTIALS, Env, WAIT};
use crate::support::eventually;

/// One sample of the text exposition: its labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of the text format (label values here never hold `,` or `"`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect();
            Some(Sample {
                name: name.to_string(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The value of the series `name` whose labels include `labels` (summed when several match).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

async fn scrape(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    match reqwest::get(&url).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn metrics_show_resources_calls_logins_and_the_build() {
    let port = free_port();
    let health = format!("127.0.0.1:{port}");
    let env = Env::start_with(
        "e2e-metrics",
        corti_operator::sim::SimConfig::new(),
        &["--health-addr", &health],
    )
    .await;
    env.put_credentials("wrong-credentials", ADMIN_EMAIL, "not-the-password-at-all")
        .await;
    env.customer("c", json!({ "customerId": "metered", "displayName": "Metered", "credentialsSecretRef": { "name": CREDENTIALS } })).await;
    env.customer("refused", json!({ "customerId": "refused", "displayName": "Refused", "credentialsSecretRef": { "name": "wrong-credentials" } })).await;
    env.user("u", json!({ "customerRef": { "name": "c" }, "email": "metered.user@metered.example", "firstName": "Meter", "lastName": "Ed" })).await;
    env.wait_ready(&env.customers(), "c", "True", "Reconciled")
        .await;
    env.wait_ready(&env.users(), "u", "True", "Reconciled")
        .await;
    env.wait_ready(&env.customers(), "refused", "False", "CredentialsRejected")
        .await;
    // Passes ran, so the caches are synced: the readiness probe must say so (it once never did,
    // which would have kept the chart's Pod out of Ready forever).
    let readyz = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .expect("/readyz answers");
    assert_eq!(
        readyz.status().as_u16(),
        200,
        "/readyz once the caches are synced"
    );

    let (ns, text) = (
        env.namespace().to_string(),
        std::cell::RefCell::new(String::new()),
    );
    let resources = "corti_operator_resources";
    eventually("the gauges caught up with the statuses", WAIT, || async {
        *text.borrow_mut() = scrape(port).await;
        let samples = parse(&text.borrow());
        value(
            &samples,
            resources,
            &[("kind", "Customer"), ("reason", "Reconciled")],
        ) == Some(1.0)
            && value(
                &samples,
                resources,
                &[("kind", "CustomerUser"), ("reason", "Reconciled")],
            ) == Some(1.0)
            && value(
                &samples,
                resources,
                &[("kind", "Customer"), ("reason", "CredentialsRejected")],
            ) == Some(1.0)
    })
    .await;
    let text = text.into_inner();
    let samples = parse(&text);
    let get = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);

    // Every resource counted once: the gauges sum to the resources there are.
    assert_eq!(get(resources, &[]), Some(3.0), "{text}");
    assert_eq!(
        get(
            "corti_operator_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0),
        "{text}"
    );
    for kind in ["Customer", "CustomerUser"] {
        let in_flight = get("corti_operator_reconciles_in_flight", &[("kind", kind)]);
        assert!(
            in_flight.is_some_and(|v| (0.0..=4.0).contains(&v)),
            "{kind} in flight {in_flight:?}: {text}"
        );
        assert!(get("corti_operator_reconciles_total", &[("kind", kind)]).unwrap_or(0.0) >= 1.0);
    }
    let calls = "corti_operator_admin_api_calls_total";
    assert_eq!(
        get(calls, &[("endpoint", "CreateCustomer"), ("status", "201")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        get(calls, &[("endpoint", "CreateUser"), ("status", "201")]),
        Some(1.0)
    );
    assert!(get(calls, &[("endpoint", "Login"), ("status", "401")]).unwrap_or(0.0) >= 1.0);
    let listed = get(
        "corti_operator_admin_api_call_duration_seconds_count",
        &[("endpoint", "ListCustomers"), ("status", "200")],
    );
    assert!(listed.unwrap_or(0.0) >= 1.0, "{text}");
    // Refused logins count against the Secret they were read from; the good one has none.
    let failed = "corti_operator_credentials_failed_logins_total";
    let wrong = format!("{ns}/wrong-credentials");
    assert!(
        get(failed, &[("secret", &wrong)]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert_eq!(
        get(failed, &[("secret", &format!("{ns}/{CREDENTIALS}"))]),
        None
    );
    assert_eq!(
        get("corti_operator_credentials_refused", &[("secret", &wrong)]),
        Some(1.0)
    );
    // The token of the good Secret expires an hour on (the simulator's default lifetime); the
    // refused one never got a token.
    let expiry = "corti_operator_credentials_token_expiry_timestamp_seconds";
    let good = get(expiry, &[("secret", &format!("{ns}/{CREDENTIALS}"))]).unwrap_or(0.0);
    #[allow(clippy::cast_precision_loss)] // a Unix time in seconds fits an f64 exactly
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!(
        (now + 3000.0..=now + 3600.0).contains(&good),
        "token expiry {good} at {now}: {text}"
    );
    assert_eq!(get(expiry, &[("secret", &wrong)]), None, "{text}");
    assert!(
        !text.contains(ADMIN_EMAIL) && !text.contains("metered.user"),
        "no email in metrics: {text}"
    );

    // A released resource is no longer counted.
    env.delete(&env.customers(), "refused").await;
    env.wait_gone(&env.customers(), "refused").await;
    eventually("the released resource left the gauge", WAIT, || async {
        let samples = parse(&scrape(port).await);
        value(
            &samples,
            resources,
            &[("kind", "Customer"), ("reason", "CredentialsRejected")],
        ) == Some(0.0)
    })
    .await;
    env.finish().await;
}
