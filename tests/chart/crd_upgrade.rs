//! `crds.install`: the CRDs as templates, so `helm upgrade` upgrades them, adopted from an install
//! that had them from `crds/` by the steps the chart's README gives, and kept on uninstall.

use serde_json::Value;

use super::support::namespace;
use super::{Release, helm, install_crds, kubectl, release_name, render};

const CRDS: [&str; 2] = [
    "customresourcedefinition/customers.admin.corti.app",
    "customresourcedefinition/customerusers.admin.corti.app",
];

fn crd(name: &str) -> Value {
    let ran = kubectl(&["get", name, "-o", "json"]).clean(&format!("kubectl get {name}"));
    serde_json::from_str(&ran.stdout).expect("kubectl prints JSON")
}

/// The README's adoption step: Helm takes over objects annotated with its release.
fn annotate_for(release: &str, namespace: &str) {
    for name in CRDS {
        kubectl(&[
            "annotate",
            name,
            "--overwrite",
            &format!("meta.helm.sh/release-name={release}"),
            &format!("meta.helm.sh/release-namespace={namespace}"),
        ])
        .clean("kubectl annotate crd");
        kubectl(&[
            "label",
            name,
            "--overwrite",
            "app.kubernetes.io/managed-by=Helm",
        ])
        .clean("kubectl label crd");
    }
}

fn release_annotations() {
    for name in CRDS {
        let _ = kubectl(&[
            "annotate",
            name,
            "meta.helm.sh/release-name-",
            "meta.helm.sh/release-namespace-",
            "helm.sh/resource-policy-",
        ]);
    }
}

#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn templated_crds_are_adopted_upgraded_and_kept() {
    // Rendered only when asked, from crds/ itself, with the keep policy.
    assert!(
        !render(&[])
            .iter()
            .any(|d| d["kind"] == "CustomResourceDefinition")
    );
    let docs = render(&["--set", "crds.install=true"]);
    let crds: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 2);
    for crd in &crds {
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"],
            "keep"
        );
    }
    let kept = render(&["--set", "crds.install=true", "--set", "crds.keep=false"]);
    assert!(
        kept.iter()
            .all(|d| d["metadata"]["annotations"]["helm.sh/resource-policy"].is_null())
    );

    install_crds();
    let uids: Vec<Value> = CRDS
        .iter()
        .map(|name| crd(name)["metadata"]["uid"].clone())
        .collect();
    let operator_ns = namespace("chart-crds").await;
    let ns = operator_ns.name();
    let name = release_name(&operator_ns);
    annotate_for(&name, ns);
    let (release, ran) =
        Release::install(&name, ns, &["--skip-crds", "--set", "crds.install=true"]);
    let installed = ran.success;
    if installed {
        // The release now holds them (Helm decides keep from the manifest it stored). Their live
        // labels are not checked: with Helm 4, any other release installed meanwhile re-applies
        // crds/ over them.
        let manifest =
            helm(&["get", "manifest", &name, "--namespace", ns]).clean("helm get manifest");
        for crd_name in ["customers.admin.corti.app", "customerusers.admin.corti.app"] {
            assert!(
                manifest.stdout.contains(&format!("name: {crd_name}")),
                "the release holds {crd_name}"
            );
        }
        assert_eq!(
            manifest
                .stdout
                .matches("helm.sh/resource-policy: keep")
                .count(),
            2
        );
        release
            .upgrade(&["--set", "crds.install=true", "--set", "logLevel=debug"])
            .clean("helm upgrade with templated CRDs");
        release.uninstall().clean("helm uninstall");
        // Still the same objects: uninstalling never deletes the CRDs, so no Customer with them.
        let after: Vec<Value> = CRDS
            .iter()
            .map(|name| crd(name)["metadata"]["uid"].clone())
            .collect();
        assert_eq!(after, uids);
    }
    release_annotations();
    assert!(
        installed,
        "helm install --skip-crds --set crds.install=true:\n{}",
        ran.stderr
    );
}
