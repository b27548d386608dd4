//! The container image (`make image`, deploy/Dockerfile) on the real local control plane, run under
//! podman exactly as the chart's Pod runs it: the Deployment's env and args, in-cluster configuration
//! (KUBERNETES_SERVICE_HOST/PORT, no kubeconfig), a token of the chart's ServiceAccount mounted
//! read-only where the kubelet mounts it, read-only root with no writable tmpfs, user 65532, no
//! capabilities, no-new-privileges. The simulator runs from the same image and is reached by a host
//! name that only the container's /etc/hosts knows (musl's resolver, no NSS). The image itself:
//! empty apart from the two static binaries and the CA bundle, no shell, non-root.
//!
//! Skips (with a message) only where podman cannot run at all: not root and no podman installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use support::{control_plane, eventually, namespace, namespace_with_labels};

const RESTRICTED: (&str, &str) = ("pod-security.kubernetes.io/enforce", "restricted");
const DEMO_EMAIL: &str = "admin@example.com";
const DEMO_PASSWORD: &str = "demo-password-123456";
const DEMO_PROJECT: &str = "demo-project";
/// A name no resolver knows but the container's /etc/hosts (podman --add-host).
const SIM_HOST: &str = "corti-admin-sim.test";
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const WAIT: Duration = Duration::from_secs(90);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// deploy/image/podman (our containers.conf), with these arguments.
fn podman(args: &[&str]) -> Output {
    Command::new(repo().join("deploy/image/podman"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("deploy/image/podman runs")
}

fn podman_ok(args: &[&str]) -> String {
    let output = podman(args);
    assert!(
        output.status.success(),
        "podman {} failed:\n{}",
        args.join(" "),
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The image reference, built once per test process by `deploy/image/build` (incremental), or None
/// when podman cannot run here at all.
fn image() -> Option<&'static str> {
    static IMAGE: OnceLock<Option<String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let root = Command::new("id").arg("-u").output().map(|o| text(&o));
            let has_podman = Command::new("podman").arg("--version").output().is_ok();
            if !has_podman && root.as_deref().map(str::trim) != Ok("0") {
                eprintln!("skipped: podman is not installed and this is not root to install it");
                return None;
            }
            let output = Command::new(repo().join("deploy/image/build"))
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .expect("deploy/image/build runs");
            assert!(output.status.success(), "deploy/image/build failed");
            let stdout = String::from_utf8_lossy(&output.stdout);
            Some(stdout.lines().last().unwrap_or_default().trim().to_owned())
        })
        .as_deref()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A detached container, removed on drop.
struct Container(String);

impl Container {
    fn run(args: &[&str]) -> Container {
        let mut all = vec!["run", "--detach"];
        all.extend_from_slice(args);
        Container(podman_ok(&all))
    }

    fn logs(&self) -> String {
        text(&podman(&["logs", &self.0]))
    }

    fn inspect(&self) -> Value {
        let out = podman_ok(&["inspect", &self.0]);
        serde_json::from_str::<Value>(&out).expect("JSON")[0].clone()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "2", &self.0]);
    }
}

/// The restrictions of the chart's securityContext, as podman flags.
const AS_THE_POD: [&str; 10] = [
    "--network=host",
    "--read-only",
    "--read-only-tmpfs=false",
    "--user=65532:65532",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "--pull=never",
    "--stop-timeout=2",
    "--log-driver=k8s-file",
    "--pids-limit=256",
];

#[test]
#[ignore = "needs podman (installed if missing, as root): make test-e2e"]
fn the_image_is_empty_static_and_non_root() {
    let Some(image) = image() else { return };
    let config: Value =
        serde_json::from_str(&podman_ok(&["image", "inspect", image])).expect("JSON");
    let config = &config[0]["Config"];
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert_eq!(config["Entrypoint"], json!(["/corti-operator"]), "{config}");
    assert_eq!(config["Cmd"], json!(["run"]), "{config}");

    // Every file of the image: the two binaries and the CA bundle, nothing else (no shell, no libc).
    let container = podman_ok(&["create", "--pull=never", image]);
    let export = Command::new(repo().join("deploy/image/podman"))
        .args(["export", &container])
        .output()
        .expect("podman export");
    podman_ok(&["rm", &container]);
    assert!(export.status.success(), "podman export: {}", text(&export));
    let mut tar = Command::new("tar")
        .args(["-tvf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    std::io::Write::write_all(&mut tar.stdin.take().expect("stdin"), &export.stdout)
        .expect("tar reads the export");
    let listing = text(&tar.wait_with_output().expect("tar lists"));
    let mut files: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with('-') || l.starts_with('l'))
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|f| {
            !matches!(
                *f,
                "etc/hosts" | "etc/resolv.conf" | "etc/hostname" | "run/.containerenv"
            )
        })
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "corti-admin-sim",
            "corti-operator",
            "etc/ssl/certs/ca-certificates.crt"
        ],
        "{listing}"
    );

    let shell = podman(&[
        "run",
        "--rm",
        "--pull=never",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        "true",
    ]);
    assert!(!shell.status.success(), "the image has a shell");
    assert!(text(&shell).contains("no such file"), "{}", text(&shell));

    // Both entrypoints start in the empty image (a dynamic binary would fail here: no loader).
    for entrypoint in ["/corti-operator", "/corti-admin-sim"] {
        let mut args = vec!["run", "--rm", "--pull=never"];
        args.extend_from_slice(&AS_THE_POD[..6]);
        args.extend_from_slice(&["--entrypoint", entrypoint, image, "--version"]);
        let out = podman_ok(&args);
        assert!(
            out.contains(env!("CARGO_PKG_VERSION")),
            "{entrypoint} --version: {out}"
        );
    }
}

fn kubectl(args: &[&str]) -> String {
    let output = control_plane().kubectl(args);
    assert!(
        output.status.success(),
        "kubectl {}:\n{}",
        args.join(" "),
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn apply(object: &Value) {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), object.to_string()).expect("write the manifest");
    kubectl(&["apply", "-f", &file.path().display().to_string()]);
}

/// DIR as the kubelet lays out a ServiceAccount volume: token, ca.crt and namespace, group-owned by
/// the Pod's fsGroup (65532), readable by it and not by others.
fn service_account_volume(dir: &Path, namespace: &str, service_account: &str) {
    let token = kubectl(&[
        "create",
        "token",
        service_account,
        "-n",
        namespace,
        "--duration=1h",
    ]);
    let kubeconfig = control_plane().kubeconfig_path();
    let ca = kubeconfig.with_file_name("pki").join("ca.crt");
    let ca = std::fs::read(&ca).unwrap_or_else(|e| panic!("{}: {e}", ca.display()));
    use std::os::unix::fs::PermissionsExt;
    for (name, content) in [
        ("token", token.trim().as_bytes()),
        ("ca.crt", &ca),
        ("namespace", namespace.as_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write the volume");
        std::os::unix::fs::chown(&path, Some(0), Some(65532)).expect("chown (as root)");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    std::os::unix::fs::chown(dir, Some(0), Some(65532)).expect("chown (as root)");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
}

/// The API server's port, from the admin kubeconfig (`server: https://127.0.0.1:PORT`).
fn api_port() -> String {
    let kubeconfig =
        std::fs::read_to_string(control_plane().kubeconfig_path()).expect("kubeconfig");
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://127.0.0.1:"))
        .expect("a loopback server in the kubeconfig")
        .to_owned()
}

fn ready(namespace: &str, resource: &str) -> bool {
    let output = control_plane().kubectl(["get", resource, "-n", namespace, "-o", "json"]);
    let Ok(object) = serde_json::from_slice::<Value>(&output.stdout) else {
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
}

/// /proc/PID/status of the container's main process, as seen from the host.
fn process_status(container: &Container) -> String {
    let pid = container.inspect()["State"]["Pid"]
        .as_u64()
        .expect("a running container");
    std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its /proc status")
}

fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_default()
        .trim()
}

#[tokio::test]
#[ignore = "needs podman (installed if missing, as root), the local control plane and helm: make test-e2e"]
async fn the_image_reconciles_as_the_chart_pod_would() {
    let Some(image) = image() else { return };
    let cp = control_plane();
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &repo().join("crds").display().to_string(),
    ]);
    let operator_ns = namespace_with_labels("image", &[RESTRICTED]).await;
    let tenants = namespace("image-tenants").await;
    let (ns, tenants_ns) = (operator_ns.name(), tenants.name());
    let release = format!("co-{}", ns.rsplit('-').next().unwrap_or_default());
    let chart = repo().join("charts/corti-operator").display().to_string();
    // No node here: replicas 0, and podman runs the Pod's container below.
    let install = cp
        .command("helm")
        .args(["install", &release, &chart, "--namespace", ns, "--set"])
        .arg(format!(
            "replicas=0,leaderElection.enabled=true,logFormat=text,defaultCredentialsSecret.name=corti-admin,\
             watchNamespaces={{{tenants_ns}}},defaultCredentialsSecret.namespaces={{{tenants_ns}}}"
        ))
        .output()
        .expect("helm runs");
    assert!(install.status.success(), "helm install: {}", text(&install));
    let fullname = format!("{release}-corti-operator");

    // The simulator, from the same image, on a free loopback port.
    let sim_port = free_port().to_string();
    let mut sim_args = AS_THE_POD.to_vec();
    let listen = format!("127.0.0.1:{sim_port}");
    sim_args.extend_from_slice(&[
        "--entrypoint",
        "/corti-admin-sim",
        image,
        "--listen",
        &listen,
    ]);
    let sim = Container::run(&sim_args);
    eventually("the simulator's URL in its log", WAIT, || async {
        sim.logs().contains("Admin API at http://")
    })
    .await;
    let sim_url = sim
        .logs()
        .lines()
        .find_map(|l| l.split("Admin API at ").nth(1))
        .expect("the URL")
        .trim()
        .replace("127.0.0.1", SIM_HOST);

    let secret = |namespace: &str, name: &str| {
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name, "namespace": namespace },
                "stringData": { "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "projectId": DEMO_PROJECT } })
    };
    apply(&secret(ns, "corti-admin"));

    // The Pod's container: the Deployment's env and args, the downward API filled in as the kubelet would.
    let deployment: Value = serde_json::from_str(&kubectl(&[
        "get",
        "deployment",
        &fullname,
        "-n",
        ns,
        "-o",
        "json",
    ]))
    .expect("JSON");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let pod_name = format!("{fullname}-podman");
    let health_port = free_port().to_string();
    let mut env = vec![
        // What the kubelet sets for the `kubernetes` Service; here the API server on loopback (host network).
        "KUBERNETES_SERVICE_HOST=127.0.0.1".to_owned(),
        format!("KUBERNETES_SERVICE_PORT={}", api_port()),
    ];
    for variable in container["env"].as_array().expect("env") {
        let name = variable["name"].as_str().expect("a name");
        let value = match name {
            "POD_NAME" => pod_name.clone(),
            "POD_NAMESPACE" => ns.to_owned(),
            "CORTI_ADMIN_API_URL" => sim_url.clone(),
            // Host network: a free port rather than the chart's 8080.
            "CORTI_HEALTH_ADDR" => format!("127.0.0.1:{health_port}"),
            _ => variable["value"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} has a value"))
                .to_owned(),
        };
        env.push(format!("{name}={value}"));
    }
    let volume = tempfile::tempdir().expect("a temporary folder");
    service_account_volume(volume.path(), ns, &fullname);
    let mount = format!("{}:{SA_DIR}:ro", volume.path().display());
    let add_host = format!("--add-host={SIM_HOST}:127.0.0.1");
    let mut args = AS_THE_POD.to_vec();
    args.extend_from_slice(&["--name", &pod_name, "--volume", &mount, &add_host]);
    for e in &env {
        args.extend_from_slice(&["--env", e]);
    }
    args.push(image);
    let container_args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("text"))
        .collect();
    args.extend_from_slice(&container_args);
    let operator = Container::run(&args);

    // The process: user 65532, no capabilities, no-new-privileges; the root file system read-only.
    let status = process_status(&operator);
    assert_eq!(
        status_field(&status, "Uid")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["65532"; 4],
        "{status}"
    );
    assert_eq!(
        status_field(&status, "CapEff"),
        "0000000000000000",
        "{status}"
    );
    assert_eq!(status_field(&status, "NoNewPrivs"), "1", "{status}");
    let inspected = operator.inspect();
    assert_eq!(
        inspected["HostConfig"]["ReadonlyRootfs"], true,
        "{inspected}"
    );

    // Ready (its /readyz, as the Pod's readinessProbe asks), then Customers and users Ready.
    let readyz = format!("http://127.0.0.1:{health_port}/readyz");
    eventually("the operator's /readyz", WAIT, || async {
        Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", &readyz])
            .status()
            .is_ok_and(|s| s.success())
            || !operator.inspect()["State"]["Running"]
                .as_bool()
                .unwrap_or(false)
    })
    .await;
    assert!(
        operator.inspect()["State"]["Running"] == true,
        "the operator exited:\n{}",
        operator.logs()
    );

    apply(
        &json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "jane-password", "namespace": tenants_ns },
                   "stringData": { "password": "a-long-enough-password-42" } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer",
                   "metadata": { "name": "contoso", "namespace": tenants_ns },
                   "spec": { "displayName": "Contoso Hospital", "deletionPolicy": "Delete" } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
                   "metadata": { "name": "jane", "namespace": tenants_ns },
                   "spec": { "customerRef": { "name": "contoso" }, "email": "jane.smith@contoso.example",
                             "firstName": "Jane", "lastName": "Smith",
                             "passwordSecretRef": { "name": "jane-password", "key": "password" } } }),
    );
    for resource in ["customer/contoso", "customeruser/jane"] {
        let what = format!("{tenants_ns}/{resource} Ready");
        let deadline = std::time::Instant::now() + WAIT;
        while !ready(tenants_ns, resource) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; operator log:\n{}",
                operator.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // Deletion through the finalizers: the remote objects go, then the resources.
    kubectl(&[
        "delete",
        "customeruser/jane",
        "customer/contoso",
        "-n",
        tenants_ns,
        "--wait=false",
    ]);
    eventually("the resources deleted", WAIT, || async {
        let output = cp.kubectl([
            "get",
            "customers,customerusers",
            "-n",
            tenants_ns,
            "-o",
            "name",
        ]);
        output.status.success() && output.stdout.is_empty()
    })
    .await;

    // It held the Lease under the Pod's name, as the chart's ServiceAccount (no other credentials).
    let lease: Value = serde_json::from_str(&kubectl(&[
        "get", "lease", &fullname, "-n", ns, "-o", "json",
    ]))
    .expect("JSON");
    assert_eq!(
        lease["spec"]["holderIdentity"],
        pod_name.as_str(),
        "{lease}"
    );
    let log = operator.logs();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{log}"
    );
    drop(operator);
    let uninstall = cp
        .command("helm")
        .args(["uninstall", &release, "--namespace", ns])
        .output()
        .expect("helm");
    assert!(
        uninstall.status.success(),
        "helm uninstall: {}",
        text(&uninstall)
    );
}
