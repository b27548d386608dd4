//! The local control plane is a real one: CRDs with CEL rules, the status subresource, finalizers,
//! RBAC, Pod Security admission and garbage collection all behave as in a cluster.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;
use support::{api_error, control_plane, eventually, namespace, namespace_with_labels};

const GROUP: &str = "smoke.corti.test";
const FINALIZER: &str = "smoke.corti.test/hold";

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("widgets.{GROUP}") },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": { "size": { "type": "integer" } },
                            "x-kubernetes-validations": [
                                { "rule": "self.size <= 10", "message": "size must be at most 10" }
                            ]
                        },
                        "status": { "type": "object", "properties": { "phase": { "type": "string" } } }
                    }
                }}
            }]
        }
    }))
    .unwrap()
}

/// The Widget kind, installed (idempotently: a shared control plane may have it already).
async fn widgets(namespace: &str) -> Api<DynamicObject> {
    let client = control_plane().client().await;
    let crd = widget_crd();
    let name = crd.metadata.name.clone().unwrap();
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    crds.patch(
        &name,
        &PatchParams::apply("corti-smoke-test").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("the CRD is established within 30 s")
    .unwrap();
    let gvk = GroupVersionKind::gvk(GROUP, "v1", "Widget");
    Api::namespaced_with(
        client,
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, "widgets"),
    )
}

fn widget(name: &str, size: i64) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "Widget",
        "metadata": { "name": name, "finalizers": [FINALIZER] },
        "spec": { "size": size }
    }))
    .unwrap()
}

#[tokio::test]
async fn crd_with_cel_rule_status_subresource_and_finalizer() {
    let ns = namespace("smoke-crd").await;
    let widgets = widgets(ns.name()).await;

    let refused = api_error(
        widgets
            .create(&PostParams::default(), &widget("too-big", 11))
            .await,
    );
    assert_eq!(refused.code, 422, "{refused:?}");
    assert!(
        refused.message.contains("size must be at most 10"),
        "{}",
        refused.message
    );

    widgets
        .create(&PostParams::default(), &widget("fine", 3))
        .await
        .unwrap();

    // Status only through the status subresource...
    let patched = widgets
        .patch_status(
            "fine",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "phase": "Ready" } })),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["phase"], "Ready");
    // ...and the main endpoint changes the spec but ignores the status.
    let patched = widgets
        .patch(
            "fine",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "size": 4 }, "status": { "phase": "Tampered" } })),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["size"], 4);
    assert_eq!(patched.data["status"]["phase"], "Ready");

    // A finalizer holds the deleted object...
    widgets
        .delete("fine", &DeleteParams::default())
        .await
        .unwrap();
    let held = widgets.get("fine").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.metadata.finalizers.as_deref(),
        Some(&[FINALIZER.to_owned()][..])
    );
    // ...until it is removed.
    widgets
        .patch(
            "fine",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
        )
        .await
        .unwrap();
    assert!(widgets.get_opt("fine").await.unwrap().is_none());

    ns.delete().await;
}

#[tokio::test]
async fn rbac_denies_a_service_account_until_a_role_binding_allows_it() {
    let ns = namespace("smoke-rbac").await;
    let admin = control_plane().client().await;
    let account = "smoke-reader";
    let service_account: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": account } })).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), ns.name())
        .create(&PostParams::default(), &service_account)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::impersonating_kubeconfig(dir.path(), ns.name(), account);
    let as_account = support::client_from_kubeconfig(&kubeconfig).await;
    let config_maps = Api::<ConfigMap>::namespaced(as_account, ns.name());
    let can_i = || {
        let output = control_plane()
            .command("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .args([
                "auth",
                "can-i",
                "list",
                "configmaps",
                "--namespace",
                ns.name(),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };

    let denied = api_error(config_maps.list(&ListParams::default()).await);
    assert_eq!(denied.code, 403, "{denied:?}");
    assert!(
        denied
            .message
            .contains(&format!("system:serviceaccount:{}:{account}", ns.name()))
    );
    assert_eq!(can_i(), "no");

    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "read-config-maps" },
        "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"] }]
    }))
    .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "read-config-maps" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-config-maps" },
        "subjects": [{ "kind": "ServiceAccount", "name": account, "namespace": ns.name() }]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), ns.name())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin, ns.name())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    // The authorizer reads RBAC objects from an informer: allowed a moment later.
    eventually(
        "the RoleBinding to take effect",
        Duration::from_secs(10),
        || async { config_maps.list(&ListParams::default()).await.is_ok() },
    )
    .await;
    assert_eq!(can_i(), "yes");

    ns.delete().await;
}

#[tokio::test]
async fn kubectl_reports_the_pinned_server_version() {
    let go_mod =
        std::fs::read_to_string(support::scripts_dir().join("modules/kubernetes/go.mod")).unwrap();
    let pinned = go_mod
        .lines()
        .find_map(|line| line.strip_prefix("require k8s.io/kubernetes "))
        .expect("go.mod requires k8s.io/kubernetes on one line")
        .trim();

    let output = control_plane().kubectl(["version", "--output=json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let versions: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(versions["serverVersion"]["gitVersion"], pinned);
    assert_eq!(versions["clientVersion"]["gitVersion"], pinned);
}

#[tokio::test]
async fn pod_security_restricted_rejects_a_privileged_pod() {
    let ns = namespace_with_labels(
        "smoke-psa",
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    )
    .await;
    let pods = Api::<Pod>::namespaced(control_plane().client().await, ns.name());
    let pod = |name: &str, security_context: serde_json::Value| -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "main", "image": "example.invalid/app:1", "securityContext": security_context }] }
        }))
        .unwrap()
    };

    let refused = api_error(
        pods.create(
            &PostParams::default(),
            &pod("privileged", json!({ "privileged": true })),
        )
        .await,
    );
    assert_eq!(refused.code, 403, "{refused:?}");
    assert!(
        refused
            .message
            .contains(r#"violates PodSecurity "restricted:latest""#),
        "{}",
        refused.message
    );

    // One that meets the profile is admitted (and stays Pending: there is no scheduler or kubelet).
    let restricted = json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" }
    });
    pods.create(&PostParams::default(), &pod("restricted", restricted))
        .await
        .unwrap();

    ns.delete().await;
}

#[tokio::test]
async fn garbage_collector_deletes_dependents_of_a_deleted_owner() {
    let ns = namespace("smoke-gc").await;
    let config_maps = Api::<ConfigMap>::namespaced(control_plane().client().await, ns.name());
    let owner: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "owner" } })).unwrap();
    let owner = config_maps
        .create(&PostParams::default(), &owner)
        .await
        .unwrap();
    let dependent: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.unwrap()
            }]
        }
    }))
    .unwrap();
    config_maps
        .create(&PostParams::default(), &dependent)
        .await
        .unwrap();

    config_maps
        .delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    eventually(
        "the garbage collector to delete the dependent",
        Duration::from_secs(60),
        || async { config_maps.get_opt("dependent").await.unwrap().is_none() },
    )
    .await;

    ns.delete().await;
}
