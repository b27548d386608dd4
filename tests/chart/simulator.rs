//! `simulator.enabled`: corti-admin-sim beside the operator, with the demo account the examples
//! use, and the operator pointed at it.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::{eventually, namespace_with_labels};
use super::{
    RESTRICTED, Release, documents, env_of, find, install_crds, kubectl, release_name, render, repo,
};

const SIMULATOR: &str = "corti-corti-operator-simulator";

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn env_entry<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    container(deployment)["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

/// Whether every label of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .expect("a selector")
        .iter()
        .all(|(key, value)| labels[key] == *value)
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn simulator_renders_beside_the_operator_with_the_examples_credentials() {
    let docs = render(&["--set", "simulator.enabled=true"]);
    let operator = find(&docs, "Deployment", "corti-corti-operator", None);
    let simulator = find(&docs, "Deployment", SIMULATOR, Some("corti-system"));
    let service = find(&docs, "Service", SIMULATOR, Some("corti-system"));
    let secret = find(&docs, "Secret", &format!("{SIMULATOR}-credentials"), None);

    // The operator talks to the simulator's Service, with the demo Secret as default credentials.
    assert_eq!(
        env_of(operator, "CORTI_ADMIN_API_URL").as_deref(),
        Some("http://corti-corti-operator-simulator.corti-system.svc:8089")
    );
    assert_eq!(
        env_of(operator, "CORTI_DEFAULT_CREDENTIALS_SECRET").as_deref(),
        Some("corti-system/corti-corti-operator-simulator-credentials")
    );
    let role = find(
        &docs,
        "Role",
        "corti-corti-operator-default-credentials",
        Some("corti-system"),
    );
    assert_eq!(
        role["rules"][0]["resourceNames"],
        json!(["corti-corti-operator-simulator-credentials"])
    );

    // The same image as the operator, another executable, listening where the Service sends.
    assert_eq!(container(simulator)["image"], container(operator)["image"]);
    assert_eq!(container(simulator)["command"], json!(["/corti-admin-sim"]));
    assert_eq!(
        env_of(simulator, "CORTI_SIM_LISTEN").as_deref(),
        Some("0.0.0.0:8089")
    );
    assert_eq!(service["spec"]["ports"][0]["port"], 8089);
    assert_eq!(
        container(simulator)["ports"][0]["containerPort"],
        service["spec"]["ports"][0]["port"]
    );
    // Its account and project come from the Secret the operator uses: they cannot disagree.
    assert_eq!(
        env_of(simulator, "CORTI_SIM_ACCOUNTS").as_deref(),
        Some("$(DEMO_EMAIL):$(DEMO_PASSWORD):admin")
    );
    for (env, key) in [
        ("DEMO_EMAIL", "email"),
        ("DEMO_PASSWORD", "password"),
        ("CORTI_SIM_PROJECTS", "projectId"),
    ] {
        assert_eq!(
            env_entry(simulator, env)["valueFrom"]["secretKeyRef"],
            json!({ "name": "corti-corti-operator-simulator-credentials", "key": key })
        );
    }
    // ... and equal the examples' credentials, so deploy/examples become Ready against it.
    let example = std::fs::read_to_string(repo().join("deploy/examples/01-credentials.yaml"))
        .expect("deploy/examples/01-credentials.yaml");
    let example = documents(&example);
    assert_eq!(secret["stringData"], example[0]["stringData"]);

    // The Service selects the simulator's Pods, and the operator's selector does not.
    let simulator_labels = &simulator["spec"]["template"]["metadata"]["labels"];
    assert!(selects(&service["spec"]["selector"], simulator_labels));
    assert!(!selects(
        &operator["spec"]["selector"]["matchLabels"],
        simulator_labels
    ));
    let metrics = find(&docs, "Service", "corti-corti-operator-metrics", None);
    assert!(!selects(&metrics["spec"]["selector"], simulator_labels));

    // Without the option: none of it, and the real Admin API.
    let docs = render(&[]);
    assert!(!docs.iter().any(|d| d["metadata"]["name"] == SIMULATOR));
    let operator = find(&docs, "Deployment", "corti-corti-operator", None);
    assert_eq!(
        env_of(operator, "CORTI_ADMIN_API_URL").as_deref(),
        Some("https://api.console.corti.app/functions/v1/public")
    );
}

#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn simulator_installs_under_restricted_pod_security() {
    install_crds();
    let operator_ns = namespace_with_labels("chart-sim", &[RESTRICTED]).await;
    let ns = operator_ns.name();
    let (release, ran) = Release::install(
        &release_name(&operator_ns),
        ns,
        &["--set", "simulator.enabled=true"],
    );
    ran.clean("helm install --set simulator.enabled=true");
    let simulator = format!("{}-simulator", release.fullname());

    let get = |object: &str| -> Value {
        let ran = kubectl(&["get", object, "--namespace", ns, "-o", "json"])
            .clean(&format!("kubectl get {object}"));
        serde_json::from_str(&ran.stdout).expect("kubectl prints JSON")
    };
    let service = get(&format!("service/{simulator}"));
    let deployment = get(&format!("deployment/{simulator}"));
    let operator = get(&format!("deployment/{}", release.fullname()));
    assert_eq!(
        env_of(&operator, "CORTI_ADMIN_API_URL"),
        Some(format!("http://{simulator}.{ns}.svc:8089"))
    );
    assert!(selects(
        &service["spec"]["selector"],
        &deployment["spec"]["template"]["metadata"]["labels"]
    ));
    let secret = get(&format!("secret/{simulator}-credentials"));
    for key in ["email", "password", "projectId"] {
        assert!(secret["data"][key].is_string(), "the Secret has {key}");
    }

    // The namespace enforces `restricted`: the simulator's Pod is admitted only if it complies.
    eventually(
        "the simulator's Pod, admitted under restricted",
        Duration::from_secs(60),
        || async {
            let ran = kubectl(&[
                "get",
                "pods",
                "--namespace",
                ns,
                "-l",
                "app.kubernetes.io/name=corti-admin-sim",
                "-o",
                "name",
            ]);
            ran.success && !ran.stdout.trim().is_empty()
        },
    )
    .await;
    release.uninstall().clean("helm uninstall");
}
