//! The Admin API client (`corti_operator::admin_api`) against the in-process simulator, over real
//! HTTP: every endpoint (checked remotely through `snapshot()`), every error class, delete
//! tolerances, token expiry and refresh, credential rotation, both pagination styles, one login
//! shared by concurrent callers, and secrets that never reach `Debug` or error messages.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corti_operator::admin_api::{
    AdminClient, ApiError, BuildError, ClientConfig, Credentials, CustomerPatch, Deleted,
    ErrorClass, NewCustomer, NewUser, Password, Token, UserPatch,
};
use corti_operator::metrics::Metrics;
use corti_operator::sim::{
    FailNext, Faults, PaginationStyle, RateLimit, Role, RunningSim, SimConfig, SimRegion,
    Simulator, StoredCustomer, password_fingerprint,
};

const P: &str = "p1";
const PLAIN: &str = "plain";
const ADMIN: (&str, &str) = ("admin@x.io", "admin-password-1234");
const MEMBER: (&str, &str) = ("member@x.io", "member-password-1234");

// Path templates, as the simulator's counters name them.
const TOKEN: &str = "/auth/token";
const CUSTOMERS: &str = "/projects/{projectId}/customers";
const CUSTOMER: &str = "/projects/{projectId}/customers/{customerId}";
const USERS: &str = "/projects/{projectId}/customers/{customerId}/users";
const USER: &str = "/projects/{projectId}/customers/{customerId}/users/{userId}";

fn config() -> SimConfig {
    SimConfig::new()
        .project(P)
        .project("p2")
        .project_without_embedded(PLAIN)
        .account(ADMIN.0, ADMIN.1, Role::Admin)
        .account(MEMBER.0, MEMBER.1, Role::Member)
}

async fn start(config: SimConfig) -> RunningSim {
    Simulator::bind(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client_with(config: &ClientConfig) -> AdminClient {
    AdminClient::new(config, Arc::new(Metrics::default())).unwrap()
}

/// A cold client (no token yet) of `sim` with the default configuration.
fn client(sim: &RunningSim) -> AdminClient {
    client_with(&ClientConfig::new(&sim.base_url))
}

fn creds((email, password): (&str, &str), project: &str) -> Credentials {
    Credentials {
        email: email.into(),
        password: Password::new(password),
        project_id: project.into(),
    }
}

fn admin() -> Credentials {
    creds(ADMIN, P)
}

fn new_customer(id: &str) -> NewCustomer {
    NewCustomer {
        customer_id: id.into(),
        display_name: format!("Customer {id}"),
        tenant_name: None,
        region: None,
        is_nfr: false,
    }
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: "Jane".into(),
        last_name: "Doe".into(),
        password: None,
    }
}

/// Successful logins so far.
fn logins(sim: &RunningSim) -> u64 {
    sim.sim.call_count("POST", TOKEN, 200)
}

/// The customers of project `P` as the simulator holds them.
fn remote(sim: &RunningSim) -> Vec<StoredCustomer> {
    sim.sim
        .snapshot()
        .projects
        .into_iter()
        .find(|p| p.project_id == P)
        .unwrap()
        .customers
}

fn remote_customer(sim: &RunningSim, id: &str) -> Option<StoredCustomer> {
    remote(sim)
        .into_iter()
        .find(|c| c.customer.customer_id == id)
}

fn remote_ids(sim: &RunningSim) -> Vec<String> {
    remote(sim)
        .into_iter()
        .map(|c| c.customer.customer_id)
        .collect()
}

fn fail_next(endpoint: &str, count: u32, status: u16) -> Faults {
    Faults {
        fail_next: BTreeMap::from([(endpoint.to_owned(), FailNext { count, status })]),
        ..Faults::default()
    }
}

fn assert_class<T: std::fmt::Debug>(result: Result<T, ApiError>, class: ErrorClass) -> ApiError {
    let error = result.unwrap_err();
    assert_eq!(error.class(), class, "{error:?}");
    error
}

/// `Probe::<T>::DISPLAY` is true when `T: Display`: the inherent constant exists only then, and
/// the trait's `false` is the fallback.
struct Probe<T>(std::marker::PhantomData<T>);
trait NoDisplay {
    const DISPLAY: bool = false;
}
impl<T> NoDisplay for Probe<T> {}
impl<T: std::fmt::Display> Probe<T> {
    const DISPLAY: bool = true;
}

#[tokio::test]
async fn every_endpoint_round_trips_and_the_remote_state_follows() {
    let sim = start(config()).await;
    let client = client(&sim);
    client.login(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 1);

    // Customers: create with every field, and with the server's defaults.
    let acme = client
        .create_customer(
            &admin(),
            &NewCustomer {
                customer_id: "acme.eu-1".into(),
                display_name: "Acme Clinic".into(),
                tenant_name: Some("acme".into()),
                region: Some("us".into()),
                is_nfr: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(acme.customer_id, "acme.eu-1");
    assert_eq!(acme.display_name, "Acme Clinic");
    assert_eq!(
        (acme.tenant_name.as_deref(), acme.region.as_deref()),
        (Some("acme"), Some("us"))
    );
    assert!(acme.is_nfr && acme.created_at.is_some());
    let stored = remote_customer(&sim, "acme.eu-1").unwrap().customer;
    assert_eq!(stored.display_name, "Acme Clinic");
    assert_eq!(
        (stored.tenant_name.as_str(), stored.region),
        ("acme", SimRegion::Us)
    );
    assert!(stored.is_nfr);

    client
        .create_customer(&admin(), &new_customer("beta"))
        .await
        .unwrap();
    let stored = remote_customer(&sim, "beta").unwrap().customer;
    assert_eq!(
        (stored.tenant_name.as_str(), stored.region, stored.is_nfr),
        ("base", SimRegion::Eu, false)
    );

    let listed = client.list_customers(&admin()).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], acme);
    assert_eq!(listed[1].customer_id, "beta");

    let patch = CustomerPatch {
        display_name: Some("Beta Care".into()),
        is_nfr: Some(true),
    };
    let updated = client
        .update_customer(&admin(), "beta", &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.display_name.as_str(), updated.is_nfr),
        ("Beta Care", true)
    );
    let stored = remote_customer(&sim, "beta").unwrap().customer;
    assert_eq!(
        (stored.display_name.as_str(), stored.is_nfr),
        ("Beta Care", true)
    );

    // Users: one with a password, one without.
    let jane = client
        .create_user(
            &admin(),
            "acme.eu-1",
            &NewUser {
                password: Some(Password::new("jane-password-123456")),
                ..new_user("jane@acme.io")
            },
        )
        .await
        .unwrap();
    assert_eq!(jane.email, "jane@acme.io");
    assert!(jane.enabled && !jane.email_verified);
    let john = client
        .create_user(
            &admin(),
            "acme.eu-1",
            &NewUser {
                first_name: "John".into(),
                ..new_user("john@acme.io")
            },
        )
        .await
        .unwrap();
    let users = remote_customer(&sim, "acme.eu-1").unwrap().users;
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].user.id.to_string(), jane.id);
    assert_eq!(
        (
            users[0].user.first_name.as_str(),
            users[0].user.last_name.as_str()
        ),
        ("Jane", "Doe")
    );
    assert_eq!(
        users[0].password_fingerprint.as_deref(),
        Some(password_fingerprint("jane-password-123456").as_str())
    );
    assert_eq!(users[1].user.id.to_string(), john.id);
    assert!(!users[1].password_set);

    let listed = client.list_users(&admin(), "acme.eu-1").await.unwrap();
    assert_eq!(listed, vec![jane.clone(), john.clone()]);

    let patch = UserPatch {
        last_name: Some("Smith".into()),
        enabled: Some(false),
        password: Some(Password::new("jane-rotated-password-1")),
        ..UserPatch::default()
    };
    let updated = client
        .update_user(&admin(), "acme.eu-1", &jane.id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.last_name.as_str(), updated.enabled),
        ("Smith", false)
    );
    let stored = &remote_customer(&sim, "acme.eu-1").unwrap().users[0];
    assert_eq!(
        (stored.user.last_name.as_str(), stored.user.enabled),
        ("Smith", false)
    );
    assert_eq!(
        stored.password_fingerprint.as_deref(),
        Some(password_fingerprint("jane-rotated-password-1").as_str())
    );

    // Deletes.
    let deleted = client.delete_user(&admin(), "acme.eu-1", &john.id).await;
    assert_eq!(deleted.unwrap(), Deleted::Removed);
    let users = remote_customer(&sim, "acme.eu-1").unwrap().users;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user.id.to_string(), jane.id);
    let deleted = client.delete_customer(&admin(), "beta").await;
    assert_eq!(deleted.unwrap(), Deleted::Removed);
    assert_eq!(remote_ids(&sim), ["acme.eu-1"]);
    let deleted = client.delete_customer(&admin(), "acme.eu-1").await;
    assert_eq!(deleted.unwrap(), Deleted::Removed);
    assert!(remote(&sim).is_empty());

    // One call per operation, all on the first token.
    let expected = [
        ("POST", TOKEN, 200, 1),
        ("GET", CUSTOMERS, 200, 1),
        ("POST", CUSTOMERS, 201, 2),
        ("PATCH", CUSTOMER, 200, 1),
        ("DELETE", CUSTOMER, 204, 2),
        ("GET", USERS, 200, 1),
        ("POST", USERS, 201, 2),
        ("PATCH", USER, 200, 1),
        ("DELETE", USER, 204, 1),
    ];
    for (method, path, status, count) in expected {
        assert_eq!(
            sim.sim.call_count(method, path, status),
            count,
            "{method} {path} {status}"
        );
    }
    let total: u64 = sim.sim.calls().iter().map(|c| c.count).sum();
    assert_eq!(total, 12, "{:?}", sim.sim.calls());
}

#[tokio::test]
async fn the_base_url_may_end_in_a_slash_and_must_be_http() {
    let sim = start(config()).await;
    let client = client_with(&ClientConfig::new(format!("{}/", sim.base_url)));
    client
        .create_customer(&admin(), &new_customer("acme"))
        .await
        .unwrap();
    assert_eq!(remote_ids(&sim), ["acme"]);

    for bad in ["ftp://x.io/api", "not a url", "/relative/path"] {
        let built = AdminClient::new(&ClientConfig::new(bad), Arc::new(Metrics::default()));
        assert!(matches!(built, Err(BuildError::BaseUrl(_))), "{bad}");
    }
}

#[tokio::test]
async fn deleting_what_is_already_gone_succeeds_as_already_gone() {
    let sim = start(config()).await;
    let client = client(&sim);
    client
        .create_customer(&admin(), &new_customer("acme"))
        .await
        .unwrap();
    let jane = client
        .create_user(&admin(), "acme", &new_user("jane@acme.io"))
        .await
        .unwrap();

    let admin = self::admin();
    let delete_jane = || client.delete_user(&admin, "acme", &jane.id);
    assert_eq!(delete_jane().await.unwrap(), Deleted::Removed);
    assert_eq!(delete_jane().await.unwrap(), Deleted::AlreadyGone);
    let never_was = uuid::Uuid::new_v4().to_string();
    let deleted = client.delete_user(&admin, "acme", &never_was).await;
    assert_eq!(deleted.unwrap(), Deleted::AlreadyGone);

    assert_eq!(
        client.delete_customer(&admin, "acme").await.unwrap(),
        Deleted::Removed
    );
    assert_eq!(
        client.delete_customer(&admin, "acme").await.unwrap(),
        Deleted::AlreadyGone
    );
    // A user whose customer is gone is gone with it.
    assert_eq!(delete_jane().await.unwrap(), Deleted::AlreadyGone);

    assert!(remote(&sim).is_empty());
    assert_eq!(sim.sim.call_count("DELETE", USER, 404), 3);
    assert_eq!(sim.sim.call_count("DELETE", CUSTOMER, 404), 1);
}

#[tokio::test]
async fn server_trouble_is_transient_and_a_lost_reply_can_be_adopted() {
    let sim = start(config()).await;
    let client = client(&sim);
    client.login(&admin()).await.unwrap();

    sim.sim
        .set_faults(fail_next(&format!("GET {CUSTOMERS}"), 1, 503));
    let error = assert_class(client.list_customers(&admin()).await, ErrorClass::Transient);
    assert!(
        matches!(&error, ApiError::Unavailable { status: 503, message } if message.contains("simulated failure")),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), None);
    assert!(client.list_customers(&admin()).await.unwrap().is_empty());

    // Every create fails with 502 and nothing is written.
    sim.sim.set_faults(Faults {
        error_rate: BTreeMap::from([(format!("POST {CUSTOMERS}"), 1.0)]),
        error_status: 502,
        ..Faults::default()
    });
    let error = assert_class(
        client
            .create_customer(&admin(), &new_customer("acme"))
            .await,
        ErrorClass::Transient,
    );
    assert!(
        matches!(error, ApiError::Unavailable { status: 502, .. }),
        "{error:?}"
    );
    assert!(remote(&sim).is_empty());

    // The create is applied, then the reply is lost: the retry conflicts, and the object is there.
    sim.sim.set_faults(Faults {
        fail_after_apply: BTreeMap::from([(format!("POST {CUSTOMERS}"), 1)]),
        ..Faults::default()
    });
    assert_class(
        client
            .create_customer(&admin(), &new_customer("acme"))
            .await,
        ErrorClass::Transient,
    );
    assert_eq!(remote_ids(&sim), ["acme"]);
    assert_class(
        client
            .create_customer(&admin(), &new_customer("acme"))
            .await,
        ErrorClass::Conflict,
    );
    let listed = client.list_customers(&admin()).await.unwrap();
    assert_eq!(listed.len(), 1);

    // A login the server cannot serve is trouble, not a credentials problem.
    sim.sim
        .set_faults(fail_next(&format!("POST {TOKEN}"), 1, 503));
    let cold = self::client(&sim);
    let error = assert_class(cold.login(&admin()).await, ErrorClass::Transient);
    assert!(
        matches!(error, ApiError::Unavailable { status: 503, .. }),
        "{error:?}"
    );
    cold.login(&admin()).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_service_is_transient() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client_with(&ClientConfig::new(format!("http://127.0.0.1:{port}")));
    let error = assert_class(client.list_customers(&admin()).await, ErrorClass::Transient);
    assert!(matches!(error, ApiError::Network { .. }), "{error:?}");
    // The transport's error is kept as the source, and the message does not repeat it.
    assert!(std::error::Error::source(&error).is_some());
    assert_eq!(
        error.to_string(),
        "cannot reach the Admin API (connection failed)"
    );
}

#[tokio::test]
async fn a_call_slower_than_the_timeout_is_transient() {
    let sim = start(config()).await;
    let metrics = Arc::new(Metrics::default());
    let client = AdminClient::new(
        &ClientConfig {
            timeout: Duration::from_millis(300),
            ..ClientConfig::new(&sim.base_url)
        },
        metrics.clone(),
    )
    .unwrap();
    client.login(&admin()).await.unwrap();

    sim.sim.set_faults(Faults {
        latency_ms: 3_000,
        ..Faults::default()
    });
    let started = Instant::now();
    let error = assert_class(client.list_customers(&admin()).await, ErrorClass::Transient);
    assert!(matches!(error, ApiError::Timeout), "{error:?}");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "gave up after {elapsed:?}, not at its own deadline"
    );
    let text = metrics.encode();
    assert!(
        text.contains(r#"admin_api_calls_total{endpoint="ListCustomers",status="timeout"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_rate_limit_is_reported_with_its_retry_after() {
    let sim = start(config()).await;
    let limit = |count| Faults {
        rate_limit: Some(RateLimit {
            count,
            retry_after_seconds: 7,
        }),
        ..Faults::default()
    };
    let client = client(&sim);
    client.login(&admin()).await.unwrap();
    sim.sim.set_faults(limit(1));
    let error = assert_class(
        client.list_customers(&admin()).await,
        ErrorClass::RateLimited,
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 429), 1);
    // This client holds the account's calls for the Retry-After, without asking again ...
    assert_class(
        client.list_customers(&admin()).await,
        ErrorClass::RateLimited,
    );
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 200), 0);
    // ... while for a client that was not told to wait, the burst is over.
    self::client(&sim).list_customers(&admin()).await.unwrap();

    // A rate-limited login is a rate limit too, not a credentials problem.
    sim.sim.set_faults(limit(1));
    let error = assert_class(
        self::client(&sim).login(&admin()).await,
        ErrorClass::RateLimited,
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn a_wrong_password_is_unauthorized() {
    let sim = start(config()).await;
    let client = client(&sim);
    let wrong = creds((ADMIN.0, "not-the-password-1234"), P);
    let error = assert_class(
        client.list_customers(&wrong).await,
        ErrorClass::Unauthorized,
    );
    assert!(matches!(error, ApiError::Unauthorized { .. }), "{error:?}");
    let error = assert_class(
        client.login(&creds(("nobody@x.io", ADMIN.1), P)).await,
        ErrorClass::Unauthorized,
    );
    assert!(error.to_string().contains("credentials"), "{error}");
    assert_eq!(sim.sim.call_count("POST", TOKEN, 401), 2);
    // The list was never sent without a token.
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 401), 0);
}

#[tokio::test]
async fn a_401_is_retried_once_with_a_fresh_token_and_no_more() {
    let sim = start(config()).await;
    let client = client(&sim);
    client.login(&admin()).await.unwrap();

    sim.sim
        .set_faults(fail_next(&format!("GET {CUSTOMERS}"), 1, 401));
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 2);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 401), 1);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 200), 1);

    // A 401 that a fresh token does not cure is returned, after exactly one more login.
    sim.sim
        .set_faults(fail_next(&format!("GET {CUSTOMERS}"), 2, 401));
    assert_class(
        client.list_customers(&admin()).await,
        ErrorClass::Unauthorized,
    );
    assert_eq!(logins(&sim), 3);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 401), 3);
}

#[tokio::test]
async fn members_and_projects_without_embedded_assistant_are_forbidden() {
    let sim = start(config()).await;
    let client = client(&sim);
    client
        .create_customer(&admin(), &new_customer("acme"))
        .await
        .unwrap();

    let member = creds(MEMBER, P);
    assert_eq!(client.list_customers(&member).await.unwrap().len(), 1);
    assert_class(
        client.create_customer(&member, &new_customer("beta")).await,
        ErrorClass::Forbidden,
    );
    let patch = CustomerPatch {
        display_name: Some("Renamed".into()),
        ..CustomerPatch::default()
    };
    assert_class(
        client.update_customer(&member, "acme", &patch).await,
        ErrorClass::Forbidden,
    );
    // Not "already gone": the customer is there and stays.
    assert_class(
        client.delete_customer(&member, "acme").await,
        ErrorClass::Forbidden,
    );
    assert_class(
        client
            .create_user(&member, "acme", &new_user("jane@acme.io"))
            .await,
        ErrorClass::Forbidden,
    );
    let remote = remote(&sim);
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].customer.display_name, "Customer acme");
    assert!(remote[0].users.is_empty());

    let plain = creds(ADMIN, PLAIN);
    client.login(&plain).await.unwrap();
    let error = assert_class(client.list_customers(&plain).await, ErrorClass::Forbidden);
    assert!(error.to_string().contains("Embedded Assistant"), "{error}");
    assert_class(
        client.create_customer(&plain, &new_customer("acme")).await,
        ErrorClass::Forbidden,
    );
}

#[tokio::test]
async fn missing_objects_are_not_found_and_say_which() {
    let sim = start(config()).await;
    let client = client(&sim);
    client
        .create_customer(&admin(), &new_customer("acme"))
        .await
        .unwrap();
    let missing_user = uuid::Uuid::new_v4().to_string();
    let patch = UserPatch {
        first_name: Some("X".into()),
        ..UserPatch::default()
    };

    let error = assert_class(
        client
            .update_user(&admin(), "acme", &missing_user, &patch)
            .await,
        ErrorClass::NotFound,
    );
    assert!(error.to_string().contains("user not found"), "{error}");
    let error = assert_class(
        client
            .update_user(&admin(), "nope", &missing_user, &patch)
            .await,
        ErrorClass::NotFound,
    );
    assert!(error.to_string().contains("customer not found"), "{error}");
    assert_class(
        client
            .update_customer(&admin(), "nope", &CustomerPatch::default())
            .await,
        ErrorClass::NotFound,
    );
    assert_class(
        client.list_users(&admin(), "nope").await,
        ErrorClass::NotFound,
    );
    assert_class(
        client
            .list_customers(&creds(ADMIN, "no-such-project"))
            .await,
        ErrorClass::NotFound,
    );
    assert_eq!(remote_ids(&sim), ["acme"]);
}

#[tokio::test]
async fn duplicates_conflict_and_emails_ignore_case() {
    let sim = start(config()).await;
    let client = client(&sim);
    client
        .create_customer(&admin(), &new_customer("acme"))
        .await
        .unwrap();
    let again = NewCustomer {
        display_name: "Another Acme".into(),
        ..new_customer("acme")
    };
    assert_class(
        client.create_customer(&admin(), &again).await,
        ErrorClass::Conflict,
    );
    let remote_now = remote(&sim);
    assert_eq!(remote_now.len(), 1);
    assert_eq!(remote_now[0].customer.display_name, "Customer acme");

    client
        .create_user(&admin(), "acme", &new_user("Jane.Doe@Acme.io"))
        .await
        .unwrap();
    assert_class(
        client
            .create_user(&admin(), "acme", &new_user("jane.doe@acme.IO"))
            .await,
        ErrorClass::Conflict,
    );
    let users = &remote_customer(&sim, "acme").unwrap().users;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user.email, "Jane.Doe@Acme.io");

    // The same person may be a user of another customer.
    client
        .create_customer(&admin(), &new_customer("beta"))
        .await
        .unwrap();
    client
        .create_user(&admin(), "beta", &new_user("jane.doe@acme.io"))
        .await
        .unwrap();
    assert_eq!(sim.sim.call_count("POST", CUSTOMERS, 409), 1);
    assert_eq!(sim.sim.call_count("POST", USERS, 409), 1);
}

#[tokio::test]
async fn a_bad_body_is_invalid_with_the_servers_message_shortened() {
    let sim = start(config()).await;
    let client = client(&sim);
    client
        .create_customer(&admin(), &new_customer("acme"))
        .await
        .unwrap();

    let short_password = "short-pw-123";
    let user = NewUser {
        password: Some(Password::new(short_password)),
        ..new_user("jane@acme.io")
    };
    let error = assert_class(
        client.create_user(&admin(), "acme", &user).await,
        ErrorClass::Invalid,
    );
    let ApiError::Invalid { status, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*status, 400);
    assert!(message.starts_with("password:"), "{message}");
    assert!(!format!("{error} {error:?}").contains(short_password));

    // Four problems at once: the server's message is longer than the client keeps.
    let bad = NewCustomer {
        customer_id: "-not an id!".into(),
        display_name: "  ".into(),
        tenant_name: Some("a-tenant-name-far-too-long".into()),
        region: Some("mars".into()),
        is_nfr: false,
    };
    let error = assert_class(
        client.create_customer(&admin(), &bad).await,
        ErrorClass::Invalid,
    );
    let ApiError::Invalid { status, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*status, 400);
    assert!(
        message.starts_with("displayName: must not be empty; customerId: "),
        "{message}"
    );
    assert!(
        message.ends_with('…') && message.chars().count() == 161,
        "{message}"
    );
    assert!(!message.contains('\n'));
    assert!(error.to_string().contains("HTTP 400"), "{error}");
    assert_eq!(remote_ids(&sim), ["acme"]);
    assert_eq!(sim.sim.call_count("POST", CUSTOMERS, 400), 1);
}

#[tokio::test]
async fn an_expired_token_costs_one_401_and_one_login() {
    let sim = start(config()).await;
    let client = client(&sim);
    client.list_customers(&admin()).await.unwrap();
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 1, "the token is reused");

    sim.sim.expire_tokens();
    sim.sim.reset_calls();
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 1);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 401), 1);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 200), 1);
    // The new token is kept.
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 1);
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_before_it_lapses() {
    let sim = start(config().token_ttl(Duration::from_secs(2))).await;
    let client = client(&sim);
    client.list_customers(&admin()).await.unwrap();
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 1);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 2);
    assert_eq!(
        sim.sim.call_count("GET", CUSTOMERS, 401),
        0,
        "renewed from expiresIn, not after a rejection"
    );
}

#[tokio::test]
async fn tokens_are_per_credential_set_and_a_refused_set_pauses_alone() {
    let sim = start(config()).await;
    let client = client(&sim);
    client.list_customers(&admin()).await.unwrap();
    // The same account spelled differently, and another project: the same token.
    let spelled = creds(("  Admin@X.IO ", ADMIN.1), "p2");
    client.list_customers(&spelled).await.unwrap();
    assert_eq!(logins(&sim), 1);

    // A new password for the same email: the cached token is not used, a login is made.
    let rotated = creds((ADMIN.0, "a-newer-password-5678"), P);
    assert_class(
        client.list_customers(&rotated).await,
        ErrorClass::Unauthorized,
    );
    assert_eq!(sim.sim.call_count("POST", TOKEN, 401), 1);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 200), 2);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 401), 0);

    // And back: tokens are per credential set (email and password), so the first set's token,
    // still valid, serves again; the refused set's login pause never touched it.
    client.list_customers(&admin()).await.unwrap();
    assert_eq!(logins(&sim), 1);
    assert_class(
        client.list_customers(&rotated).await,
        ErrorClass::Unauthorized,
    );
    assert_eq!(
        sim.sim.call_count("POST", TOKEN, 401),
        1,
        "the refused set waits out its pause: no second failed login"
    );
}

/// Lists 25 customers and 28 users (a short and a full last page) through pages of
/// `client_page`, which the simulator clamps to `max_page`.
async fn lists_every_item_once(style: PaginationStyle, max_page: u32, client_page: u32) {
    let case = format!("{style:?}, max {max_page}, asked {client_page}");
    let sim = start(config().pagination(style).max_page_size(max_page)).await;
    let client = client_with(&ClientConfig {
        page_size: client_page,
        ..ClientConfig::new(&sim.base_url)
    });
    for i in 0..25 {
        client
            .create_customer(&admin(), &new_customer(&format!("c{i:02}")))
            .await
            .unwrap();
    }
    for i in 0..28 {
        client
            .create_user(&admin(), "c07", &new_user(&format!("user{i:02}@x.io")))
            .await
            .unwrap();
    }
    let page = u64::from(max_page.min(client_page));
    sim.sim.reset_calls();

    let customers = client.list_customers(&admin()).await.unwrap();
    let ids: Vec<String> = customers.into_iter().map(|c| c.customer_id).collect();
    assert_eq!(ids, remote_ids(&sim), "{case}");
    assert_eq!(ids.len(), 25, "{case}");
    assert_eq!(
        sim.sim.call_count("GET", CUSTOMERS, 200),
        25_u64.div_ceil(page),
        "{case}"
    );

    let users = client.list_users(&admin(), "c07").await.unwrap();
    let emails: HashSet<&str> = users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!((users.len(), emails.len()), (28, 28), "{case}");
    let remote_users: Vec<String> = remote_customer(&sim, "c07")
        .unwrap()
        .users
        .into_iter()
        .map(|u| u.user.id.to_string())
        .collect();
    let ids: Vec<String> = users.into_iter().map(|u| u.id).collect();
    assert_eq!(ids, remote_users, "{case}");
    assert_eq!(
        sim.sim.call_count("GET", USERS, 200),
        28_u64.div_ceil(page),
        "{case}"
    );
}

#[tokio::test]
async fn lists_read_every_page_exactly_once_in_both_styles() {
    for style in [PaginationStyle::HasNextPage, PaginationStyle::Total] {
        // The server clamps a large request; the client reads the size that came back.
        lists_every_item_once(style, 7, 100).await;
        // The client asks for small pages itself.
        lists_every_item_once(style, 100, 7).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_login() {
    let sim = start(config()).await;
    let client = client(&sim);
    let admin = admin();

    let lists = (0..20).map(|_| client.list_customers(&admin));
    for result in futures::future::join_all(lists).await {
        assert!(result.unwrap().is_empty());
    }
    assert_eq!(sim.sim.call_count("POST", TOKEN, 200), 1);
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 200), 20);

    // All holding a token that just expired: one of them logs in again, for all.
    sim.sim.expire_tokens();
    sim.sim.reset_calls();
    let lists = (0..20).map(|_| client.list_customers(&admin));
    for result in futures::future::join_all(lists).await {
        result.unwrap();
    }
    assert_eq!(logins(&sim), 1, "{:?}", sim.sim.calls());
    assert_eq!(sim.sim.call_count("GET", CUSTOMERS, 200), 20);
    assert!(sim.sim.call_count("GET", CUSTOMERS, 401) >= 1);
}

#[tokio::test]
async fn secrets_are_never_printed() {
    let sim = start(config()).await;

    // Checked as this file compiles: there is no Display to print a secret through.
    const {
        assert!(<Probe<String>>::DISPLAY, "the probe sees Display");
        assert!(!<Probe<Password>>::DISPLAY);
        assert!(!<Probe<Token>>::DISPLAY);
        assert!(!<Probe<Credentials>>::DISPLAY);
    }

    let admin = admin();
    let printed = format!("{admin:?} {:?}", admin.clone());
    assert!(printed.contains(P), "{printed}");
    assert!(
        !printed.contains(ADMIN.1) && !printed.contains(ADMIN.0),
        "{printed}"
    );
    assert_eq!(
        format!("{:?}", Password::new(ADMIN.1)),
        "Password([redacted])"
    );
    assert_eq!(format!("{:?}", Token::new("eyJ.a.b")), "Token([redacted])");
    let user = NewUser {
        password: Some(Password::new("user-password-123456")),
        ..new_user("jane@acme.io")
    };
    let patch = UserPatch {
        password: Some(Password::new("user-password-123456")),
        ..UserPatch::default()
    };
    assert!(!format!("{user:?} {patch:?}").contains("user-password-123456"));

    // Errors of a failed login name neither the password nor the account.
    let client = client(&sim);
    let wrong = creds((ADMIN.0, "wrong-password-98765"), P);
    let error = client.login(&wrong).await.unwrap_err();
    let printed = format!("{error} {error:?}");
    assert!(
        !printed.contains("wrong-password-98765") && !printed.contains(ADMIN.0),
        "{printed}"
    );

    // A client holding a token prints neither it (JWTs start `eyJ`), the account nor a password.
    client.login(&admin).await.unwrap();
    let printed = format!("{client:?}");
    assert!(!printed.contains("eyJ"), "{printed}");
    assert!(
        !printed.to_lowercase().contains(ADMIN.0) && !printed.contains(ADMIN.1),
        "{printed}"
    );
}

#[tokio::test]
async fn retry_after_pauses_every_call_of_the_account_and_a_closed_fence_every_call() {
    let sim = start(config()).await;
    let client = client(&sim);
    client.list_customers(&admin()).await.unwrap();
    sim.sim.set_faults(Faults {
        rate_limit: Some(RateLimit {
            count: 1,
            retry_after_seconds: 30,
        }),
        ..Faults::default()
    });
    assert_class(
        client.list_customers(&admin()).await,
        ErrorClass::RateLimited,
    );
    sim.sim.reset_calls();
    // Other calls of the same account, for other resources, wait it out without a request.
    for _ in 0..5 {
        let waited = assert_class(
            client
                .create_customer(&admin(), &new_customer("later"))
                .await,
            ErrorClass::RateLimited,
        );
        assert!(
            matches!(waited, ApiError::RateLimited { retry_after: Some(wait) } if wait > Duration::from_secs(25))
        );
    }
    assert!(
        sim.sim.calls().is_empty(),
        "no call while the account waits: {:?}",
        sim.sim.calls()
    );
    // Another account is not held.
    let other = client.list_customers(&creds(MEMBER, P)).await;
    assert!(other.is_ok(), "{other:?}");

    // A client fenced by a lease it may no longer hold makes no call at all.
    let fence = Arc::new(corti_operator::admin_api::LeaseFence::default());
    let fenced = client_with(&ClientConfig {
        fence: Some(fence.clone()),
        ..ClientConfig::new(&sim.base_url)
    });
    sim.sim.reset_calls();
    assert!(matches!(
        fenced.list_customers(&creds(MEMBER, P)).await,
        Err(ApiError::Fenced)
    ));
    assert!(sim.sim.calls().is_empty());
    fence.extend(tokio::time::Instant::now() + Duration::from_secs(60));
    assert!(fenced.list_customers(&creds(MEMBER, P)).await.is_ok());
}

#[tokio::test]
async fn no_more_calls_are_in_flight_than_the_concurrency_allows() {
    let sim = start(config()).await;
    let client = client_with(&ClientConfig {
        concurrency: Some(2),
        ..ClientConfig::new(&sim.base_url)
    });
    client.login(&admin()).await.unwrap();
    let latency = Duration::from_millis(150);
    sim.sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    sim.sim.reset_calls();
    let credentials = admin();
    let calls = (0..6).map(|_| client.list_customers(&credentials));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    let arrivals: Vec<u64> = sim.sim.requests().iter().map(|c| c.at_micros).collect();
    assert_eq!(arrivals.len(), 6);
    let window = u64::try_from(latency.as_micros()).unwrap();
    for at in &arrivals {
        let overlapping = arrivals
            .iter()
            .filter(|other| (*at..at + window).contains(other))
            .count();
        assert!(
            overlapping <= 2,
            "{overlapping} calls arrived within one call's latency: {arrivals:?}"
        );
    }
}
