//! The chart's Pod on a real node (`tests/control-plane/node-up`: kubelet, containerd with runc, CNI
//! bridge, kube-proxy, kube-scheduler, a pause image built here): `helm install` into a namespace
//! enforcing Pod Security `restricted`, the operator image of `make image` imported into the node's
//! containerd (pullPolicy Never), in-cluster configuration through the `kubernetes` Service and the
//! Pod's own ServiceAccount token. The Pod becomes Ready and brings a Customer and a CustomerUser to
//! Ready against the simulator (on the host, at the node's address); its process runs as 65532 with
//! no capabilities, no-new-privileges and a read-only root.
//!
//! Skips (with a message) only where a node cannot run at all: not root.

mod pod;
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pod::{kubectl, run, text};
use serde_json::Value;
use support::{control_plane, namespace, namespace_with_labels};

/// The node's address (its bridge), where Pods reach the host.
const NODE_ADDRESS: &str = "10.244.77.1";

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
    if !pod::is_root() {
        eprintln!("skipped: a node (containerd, kubelet, iptables) needs root");
        return;
    }
    let Some(image) = pod::image() else { return };
    let cp = control_plane();
    let dir = cp
        .kubeconfig_path()
        .parent()
        .expect("the control plane's folder")
        .to_path_buf();
    let started = Instant::now();
    run(Command::new(support::scripts_dir().join("node-up"))
        .arg(&dir)
        .stderr(Stdio::inherit()));
    eprintln!("node-up took {:?}", started.elapsed());
    let node = Node { dir };
    import(&node, image);

    pod::install_crds();
    let operator_ns = namespace_with_labels("node", &[pod::RESTRICTED]).await;
    let tenants = namespace("node-tenants").await;
    let (ns, tenants_ns) = (operator_ns.name(), tenants.name());
    let sim = simulator();
    pod::apply(&pod::demo_credentials(ns, "corti-admin"));

    let release = format!("co-{}", ns.rsplit('-').next().unwrap_or_default());
    let (repository, tag) = image.rsplit_once(':').expect("IMAGE:TAG");
    let started = Instant::now();
    run(cp
        .command("helm")
        .args(["install", &release])
        .arg(pod::repo().join("charts/corti-operator"))
        .args(["--namespace", ns, "--set"])
        .arg(format!(
            "image.repository={repository},image.tag={tag},image.pullPolicy=Never,adminApiUrl={},\
             defaultCredentialsSecret.name=corti-admin,defaultCredentialsSecret.namespaces={{{tenants_ns}}},\
             watchNamespaces={{{tenants_ns}}},leaderElection.enabled=true,logFormat=text",
            sim.1
        )));
    let selector = "app.kubernetes.io/name=corti-operator";
    let log = || text(&cp.kubectl(["logs", "-n", ns, "-l", selector, "--tail=200"]));
    // Started (its container runs), then the resources, then Ready (the readinessProbe): checked
    // last, so that a readiness fault does not hide whether it reconciles.
    let started_condition = "--for=jsonpath={.status.containerStatuses[0].started}=true";
    let waited = kubectl_wait(ns, selector, started_condition);
    assert!(
        waited.status.success(),
        "the Pod did not start:\n{}\n{}\n{}",
        text(&waited),
        text(&cp.kubectl(["describe", "pods", "-n", ns])),
        log()
    );
    eprintln!(
        "the operator's container started {:?} after helm install",
        started.elapsed()
    );

    // Its process, seen from the host: as the securityContext says, with in-cluster configuration.
    let pods: Value = serde_json::from_str(&kubectl(&[
        "get", "pods", "-n", ns, "-l", selector, "-o", "json",
    ]))
    .expect("JSON");
    let container_id = pods["items"][0]["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .expect("a container")
        .trim_start_matches("containerd://")
        .to_owned();
    let tasks = run(&mut node.ctr(&["tasks", "ls"]));
    let pid: u64 = tasks
        .lines()
        .find(|l| l.starts_with(&container_id))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no task {container_id}:\n{tasks}"));
    pod::assert_restricted_process(pid);
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("its environment");
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ.contains("KUBERNETES_SERVICE_HOST=10.0.0.1") && !environ.contains("KUBECONFIG"),
        "{environ}"
    );

    pod::reconcile_and_delete(tenants_ns, &log).await;
    let waited = kubectl_wait(ns, selector, "--for=condition=Ready");
    assert!(
        waited.status.success(),
        "the Pod is not Ready:\n{}\n{}",
        text(&waited),
        log()
    );
    eprintln!(
        "the operator's Pod was Ready {:?} after helm install",
        started.elapsed()
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

fn kubectl_wait(ns: &str, selector: &str, condition: &str) -> Output {
    let deadline = Instant::now() + pod::WAIT;
    // `kubectl wait` fails at once while no Pod matches yet.
    loop {
        let output = control_plane().kubectl([
            "wait",
            "pods",
            "-n",
            ns,
            "-l",
            selector,
            condition,
            "--timeout=60s",
        ]);
        if output.status.success() || Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The image from podman's store into the node's containerd, pinned (the kubelet's image garbage
/// collection never removes it: nothing could pull it back).
fn import(node: &Node, image: &str) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let archive = dir.path().join("image.tar");
    let path: &std::path::Path = &archive;
    run(pod::podman()
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(path)
        .arg(image));
    run(&mut node.ctr(&["images", "import", &path.display().to_string()]));
    run(&mut node.ctr(&["images", "label", image, "io.cri-containerd.pinned=pinned"]));
}
