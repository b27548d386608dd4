//! The simulator against the contract: every kind of success response it gives is validated
//! with a JSON Schema validator against the response schemas of `tests/contract/openapi.yaml`
//! (a copy of `../shared/admin-api/openapi.yaml`, checked for drift), and every status against
//! the operation's documented response codes.

use std::collections::BTreeSet;
use std::path::Path;

use corti_operator::sim::{ENDPOINTS, PaginationStyle, Role, RunningSim, SimConfig, Simulator};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const CONTRACT: &str = "tests/contract/openapi.yaml";
const P: &str = "p1";
const ADMIN: (&str, &str) = ("admin@x.io", "admin-password-1234");

fn contract_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CONTRACT)
}

fn load_contract() -> Value {
    let text = std::fs::read_to_string(contract_path()).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn contract_copy_matches_the_shared_contract() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/admin-api/openapi.yaml");
    let Ok(shared) = std::fs::read(&shared) else {
        eprintln!("no {}: drift check skipped", shared.display());
        return;
    };
    let copy = std::fs::read(contract_path()).unwrap();
    assert!(
        copy == shared,
        "{CONTRACT} differs from ../shared/admin-api/openapi.yaml: copy it again and re-run"
    );
}

/// The response schemas of one contract, compiled by a real JSON Schema 2020-12 validator.
struct Contract {
    doc: Value,
}

impl Contract {
    fn new() -> Self {
        Self {
            doc: load_contract(),
        }
    }

    fn response(&self, template: &str, method: &Method, status: StatusCode) -> &Value {
        let operation = &self.doc["paths"][template][method.as_str().to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not in the contract"
        );
        let responses = &operation["responses"];
        let response = &responses[status.as_str()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}; the contract documents {:?}",
            responses.as_object().map(|r| r.keys().collect::<Vec<_>>())
        );
        response
    }

    /// A validator for a schema of the contract. The schema is the root resource, with the
    /// contract's `components` beside it so `#/components/schemas/...` resolves unchanged.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        root.as_object_mut()
            .unwrap()
            .insert("components".into(), self.doc["components"].clone());
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap()
    }

    fn schema_errors(
        &self,
        template: &str,
        method: &Method,
        status: StatusCode,
        body: &Value,
    ) -> Vec<String> {
        let response = self.response(template, method, status);
        match response.pointer("/content/application~1json/schema") {
            Some(schema) => self
                .validator(schema)
                .iter_errors(body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect(),
            None if body.is_null() => Vec::new(),
            None => vec![format!("documented without a body, got {body}")],
        }
    }

    fn check(&self, template: &str, method: &Method, status: StatusCode, body: &Value) {
        let errors = self.schema_errors(template, method, status, body);
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: {body}\n{}",
            errors.join("\n")
        );
    }
}

/// Calls the simulator and checks every answer against the contract, remembering which
/// operations (and with what success statuses) were exercised.
struct Checked<'a> {
    contract: &'a Contract,
    http: Client,
    base: String,
    token: Option<String>,
    seen: BTreeSet<(String, String)>,
}

impl<'a> Checked<'a> {
    fn new(contract: &'a Contract, sim: &RunningSim) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            contract,
            http: Client::new(),
            base: sim.base_url.clone(),
            token: None,
            seen: BTreeSet::new(),
        }
    }

    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        self.contract.check(template, &method, status, &body);
        self.seen.insert((method.to_string(), template.to_owned()));
        body
    }
}

async fn exercise_every_operation(
    contract: &Contract,
    style: PaginationStyle,
) -> BTreeSet<(String, String)> {
    let config = SimConfig::new()
        .project(P)
        .account(ADMIN.0, ADMIN.1, Role::Admin)
        .pagination(style);
    let sim = Simulator::bind(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut api = Checked::new(contract, &sim);
    let customers = "/projects/{projectId}/customers";
    let customer = "/projects/{projectId}/customers/{customerId}";
    let users = "/projects/{projectId}/customers/{customerId}/users";
    let user = "/projects/{projectId}/customers/{customerId}/users/{userId}";

    let token = api
        .call(
            Method::POST,
            "/auth/token",
            "/auth/token",
            Some(json!({"email": ADMIN.0, "password": ADMIN.1})),
        )
        .await;
    api.token = Some(token["accessToken"].as_str().unwrap().to_owned());

    let p = format!("/projects/{P}/customers");
    api.call(Method::GET, customers, &p, None).await;
    api.call(
        Method::POST,
        customers,
        &p,
        Some(json!({"displayName": "Minimal", "customerId": "minimal"})),
    )
    .await;
    api.call(
        Method::POST,
        customers,
        &p,
        Some(json!({"displayName": "Full", "customerId": "full", "tenantName": "fourteen-chars", "region": "us", "isNfr": true})),
    )
    .await;
    api.call(
        Method::GET,
        customers,
        &format!("{p}?page=1&pageSize=1"),
        None,
    )
    .await;
    api.call(
        Method::GET,
        customers,
        &format!("{p}?page=2&pageSize=1"),
        None,
    )
    .await;
    api.call(Method::GET, customers, &format!("{p}?page=5"), None)
        .await;
    api.call(
        Method::PATCH,
        customer,
        &format!("{p}/full"),
        Some(json!({"customerId": "renamed", "displayName": "R", "isNfr": false})),
    )
    .await;
    api.call(
        Method::PATCH,
        customer,
        &format!("{p}/renamed"),
        Some(json!({})),
    )
    .await;

    let u = format!("{p}/renamed/users");
    api.call(Method::GET, users, &u, None).await;
    let created = api
        .call(Method::POST, users, &u, Some(json!({"email": "jane.smith@contoso.example", "firstName": "Jane", "lastName": "Smith"})))
        .await;
    api.call(
        Method::POST,
        users,
        &u,
        Some(json!({"email": "k@x.io", "firstName": "K", "lastName": "L", "password": "a-password-of-16+"})),
    )
    .await;
    api.call(Method::GET, users, &format!("{u}?pageSize=1"), None)
        .await;
    api.call(Method::GET, users, &format!("{u}?page=2&pageSize=1"), None)
        .await;
    let id = created["id"].as_str().unwrap();
    api.call(
        Method::PATCH,
        user,
        &format!("{u}/{id}"),
        Some(json!({"firstName": "Janet", "enabled": false, "password": "another-password-1"})),
    )
    .await;
    api.call(Method::DELETE, user, &format!("{u}/{id}"), None)
        .await;
    api.call(Method::DELETE, customer, &format!("{p}/renamed"), None)
        .await;
    api.call(
        Method::GET,
        users,
        &format!("/projects/{P}/customers/minimal/users"),
        None,
    )
    .await;
    sim.shutdown().await.unwrap();
    api.seen
}

fn contract_operations(contract: &Contract) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in contract.doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn every_success_response_matches_the_contract() {
    let contract = Contract::new();
    let operations = contract_operations(&contract);
    for style in [PaginationStyle::HasNextPage, PaginationStyle::Total] {
        let seen = exercise_every_operation(&contract, style).await;
        assert_eq!(
            seen, operations,
            "every operation of the contract is exercised"
        );
    }
}

#[test]
fn the_simulator_serves_exactly_the_contract_operations() {
    let contract = Contract::new();
    let served: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.to_owned(), e.template.to_owned()))
        .collect();
    assert_eq!(served, contract_operations(&contract));
}

/// The validator is real: shapes that drift from the contract are rejected.
#[test]
fn drifted_responses_are_rejected() {
    let contract = Contract::new();
    let customer = json!({"displayName": "C", "tenantName": "base", "region": "eu", "customerId": "c",
                          "isNfr": false, "createdAt": "2026-11-22T10:00:00Z"});
    let customers = "/projects/{projectId}/customers";
    assert!(
        contract
            .schema_errors(customers, &Method::POST, StatusCode::CREATED, &customer)
            .is_empty()
    );

    let drop = |field: &str| {
        let mut c = customer.clone();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let with = |field: &str, value: Value| {
        let mut c = customer.clone();
        c[field] = value;
        c
    };
    let user = json!({"id": "123e4567-e89b-42d3-a456-426614174000", "email": "j@x.io", "firstName": "J",
                      "lastName": "S", "emailVerified": false, "enabled": true, "createdAt": "2026-11-22T10:00:00Z"});
    let users = "/projects/{projectId}/customers/{customerId}/users";
    assert!(
        contract
            .schema_errors(users, &Method::POST, StatusCode::CREATED, &user)
            .is_empty()
    );
    let mut user_bad_id = user.clone();
    user_bad_id["id"] = json!("not-a-uuid");
    let mut user_without_enabled = user.clone();
    user_without_enabled
        .as_object_mut()
        .unwrap()
        .remove("enabled");

    let wrong: Vec<(&str, Method, StatusCode, Value)> = vec![
        (
            customers,
            Method::POST,
            StatusCode::CREATED,
            drop("displayName"),
        ),
        (
            customers,
            Method::POST,
            StatusCode::CREATED,
            with("region", json!("asia")),
        ),
        (
            customers,
            Method::POST,
            StatusCode::CREATED,
            with("tenantName", json!("fifteen-chars-x")),
        ),
        (
            customers,
            Method::POST,
            StatusCode::CREATED,
            with("isNfr", json!("false")),
        ),
        (
            customers,
            Method::POST,
            StatusCode::CREATED,
            with("createdAt", json!("yesterday")),
        ),
        (
            customers,
            Method::GET,
            StatusCode::OK,
            json!({"customers": [drop("customerId")], "pagination": {"page": 1}}),
        ),
        (
            customers,
            Method::GET,
            StatusCode::OK,
            json!({"items": [customer], "pagination": {"page": 1}}),
        ),
        (
            customers,
            Method::GET,
            StatusCode::OK,
            json!({"customers": [], "pagination": {"page": "1"}}),
        ),
        (users, Method::POST, StatusCode::CREATED, user_bad_id),
        (
            users,
            Method::GET,
            StatusCode::OK,
            json!({"users": [user_without_enabled], "pagination": {}}),
        ),
        (
            "/auth/token",
            Method::POST,
            StatusCode::OK,
            json!({"accessToken": "a.b.c", "tokenType": "bearer"}),
        ),
        (
            "/auth/token",
            Method::POST,
            StatusCode::OK,
            json!({"accessToken": "a.b.c", "tokenType": "bearer", "expiresIn": "3600"}),
        ),
    ];
    for (template, method, status, body) in wrong {
        assert!(
            !contract
                .schema_errors(template, &method, status, &body)
                .is_empty(),
            "{method} {template} accepted a drifted body: {body}"
        );
    }
    // An undocumented body on a 204 is drift too.
    let customer_path = "/projects/{projectId}/customers/{customerId}";
    assert!(
        !contract
            .schema_errors(
                customer_path,
                &Method::DELETE,
                StatusCode::NO_CONTENT,
                &json!({})
            )
            .is_empty()
    );
}

#[test]
#[should_panic(expected = "the contract documents")]
fn undocumented_statuses_are_rejected() {
    Contract::new().check(
        "/projects/{projectId}/customers",
        &Method::POST,
        StatusCode::ACCEPTED,
        &Value::Null,
    );
}
