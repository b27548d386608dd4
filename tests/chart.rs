//! The Helm chart (`charts/corti-operator`) and the plain manifests (`deploy/`), on the real local
//! control plane: lint and render clean, the values schema refuses bad values, the chart installs
//! under Pod Security `restricted` without a warning, its RBAC grants what the operator needs and
//! nothing else (`kubectl auth can-i` as its ServiceAccount), upgrades with changed values, and its
//! uninstall leaves the CRDs and the resources in place. The operator itself, run with only the
//! chart's permissions, is in `operator_runs_with_only_the_chart_permissions`.

mod support;

// Newer parts of the chart, each in tests/chart/: the simulator option, the options for real
// platforms, and the release's versions and image.
#[path = "chart/crd_upgrade.rs"]
mod crd_upgrade;
#[path = "chart/platform.rs"]
mod platform;
#[path = "chart/release.rs"]
mod release;
#[path = "chart/simulator.rs"]
mod simulator;
#[path = "chart/walkthrough.rs"]
mod walkthrough;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use serde_json::{Value, json};
use support::{TestNamespace, control_plane, eventually, namespace, namespace_with_labels};

const RESTRICTED: (&str, &str) = ("pod-security.kubernetes.io/enforce", "restricted");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> String {
    repo().join("charts/corti-operator").display().to_string()
}

/// What a command did, as text.
#[derive(Debug)]
struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn of(command: &mut Command) -> Ran {
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        Ran {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Succeeded and said nothing on stderr (where helm and kubectl print warnings).
    fn clean(self, what: &str) -> Ran {
        assert!(
            self.success,
            "{what} failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.trim().is_empty(),
            "{what} printed on stderr:\n{}",
            self.stderr
        );
        assert!(
            !self.stdout.contains("PodSecurity"),
            "{what} printed a Pod Security warning:\n{}",
            self.stdout
        );
        self
    }
}

fn helm(args: &[&str]) -> Ran {
    Ran::of(control_plane().command("helm").args(args))
}

fn kubectl(args: &[&str]) -> Ran {
    Ran::of(control_plane().command("kubectl").args(args))
}

/// `helm template` of the chart with these extra arguments, as JSON documents.
fn render(args: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut all = vec![
        "template",
        "corti",
        chart.as_str(),
        "--namespace",
        "corti-system",
    ];
    all.extend_from_slice(args);
    let ran = helm(&all).clean(&format!("helm {}", all.join(" ")));
    documents(&ran.stdout)
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|document| {
            let value = <serde_norway::Value as serde::Deserialize>::deserialize(document)
                .expect("helm renders YAML");
            serde_json::to_value(value).expect("YAML converts to JSON")
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn kinds(documents: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = documents
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    kinds.sort();
    kinds
}

fn find<'a>(documents: &'a [Value], kind: &str, name: &str, namespace: Option<&str>) -> &'a Value {
    documents
        .iter()
        .find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"] == name
                && namespace.is_none_or(|ns| d["metadata"]["namespace"] == ns)
        })
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kinds(documents)))
}

fn env_of(deployment: &Value, name: &str) -> Option<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("the container has env")
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| e["value"].as_str().unwrap_or_default().to_owned())
}

/// Installs the committed CRDs once per test process (Helm installs its `crds/` only when they are
/// missing, so a cluster that already has them is the common case anyway).
fn install_crds() {
    static CRDS: Once = Once::new();
    CRDS.call_once(|| {
        let crds = repo().join("crds").display().to_string();
        kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &crds])
            .clean("kubectl apply crds/");
        kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/customers.admin.corti.app",
            "crd/customerusers.admin.corti.app",
            "--timeout=60s",
        ])
        .clean("kubectl wait for the CRDs");
    });
}

/// A release name unique in the cluster (its ClusterRole is named after it).
fn release_name(namespace: &TestNamespace) -> String {
    format!(
        "co-{}",
        namespace.name().rsplit('-').next().unwrap_or_default()
    )
}

/// Helm's view of a release, uninstalled when dropped (a failing test leaves no cluster-wide RBAC).
struct Release {
    name: String,
    namespace: String,
    installed: bool,
}

impl Release {
    fn install(name: &str, namespace: &str, values: &[&str]) -> (Release, Ran) {
        let chart = chart();
        let mut args = vec!["install", name, chart.as_str(), "--namespace", namespace];
        args.extend_from_slice(values);
        let ran = helm(&args);
        let release = Release {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            installed: ran.success,
        };
        (release, ran)
    }

    fn upgrade(&self, values: &[&str]) -> Ran {
        let chart = chart();
        let mut args = vec![
            "upgrade",
            self.name.as_str(),
            chart.as_str(),
            "--namespace",
            self.namespace.as_str(),
        ];
        args.extend_from_slice(values);
        helm(&args)
    }

    fn uninstall(mut self) -> Ran {
        self.installed = false;
        helm(&[
            "uninstall",
            self.name.as_str(),
            "--namespace",
            self.namespace.as_str(),
        ])
    }

    fn fullname(&self) -> String {
        format!("{}-corti-operator", self.name)
    }

    fn service_account(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace,
            self.fullname()
        )
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.installed {
            let _ = helm(&[
                "uninstall",
                self.name.as_str(),
                "--namespace",
                self.namespace.as_str(),
            ]);
        }
    }
}

/// `kubectl auth can-i VERB RESOURCE [-n NAMESPACE | -A] --as USER`.
fn can_i(user: &str, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    let (resource, subresource) = match resource.split_once(" --subresource=") {
        Some((resource, subresource)) => (resource, Some(subresource)),
        None => (resource, None),
    };
    let mut args = vec!["auth", "can-i", verb, resource, "--as", user];
    match namespace {
        Some(namespace) => args.extend(["--namespace", namespace]),
        None => args.push("--all-namespaces"),
    }
    let subresource_flag;
    if let Some(subresource) = subresource {
        subresource_flag = format!("--subresource={subresource}");
        args.push(&subresource_flag);
    }
    let ran = kubectl(&args);
    match ran.stdout.trim() {
        "yes" => true,
        "no" => false,
        other => panic!("kubectl {}: {other:?}\n{}", args.join(" "), ran.stderr),
    }
}

/// Asserts each (verb, resource, namespace, allowed) for `user`, reporting all mismatches at once.
fn assert_access(user: &str, expectations: &[(&str, &str, Option<&str>, bool)]) {
    let wrong: Vec<String> = expectations
        .iter()
        .filter(|(verb, resource, namespace, allowed)| {
            can_i(user, verb, resource, *namespace) != *allowed
        })
        .map(|(verb, resource, namespace, allowed)| {
            format!(
                "{user} {} {verb} {resource} in {}",
                if *allowed { "cannot" } else { "CAN" },
                namespace.unwrap_or("all namespaces")
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "RBAC differs from the chart's promise:\n{}",
        wrong.join("\n")
    );
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn chart_and_deploy_crds_are_the_generated_ones() {
    let generated = repo().join("crds");
    let names = file_names(&generated);
    assert_eq!(
        names,
        [
            "customers.admin.corti.app.yaml",
            "customerusers.admin.corti.app.yaml"
        ]
    );
    for copy in ["charts/corti-operator/crds", "deploy/crds"] {
        let copy = repo().join(copy);
        assert_eq!(
            file_names(&copy),
            names,
            "{} has other files than crds/ (run deploy/render)",
            copy.display()
        );
        for name in &names {
            assert!(
                read(&generated.join(name)) == read(&copy.join(name)),
                "{}/{name} differs from crds/{name} (run deploy/render)",
                copy.display()
            );
        }
    }
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn plain_manifests_are_rendered_from_the_chart() {
    let helm = control_plane().bin_dir().join("helm");
    let ran = Ran::of(
        Command::new(repo().join("deploy/render"))
            .arg("--check")
            .env("HELM", helm),
    );
    assert!(
        ran.success,
        "deploy/render --check:\n{}{}",
        ran.stdout, ran.stderr
    );
    let kustomization =
        String::from_utf8(read(&repo().join("deploy/kustomization.yaml"))).expect("UTF-8");
    for resource in [
        "crds/customers.admin.corti.app.yaml",
        "crds/customerusers.admin.corti.app.yaml",
        "manifests/corti-operator.yaml",
    ] {
        assert!(
            kustomization.contains(&format!("- {resource}")),
            "deploy/kustomization.yaml lacks {resource}"
        );
    }
}

/// What the README tells a user to run for the plain manifests, on the real API server: accepted
/// without a warning, and the Deployment's Pod is admitted under Pod Security `restricted` (the
/// ReplicaSet controller creates it; no kubelet runs it here).
#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn plain_manifests_apply_cleanly_and_their_pod_is_admitted() {
    // --force-conflicts: other tests of this run own the CRDs' fields already (helm, kubectl).
    let deploy = repo().join("deploy").display().to_string();
    kubectl(&["apply", "--server-side", "--force-conflicts", "-k", &deploy])
        .clean("kubectl apply --server-side -k deploy/");
    eventually(
        "the operator's Pod admitted in corti-system",
        WAIT,
        || async {
            let pods = kubectl(&[
                "get",
                "pods",
                "-n",
                "corti-system",
                "-l",
                "app.kubernetes.io/name=corti-operator",
                "-o",
                "name",
            ]);
            pods.success && pods.stdout.contains("pod/")
        },
    )
    .await;
    // Not the CRDs: other tests of this run use them.
    kubectl(&[
        "delete",
        "namespace/corti-system",
        "clusterrole/corti-operator",
        "clusterrolebinding/corti-operator",
        "--wait=false",
    ])
    .clean("delete what deploy/ installed");
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn helm_lint_is_clean() {
    let chart = chart();
    let value_sets: [&[&str]; 4] = [
        &[],
        &[
            "--set",
            "watchNamespaces={tenants}",
            "--set",
            "defaultCredentialsSecret.name=corti-admin",
        ],
        &[
            "--set",
            "watchNamespaces={a,b}",
            "--set",
            "replicas=3",
            "--set",
            "serviceMonitor.enabled=true",
        ],
        &[
            "--set",
            "defaultCredentialsSecret.name=corti-admin,defaultCredentialsSecret.create=true",
            "--set",
            "defaultCredentialsSecret.email=a@example.com,defaultCredentialsSecret.password=p,defaultCredentialsSecret.projectId=x",
        ],
    ];
    for values in value_sets {
        let mut args = vec!["lint", "--strict", chart.as_str()];
        args.extend_from_slice(values);
        let ran = helm(&args);
        assert!(
            ran.success,
            "helm {}:\n{}{}",
            args.join(" "),
            ran.stdout,
            ran.stderr
        );
        assert!(
            !ran.stdout.contains("[WARNING]") && !ran.stdout.contains("[ERROR]"),
            "helm {}:\n{}",
            args.join(" "),
            ran.stdout
        );
    }
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn helm_template_renders_each_rbac_shape() {
    // Default: all namespaces, one replica.
    let docs = render(&[]);
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole/corti-corti-operator",
            "ClusterRole/corti-corti-operator-edit",
            "ClusterRole/corti-corti-operator-view",
            "ClusterRoleBinding/corti-corti-operator",
            "Deployment/corti-corti-operator",
            "Service/corti-corti-operator-metrics",
            "ServiceAccount/corti-corti-operator",
        ]
    );
    let deployment = find(
        &docs,
        "Deployment",
        "corti-corti-operator",
        Some("corti-system"),
    );
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        env_of(deployment, "CORTI_LEADER_ELECTION").as_deref(),
        Some("false")
    );
    assert_eq!(env_of(deployment, "CORTI_WATCH_NAMESPACES"), None);
    assert_eq!(env_of(deployment, "CORTI_DEFAULT_CREDENTIALS_SECRET"), None);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "ghcr.io/corti/corti-operator:0.1.0");
    assert_eq!(container["args"], json!(["run"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    let rules = &find(&docs, "ClusterRole", "corti-corti-operator", None)["rules"];
    assert!(
        rules
            .as_array()
            .expect("rules")
            .iter()
            .all(|r| !r["verbs"].as_array().expect("verbs").contains(&json!("*"))),
        "no wildcard verbs: {rules}"
    );

    // One namespace: a Role there, nothing cluster-wide for the operator (the aggregated roles
    // are for people, bound by nobody here); a default Secret readable by name only.
    let docs = render(&[
        "--set",
        "watchNamespaces={tenants}",
        "--set",
        "defaultCredentialsSecret.name=corti-admin",
        "--set",
        "rbac.aggregateToDefaultRoles=false",
    ]);
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "ClusterRole" || d["kind"] == "ClusterRoleBinding"),
        "{:?}",
        kinds(&docs)
    );
    let role = find(&docs, "Role", "corti-corti-operator", Some("tenants"));
    assert!(
        role["rules"].to_string().contains("\"watch\""),
        "the single watched namespace is listed and watched there"
    );
    let credentials = find(
        &docs,
        "Role",
        "corti-corti-operator-default-credentials",
        Some("corti-system"),
    );
    assert_eq!(
        credentials["rules"],
        json!([{ "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["corti-admin"], "verbs": ["get"] }])
    );
    let deployment = find(&docs, "Deployment", "corti-corti-operator", None);
    assert_eq!(
        env_of(deployment, "CORTI_WATCH_NAMESPACES").as_deref(),
        Some("tenants")
    );
    assert_eq!(
        env_of(deployment, "CORTI_DEFAULT_CREDENTIALS_SECRET").as_deref(),
        Some("corti-system/corti-admin")
    );

    // Several namespaces and replicas: a read-only ClusterRole, a Role in each, leader election.
    let docs = render(&[
        "--set",
        "watchNamespaces={a,b}",
        "--set",
        "replicas=2",
        "--set",
        "serviceMonitor.enabled=true",
    ]);
    let cluster_role = find(&docs, "ClusterRole", "corti-corti-operator", None);
    assert_eq!(
        cluster_role["rules"],
        json!([{ "apiGroups": ["admin.corti.app"], "resources": ["customers", "customerusers"], "verbs": ["get", "list", "watch"] }])
    );
    for namespace in ["a", "b"] {
        find(&docs, "Role", "corti-corti-operator", Some(namespace));
        find(
            &docs,
            "RoleBinding",
            "corti-corti-operator",
            Some(namespace),
        );
    }
    let deployment = find(&docs, "Deployment", "corti-corti-operator", None);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        env_of(deployment, "CORTI_LEADER_ELECTION").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_of(deployment, "CORTI_LEASE_NAME").as_deref(),
        Some("corti-corti-operator")
    );
    find(
        &docs,
        "Role",
        "corti-corti-operator-leader-election",
        Some("corti-system"),
    );
    find(
        &docs,
        "ServiceMonitor",
        "corti-corti-operator",
        Some("corti-system"),
    );
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn values_schema_rejects_bad_values() {
    let chart = chart();
    let bad: [(&[&str], &str); 11] = [
        (&["--set-string", "replicas=two"], "replicas"),
        (&["--set", "replicas=-1"], "replicas"),
        (&["--set", "logFormat=xml"], "logFormat"),
        (&["--set", "replica=2"], "replica"),
        (&["--set", "adminApiUrl=ftp://example.com"], "adminApiUrl"),
        (&["--set", "watchNamespaces={Tenants}"], "watchNamespaces"),
        (&["--set", "resyncPeriod=5 minutes"], "resyncPeriod"),
        (&["--set", "concurrency=0"], "concurrency"),
        (&["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
        (&["--set", "serviceMonitor.interval=often"], "interval"),
        (
            &[
                "--set",
                "defaultCredentialsSecret.create=true,defaultCredentialsSecret.name=corti-admin",
            ],
            "defaultCredentialsSecret",
        ),
    ];
    for (values, path) in bad {
        let mut args = vec!["template", "corti", chart.as_str()];
        args.extend_from_slice(values);
        let ran = helm(&args);
        assert!(
            !ran.success,
            "helm {} should fail:\n{}",
            args.join(" "),
            ran.stdout
        );
        assert!(
            ran.stderr.contains("schema") && ran.stderr.contains(path),
            "helm {} should name the schema and {path}:\n{}",
            args.join(" "),
            ran.stderr
        );
    }
}

#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn install_upgrade_uninstall_under_restricted_pod_security() {
    install_crds();
    let operator_ns = namespace_with_labels("chart", &[RESTRICTED]).await;
    let tenants = namespace("chart-tenants").await;
    let more_tenants = namespace("chart-more").await;
    let elsewhere = namespace("chart-elsewhere").await;
    let (ns, tenants_ns, more_ns, other_ns) = (
        operator_ns.name(),
        tenants.name(),
        more_tenants.name(),
        elsewhere.name(),
    );

    // Install with the default values: all namespaces, one replica.
    let (release, ran) = Release::install(&release_name(&operator_ns), ns, &[]);
    let ran = ran.clean("helm install");
    assert!(
        ran.stdout.contains("kubectl get corti"),
        "NOTES say what to do next:\n{}",
        ran.stdout
    );
    let fullname = release.fullname();
    for object in [
        format!("deployment/{fullname}"),
        format!("serviceaccount/{fullname}"),
        format!("service/{fullname}-metrics"),
        format!("clusterrole/{fullname}"),
        format!("clusterrolebinding/{fullname}"),
    ] {
        kubectl(&["get", &object, "--namespace", ns]).clean(&format!("kubectl get {object}"));
    }
    // The namespace enforces `restricted`: the ReplicaSet controller's Pod is admitted only if it complies.
    eventually(
        "the operator's Pod, admitted under restricted",
        Duration::from_secs(60),
        || async {
            let ran = kubectl(&[
                "get",
                "pods",
                "--namespace",
                ns,
                "-l",
                "app.kubernetes.io/name=corti-operator",
                "-o",
                "name",
            ]);
            ran.success && !ran.stdout.trim().is_empty()
        },
    )
    .await;

    let sa = release.service_account();
    assert_access(
        &sa,
        &[
            ("get", "secrets", Some(tenants_ns), true),
            ("list", "secrets", Some(tenants_ns), false),
            ("watch", "secrets", Some(tenants_ns), false),
            ("list", "secrets", None, false),
            ("create", "secrets", Some(tenants_ns), false),
            ("patch", "secrets", Some(tenants_ns), true),
            ("update", "secrets", Some(tenants_ns), false),
            ("delete", "secrets", Some(tenants_ns), false),
            ("get", "customers.admin.corti.app", None, true),
            ("list", "customers.admin.corti.app", None, true),
            ("watch", "customerusers.admin.corti.app", None, true),
            ("patch", "customers.admin.corti.app", Some(tenants_ns), true),
            (
                "patch",
                "customerusers.admin.corti.app",
                Some(tenants_ns),
                true,
            ),
            (
                "patch",
                "customers.admin.corti.app --subresource=status",
                Some(tenants_ns),
                true,
            ),
            (
                "patch",
                "customerusers.admin.corti.app --subresource=status",
                Some(tenants_ns),
                true,
            ),
            (
                "update",
                "customers.admin.corti.app --subresource=status",
                Some(tenants_ns),
                false,
            ),
            ("create", "events.events.k8s.io", Some(tenants_ns), true),
            ("patch", "events.events.k8s.io", Some(tenants_ns), true),
            ("delete", "events.events.k8s.io", Some(tenants_ns), false),
            (
                "create",
                "customers.admin.corti.app",
                Some(tenants_ns),
                false,
            ),
            (
                "update",
                "customers.admin.corti.app",
                Some(tenants_ns),
                false,
            ),
            (
                "delete",
                "customers.admin.corti.app",
                Some(tenants_ns),
                false,
            ),
            (
                "delete",
                "customerusers.admin.corti.app",
                Some(tenants_ns),
                false,
            ),
            ("get", "configmaps", Some(tenants_ns), false),
            ("create", "pods", Some(ns), false),
            ("create", "leases.coordination.k8s.io", Some(ns), false),
            (
                "get",
                "customresourcedefinitions.apiextensions.k8s.io",
                None,
                false,
            ),
        ],
    );

    // A Customer that must survive the uninstall.
    let customer = format!(
        "apiVersion: admin.corti.app/v1alpha1\nkind: Customer\nmetadata:\n  name: survivor\n  namespace: {tenants_ns}\nspec:\n  displayName: Survivor Hospital\n"
    );
    let manifest = std::env::temp_dir().join(format!("{tenants_ns}-customer.yaml"));
    std::fs::write(&manifest, customer).expect("a temporary file");
    kubectl(&["apply", "-f", &manifest.display().to_string()]).clean("kubectl apply a Customer");

    // Upgrade: one watched namespace, two replicas, a default credentials Secret, text logs.
    release
        .upgrade(&[
            "--set",
            &format!("watchNamespaces={{{tenants_ns}}}"),
            "--set",
            "replicas=2,defaultCredentialsSecret.name=corti-admin,logFormat=text",
        ])
        .clean("helm upgrade to one namespace");
    let deployment = kubectl(&[
        "get",
        "deployment",
        &fullname,
        "--namespace",
        ns,
        "-o",
        "json",
    ])
    .clean("get deployment");
    let deployment: Value = serde_json::from_str(&deployment.stdout).expect("JSON");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        env_of(&deployment, "CORTI_LEADER_ELECTION").as_deref(),
        Some("true")
    );
    assert_eq!(
        env_of(&deployment, "CORTI_LOG_FORMAT").as_deref(),
        Some("text")
    );
    assert!(
        !kubectl(&["get", "clusterrole", &fullname]).success,
        "one namespace needs no ClusterRole"
    );
    let lease = format!("leases.coordination.k8s.io/{fullname}");
    assert_access(
        &sa,
        &[
            ("get", "secrets", Some(tenants_ns), true),
            ("get", "secrets", Some(other_ns), false),
            ("patch", "secrets", Some(other_ns), false),
            ("get", "secrets/corti-admin", Some(ns), true),
            ("get", "secrets/another-secret", Some(ns), false),
            ("list", "secrets", Some(ns), false),
            ("list", "customers.admin.corti.app", Some(tenants_ns), true),
            ("watch", "customers.admin.corti.app", Some(tenants_ns), true),
            ("list", "customers.admin.corti.app", None, false),
            ("patch", "customers.admin.corti.app", Some(other_ns), false),
            ("create", "events.events.k8s.io", Some(other_ns), false),
            ("create", "leases.coordination.k8s.io", Some(ns), true),
            ("get", &lease, Some(ns), true),
            ("update", &lease, Some(ns), true),
            ("delete", &lease, Some(ns), false),
            (
                "update",
                "leases.coordination.k8s.io/another-lease",
                Some(ns),
                false,
            ),
            (
                "create",
                "leases.coordination.k8s.io",
                Some(tenants_ns),
                false,
            ),
        ],
    );

    // Upgrade: two watched namespaces (the operator then watches cluster-wide and filters).
    release
        .upgrade(&[
            "--reuse-values",
            "--set",
            &format!("watchNamespaces={{{tenants_ns},{more_ns}}}"),
        ])
        .clean("helm upgrade to two namespaces");
    assert_access(
        &sa,
        &[
            ("list", "customers.admin.corti.app", None, true),
            ("watch", "customerusers.admin.corti.app", None, true),
            ("patch", "customers.admin.corti.app", Some(more_ns), true),
            ("patch", "customers.admin.corti.app", Some(other_ns), false),
            (
                "patch",
                "customerusers.admin.corti.app --subresource=status",
                Some(more_ns),
                true,
            ),
            ("get", "secrets", Some(more_ns), true),
            ("get", "secrets", Some(other_ns), false),
            ("list", "secrets", None, false),
        ],
    );

    // Uninstall: the operator goes; the CRDs and the Customer stay.
    let ran = release.uninstall();
    assert!(ran.success, "helm uninstall:\n{}{}", ran.stdout, ran.stderr);
    assert!(
        !kubectl(&["get", "deployment", &fullname, "--namespace", ns]).success,
        "the Deployment is gone"
    );
    assert!(
        !kubectl(&["get", "clusterrole", &fullname]).success,
        "the ClusterRole is gone"
    );
    kubectl(&[
        "get",
        "crd",
        "customers.admin.corti.app",
        "customerusers.admin.corti.app",
    ])
    .clean("the CRDs stay");
    kubectl(&["get", "customer", "survivor", "--namespace", tenants_ns])
        .clean("the Customer stays");
    let _ = std::fs::remove_file(manifest);
}

/// The negative control of the test above: a Deployment that breaks `restricted` does make helm
/// print Pod Security's warning, so "no warning" there means something.
#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn pod_security_warnings_reach_helm_output() {
    install_crds();
    let operator_ns = namespace_with_labels("chart-warn", &[RESTRICTED]).await;
    let (release, ran) = Release::install(
        &release_name(&operator_ns),
        operator_ns.name(),
        &["--set", "securityContext.allowPrivilegeEscalation=true"],
    );
    assert!(ran.success, "helm install:\n{}{}", ran.stdout, ran.stderr);
    let output = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        output.contains("PodSecurity") && output.contains("allowPrivilegeEscalation"),
        "helm should relay the Pod Security warning:\n{output}"
    );
    drop(release);
}

/// The generated CRDs come back from the API server as they were sent: the fields Argo CD compares
/// are equal, which is why deploy/argocd/README.md says they need no `ignoreDifferences`.
#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn crds_round_trip_unchanged() {
    install_crds();
    for name in ["customers.admin.corti.app", "customerusers.admin.corti.app"] {
        let file = String::from_utf8(read(&repo().join("crds").join(format!("{name}.yaml"))))
            .expect("UTF-8");
        let desired = documents(&file).pop().expect("one CRD");
        let live = kubectl(&["get", "crd", name, "-o", "json"]).clean("kubectl get crd");
        let live: Value = serde_json::from_str(&live.stdout).expect("JSON");
        let mut differences = Vec::new();
        contained(&desired["spec"], &live["spec"], "spec", &mut differences);
        assert!(
            differences.is_empty(),
            "{name}: the API server changed fields of the manifest:\n{}",
            differences.join("\n")
        );
    }
}

/// Records every place where `desired` is not equal to (or, for objects, contained in) `live`.
fn contained(desired: &Value, live: &Value, path: &str, differences: &mut Vec<String>) {
    match (desired, live) {
        (Value::Object(desired), Value::Object(live)) => {
            for (key, value) in desired {
                contained(
                    value,
                    live.get(key).unwrap_or(&Value::Null),
                    &format!("{path}.{key}"),
                    differences,
                );
            }
        }
        (Value::Array(desired), Value::Array(live)) if desired.len() == live.len() => {
            for (index, (desired, live)) in desired.iter().zip(live).enumerate() {
                contained(desired, live, &format!("{path}[{index}]"), differences);
            }
        }
        (Value::Number(desired), Value::Number(live)) if desired.as_f64() == live.as_f64() => {}
        _ if desired == live => {}
        _ => differences.push(format!("{path}: {desired} became {live}")),
    }
}

/// The operator binary, configured exactly as the chart's Deployment configures it (its env) and
/// authenticated as the chart's ServiceAccount (impersonation), runs the happy path against the
/// simulator: the chart's RBAC is enough. One watched namespace, the default credentials Secret in
/// the release namespace (readable by name only), a password Secret, leader election on a Lease.
#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn operator_runs_with_only_the_chart_permissions() {
    install_crds();
    let operator_ns = namespace_with_labels("chart-op", &[RESTRICTED]).await;
    let tenants = namespace("chart-op-tenants").await;
    let (ns, tenants_ns) = (operator_ns.name(), tenants.name());
    // No Pod (replicas 0; there is no kubelet anyway): the operator runs here, as the Pod would.
    let (release, ran) = Release::install(
        &release_name(&operator_ns),
        ns,
        &[
            "--set",
            &format!("watchNamespaces={{{tenants_ns}}}"),
            "--set",
            "replicas=0,leaderElection.enabled=true,defaultCredentialsSecret.name=corti-admin,logFormat=text",
            "--set",
            &format!("defaultCredentialsSecret.namespaces={{{tenants_ns}}}"),
        ],
    );
    ran.clean("helm install");

    let sim = Simulator::start();
    let secret = |namespace: &str, name: &str, data: &[(&str, &str)]| {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name, "namespace": namespace }, "stringData": data })
    };
    let credentials = [
        ("email", DEMO_EMAIL),
        ("password", DEMO_PASSWORD),
        ("projectId", DEMO_PROJECT),
    ];
    apply(&secret(ns, "corti-admin", &credentials));
    apply(&secret(tenants_ns, "tenant-credentials", &credentials));
    apply(&secret(
        tenants_ns,
        "jane-password",
        &[("password", "a-long-enough-password-42")],
    ));

    let operator = Operator::start(&release, &sim.base_url);
    // One Customer with the default credentials, one with its namespace's Secret; a user of each.
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer",
        "metadata": { "name": "contoso", "namespace": tenants_ns },
        "spec": { "displayName": "Contoso Hospital", "deletionPolicy": "Delete" } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer",
        "metadata": { "name": "fabrikam", "namespace": tenants_ns },
        "spec": { "displayName": "Fabrikam Clinic", "credentialsSecretRef": { "name": "tenant-credentials" } } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
        "metadata": { "name": "jane", "namespace": tenants_ns },
        "spec": { "customerRef": { "name": "contoso" }, "email": "jane.smith@contoso.example",
                  "firstName": "Jane", "lastName": "Smith",
                  "passwordSecretRef": { "name": "jane-password", "key": "password" } } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
        "metadata": { "name": "john", "namespace": tenants_ns },
        "spec": { "customerRef": { "name": "fabrikam" }, "email": "john.doe@fabrikam.example",
                  "firstName": "John", "lastName": "Doe" } }),
    );
    for resource in [
        "customer/contoso",
        "customer/fabrikam",
        "customeruser/jane",
        "customeruser/john",
    ] {
        operator.wait_ready(tenants_ns, resource).await;
    }

    // An update, then deletions through the finalizer (remote delete, then the finalizer's patch).
    kubectl(&[
        "patch",
        "customeruser",
        "jane",
        "-n",
        tenants_ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"lastName":"Smith-Jones"}}"#,
    ])
    .clean("patch a CustomerUser");
    operator.wait_ready(tenants_ns, "customeruser/jane").await;
    kubectl(&[
        "delete",
        "customeruser",
        "jane",
        "john",
        "-n",
        tenants_ns,
        "--wait=false",
    ])
    .clean("delete the users");
    kubectl(&[
        "delete",
        "customer",
        "contoso",
        "fabrikam",
        "-n",
        tenants_ns,
        "--wait=false",
    ])
    .clean("delete the customers");
    operator
        .wait_gone(
            tenants_ns,
            &[
                "customeruser/jane",
                "customeruser/john",
                "customer/contoso",
                "customer/fabrikam",
            ],
        )
        .await;

    // It held the Lease, in its own namespace, under its name.
    let lease = kubectl(&["get", "lease", &release.fullname(), "-n", ns, "-o", "json"])
        .clean("get the Lease");
    let lease: Value = serde_json::from_str(&lease.stdout).expect("JSON");
    assert_eq!(lease["spec"]["holderIdentity"], OPERATOR_POD, "{lease}");
    let log = operator.stop();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{log}"
    );
    drop(release);
}

const DEMO_EMAIL: &str = "admin@example.com";
const DEMO_PASSWORD: &str = "demo-password-123456";
const DEMO_PROJECT: &str = "demo-project";
const OPERATOR_POD: &str = "corti-operator-test-pod";
const WAIT: Duration = Duration::from_secs(90);

fn apply(object: &Value) {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), object.to_string()).expect("write the manifest");
    kubectl(&["apply", "-f", &file.path().display().to_string()]).clean("kubectl apply");
}

/// `corti-admin-sim` with its demo project and account, on a free loopback port.
struct Simulator {
    child: std::process::Child,
    base_url: String,
}

impl Simulator {
    fn start() -> Simulator {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_corti-admin-sim"))
            .args(["--listen", "127.0.0.1:0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the simulator starts");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("its stdout"));
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("the simulator prints its URL");
        // Keep reading what it prints next, so that it never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        // "corti-admin-sim: Admin API at http://127.0.0.1:PORT"
        let base_url = first
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        assert!(
            base_url.starts_with("http://"),
            "unexpected first line of corti-admin-sim: {first:?}"
        );
        Simulator { child, base_url }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator process, with the Deployment's environment and the ServiceAccount's permissions.
struct Operator {
    child: std::process::Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Operator {
    fn start(release: &Release, admin_api_url: &str) -> Operator {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let kubeconfig =
            support::impersonating_kubeconfig(dir.path(), &release.namespace, &release.fullname());
        let deployment = kubectl(&[
            "get",
            "deployment",
            &release.fullname(),
            "-n",
            &release.namespace,
            "-o",
            "json",
        ])
        .clean("get the Deployment");
        let deployment: Value = serde_json::from_str(&deployment.stdout).expect("JSON");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let mut command = Command::new(env!("CARGO_BIN_EXE_corti-operator"));
        command
            .env_clear()
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,corti_operator=debug");
        for variable in container["env"].as_array().expect("env") {
            let name = variable["name"].as_str().expect("a name");
            let value = match name {
                // The downward API, as the kubelet would fill it in.
                "POD_NAME" => OPERATOR_POD.to_owned(),
                "POD_NAMESPACE" => release.namespace.clone(),
                // The simulator instead of the real Admin API; a free port; quick passes.
                "CORTI_ADMIN_API_URL" => admin_api_url.to_owned(),
                "CORTI_HEALTH_ADDR" => "127.0.0.1:0".to_owned(),
                "CORTI_RESYNC_PERIOD" => "5s".to_owned(),
                _ => variable["value"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name} has a value"))
                    .to_owned(),
            };
            command.env(name, value);
        }
        let args: Vec<&str> = container["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("text"))
            .collect();
        let log = dir.path().join("operator.log");
        let log_file = std::fs::File::create(&log).expect("the operator's log");
        let child = command
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(log_file.try_clone().expect("a log handle"))
            .stderr(log_file)
            .spawn()
            .expect("the operator starts");
        Operator {
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&self, namespace: &str, resource: &str) {
        let what = format!("{namespace}/{resource} Ready for its generation");
        let check = || async {
            let ran = kubectl(&["get", resource, "-n", namespace, "-o", "json"]);
            let Ok(object) = serde_json::from_str::<Value>(&ran.stdout) else {
                return false;
            };
            object["status"]["conditions"]
                .as_array()
                .is_some_and(|conditions| {
                    conditions.iter().any(|c| {
                        c["type"] == "Ready"
                            && c["status"] == "True"
                            && c["observedGeneration"] == object["metadata"]["generation"]
                    })
                })
        };
        if tokio::time::timeout(WAIT, async {
            while !check().await {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
        .await
        .is_err()
        {
            let state = kubectl(&["get", resource, "-n", namespace, "-o", "yaml"]).stdout;
            panic!(
                "timed out waiting for {what}:\n{state}\noperator log:\n{}",
                self.log()
            );
        }
    }

    async fn wait_gone(&self, namespace: &str, resources: &[&str]) {
        for resource in resources {
            let what = format!(
                "{namespace}/{resource} to be deleted (operator log: {})",
                self.log.display()
            );
            eventually(&what, WAIT, || async {
                let ran = kubectl(&[
                    "get",
                    resource,
                    "-n",
                    namespace,
                    "--ignore-not-found",
                    "-o",
                    "name",
                ]);
                ran.success && ran.stdout.trim().is_empty()
            })
            .await;
        }
    }

    /// Stops it (SIGKILL is enough: nothing is left to do) and returns its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
