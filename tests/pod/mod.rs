//! What the image tests share (`mod pod;` beside `mod support;`): the image of `make image`, podman,
//! kubectl as admin, the resources the operator reconciles, and checks of a running process.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::control_plane;

pub const RESTRICTED: (&str, &str) = ("pod-security.kubernetes.io/enforce", "restricted");
pub const WAIT: Duration = Duration::from_secs(120);
/// The simulator's demo project and account.
pub const DEMO_EMAIL: &str = "admin@example.com";
pub const DEMO_PASSWORD: &str = "demo-password-123456";
pub const DEMO_PROJECT: &str = "demo-project";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// stdout then stderr, as text.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs COMMAND, panics with its output unless it succeeds, returns its stdout.
pub fn run(command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        text(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

/// `deploy/image/podman` (podman with the project's containers.conf) with these arguments.
pub fn podman() -> Command {
    Command::new(repo().join("deploy/image/podman"))
}

/// The image reference, built once per test process by `deploy/image/build` (incremental; it
/// installs podman and musl-tools when missing), or None where that cannot be: not root, no podman.
pub fn image() -> Option<&'static str> {
    static IMAGE: OnceLock<Option<String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let has_podman = Command::new("podman").arg("--version").output().is_ok();
            if !has_podman && !is_root() {
                eprintln!("skipped: podman is not installed and this is not root to install it");
                return None;
            }
            let started = Instant::now();
            let out = run(Command::new(repo().join("deploy/image/build")).stderr(Stdio::inherit()));
            eprintln!("deploy/image/build took {:?}", started.elapsed());
            Some(out.lines().last().unwrap_or_default().trim().to_owned())
        })
        .as_deref()
}

pub fn kubectl(args: &[&str]) -> String {
    run(control_plane().command("kubectl").args(args))
}

pub fn apply(object: &Value) {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), object.to_string()).expect("write the manifest");
    kubectl(&["apply", "-f", &file.path().display().to_string()]);
}

/// The installed CRDs (Helm installs its crds/ only where they are missing).
pub fn install_crds() {
    let crds = repo().join("crds").display().to_string();
    kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &crds]);
}

/// A Secret with the simulator's demo credentials.
pub fn demo_credentials(namespace: &str, name: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name, "namespace": namespace },
            "stringData": { "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "projectId": DEMO_PROJECT } })
}

/// A Customer and a CustomerUser in NAMESPACE (the default credentials; a password Secret), made Ready
/// by the operator within [`WAIT`], then deleted through its finalizers. `log` is the operator's log.
pub async fn reconcile_and_delete(namespace: &str, log: &dyn Fn() -> String) {
    apply(
        &json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "jane-password", "namespace": namespace },
                 "stringData": { "password": "a-long-enough-password-42" } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer",
                   "metadata": { "name": "contoso", "namespace": namespace },
                   "spec": { "displayName": "Contoso Hospital", "deletionPolicy": "Delete" } }),
    );
    apply(
        &json!({ "apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
                   "metadata": { "name": "jane", "namespace": namespace },
                   "spec": { "customerRef": { "name": "contoso" }, "email": "jane.smith@contoso.example",
                             "firstName": "Jane", "lastName": "Smith",
                             "passwordSecretRef": { "name": "jane-password", "key": "password" } } }),
    );
    for resource in ["customer/contoso", "customeruser/jane"] {
        wait(&format!("{namespace}/{resource} Ready"), log, || {
            ready(namespace, resource)
        })
        .await;
    }
    kubectl(&[
        "delete",
        "customeruser/jane",
        "customer/contoso",
        "-n",
        namespace,
        "--wait=false",
    ]);
    wait("the Customer and CustomerUser deleted", log, || {
        let output = control_plane().kubectl([
            "get",
            "customers,customerusers",
            "-n",
            namespace,
            "-o",
            "name",
        ]);
        output.status.success() && output.stdout.is_empty()
    })
    .await;
    let log = log();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{log}"
    );
}

/// Polls CHECK until true; after [`WAIT`], panics with WHAT and the operator's log.
pub async fn wait(what: &str, log: &dyn Fn() -> String, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; operator log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Ready=True for the resource's current generation.
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

/// Process PID (a container's, seen from the host) runs as the chart's securityContext says: user and
/// group 65532, no capabilities, no-new-privileges, a read-only root file system.
pub fn assert_restricted_process(pid: u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its /proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(field("Uid"), ["65532"; 4], "{status}");
    assert_eq!(field("Gid"), ["65532"; 4], "{status}");
    assert_eq!(field("CapEff"), ["0000000000000000"], "{status}");
    assert_eq!(field("CapPrm"), ["0000000000000000"], "{status}");
    assert_eq!(field("NoNewPrivs"), ["1"], "{status}");
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).expect("its mounts");
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/"))
        .expect("a root mount");
    let options = root.split_whitespace().nth(3).unwrap_or_default();
    assert!(options.split(',').any(|o| o == "ro"), "root: {root}");
}

// Each test binary uses only some of these helpers (see support/mod.rs for why not an attribute).
const _: () = {
    let _ = (is_root, podman, image, install_crds, demo_credentials);
};
