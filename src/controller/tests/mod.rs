//! The fast reconcile tier: whole passes of both kinds, in process, in milliseconds. The Admin API
//! is the simulator (in process, on loopback); Kubernetes is a scripted API behind the real
//! `kube::Client` that answers from fixtures and records every call, so each test asserts exactly
//! which calls a pass made on both sides.

mod access_pass;
mod credentials_pass;
mod customer_pass;
mod observe_pass;
mod observer_claims_pass;
mod own_writes_pass;
mod user_pass;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use serde_json::{Value, json};

use super::claims::Registry;
use super::context::{Backoff, Context, Settings};
use super::packed::{Packed, PackedUser};
use super::pass::{Reconciled, reconcile};
use super::secret_reader::SecretReader;
use crate::admin_api::{AdminClient, ClientConfig, Credentials, Password};
use crate::crd::{Customer, CustomerUser};
use crate::metrics::Metrics;
use crate::observe::Snapshots;
use crate::sim::{Role, RunningSim, SimConfig, Simulator};

pub const NS: &str = "tenant";
pub const PROJECT: &str = "project-1";
pub const EMAIL: &str = "admin@corti.test";
pub const PASSWORD: &str = "admin-password-0123456789";
pub const SECRET: &str = "corti-admin";

/// One request the operator made to Kubernetes: method, path, and body (JSON, or null).
#[derive(Clone, Debug, PartialEq)]
pub struct KubeCall {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// The scripted Kubernetes side: objects by path (a GET answers them; a write answers with the
/// stored object), and every call recorded.
#[derive(Clone, Default)]
pub struct Kube {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    calls: Arc<Mutex<Vec<KubeCall>>>,
}

impl Kube {
    pub fn put(&self, path: &str, object: Value) {
        lock(&self.objects).insert(path.to_string(), object);
    }

    /// The calls made so far, Events left out (they are asserted through `events`).
    pub fn calls(&self) -> Vec<KubeCall> {
        lock(&self.calls)
            .iter()
            .filter(|c| !c.path.contains("/events"))
            .cloned()
            .collect()
    }

    /// `method path` of each call, Events left out.
    pub fn call_lines(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    /// The reasons of the Events recorded.
    pub fn events(&self) -> Vec<String> {
        lock(&self.calls)
            .iter()
            .filter(|c| c.method == "POST" && c.path.contains("/events"))
            .filter_map(|c| c.body["reason"].as_str().map(str::to_string))
            .collect()
    }

    /// The `status` of each status patch, in order.
    pub fn status_writes(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .filter(|c| c.path.ends_with("/status"))
            .map(|c| c.body["status"].clone())
            .collect()
    }

    pub fn reset(&self) {
        lock(&self.calls).clear();
    }

    fn answer(&self, method: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        lock(&self.calls).push(KubeCall {
            method: method.into(),
            path: path.into(),
            body: body.clone(),
        });
        let objects = lock(&self.objects);
        if path.contains("/events") {
            return (StatusCode::CREATED, body.clone());
        }
        let target = path.trim_end_matches("/status");
        let collections = ["/customers", "/customerusers", "/secrets"];
        if method == "GET" && collections.iter().any(|c| path.ends_with(c)) {
            let items: Vec<Value> = objects
                .iter()
                .filter(|(p, _)| p.rsplit_once('/').is_some_and(|(parent, _)| parent == path))
                .map(|(_, o)| o.clone())
                .collect();
            let list = json!({ "apiVersion": "v1", "kind": "List", "metadata": { "resourceVersion": "1" }, "items": items });
            return (StatusCode::OK, list);
        }
        match objects.get(target) {
            Some(object) => (StatusCode::OK, object.clone()),
            None => (
                StatusCode::NOT_FOUND,
                json!({ "apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found" }),
            ),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `kube::Client` whose every request `kube` answers.
fn client(kube: Kube) -> kube::Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, respond)) = handle.next_request().await {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (status, answer) = kube.answer(&method, &path, &body);
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&answer).unwrap_or_default()))
                .unwrap_or_else(|_| Response::new(Body::empty()));
            respond.send_response(response);
        }
    });
    kube::Client::new(service, NS)
}

/// A pass's world: the simulator, the scripted Kubernetes, the caches and the context.
pub struct World {
    pub sim: RunningSim,
    pub kube: Kube,
    pub ctx: Arc<Context>,
    customers: Writer<Customer>,
    users: Writer<PackedUser>,
}

impl World {
    pub async fn new() -> Self {
        Self::with(true).await
    }

    pub async fn with(adopt_existing: bool) -> Self {
        Self::build(adopt_existing, false).await
    }

    /// The operator run with `--dry-run`.
    pub async fn dry_run() -> Self {
        Self::build(true, true).await
    }

    async fn build(adopt_existing: bool, dry_run: bool) -> Self {
        let config = SimConfig::new()
            .project(PROJECT)
            .account(EMAIL, PASSWORD, Role::Admin);
        let sim = Simulator::bind(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("the simulator starts");
        let kube = Kube::default();
        kube.put(
            &secret_path(SECRET),
            secret(
                SECRET,
                &[
                    ("email", EMAIL),
                    ("password", PASSWORD),
                    ("projectId", PROJECT),
                ],
            ),
        );
        let client = client(kube.clone());
        let metrics = Arc::new(Metrics::default());
        let admin =
            AdminClient::new(&ClientConfig::new(&sim.base_url), metrics.clone()).expect("client");
        let (customer_store, customers) = reflector::store();
        let (user_store, users) = reflector::store();
        let ctx = Arc::new(Context {
            kube: client.clone(),
            admin,
            snapshots: Snapshots::new(Duration::from_secs(60)),
            secrets: SecretReader::new(client.clone(), None, Vec::new()),
            customers: customer_store,
            users: user_store,
            user_index: crate::controller::user_index::UserIndex::default(),
            events: crate::controller::events::EventWriter::new(client, "corti-operator", "test"),
            metrics,
            settings: Settings {
                resync_period: Duration::from_secs(300),
                slow_retry: Duration::from_secs(300),
                adopt_existing,
                dry_run,
            },
            namespaces: vec![NS.into()],
            claims: Registry::default(),
            backoff: Backoff::default(),
            own_writes: Arc::default(),
            triggers: Arc::default(),
            midway: std::sync::Mutex::default(),
        });
        let mut world = Self {
            sim,
            kube,
            ctx,
            customers,
            users,
        };
        world
            .customers
            .apply_watcher_event(&watcher::Event::InitDone);
        world.users.apply_watcher_event(&watcher::Event::InitDone);
        world
    }

    /// Puts a resource in the cache and in the scripted API server (what a watch would show).
    pub fn customer(&mut self, customer: &Customer) {
        self.customers
            .apply_watcher_event(&watcher::Event::Apply(customer.clone()));
        self.serve(customer, "customers");
    }

    pub fn user(&mut self, user: &CustomerUser) {
        let event = watcher::Event::Apply(Packed::pack(user.clone()));
        self.users.apply_watcher_event(&event);
        self.ctx.user_index.follow(&event);
        self.serve(user, "customerusers");
    }

    fn serve<K: kube::Resource + serde::Serialize>(&self, object: &K, plural: &str) {
        let path = format!(
            "/apis/admin.corti.app/v1alpha1/namespaces/{NS}/{plural}/{}",
            name(object)
        );
        self.kube.put(&path, to_json(object));
    }

    /// Jane, made in the Console (not by the operator) in customer `contoso`; her id. The calls
    /// it took are forgotten.
    pub async fn console_user(&self, first_name: &str, last_name: &str) -> String {
        let (console, credentials) = self.console();
        let body = crate::admin_api::NewUser {
            email: "jane@contoso.example".into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            password: None,
        };
        let made = console
            .create_user(&credentials, "contoso", &body)
            .await
            .expect("console create");
        self.reset_calls();
        made.id
    }

    /// A person enables or disables user `id` of `contoso` in the Console; the operator's snapshot
    /// is dropped so its next pass sees the change. The calls it took are forgotten.
    pub async fn console_sets_enabled(&self, id: &str, enabled: bool) {
        let (console, credentials) = self.console();
        let patch = crate::admin_api::UserPatch {
            enabled: Some(enabled),
            ..crate::admin_api::UserPatch::default()
        };
        console
            .update_user(&credentials, "contoso", id, &patch)
            .await
            .expect("console edit");
        self.ctx.snapshots.invalidate_users(PROJECT, "contoso");
        self.reset_calls();
    }

    /// The `status` of the last status patch.
    pub fn last_status(&self) -> Value {
        self.kube
            .status_writes()
            .last()
            .cloned()
            .expect("a status write")
    }

    /// How many users the simulator holds in the first customer of the project.
    pub fn remote_users(&self) -> usize {
        self.sim.sim.snapshot().projects[0].customers[0].users.len()
    }

    /// One pass, as the controller would run it.
    pub async fn pass<K: Reconciled>(&self, object: &K) -> Action {
        reconcile(Arc::new(object.clone()), self.ctx.clone())
            .await
            .expect("the pass ends")
    }

    /// The Console: the same Admin API, used by a person.
    pub fn console(&self) -> (AdminClient, Credentials) {
        let client = AdminClient::new(
            &ClientConfig::new(&self.sim.base_url),
            Arc::new(Metrics::default()),
        )
        .expect("client");
        let credentials = Credentials {
            email: EMAIL.into(),
            password: Password::new(PASSWORD),
            project_id: PROJECT.into(),
        };
        (client, credentials)
    }

    /// Admin API calls other than logins: `METHOD /path/template STATUS`, sorted.
    pub fn admin_calls(&self) -> Vec<String> {
        let mut calls: Vec<String> = self
            .sim
            .sim
            .calls()
            .iter()
            .filter(|c| !c.path.starts_with("/auth"))
            .flat_map(|c| {
                std::iter::repeat_n(
                    format!("{} {} {}", c.method, c.path, c.status),
                    usize::try_from(c.count).unwrap_or(0),
                )
            })
            .collect();
        calls.sort();
        calls
    }

    pub fn reset_calls(&self) {
        self.sim.sim.reset_calls();
        self.kube.reset();
    }
}

/// A Secret with these values, as the API server returns it.
pub fn secret(name: &str, values: &[(&str, &str)]) -> Value {
    let secret = k8s_openapi::api::core::v1::Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            resource_version: Some("1".into()),
            ..Default::default()
        },
        data: Some(
            values
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_string(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        ),
        ..Default::default()
    };
    let mut value = to_json(&secret);
    value["apiVersion"] = json!("v1");
    value["kind"] = json!("Secret");
    value
}

pub fn secret_path(name: &str) -> String {
    format!("/api/v1/namespaces/{NS}/secrets/{name}")
}

fn name<K: kube::Resource>(object: &K) -> String {
    object.meta().name.clone().unwrap_or_default()
}

fn to_json<K: serde::Serialize>(object: &K) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// A resource as `kubectl apply` leaves it after the operator's first pass added the finalizer.
pub fn object<K: serde::de::DeserializeOwned>(
    kind: &str,
    name: &str,
    spec: Value,
    status: Value,
) -> K {
    let mut value = json!({
        "apiVersion": "admin.corti.app/v1alpha1", "kind": kind,
        "metadata": { "name": name, "namespace": NS, "uid": format!("uid-{name}"), "generation": 1,
            "resourceVersion": "1", "creationTimestamp": "2026-11-26T00:00:00Z",
            "finalizers": ["admin.corti.app/cleanup"] },
    });
    value["spec"] = spec;
    value["status"] = status;
    serde_json::from_value(value).expect("a valid object")
}

/// The same object, being deleted.
pub fn deleting<K: kube::Resource + Clone>(object: &K) -> K {
    let mut object = object.clone();
    object.meta_mut().deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
    );
    object
}
