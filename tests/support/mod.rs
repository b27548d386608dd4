//! Helpers for integration tests on a real Kubernetes control plane (include with `mod support;`).
//!
//! [`control_plane()`] is the one control plane of the test binary: the one whose kubeconfig
//! `CORTI_TEST_KUBECONFIG` names, or else one that `tests/control-plane/up` starts in a temporary
//! folder on first use. A watchdog process stops it (`down`) and removes the folder when the test
//! process exits, however it exits. Each test takes its own namespace with [`namespace()`].

use std::ffi::OsStr;
use std::fmt::Debug;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use kube::{Client, Config};

/// Names the kubeconfig of a running control plane to use instead of starting one.
pub const KUBECONFIG_ENV: &str = "CORTI_TEST_KUBECONFIG";
/// The label that marks namespaces made by [`namespace()`].
pub const TEST_NAMESPACE_LABEL: &str = "corti.test/namespace";

/// A running control plane: its admin kubeconfig and the folder of its binaries (kubectl, helm).
#[derive(Debug)]
pub struct ControlPlane {
    kubeconfig: PathBuf,
    bin_dir: PathBuf,
    /// The watchdog's stdin; the OS closes it when this process exits, which sets the watchdog off.
    _watchdog: Option<ChildStdin>,
}

/// The control plane of this test binary, started (or found) on the first call, shared afterwards.
/// Blocks while it starts; a failure to start fails every test that asks, with the same message.
pub fn control_plane() -> &'static ControlPlane {
    static CONTROL_PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    match CONTROL_PLANE.get_or_init(ControlPlane::find_or_start) {
        Ok(control_plane) => control_plane,
        Err(message) => panic!("no control plane: {message}"),
    }
}

impl ControlPlane {
    fn find_or_start() -> Result<Self, String> {
        match std::env::var_os(KUBECONFIG_ENV) {
            Some(kubeconfig) => Self::existing(PathBuf::from(kubeconfig)),
            None => Self::start(),
        }
    }

    /// One started elsewhere. Its binaries: those `up` recorded next to the kubeconfig, else
    /// `CORTI_CONTROL_PLANE_BIN`, else those of `tests/control-plane/build`.
    fn existing(kubeconfig: PathBuf) -> Result<Self, String> {
        if !kubeconfig.is_file() {
            return Err(format!(
                "{KUBECONFIG_ENV}={} is not a file",
                kubeconfig.display()
            ));
        }
        let recorded = kubeconfig.with_file_name("bin-dir");
        let bin_dir = if let Ok(text) = std::fs::read_to_string(&recorded) {
            PathBuf::from(text.trim())
        } else if let Some(bin) = std::env::var_os("CORTI_CONTROL_PLANE_BIN") {
            PathBuf::from(bin)
        } else {
            let output = Command::new(scripts_dir().join("build"))
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("cannot run tests/control-plane/build: {e}"))?;
            if !output.status.success() {
                return Err("tests/control-plane/build failed (its output is above)".into());
            }
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        };
        Ok(Self {
            kubeconfig,
            bin_dir,
            _watchdog: None,
        })
    }

    fn start() -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("corti-control-plane-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?
            .keep();
        // The watchdog first, so that even an `up` that fails halfway is cleaned up. It waits for
        // end-of-file on its stdin, whose write end only this process holds (Rust opens it
        // close-on-exec, so no other child inherits it), and runs in its own process group so that
        // a Ctrl-C in the terminal does not stop it before it has run `down`.
        let mut watchdog =
            spawn_watchdog(&dir).map_err(|e| format!("cannot start the watchdog: {e}"))?;
        let watchdog_stdin = watchdog.stdin.take();
        // `up` prints its progress (and on failure the failing component's log) on stderr; a
        // cold build takes minutes, so that goes straight to the terminal.
        let output = Command::new(scripts_dir().join("up"))
            .arg(&dir)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run tests/control-plane/up: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "tests/control-plane/up {} failed (its output is above)",
                dir.display()
            ));
        }
        let bin_dir = std::fs::read_to_string(dir.join("bin-dir"))
            .map_err(|e| format!("{}/bin-dir: {e}", dir.display()))?;
        Ok(Self {
            kubeconfig: dir.join("kubeconfig"),
            bin_dir: PathBuf::from(bin_dir.trim()),
            _watchdog: watchdog_stdin,
        })
    }

    /// The admin kubeconfig (group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The folder with `kubectl`, `helm`, `kube-apiserver`, `etcd`...
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// An admin client.
    pub async fn client(&self) -> Client {
        client_from_kubeconfig(&self.kubeconfig).await
    }

    /// A command for one of the binaries (`kubectl`, `helm`) with `KUBECONFIG` set to the admin one.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::null());
        command
    }

    /// Runs kubectl as admin and returns what it did (blocking; fine in a test).
    pub fn kubectl<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command("kubectl")
            .args(args)
            .output()
            .expect("kubectl should run")
    }
}

/// The folder of the control-plane scripts (`build`, `up`, `down`).
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/control-plane")
}

/// A client for any kubeconfig, e.g. one from [`impersonating_kubeconfig`].
pub async fn client_from_kubeconfig(path: &Path) -> Client {
    // kube and reqwest both use rustls; name the provider once rather than depend on features.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(path)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {}: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {}: {e}", path.display()));
    Client::try_from(config).expect("a client from the kubeconfig")
}

/// Writes `DIR/kubeconfig-NAMESPACE-NAME`: the admin kubeconfig with a user that impersonates
/// `system:serviceaccount:NAMESPACE:NAME` (its `as` field; the API server adds the ServiceAccount's
/// groups), so a client or kubectl using it has exactly that ServiceAccount's permissions.
pub fn impersonating_kubeconfig(dir: &Path, namespace: &str, name: &str) -> PathBuf {
    let admin = control_plane().kubeconfig_path();
    let text = std::fs::read_to_string(admin).expect("the admin kubeconfig is readable");
    let mut config: serde_norway::Value =
        serde_norway::from_str(&text).expect("the admin kubeconfig is YAML");
    let users = config
        .get_mut("users")
        .and_then(serde_norway::Value::as_sequence_mut)
        .expect("the admin kubeconfig has users");
    for user in users {
        let user = user
            .get_mut("user")
            .and_then(serde_norway::Value::as_mapping_mut)
            .expect("each kubeconfig user has a `user` map");
        user.insert(
            "as".into(),
            format!("system:serviceaccount:{namespace}:{name}").into(),
        );
    }
    let path = dir.join(format!("kubeconfig-{namespace}-{name}"));
    let text = serde_norway::to_string(&config).expect("a kubeconfig serializes");
    std::fs::write(&path, text).expect("the impersonating kubeconfig is writable");
    path
}

/// A namespace of one test, unique in the cluster. Deleted on drop (without waiting for it to go);
/// [`TestNamespace::delete`] deletes it explicitly.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
}

/// A fresh namespace named `PREFIX-xxxxxxxx`, ready for Pods (its `default` ServiceAccount exists).
pub async fn namespace(prefix: &str) -> TestNamespace {
    namespace_with_labels(prefix, &[]).await
}

/// Like [`namespace()`], with these labels (e.g. `pod-security.kubernetes.io/enforce=restricted`).
pub async fn namespace_with_labels(prefix: &str, labels: &[(&str, &str)]) -> TestNamespace {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let name = format!("{prefix}-{suffix}");
    assert!(
        name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "namespace prefix {prefix:?} must be a short lowercase DNS label"
    );
    let mut all_labels = vec![(TEST_NAMESPACE_LABEL.to_owned(), "true".to_owned())];
    all_labels.extend(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let client = control_plane().client().await;
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(all_labels.into_iter().collect()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
    let test_namespace = TestNamespace { name };
    // The ServiceAccount admission plugin rejects Pods until the controller-manager made `default`.
    let service_accounts = Api::<ServiceAccount>::namespaced(client, &test_namespace.name);
    eventually(
        "the default ServiceAccount",
        Duration::from_secs(30),
        || async {
            service_accounts
                .get_opt("default")
                .await
                .ok()
                .flatten()
                .is_some()
        },
    )
    .await;
    test_namespace
}

impl TestNamespace {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace now (the namespace controller then removes its content); the drop
    /// still clears what a stopped operator left behind.
    pub async fn delete(self) {
        let namespaces = Api::<Namespace>::all(control_plane().client().await);
        if let Err(e) = namespaces
            .delete(&self.name, &kube::api::DeleteParams::default())
            .await
        {
            assert!(
                is_status(&e, 404),
                "cannot delete namespace {}: {e}",
                self.name
            );
        }
    }
}

impl Drop for TestNamespace {
    /// Deletes the namespace from a detached shell: no runtime needed, and it finishes even when the
    /// test's runtime (or the whole test process) ends right after the drop.
    ///
    /// The test's operator stops with it, so what still carries one of its finalizers would keep
    /// the namespace `Terminating` for ever, and the namespace controller would go on retrying it,
    /// a load on the API server every later test shares (about 1.5 of 2 cores idle, measured,
    /// with 187 such namespaces left by many runs). After a grace period in which a still-running
    /// operator finishes its own cleanup, the shell drops the finalizers left.
    fn drop(&mut self) {
        let script = r#"
            kubectl delete namespace "$1" --wait=false --ignore-not-found
            sleep 15
            for kind in customerusers.admin.corti.app customers.admin.corti.app secrets; do
              for object in $(kubectl -n "$1" get "$kind" -o name 2>/dev/null); do
                kubectl -n "$1" patch "$object" --type=merge -p '{"metadata":{"finalizers":null}}'
              done
            done
        "#;
        let plane = control_plane();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![plane.bin_dir().to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        let spawned = Command::new("sh")
            .args(["-c", script, "sh", &self.name])
            .env("KUBECONFIG", plane.kubeconfig_path())
            .env("PATH", std::env::join_paths(paths).unwrap_or(path))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = spawned {
            // Reaps it; a thread still running does not keep the process alive.
            std::thread::spawn(move || child.wait());
        }
    }
}

/// Polls `check` every 100 ms until it is true; panics after `timeout`, naming `what`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The API server's refusal in `result`; panics if the call succeeded or failed otherwise.
pub fn api_error<T: Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected the API server to refuse, got {other:?}"),
    }
}

/// Whether `error` is the API server answering with HTTP `code`.
pub fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

// Each test binary uses only some of these helpers. Naming them all here keeps `dead_code` quiet
// in the others without a lint attribute (the project allows none in source).
const _: () = {
    let _ = (
        control_plane,
        ControlPlane::kubeconfig_path,
        ControlPlane::bin_dir,
        ControlPlane::client,
        ControlPlane::command,
        ControlPlane::kubectl::<[&str; 0], &str>,
        scripts_dir,
        client_from_kubeconfig,
        impersonating_kubeconfig,
        namespace,
        namespace_with_labels,
        TestNamespace::name,
        TestNamespace::delete,
        eventually::<fn() -> std::future::Ready<bool>, std::future::Ready<bool>>,
        api_error::<()>,
        is_status,
        KUBECONFIG_ENV,
        TEST_NAMESPACE_LABEL,
    );
};

/// A process that stops the control plane in `dir` (`down`) and removes the folder once the end of
/// its stdin held by this process closes, however this process ends.
pub fn spawn_watchdog(dir: &Path) -> std::io::Result<std::process::Child> {
    Command::new("bash")
        .arg("-c")
        .arg(r#"read -r _; "$0" "$1"; rm -rf "$1""#)
        .arg(scripts_dir().join("down"))
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}
