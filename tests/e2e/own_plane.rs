//! A control plane of one test's own, for a test that restarts the API server: the shared one
//! serves tests running in parallel, which an outage would break. Also the operator process that
//! test runs against it, as admin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use crate::support::{client_from_kubeconfig, scripts_dir, spawn_watchdog};

pub struct OwnPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub bin_dir: PathBuf,
    /// Closing it (on drop, or when the test process dies) makes the watchdog run `down`.
    watchdog: Option<ChildStdin>,
    watchdog_process: Option<Child>,
}

impl OwnPlane {
    /// Runs `tests/control-plane/up` in a fresh folder (blocking: call from `spawn_blocking`).
    pub fn start() -> OwnPlane {
        let dir = tempfile::Builder::new()
            .prefix("corti-own-plane-")
            .tempdir()
            .expect("a temporary folder")
            .keep();
        // As support's shared plane: the watchdog, in its own process group, stops the plane
        // and removes the folder once our end of its stdin closes, however this process ends.
        let mut watchdog = spawn_watchdog(&dir).expect("the watchdog starts");
        let watchdog_stdin = watchdog.stdin.take();
        let up = Command::new(scripts_dir().join("up"))
            .arg(&dir)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("tests/control-plane/up runs");
        assert!(up.status.success(), "tests/control-plane/up failed");
        let bin_dir = std::fs::read_to_string(dir.join("bin-dir")).expect("bin-dir");
        OwnPlane {
            kubeconfig: dir.join("kubeconfig"),
            bin_dir: PathBuf::from(bin_dir.trim()),
            dir,
            watchdog: watchdog_stdin,
            watchdog_process: Some(watchdog),
        }
    }

    /// Kills and restarts kube-apiserver on the same port and etcd; blocks until it is ready.
    pub fn restart_apiserver(&self) {
        let status = Command::new(scripts_dir().join("restart-apiserver"))
            .arg(&self.dir)
            .stdin(Stdio::null())
            .status()
            .expect("restart-apiserver runs");
        assert!(status.success(), "restart-apiserver failed");
    }

    pub async fn client(&self) -> kube::Client {
        client_from_kubeconfig(&self.kubeconfig).await
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(self.bin_dir.join("kubectl"))
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("kubectl runs")
    }

    /// Installs the committed CRDs and waits until they are served.
    pub fn install_crds(&self) {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        let crds = crds.to_str().unwrap_or_default();
        let applied = self.kubectl(&["apply", "--server-side", "-f", crds]);
        assert!(applied.status.success(), "kubectl apply crds");
        let established = self.kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/customers.admin.corti.app",
            "crd/customerusers.admin.corti.app",
            "--timeout=60s",
        ]);
        assert!(established.status.success(), "CRDs not established");
    }
}

impl Drop for OwnPlane {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.watchdog.take() {
            let _ = stdin.write_all(b"\n");
        }
        // Reaped by a thread: `down` takes seconds and need not hold up the test.
        if let Some(mut process) = self.watchdog_process.take() {
            std::thread::spawn(move || process.wait());
        }
    }
}

/// The operator binary against `plane` as admin, watching `namespace`, logging to `log`.
pub fn spawn_operator(
    plane: &OwnPlane,
    admin_api_url: &str,
    namespace: &str,
    log: &Path,
    extra: &[&str],
) -> tokio::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("operator log");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_corti-operator"))
        .args([
            "run",
            "--admin-api-url",
            admin_api_url,
            "--namespaces",
            namespace,
        ])
        .args([
            "--health-addr",
            "127.0.0.1:0",
            "--admin-api-rate-limit",
            "0",
        ])
        .args(extra)
        .env("KUBECONFIG", &plane.kubeconfig)
        .env("RUST_LOG", "info,corti_operator=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the operator starts")
}
