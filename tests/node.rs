//! The chart's Pod on a real node (`tests/control-plane/node-up`: kubelet, containerd with runc, CNI
//! bridge, kube-proxy, kube-scheduler, a pause image built here): `helm install` into a namespace
//! enforcing Pod Security `restricted`, the operator image of `make image` imported into the node's
//! containerd (pullPolicy Never), in-cluster configuration through the `kubernetes` Service and the
//! Pod's own ServiceAccount token. The Pod becomes Ready and brings a Customer and a CustomerUser to
//! Ready against the simulator (on the host, at the node's address); its process runs as 65532 with
//! no capabilities, no-new-privileges and a read-only root.
//!
//! Skips (with a message) only where a node cannot run at all: not root.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{control_plane, eventually, namespace, namespace_with_labels};

const RESTRICTED: (&str, &str) = ("pod-security.kubernetes.io/enforce", "restricted");
const NODE_ADDRESS: &str = "10.244.77.1";
const WAIT: Duration = Duration::from_secs(120);

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

fn run(command: &mut Command) -> String {
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

fn kubectl(args: &[&str]) -> String {
    run(control_plane().command("kubectl").args(args))
}

fn apply(object: &Value) {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), object.to_string()).expect("write the manifest");
    kubectl(&["apply", "-f", &file.path().display().to_string()]);
}

/// The node of the control plane's folder, stopped (node-down) on drop.
struct Node {
    dir: PathBuf,
}

impl Node {
    fn ctr(&self, args: &[&str]) -> Command {
        let mut command = Command::new("ctr");
        command
            .arg("--address")
            .arg(self.dir.join("node/containerd.sock"))
            .args(["-n", "k8s.io"])
            .args(args);
        command
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new(support::scripts_dir().join("node-down"))
            .arg(&self.dir)
            .status();
    }
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

fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_default()
        .trim()
}

/// The simulator on the host, listening on the node's address (which Pods reach through their gateway).
struct Simulator(std::process::Child, String);

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn simulator() -> Simulator {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_corti-admin-sim"))
        .args(["--listen", &format!("{NODE_ADDRESS}:0")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator starts");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("its stdout"));
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .expect("the simulator prints its URL");
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = first
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(url.starts_with("http://"), "{first:?}");
    Simulator(child, url)
}

#[tokio::test]
#[ignore = "needs root, the local control plane and helm; builds a node and the image: make test-e2e"]
async fn the_chart_pod_runs_on_a_real_node() {
    if run(Command::new("id").arg("-u")).trim() != "0" {
        eprintln!("skipped: a node (containerd, kubelet, iptables) needs root");
        return;
    }
    let cp = control_plane();
    let dir = cp
        .kubeconfig_path()
        .parent()
        .expect("the control plane's folder")
        .to_path_buf();
    let image = run(Command::new(repo().join("deploy/image/build")).stderr(Stdio::inherit()));
    let image = image
        .lines()
        .last()
        .expect("the image reference")
        .trim()
        .to_owned();
    run(Command::new(support::scripts_dir().join("node-up"))
        .arg(&dir)
        .stderr(Stdio::inherit()));
    let node = Node { dir };
    import(&node, &image);

    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &repo().join("crds").display().to_string(),
    ]);
    let operator_ns = namespace_with_labels("node", &[RESTRICTED]).await;
    let tenants = namespace("node-tenants").await;
    let (ns, tenants_ns) = (operator_ns.name(), tenants.name());
    let sim = simulator();
    apply(
        &json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "corti-admin", "namespace": ns },
        "stringData": { "email": "admin@example.com", "password": "demo-password-123456", "projectId": "demo-project" } }),
    );

    let release = format!("co-{}", ns.rsplit('-').next().unwrap_or_default());
    let (repository, tag) = image.rsplit_once(':').expect("IMAGE:TAG");
    let chart = repo().join("charts/corti-operator");
    let started = std::time::Instant::now();
    run(cp.command("helm").args(["install", &release]).arg(&chart).args(["--namespace", ns, "--set"]).arg(format!(
        "image.repository={repository},image.tag={tag},image.pullPolicy=Never,adminApiUrl={},\
         defaultCredentialsSecret.name=corti-admin,defaultCredentialsSecret.namespaces={{{tenants_ns}}},\
         watchNamespaces={{{tenants_ns}}},leaderElection.enabled=true,logFormat=text",
        sim.1
    )));
    let selector = "app.kubernetes.io/name=corti-operator";
    let wait = kubectl_wait(ns, selector);
    let logs = || text(&cp.kubectl(["logs", "-n", ns, "-l", selector, "--tail=100"]));
    assert!(
        wait.status.success(),
        "the Pod is not Ready:\n{}\n{}\n{}",
        text(&wait),
        kubectl(&["describe", "pods", "-n", ns]),
        logs()
    );
    eprintln!(
        "the operator's Pod was Ready {:?} after helm install",
        started.elapsed()
    );

    // The process, from the host: user 65532, no capabilities, no-new-privileges, read-only root.
    let pod: Value = serde_json::from_str(&kubectl(&[
        "get", "pods", "-n", ns, "-l", selector, "-o", "json",
    ]))
    .expect("JSON");
    let container_id = pod["items"][0]["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .expect("a container");
    let container_id = container_id.trim_start_matches("containerd://");
    let tasks = run(&mut node.ctr(&["tasks", "ls"]));
    let pid = tasks
        .lines()
        .find(|l| l.starts_with(container_id))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("its task");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its /proc status");
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
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).expect("its mounts");
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/"))
        .expect("a root mount");
    assert!(
        root.split_whitespace()
            .nth(3)
            .is_some_and(|o| o.split(',').any(|o| o == "ro")),
        "{root}"
    );
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("its environment");
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ.contains("KUBERNETES_SERVICE_HOST=10.0.0.1") && !environ.contains("KUBECONFIG"),
        "{environ}"
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
                  "firstName": "Jane", "lastName": "Smith" } }),
    );
    for resource in ["customer/contoso", "customeruser/jane"] {
        let deadline = std::time::Instant::now() + WAIT;
        while !ready(tenants_ns, resource) {
            assert!(
                std::time::Instant::now() < deadline,
                "{resource} not Ready; operator log:\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
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
    let log = logs();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{log}"
    );
    run(cp.command("helm").args([
        "uninstall",
        &release,
        "--namespace",
        ns,
        "--wait",
        "--timeout=60s",
    ]));
    drop(node);
}

fn kubectl_wait(ns: &str, selector: &str) -> Output {
    let deadline = std::time::Instant::now() + WAIT;
    // `kubectl wait` fails at once while no Pod matches yet.
    loop {
        let output = control_plane().kubectl([
            "wait",
            "pods",
            "-n",
            ns,
            "-l",
            selector,
            "--for=condition=Ready",
            "--timeout=60s",
        ]);
        if output.status.success() || std::time::Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The image from podman's store into the node's containerd, pinned (never garbage-collected).
fn import(node: &Node, image: &str) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let archive = dir.path().join("image.tar");
    let path: &Path = &archive;
    run(Command::new(repo().join("deploy/image/podman"))
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(path)
        .arg(image));
    run(&mut node.ctr(&[
        "images",
        "import",
        "--label",
        "io.cri-containerd.pinned=pinned",
        &path.display().to_string(),
    ]));
}
