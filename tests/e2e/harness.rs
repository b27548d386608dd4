//! One end-to-end environment per test: a namespace on the shared control plane, a simulator of
//! its own (one project, one admin account), the credentials Secret, and the operator binary as a
//! child process watching only that namespace, as the chart's ServiceAccount with the chart's RBAC.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Once;
use std::time::Duration;

use corti_operator::admin_api::{AdminClient, ClientConfig, Credentials, Password};
use corti_operator::crd::{Customer, CustomerUser};
use corti_operator::metrics::Metrics;
use corti_operator::sim::{Role, RunningSim, SimConfig, StoredCustomer, StoredUser};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::support::{self, TestNamespace, control_plane, eventually};

pub const ADMIN_EMAIL: &str = "admin@corti.test";
pub const ADMIN_PASSWORD: &str = "admin-password-0123456789";
pub const CREDENTIALS: &str = "corti-admin";
/// Long enough for any pass on a loaded 2-core machine, short enough to fail fast.
pub const WAIT: Duration = Duration::from_secs(60);

static CRDS: Once = Once::new();

/// Installs `crds/` (the committed, generated files) once per test process.
fn install_crds() {
    CRDS.call_once(|| {
        let crds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds");
        let applied = control_plane().kubectl([
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            crds.to_str().unwrap_or_default(),
        ]);
        assert!(
            applied.status.success(),
            "kubectl apply crds: {}",
            String::from_utf8_lossy(&applied.stderr)
        );
        let established = control_plane().kubectl([
            "wait",
            "--for=condition=Established",
            "crd/customers.admin.corti.app",
            "crd/customerusers.admin.corti.app",
            "--timeout=60s",
        ]);
        assert!(established.status.success(), "CRDs not established");
    });
}

pub struct Env {
    pub ns: TestNamespace,
    pub client: kube::Client,
    pub sim: RunningSim,
    pub project: String,
    operator: Option<tokio::process::Child>,
    pub extra_args: Vec<String>,
    pub kubeconfig: PathBuf,
    log: PathBuf,
}

impl Env {
    /// A namespace, a simulator, the credentials Secret and a running operator.
    pub async fn start(prefix: &str) -> Env {
        Self::start_with(prefix, SimConfig::new(), &[]).await
    }

    /// As `start`, with a simulator configured beyond the default project and account and extra
    /// operator flags.
    pub async fn start_with(prefix: &str, sim: SimConfig, operator_args: &[&str]) -> Env {
        install_crds();
        let ns = support::namespace(prefix).await;
        let project = format!("project-{}", ns.name());
        let config = sim
            .project(&project)
            .account(ADMIN_EMAIL, ADMIN_PASSWORD, Role::Admin);
        let sim = corti_operator::sim::Simulator::bind(
            config,
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .await
        .expect("the simulator starts");
        let client = control_plane().client().await;
        let log = log_dir().join(format!("{}-operator.log", ns.name()));
        let kubeconfig = operator_identity(ns.name());
        let mut env = Env {
            ns,
            client,
            sim,
            project,
            operator: None,
            extra_args: operator_args.iter().map(ToString::to_string).collect(),
            kubeconfig,
            log,
        };
        env.put_credentials(CREDENTIALS, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await;
        env.start_operator();
        env
    }

    pub fn namespace(&self) -> &str {
        self.ns.name()
    }

    pub fn start_operator(&mut self) {
        let child = self.spawn_operator(&self.log, &[]);
        self.operator = Some(child);
    }

    /// Another operator process beside the first (same flags plus `extra`), logging to `name`.
    pub fn start_replica(&self, name: &str, extra: &[&str]) -> (tokio::process::Child, PathBuf) {
        let log = log_dir().join(format!("{}-{name}.log", self.ns.name()));
        (self.spawn_operator(&log, extra), log)
    }

    /// The first operator process's id, and its log.
    pub fn operator_pid(&self) -> (u32, PathBuf) {
        let pid = self
            .operator
            .as_ref()
            .and_then(tokio::process::Child::id)
            .expect("a running operator");
        (pid, self.log.clone())
    }

    fn spawn_operator(&self, log: &std::path::Path, extra: &[&str]) -> tokio::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("operator log");
        // Test defaults, each overridable by a flag in `extra_args` or `extra`.
        let defaults = [
            ("--admin-api-url", self.sim.base_url.as_str()),
            ("--resync-period", "3s"),
            ("--slow-retry", "2s"),
            ("--health-addr", "127.0.0.1:0"),
            ("--admin-api-timeout", "3s"),
            ("--admin-api-rate-limit", "0"),
        ];
        let mut args = vec!["run".to_string()];
        args.extend(["--namespaces".to_string(), self.ns.name().to_string()]);
        for (flag, value) in defaults {
            let given = |a: &str| a == flag;
            if !self.extra_args.iter().any(|a| given(a)) && !extra.iter().any(|a| given(a)) {
                args.extend([flag.to_string(), value.to_string()]);
            }
        }
        args.extend(self.extra_args.iter().cloned());
        args.extend(extra.iter().map(ToString::to_string));
        tokio::process::Command::new(env!("CARGO_BIN_EXE_corti-operator"))
            .args(&args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", "info,corti_operator=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the operator starts")
    }

    /// SIGKILL: no graceful shutdown, no last status write.
    pub async fn kill_operator(&mut self) {
        if let Some(mut child) = self.operator.take() {
            let _ = child.kill().await;
        }
    }

    pub fn customers(&self) -> Api<Customer> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    pub fn users(&self) -> Api<CustomerUser> {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    pub async fn put_credentials(&self, name: &str, email: &str, password: &str) {
        self.put_secret(
            name,
            json!({ "email": email, "password": password, "projectId": self.project }),
        )
        .await;
    }

    /// Creates or replaces a Secret with these string values.
    pub async fn put_secret(&self, name: &str, values: serde_json::Value) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), self.ns.name());
        let secret: Secret = serde_json::from_value(json!({
            "metadata": { "name": name },
            "stringData": values,
        }))
        .expect("a Secret");
        match secrets.get_opt(name).await.expect("get Secret") {
            Some(existing) => {
                let mut secret = secret;
                secret.metadata.resource_version = existing.resource_version();
                secrets
                    .replace(name, &PostParams::default(), &secret)
                    .await
                    .expect("replace Secret");
            }
            None => {
                secrets
                    .create(&PostParams::default(), &secret)
                    .await
                    .expect("create Secret");
            }
        }
    }

    /// Creates a Customer from the `spec` JSON.
    pub async fn customer(&self, name: &str, spec: serde_json::Value) -> Customer {
        let customer: Customer =
            serde_json::from_value(json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer", "metadata": { "name": name }, "spec": spec }))
                .expect("a Customer");
        self.customers()
            .create(&PostParams::default(), &customer)
            .await
            .expect("create Customer")
    }

    /// Creates a CustomerUser from the `spec` JSON.
    pub async fn user(&self, name: &str, spec: serde_json::Value) -> CustomerUser {
        let user: CustomerUser = serde_json::from_value(
            json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser", "metadata": { "name": name }, "spec": spec }),
        )
        .expect("a CustomerUser");
        self.users()
            .create(&PostParams::default(), &user)
            .await
            .expect("create CustomerUser")
    }

    /// Merge-patches a resource's spec (or metadata) with `patch`.
    pub async fn patch<K>(&self, api: &Api<K>, name: &str, patch: serde_json::Value) -> K
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        api.patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("patch")
    }

    /// Waits until `Ready` has `status` and `reason` for the current generation.
    pub async fn wait_ready<K>(&self, api: &Api<K>, name: &str, status: &str, reason: &str) -> K
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug + serde::Serialize,
    {
        let what = format!(
            "{name} Ready={status} ({reason}); operator log: {}",
            self.log.display()
        );
        eventually(&what, WAIT, || async {
            let Ok(Some(object)) = api.get_opt(name).await else {
                return false;
            };
            ready_is(&object, status, reason)
        })
        .await;
        api.get(name).await.expect("get")
    }

    pub async fn wait_gone<K>(&self, api: &Api<K>, name: &str)
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let what = format!("{name} to be deleted; operator log: {}", self.log.display());
        eventually(&what, WAIT, || async {
            matches!(api.get_opt(name).await, Ok(None))
        })
        .await;
    }

    pub async fn delete<K>(&self, api: &Api<K>, name: &str)
    where
        K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    {
        api.delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }

    /// The simulator's customers of this test's project.
    pub fn remote_customers(&self) -> Vec<StoredCustomer> {
        self.sim
            .sim
            .snapshot()
            .projects
            .into_iter()
            .find(|p| p.project_id == self.project)
            .map(|p| p.customers)
            .unwrap_or_default()
    }

    pub fn remote_customer(&self, customer_id: &str) -> Option<StoredCustomer> {
        self.remote_customers()
            .into_iter()
            .find(|c| c.customer.customer_id == customer_id)
    }

    pub fn remote_users(&self, customer_id: &str) -> Vec<StoredUser> {
        self.remote_customer(customer_id)
            .map(|c| c.users)
            .unwrap_or_default()
    }

    /// The Console: the same Admin API, used by a person (with the test's admin account).
    pub fn console(&self) -> (AdminClient, Credentials) {
        let client = AdminClient::new(
            &ClientConfig::new(&self.sim.base_url),
            std::sync::Arc::new(Metrics::default()),
        )
        .expect("client");
        let credentials = Credentials {
            email: ADMIN_EMAIL.into(),
            password: Password::new(ADMIN_PASSWORD),
            project_id: self.project.clone(),
        };
        (client, credentials)
    }

    /// From now on the operator runs with the control plane's admin identity (for cases where
    /// the chart's namespaced Role would itself be deleted, like a namespace deletion).
    pub fn run_as_admin(&mut self) {
        self.kubeconfig = control_plane().kubeconfig_path().to_path_buf();
    }

    /// Deletes the test's namespace now; the namespace controller then deletes its content.
    pub async fn delete_namespace(&self) {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        namespaces
            .delete(self.namespace(), &DeleteParams::default())
            .await
            .expect("delete the namespace");
    }

    /// The reasons of the Events recorded for the object `name`.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), self.namespace());
        events
            .list(&ListParams::default())
            .await
            .expect("list Events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .filter_map(|e| e.reason)
            .collect()
    }

    /// Calls the simulator counted for `method` and path template (all statuses).
    pub fn calls(&self, method: &str, path: &str) -> u64 {
        self.sim
            .sim
            .calls()
            .iter()
            .filter(|c| c.method == method && c.path == path)
            .map(|c| c.count)
            .sum()
    }

    /// Admin API writes the simulator counted (any method but GET), logins aside.
    pub fn admin_writes(&self) -> u64 {
        let calls = self.sim.sim.calls();
        let writes = calls
            .iter()
            .filter(|c| c.method != "GET" && c.path != "/auth/token");
        writes.map(|c| c.count).sum()
    }

    /// Deletes every Customer and CustomerUser and waits until the operator released them, then
    /// stops the operator. Keeps the shared control plane free of stuck finalizers.
    pub async fn finish(mut self) {
        let users = self.users();
        let customers = self.customers();
        let _ = users
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        let _ = customers
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        eventually("all resources released", WAIT, || async {
            let users_left = users
                .list(&ListParams::default())
                .await
                .map_or(1, |l| l.items.len());
            let customers_left = customers
                .list(&ListParams::default())
                .await
                .map_or(1, |l| l.items.len());
            users_left + customers_left == 0
        })
        .await;
        self.kill_operator().await;
        // The chart's RBAC was enough: the API server never refused the operator anything.
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            !log.contains("is forbidden: User"),
            "the operator was refused by RBAC; see {}",
            self.log.display()
        );
    }
}

/// Whether `Ready` has this status and reason, for the object's current generation.
pub fn ready_is<K: Resource + serde::Serialize>(object: &K, status: &str, reason: &str) -> bool {
    let value = serde_json::to_value(object).unwrap_or_default();
    let generation = value["metadata"]["generation"].as_i64();
    value["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c["type"] == "Ready"
                    && c["status"] == status
                    && c["reason"] == reason
                    && c["observedGeneration"].as_i64() == generation
            })
        })
}

/// The condition `type_`: its status, reason and message (empty strings when there is none).
pub fn condition_of<K: Resource + serde::Serialize>(
    object: &K,
    type_: &str,
) -> (String, String, String) {
    let value = serde_json::to_value(object).unwrap_or_default();
    let found = value["status"]["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or_default();
    let text = |field: &str| found[field].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("message"))
}

/// The `Ready` condition's message.
pub fn ready_message<K: Resource + serde::Serialize>(object: &K) -> String {
    let value = serde_json::to_value(object).unwrap_or_default();
    value["status"]["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn log_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-logs");
    std::fs::create_dir_all(&dir).expect("log dir");
    dir
}

/// The operator runs as the chart's ServiceAccount, with the RBAC the chart renders for one
/// watched namespace, by impersonation: every end-to-end case also proves those permissions are
/// enough. Returns the kubeconfig that acts as that ServiceAccount.
fn operator_identity(namespace: &str) -> PathBuf {
    const RELEASE: &str = "corti-operator"; // the chart's names are then `corti-operator`
    let chart = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/corti-operator");
    let rendered = control_plane()
        .command("helm")
        .args(["template", RELEASE])
        .arg(&chart)
        .args(["--namespace", namespace])
        .arg(format!("--set=watchNamespaces={{{namespace}}}"))
        // The Lease rules too, for the cases that run two replicas with leader election.
        .arg("--set=leaderElection.enabled=true")
        .args(["--show-only", "templates/serviceaccount.yaml"])
        .args(["--show-only", "templates/rbac.yaml"])
        .output()
        .expect("helm runs");
    assert!(
        rendered.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let manifest = log_dir().join(format!("{namespace}-rbac.yaml"));
    std::fs::write(&manifest, &rendered.stdout).expect("write the rendered RBAC");
    let applied = control_plane().kubectl(["apply", "-f", manifest.to_str().unwrap_or_default()]);
    assert!(
        applied.status.success(),
        "kubectl apply the chart's RBAC: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    support::impersonating_kubeconfig(&log_dir(), namespace, RELEASE)
}
