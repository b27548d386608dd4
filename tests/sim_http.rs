//! The simulator over real HTTP: the help-centre flow, every error class, faults, counters and
//! the state file.

use std::time::{Duration, Instant};

use corti_operator::sim::{
    PaginationStyle, Role, RunningSim, SimConfig, Simulator, password_fingerprint,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const P: &str = "p1";
const ADMIN: (&str, &str) = ("admin@x.io", "admin-password-1234");
const OWNER: (&str, &str) = ("owner@x.io", "owner:password:1234");
const MEMBER: (&str, &str) = ("member@x.io", "member-password-1234");

fn config() -> SimConfig {
    SimConfig::new()
        .project(P)
        .project("p2")
        .project_without_embedded("plain")
        .account(ADMIN.0, ADMIN.1, Role::Admin)
        .account(OWNER.0, OWNER.1, Role::Owner)
        .account(MEMBER.0, MEMBER.1, Role::Member)
}

async fn start(config: SimConfig) -> RunningSim {
    Simulator::bind(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn http() -> Client {
    // reqwest is built without a TLS crypto provider; plain http needs none, but the builder asks.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

/// A client of one running simulator, logged in or not.
struct Api {
    http: Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn anonymous(sim: &RunningSim) -> Self {
        Self {
            http: http(),
            base: sim.base_url.clone(),
            token: None,
        }
    }

    async fn login(sim: &RunningSim, (email, password): (&str, &str)) -> Self {
        let mut api = Self::anonymous(sim);
        let (status, body) = api
            .call(
                Method::POST,
                "/auth/token",
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        api.token = Some(body["accessToken"].as_str().unwrap().to_owned());
        api
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Status and JSON body (`Null` when the body is empty).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let response = self.send(method, path, body).await;
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    async fn create_customer(&self, id: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/projects/{P}/customers"),
                json!({"displayName": format!("Customer {id}"), "customerId": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn create_user(&self, customer: &str, email: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/projects/{P}/customers/{customer}/users"),
                json!({"email": email, "firstName": "Jane", "lastName": "Smith"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

fn assert_error(got: &(StatusCode, Value), status: StatusCode, message_has: &str) {
    let (got_status, body) = got;
    assert_eq!(*got_status, status, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(message_has),
        "{message:?} should contain {message_has:?}"
    );
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn help_centre_flow() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;

    let customer = api.create_customer("contosohospital").await;
    let created_at = customer["createdAt"].as_str().unwrap().to_owned();
    assert_eq!(
        customer,
        json!({"displayName": "Customer contosohospital", "tenantName": "base", "region": "eu",
               "customerId": "contosohospital", "isNfr": false, "createdAt": created_at})
    );
    // RFC 3339, UTC, whole seconds.
    let parsed: jiff::Timestamp = created_at.parse().unwrap();
    assert_eq!(parsed.to_string(), created_at);

    let (status, list) = api.get(&format!("/projects/{P}/customers")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["customers"], json!([customer]));
    assert_eq!(
        list["pagination"],
        json!({"page": 1, "pageSize": 20, "hasNextPage": false})
    );

    let users_path = format!("/projects/{P}/customers/contosohospital/users");
    let (status, first) = api
        .post(
            &users_path,
            json!({"email": "Jane.Smith@Contoso.example", "firstName": "Jane", "lastName": "Smith",
                   "password": "initial-password-123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["emailVerified"], false);
    assert_eq!(first["enabled"], true);
    assert_eq!(first["email"], "Jane.Smith@Contoso.example");
    assert!(first.get("password").is_none());
    let id = uuid::Uuid::parse_str(first["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 4);
    for i in 1..45 {
        api.create_user("contosohospital", &format!("user{i}@contoso.example"))
            .await;
    }

    // 45 users in pages of 20: 20, 20, 5, in creation order.
    let mut seen = Vec::new();
    for (page, len, next) in [(1, 20, true), (2, 20, true), (3, 5, false)] {
        let (status, body) = api.get(&format!("{users_path}?page={page}")).await;
        assert_eq!(status, StatusCode::OK);
        let users = body["users"].as_array().unwrap();
        assert_eq!(users.len(), len);
        assert!(users.iter().all(|u| u.get("password").is_none()));
        assert_eq!(
            body["pagination"],
            json!({"page": page, "pageSize": 20, "hasNextPage": next})
        );
        seen.extend(
            users
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(seen.len(), 45);
    assert_eq!(seen[0], "Jane.Smith@Contoso.example");
    assert_eq!(seen[44], "user44@contoso.example");

    let user_path = format!("{users_path}/{id}");
    let (status, updated) = api
        .patch(
            &user_path,
            json!({"firstName": "Janet", "enabled": false, "password": "changed-password-456"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["firstName"], "Janet");
    assert_eq!(updated["lastName"], "Smith");
    assert_eq!(updated["enabled"], false);
    let state = sim.sim.snapshot();
    let stored = &state.projects[0].customers[0].users[0];
    assert!(stored.password_set);
    assert_eq!(
        stored.password_fingerprint.as_deref(),
        Some(password_fingerprint("changed-password-456").as_str())
    );

    let (status, body) = api.delete(&user_path).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (_, body) = api.get(&format!("{users_path}?pageSize=100")).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 44);

    let (status, _) = api
        .delete(&format!("/projects/{P}/customers/contosohospital"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = api.get(&format!("/projects/{P}/customers")).await;
    assert_eq!(list["customers"], json!([]));
}

#[tokio::test]
async fn total_pagination_and_page_limits() {
    let sim = start(
        config()
            .pagination(PaginationStyle::Total)
            .max_page_size(10),
    )
    .await;
    let api = Api::login(&sim, ADMIN).await;
    for i in 0..23 {
        api.create_customer(&format!("c{i:02}")).await;
    }
    let path = format!("/projects/{P}/customers");
    let (_, body) = api.get(&format!("{path}?page=3&pageSize=50")).await;
    assert_eq!(
        body["pagination"],
        json!({"page": 3, "pageSize": 10, "total": 23})
    );
    let ids: Vec<&str> = body["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c20", "c21", "c22"]);
    let (_, body) = api.get(&format!("{path}?page=9")).await;
    assert_eq!(body["customers"], json!([]));
    assert_eq!(body["pagination"]["total"], 23);

    assert_error(
        &api.get(&format!("{path}?page=0")).await,
        StatusCode::BAD_REQUEST,
        "page: must be an integer >= 1",
    );
    assert_error(
        &api.get(&format!("{path}?pageSize=abc")).await,
        StatusCode::BAD_REQUEST,
        "pageSize:",
    );
}

#[tokio::test]
async fn bad_bodies_name_the_field() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    let customers = format!("/projects/{P}/customers");
    api.create_customer("c1").await;
    let user = api.create_user("c1", "jane@x.io").await;
    let users = format!("{customers}/c1/users");
    let user_path = format!("{users}/{}", user["id"].as_str().unwrap());

    let cases = [
        (
            Method::POST,
            customers.clone(),
            json!({"customerId": "c2"}),
            "displayName: required",
        ),
        (
            Method::POST,
            customers.clone(),
            json!({"displayName": "", "customerId": "c2"}),
            "displayName: must not be empty",
        ),
        (
            Method::POST,
            customers.clone(),
            json!({"displayName": "C", "customerId": "x".repeat(65)}),
            "customerId: must be 1 to 64",
        ),
        (
            Method::POST,
            customers.clone(),
            json!({"displayName": "C", "customerId": "a b"}),
            "customerId:",
        ),
        (
            Method::POST,
            customers.clone(),
            json!({"displayName": "C", "customerId": "c2", "tenantName": "a-very-long-tenant"}),
            "tenantName:",
        ),
        (
            Method::POST,
            customers.clone(),
            json!({"displayName": "C", "customerId": "c2", "region": "asia"}),
            "region: must be one of eu, us",
        ),
        (
            Method::POST,
            customers.clone(),
            json!({"id": "c2", "name": "C"}),
            "id: unknown field",
        ),
        (
            Method::PATCH,
            format!("{customers}/c1"),
            json!({"region": "us"}),
            "region: cannot be changed",
        ),
        (
            Method::PATCH,
            format!("{customers}/c1"),
            json!({"tenantName": "x"}),
            "tenantName: cannot be changed",
        ),
        (
            Method::POST,
            users.clone(),
            json!({"email": "not-an-email", "firstName": "J", "lastName": "S"}),
            "email: must be an email address",
        ),
        (
            Method::POST,
            users.clone(),
            json!({"email": "k@x.io", "lastName": "S"}),
            "firstName: required",
        ),
        (
            Method::POST,
            users.clone(),
            json!({"email": "k@x.io", "firstName": "J", "lastName": "S", "password": "too-short"}),
            "password: must be 16 to 64 characters",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            json!({"password": "x".repeat(65)}),
            "password: must be 16 to 64 characters",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            json!({"password": "tab\tin-the-password"}),
            "password: may contain only",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            json!({"email": "new@x.io"}),
            "email: cannot be changed",
        ),
        (
            Method::PATCH,
            user_path.clone(),
            json!({"enabled": "no"}),
            "enabled: must be a boolean",
        ),
    ];
    for (method, path, body, want) in cases {
        let got = api.call(method.clone(), &path, Some(body.clone())).await;
        assert_eq!(got.1["error"], "bad_request", "{method} {path} {body}");
        assert_error(&got, StatusCode::BAD_REQUEST, want);
        assert!(!got.1.to_string().contains("too-short"), "password echoed");
    }

    // A body that is not JSON at all.
    let response = api
        .http
        .post(format!("{}{customers}", api.base))
        .bearer_auth(api.token.as_deref().unwrap())
        .body("displayName=C")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "body: not valid JSON");

    // Nothing was changed by any of them.
    let (_, list) = api.get(&customers).await;
    assert_eq!(list["customers"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unauthorized_cases() {
    let sim = start(config().token_ttl(Duration::from_secs(1))).await;
    let path = format!("/projects/{P}/customers");

    let anonymous = Api::anonymous(&sim);
    assert_error(
        &anonymous.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "missing bearer token",
    );
    let wrong = anonymous
        .post(
            "/auth/token",
            json!({"email": ADMIN.0, "password": "wrong-password-1234"}),
        )
        .await;
    assert_error(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "invalid email or password",
    );
    let unknown = anonymous
        .post(
            "/auth/token",
            json!({"email": "nobody@x.io", "password": ADMIN.1}),
        )
        .await;
    assert_error(
        &unknown,
        StatusCode::UNAUTHORIZED,
        "invalid email or password",
    );
    assert_error(
        &anonymous
            .post("/auth/token", json!({"email": ADMIN.0}))
            .await,
        StatusCode::BAD_REQUEST,
        "password: required",
    );
    let forged = Api {
        token: Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl".into()),
        ..Api::anonymous(&sim)
    };
    assert_error(
        &forged.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "invalid token",
    );
    let malformed = Api {
        token: Some("not-a-jwt".into()),
        ..Api::anonymous(&sim)
    };
    assert_error(
        &malformed.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "malformed",
    );

    // Emails match case-insensitively; the token is JWT-shaped and really expires.
    let api = Api::login(&sim, ("ADMIN@X.IO", ADMIN.1)).await;
    let token = api.token.clone().unwrap();
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(api.get(&path).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_error(
        &api.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "token expired",
    );

    // A longer ttl set at run time applies to new tokens; expiring all of them works at once.
    let (status, body) = anonymous
        .call(
            Method::PUT,
            "/_sim/token-ttl",
            Some(json!({"seconds": 120})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"seconds": 120})));
    let (_, token) = anonymous
        .post(
            "/auth/token",
            json!({"email": ADMIN.0, "password": ADMIN.1}),
        )
        .await;
    assert_eq!(token["tokenType"], "bearer");
    assert_eq!(token["expiresIn"], 120);
    let api = Api::login(&sim, ADMIN).await;
    assert_eq!(api.get(&path).await.0, StatusCode::OK);
    let (status, _) = anonymous.post("/_sim/tokens/expire", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &api.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "token expired",
    );
    sim.sim.set_token_ttl(Duration::from_secs(60));
    let api = Api::login(&sim, ADMIN).await;
    assert_eq!(api.get(&path).await.0, StatusCode::OK);
    sim.sim.expire_tokens();
    assert_eq!(api.get(&path).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forbidden_for_members_and_projects_without_embedded_assistant() {
    let sim = start(config()).await;
    let admin = Api::login(&sim, ADMIN).await;
    let member = Api::login(&sim, MEMBER).await;
    let owner = Api::login(&sim, OWNER).await;
    admin.create_customer("c1").await;
    let user = admin.create_user("c1", "jane@x.io").await;
    let customers = format!("/projects/{P}/customers");
    let user_path = format!("{customers}/c1/users/{}", user["id"].as_str().unwrap());

    assert_eq!(member.get(&customers).await.0, StatusCode::OK);
    assert_eq!(
        member.get(&format!("{customers}/c1/users")).await.0,
        StatusCode::OK
    );
    let writes = [
        member
            .post(&customers, json!({"displayName": "C", "customerId": "c2"}))
            .await,
        member
            .patch(&format!("{customers}/c1"), json!({"displayName": "D"}))
            .await,
        member.delete(&format!("{customers}/c1")).await,
        member
            .post(
                &format!("{customers}/c1/users"),
                json!({"email": "k@x.io", "firstName": "K", "lastName": "L"}),
            )
            .await,
        member.patch(&user_path, json!({"enabled": false})).await,
        member.delete(&user_path).await,
    ];
    for got in &writes {
        assert_error(got, StatusCode::FORBIDDEN, "role member");
    }
    // The owner (whose password has ':' in it) may write, in every configured project.
    let (status, _) = owner
        .post(
            "/projects/p2/customers",
            json!({"displayName": "C", "customerId": "c2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    for api in [&admin, &member, &owner] {
        assert_error(
            &api.get("/projects/plain/customers").await,
            StatusCode::FORBIDDEN,
            "Embedded Assistant",
        );
        assert_error(
            &api.post(
                "/projects/plain/customers",
                json!({"displayName": "C", "customerId": "c"}),
            )
            .await,
            StatusCode::FORBIDDEN,
            "Embedded Assistant",
        );
        assert_error(
            &api.get("/projects/plain/customers/c/users").await,
            StatusCode::FORBIDDEN,
            "Embedded Assistant",
        );
    }
}

#[tokio::test]
async fn not_found_says_what_is_missing() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    api.create_customer("c1").await;
    let customers = format!("/projects/{P}/customers");
    let missing_user = uuid::Uuid::new_v4();
    let cases = [
        (
            api.get("/projects/nope/customers").await,
            "project not found",
        ),
        (
            api.delete("/projects/nope/customers/c1").await,
            "project not found",
        ),
        (
            api.get(&format!("{customers}/zz/users")).await,
            "customer not found",
        ),
        (
            api.patch(&format!("{customers}/zz"), json!({"displayName": "X"}))
                .await,
            "customer not found",
        ),
        (
            api.delete(&format!("{customers}/zz")).await,
            "customer not found",
        ),
        (
            api.post(
                &format!("{customers}/zz/users"),
                json!({"email": "k@x.io", "firstName": "K", "lastName": "L"}),
            )
            .await,
            "customer not found",
        ),
        (
            api.delete(&format!("{customers}/zz/users/{missing_user}"))
                .await,
            "customer not found",
        ),
        (
            api.patch(
                &format!("{customers}/c1/users/{missing_user}"),
                json!({"enabled": false}),
            )
            .await,
            "user not found",
        ),
        (
            api.delete(&format!("{customers}/c1/users/{missing_user}"))
                .await,
            "user not found",
        ),
        (
            api.delete(&format!("{customers}/c1/users/not-a-uuid"))
                .await,
            "user not found",
        ),
    ];
    for (got, want) in &cases {
        assert_error(got, StatusCode::NOT_FOUND, want);
    }
    assert_error(
        &api.get("/nothing/here").await,
        StatusCode::NOT_FOUND,
        "no such endpoint",
    );
}

#[tokio::test]
async fn conflicts_and_renames() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    let customers = format!("/projects/{P}/customers");
    api.create_customer("c1").await;
    api.create_customer("c2").await;
    assert_error(
        &api.post(
            &customers,
            json!({"displayName": "Again", "customerId": "c1"}),
        )
        .await,
        StatusCode::CONFLICT,
        "already exists",
    );
    // Same customerId in another project is fine.
    let (status, _) = api
        .post(
            "/projects/p2/customers",
            json!({"displayName": "C", "customerId": "c1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let user = api.create_user("c1", "Jane.Smith@Contoso.example").await;
    let again = api
        .post(
            &format!("{customers}/c1/users"),
            json!({"email": "jane.smith@CONTOSO.example", "firstName": "J", "lastName": "S"}),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "email already exists");
    api.create_user("c2", "jane.smith@contoso.example").await;

    assert_error(
        &api.patch(&format!("{customers}/c1"), json!({"customerId": "c2"}))
            .await,
        StatusCode::CONFLICT,
        "already exists",
    );
    let (status, renamed) = api
        .patch(
            &format!("{customers}/c1"),
            json!({"customerId": "c1-renamed", "displayName": "Renamed", "isNfr": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["customerId"], "c1-renamed");
    assert_eq!(renamed["isNfr"], true);
    let (_, users) = api.get(&format!("{customers}/c1-renamed/users")).await;
    assert_eq!(users["users"], json!([user]));
    assert_eq!(
        api.get(&format!("{customers}/c1/users")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn fail_next_is_deterministic_and_faults_are_validated() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    let control = Api::anonymous(&sim);
    let faults =
        json!({"failNext": {"POST /projects/{projectId}/customers": {"count": 2, "status": 500}}});
    let (status, active) = control
        .call(Method::PUT, "/_sim/faults", Some(faults))
        .await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_eq!(
        active["failNext"]["POST /projects/{projectId}/customers"]["count"],
        2
    );

    let body = json!({"displayName": "C", "customerId": "c1"});
    let customers = format!("/projects/{P}/customers");
    for _ in 0..2 {
        let (status, _) = api.post(&customers, body.clone()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    // Nothing was applied by the failed calls; the next one goes through.
    assert!(sim.sim.snapshot().projects[0].customers.is_empty());
    assert_eq!(api.post(&customers, body).await.0, StatusCode::CREATED);
    let (_, active) = control.get("/_sim/faults").await;
    assert_eq!(active["failNext"], json!({}));

    for bad in [
        json!({"failNext": {"POST /customers": {"count": 1}}}),
        json!({"errorRate": {"POST /auth/token": 1.5}}),
        json!({"latency": 5}),
        json!({"failNext": {"POST /auth/token": {"count": 1, "status": 200}}}),
    ] {
        let (status, body) = control
            .call(Method::PUT, "/_sim/faults", Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }
}

#[tokio::test]
async fn fail_after_apply_loses_the_response_not_the_write() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    let mut faults = sim.sim.faults();
    faults
        .fail_after_apply
        .insert("POST /projects/{projectId}/customers".into(), 1);
    sim.sim.set_faults(faults);

    let customers = format!("/projects/{P}/customers");
    let body = json!({"displayName": "C", "customerId": "c1"});
    let (status, _) = api.post(&customers, body.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (_, list) = api.get(&customers).await;
    assert_eq!(list["customers"][0]["customerId"], "c1");
    // The client's retry then meets its own earlier write.
    assert_eq!(api.post(&customers, body).await.0, StatusCode::CONFLICT);
}

#[tokio::test]
async fn rate_limit_sends_retry_after() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    let control = Api::anonymous(&sim);
    let (status, _) = control
        .call(
            Method::PUT,
            "/_sim/faults",
            Some(json!({"rateLimit": {"count": 2, "retryAfterSeconds": 3}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/projects/{P}/customers");
    for _ in 0..2 {
        let response = api.send(Method::GET, &path, None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "3");
    }
    assert_eq!(api.get(&path).await.0, StatusCode::OK);
    // The control endpoint itself is never rate-limited.
    assert_eq!(
        control.get("/_sim/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn latency_and_error_rate() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    let path = format!("/projects/{P}/customers");
    let mut faults = sim.sim.faults();
    faults.latency_ms = 300;
    sim.sim.set_faults(faults.clone());
    let started = Instant::now();
    assert_eq!(api.get(&path).await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    faults.latency_ms = 0;
    faults
        .error_rate
        .insert(format!("GET {}", "/projects/{projectId}/customers"), 1.0);
    faults.error_status = 502;
    sim.sim.set_faults(faults);
    for _ in 0..3 {
        assert_eq!(api.get(&path).await.0, StatusCode::BAD_GATEWAY);
    }
    assert_eq!(
        api.create_customer("still-works").await["customerId"],
        "still-works"
    );
}

#[tokio::test]
async fn calls_are_counted_by_template_and_status() {
    let sim = start(config()).await;
    let control = Api::anonymous(&sim);
    let api = Api::login(&sim, ADMIN).await;
    api.create_customer("c1").await;
    api.get(&format!("/projects/{P}/customers")).await;
    api.get("/projects/p2/customers").await;
    api.get("/projects/nope/customers").await;
    control.get("/_sim/state").await;

    let (_, calls) = control.get("/_sim/calls").await;
    assert_eq!(
        calls,
        json!({"calls": [
            {"method": "GET", "path": "/projects/{projectId}/customers", "status": 200, "count": 2},
            {"method": "GET", "path": "/projects/{projectId}/customers", "status": 404, "count": 1},
            {"method": "POST", "path": "/auth/token", "status": 200, "count": 1},
            {"method": "POST", "path": "/projects/{projectId}/customers", "status": 201, "count": 1},
        ]})
    );
    assert_eq!(
        sim.sim
            .call_count("GET", "/projects/{projectId}/customers", 200),
        2
    );
    assert_eq!(sim.sim.calls().len(), 4);
    let (status, _) = control.delete("/_sim/calls").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(sim.sim.calls().is_empty());
    api.get(&format!("/projects/{P}/customers")).await;
    sim.sim.reset_calls();
    assert!(sim.sim.calls().is_empty());
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim-state.json");
    let sim = start(config().state_file(file.clone())).await;
    let api = Api::login(&sim, ADMIN).await;
    api.create_customer("c1").await;
    let user = api.create_user("c1", "jane@x.io").await;
    let (status, _) = api
        .patch(
            &format!(
                "/projects/{P}/customers/c1/users/{}",
                user["id"].as_str().unwrap()
            ),
            json!({"password": "persisted-password-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains("persisted-password-1"));
    let before = sim.sim.snapshot();
    sim.shutdown().await.unwrap();

    let sim = start(config().state_file(file.clone())).await;
    assert_eq!(sim.sim.snapshot(), before);
    // Tokens do not survive; the data does.
    let stale = Api {
        token: api.token.clone(),
        ..Api::anonymous(&sim)
    };
    assert_eq!(
        stale.get(&format!("/projects/{P}/customers")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let api = Api::login(&sim, ADMIN).await;
    let (_, users) = api.get(&format!("/projects/{P}/customers/c1/users")).await;
    assert_eq!(users["users"], json!([user]));

    let (_, state) = Api::anonymous(&sim).get("/_sim/state").await;
    let stored = &state["projects"][0]["customers"][0]["users"][0];
    assert_eq!(stored["passwordSet"], true);
    assert_eq!(
        stored["passwordFingerprint"],
        password_fingerprint("persisted-password-1")
    );
    assert!(stored.get("password").is_none());
}

#[tokio::test]
async fn what_happens_outside_the_api_shows_in_it_and_is_not_a_call() {
    let sim = start(config()).await;
    let api = Api::login(&sim, ADMIN).await;
    api.create_customer("c1").await;
    let user = api.create_user("c1", "jane@x.io").await;
    assert_eq!(user["emailVerified"], false);
    sim.sim.reset_calls();
    let control = Api::anonymous(&sim);
    let path = format!(
        "/_sim/projects/{P}/customers/c1/users/{}",
        user["id"].as_str().unwrap()
    );
    // The person accepts the invitation; eight days pass.
    let (status, body) = control
        .patch(
            &path,
            json!({"emailVerified": true, "createdAt": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, users) = api.get(&format!("/projects/{P}/customers/c1/users")).await;
    let listed = &users["users"][0];
    assert_eq!(
        (&listed["emailVerified"], &listed["createdAt"]),
        (&json!(true), &json!("2020-01-01T00:00:00Z"))
    );
    assert_eq!(
        listed["firstName"], user["firstName"],
        "nothing else changes"
    );
    assert_eq!(
        sim.sim.calls().len(),
        1,
        "only the list is an API call: {:?}",
        sim.sim.calls()
    );
    assert_error(
        &control.patch(&path, json!({"emailVerified": "yes"})).await,
        StatusCode::BAD_REQUEST,
        "expected a boolean",
    );
    assert_error(
        &control.patch(&path, json!({"enabled": false})).await,
        StatusCode::BAD_REQUEST,
        "unknown field",
    );
    let missing =
        format!("/_sim/projects/{P}/customers/c1/users/123e4567-e89b-12d3-a456-426614174000");
    assert_error(
        &control.patch(&missing, json!({})).await,
        StatusCode::NOT_FOUND,
        "user not found",
    );
}
