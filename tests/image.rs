//! The container image (`make image`, deploy/Dockerfile) on the real local control plane, run under
//! podman exactly as the chart's Pod runs it: the Deployment's env and args, in-cluster configuration
//! (KUBERNETES_SERVICE_HOST/PORT, no kubeconfig), a token of the chart's ServiceAccount mounted
//! read-only where the kubelet mounts it, read-only root with no writable tmpfs, user 65532, no
//! capabilities, no-new-privileges. The simulator runs from the same image and is reached by a host
//! name that only the container's /etc/hosts knows (musl's resolver, no NSS). The image itself:
//! nothing but the two static binaries and the CA bundle, no shell, non-root.
//! (tests/node.rs runs the same image as a real Pod on a real node.)

mod pod;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use pod::{kubectl, podman, run, text};
use serde_json::{Value, json};
use support::{control_plane, eventually, namespace, namespace_with_labels};

/// A name no resolver knows but the container's /etc/hosts (podman --add-host).
const SIM_HOST: &str = "corti-admin-sim.test";
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The chart's securityContext as podman flags; host network (the API server listens on loopback).
const AS_THE_POD: [&str; 8] = [
    "--network=host",
    "--read-only",
    "--read-only-tmpfs=false",
    "--user=65532:65532",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "--pull=never",
    "--stop-timeout=2",
];

fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener
        .local_addr()
        .expect("its address")
        .port()
        .to_string()
}

/// A detached container, removed on drop.
struct Container(String);

impl Container {
    fn run(args: &[&str]) -> Container {
        Container(
            run(podman().args(["run", "--detach"]).args(args))
                .trim()
                .to_owned(),
        )
    }

    fn logs(&self) -> String {
        text(
            &podman()
                .args(["logs", &self.0])
                .output()
                .expect("podman logs"),
        )
    }

    fn inspect(&self) -> Value {
        let out = run(podman().args(["inspect", &self.0]));
        serde_json::from_str::<Value>(&out).expect("JSON")[0].clone()
    }

    fn running(&self) -> bool {
        self.inspect()["State"]["Running"] == true
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman()
            .args(["rm", "--force", "--time", "2", &self.0])
            .output();
    }
}

#[test]
#[ignore = "needs podman (installed if missing, as root): make test-e2e"]
fn the_image_is_empty_static_and_non_root() {
    let Some(image) = pod::image() else { return };
    let inspected: Value =
        serde_json::from_str(&run(podman().args(["image", "inspect", image]))).expect("JSON");
    let config = &inspected[0]["Config"];
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert_eq!(config["Entrypoint"], json!(["/corti-operator"]), "{config}");
    assert_eq!(config["Cmd"], json!(["run"]), "{config}");
    eprintln!("image size: {} bytes", inspected[0]["Size"]);

    // Every file of the image: the two binaries and the CA bundle, nothing else (no shell, no libc).
    let container = run(podman().args(["create", "--pull=never", image]));
    let export = podman()
        .args(["export", container.trim()])
        .output()
        .expect("podman export");
    run(podman().args(["rm", container.trim()]));
    assert!(export.status.success(), "podman export: {}", text(&export));
    let mut tar = Command::new("tar")
        .args(["-tf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let mut stdin = tar.stdin.take().expect("tar's stdin");
    std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &export.stdout));
    let listing = text(&tar.wait_with_output().expect("tar lists"));
    // What podman itself adds to every container is not the image's.
    let added = [
        "etc/hosts",
        "etc/resolv.conf",
        "etc/hostname",
        "run/.containerenv",
    ];
    let mut files: Vec<&str> = listing
        .lines()
        .filter(|f| !f.ends_with('/') && !added.contains(f))
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

    let shell = podman()
        .args([
            "run",
            "--rm",
            "--pull=never",
            "--entrypoint=/bin/sh",
            image,
            "-c",
            "true",
        ])
        .output()
        .expect("podman run");
    assert!(!shell.status.success(), "the image has a shell");
    assert!(text(&shell).contains("no such file"), "{}", text(&shell));

    // Both entrypoints start in the empty image (a dynamic binary would not: no loader, no libc).
    for entrypoint in ["/corti-operator", "/corti-admin-sim"] {
        let out = run(podman().args(["run", "--rm"]).args(AS_THE_POD).args([
            "--entrypoint",
            entrypoint,
            image,
            "--version",
        ]));
        assert!(
            out.contains(env!("CARGO_PKG_VERSION")),
            "{entrypoint} --version: {out}"
        );
    }
}

/// DIR laid out as the kubelet lays out a ServiceAccount volume: token, ca.crt and namespace,
/// group-owned by the Pod's fsGroup (65532), readable by that group and not by others.
fn service_account_volume(dir: &Path, namespace: &str, service_account: &str) {
    use std::os::unix::fs::{PermissionsExt, chown};
    let token = kubectl(&[
        "create",
        "token",
        service_account,
        "-n",
        namespace,
        "--duration=1h",
    ]);
    let ca = control_plane()
        .kubeconfig_path()
        .with_file_name("pki")
        .join("ca.crt");
    let ca = std::fs::read(&ca).unwrap_or_else(|e| panic!("{}: {e}", ca.display()));
    let files: [(&str, &[u8]); 3] = [
        ("token", token.trim().as_bytes()),
        ("ca.crt", &ca),
        ("namespace", namespace.as_bytes()),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write the volume");
        chown(&path, Some(0), Some(65532)).expect("chown (as root)");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    chown(dir, Some(0), Some(65532)).expect("chown (as root)");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
}

/// The API server's port, from the admin kubeconfig (`server: https://127.0.0.1:PORT`).
fn api_port() -> String {
    let kubeconfig =
        std::fs::read_to_string(control_plane().kubeconfig_path()).expect("the kubeconfig");
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://127.0.0.1:"))
        .expect("a loopback server in the kubeconfig")
        .to_owned()
}

#[tokio::test]
#[ignore = "needs podman (installed if missing, as root), the local control plane and helm: make test-e2e"]
async fn the_image_reconciles_as_the_chart_pod_would() {
    let Some(image) = pod::image() else { return };
    let cp = control_plane();
    pod::install_crds();
    let operator_ns = namespace_with_labels("image", &[pod::RESTRICTED]).await;
    let tenants = namespace("image-tenants").await;
    let (ns, tenants_ns) = (operator_ns.name(), tenants.name());
    let release = format!("co-{}", ns.rsplit('-').next().unwrap_or_default());
    let fullname = format!("{release}-corti-operator");
    // No node in this test: replicas 0, and podman runs the Pod's container below.
    run(cp
        .command("helm")
        .args(["install", &release])
        .arg(pod::repo().join("charts/corti-operator"))
        .args(["--namespace", ns, "--set"])
        .arg(format!(
            "replicas=0,leaderElection.enabled=true,logFormat=text,\
             defaultCredentialsSecret.name=corti-admin,\
             watchNamespaces={{{tenants_ns}}},defaultCredentialsSecret.namespaces={{{tenants_ns}}}"
        )));
    pod::apply(&pod::demo_credentials(ns, "corti-admin"));

    // The simulator, from the same image, on a free loopback port.
    let listen = format!("127.0.0.1:{}", free_port());
    let sim = Container::run(
        &[
            &AS_THE_POD[..],
            &["--entrypoint=/corti-admin-sim", image, "--listen", &listen],
        ]
        .concat(),
    );
    eventually("the simulator's URL in its log", pod::WAIT, || async {
        sim.logs().contains("Admin API at http://") || !sim.running()
    })
    .await;
    let sim_url = sim
        .logs()
        .lines()
        .find_map(|l| l.split("Admin API at ").nth(1))
        .unwrap_or_else(|| panic!("the simulator did not start:\n{}", sim.logs()))
        .trim()
        .replace("127.0.0.1", SIM_HOST);

    // The Pod's container: the Deployment's env and args, the downward API filled in as by the kubelet.
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
    let health_port = free_port();
    // What the kubelet sets for the `kubernetes` Service; here the API server on loopback.
    let mut env = vec![
        "--env=KUBERNETES_SERVICE_HOST=127.0.0.1".to_owned(),
        format!("--env=KUBERNETES_SERVICE_PORT={}", api_port()),
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
        env.push(format!("--env={name}={value}"));
    }
    let volume = tempfile::tempdir().expect("a temporary folder");
    service_account_volume(volume.path(), ns, &fullname);
    let mount = format!("--volume={}:{SA_DIR}:ro", volume.path().display());
    let add_host = format!("--add-host={SIM_HOST}:127.0.0.1");
    let name = format!("--name={pod_name}");
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("text"))
        .collect();
    let mut all: Vec<&str> = AS_THE_POD.to_vec();
    all.extend([name.as_str(), mount.as_str(), add_host.as_str()]);
    all.extend(env.iter().map(String::as_str));
    all.push(image);
    all.extend(args);
    let operator = Container::run(&all);
    let log = || operator.logs();

    let pid = operator.inspect()["State"]["Pid"]
        .as_u64()
        .expect("a running container");
    pod::assert_restricted_process(pid);

    // Serving (the livenessProbe's /healthz), then the resources, then Ready (the readinessProbe's
    // /readyz): checked last, so that a readiness fault does not hide whether it reconciles.
    let probe = |path: &str| {
        Command::new("curl")
            .args(["-fsS", "-o", "/dev/null"])
            .arg(format!("http://127.0.0.1:{health_port}{path}"))
            .status()
            .is_ok_and(|s| s.success())
    };
    pod::wait("the operator's /healthz", &log, || {
        assert!(operator.running(), "the operator exited:\n{}", log());
        probe("/healthz")
    })
    .await;
    pod::reconcile_and_delete(tenants_ns, &log).await;
    pod::wait("the operator's /readyz", &log, || probe("/readyz")).await;

    // It held the Lease under the Pod's name, with the ServiceAccount token (it has no other credential).
    let lease: Value = serde_json::from_str(&kubectl(&[
        "get", "lease", &fullname, "-n", ns, "-o", "json",
    ]))
    .expect("JSON");
    assert_eq!(
        lease["spec"]["holderIdentity"],
        pod_name.as_str(),
        "{lease}"
    );
    drop(operator);
    run(cp
        .command("helm")
        .args(["uninstall", &release, "--namespace", ns]));
}
