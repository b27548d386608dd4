//! The chart on real platforms: PodDisruptionBudget, NetworkPolicy, a CA bundle through extra
//! volumes and env, topology spread, roles aggregated to admin/edit/view, alerts and a dashboard
//! on the operator's real metrics, and CRDs upgraded with the release.

use std::collections::BTreeSet;
use std::time::Duration;

use corti_operator::metrics::{Endpoint, Metrics};
use serde_json::{Value, json};

use super::support::{eventually, namespace};
use super::{Release, can_i, env_of, find, install_crds, kinds, kubectl, release_name, render};

const OPERATOR: &str = "corti-corti-operator";

fn pod_spec(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn disruption_budget_only_with_several_replicas() {
    let has_pdb = |docs: &[Value]| docs.iter().any(|d| d["kind"] == "PodDisruptionBudget");
    assert!(
        !has_pdb(&render(&[])),
        "one replica: a PDB would block drains"
    );
    let docs = render(&["--set", "replicas=3"]);
    let pdb = find(&docs, "PodDisruptionBudget", OPERATOR, Some("corti-system"));
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    let deployment = find(&docs, "Deployment", OPERATOR, None);
    assert_eq!(
        pdb["spec"]["selector"], deployment["spec"]["selector"],
        "the PDB covers exactly the operator's Pods"
    );
    let off = render(&[
        "--set",
        "replicas=3",
        "--set",
        "podDisruptionBudget.enabled=false",
    ]);
    assert!(!has_pdb(&off));
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn network_policy_allows_dns_apiserver_admin_api_and_metrics_only() {
    assert!(
        !render(&[]).iter().any(|d| d["kind"] == "NetworkPolicy"),
        "off by default"
    );
    let docs = render(&["--set", "networkPolicy.enabled=true"]);
    let policy = find(&docs, "NetworkPolicy", OPERATOR, Some("corti-system"));
    let deployment = find(&docs, "Deployment", OPERATOR, None);
    assert_eq!(
        policy["spec"]["podSelector"],
        deployment["spec"]["selector"]
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    // Ingress: the container's named port, where /metrics and the probes are.
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{ "ports": [{ "port": "http", "protocol": "TCP" }] }])
    );
    assert_eq!(
        pod_spec(deployment)["containers"][0]["ports"][0]["name"],
        "http"
    );
    let egress_ports: Vec<Value> = policy["spec"]["egress"]
        .as_array()
        .expect("egress rules")
        .iter()
        .map(|rule| rule["ports"].clone())
        .collect();
    assert_eq!(
        egress_ports,
        [
            json!([{ "port": 53, "protocol": "UDP" }, { "port": 53, "protocol": "TCP" }]),
            json!([{ "port": 443, "protocol": "TCP" }, { "port": 6443, "protocol": "TCP" }]),
            json!([{ "port": 443, "protocol": "TCP" }]),
        ]
    );

    // With the simulator, the Admin API rule becomes its Pods' port, and nothing else on 443 but
    // the API server's.
    let docs = render(&[
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "simulator.enabled=true",
        "--set",
        "networkPolicy.apiServerPeers[0].ipBlock.cidr=10.0.0.1/32",
    ]);
    let policy = find(&docs, "NetworkPolicy", OPERATOR, None);
    let egress = policy["spec"]["egress"].as_array().expect("egress rules");
    assert_eq!(egress.len(), 3);
    assert_eq!(
        egress[1]["to"],
        json!([{ "ipBlock": { "cidr": "10.0.0.1/32" } }])
    );
    assert_eq!(
        egress[2],
        json!({
            "ports": [{ "port": 8089, "protocol": "TCP" }],
            "to": [{ "podSelector": { "matchLabels": {
                "app.kubernetes.io/instance": "corti", "app.kubernetes.io/name": "corti-admin-sim" } } }]
        })
    );
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn ca_bundle_mounts_and_topology_spread() {
    let values = tempfile::NamedTempFile::new().expect("a values file");
    std::fs::write(
        values.path(),
        r"
extraVolumes:
  - name: corporate-ca
    configMap: { name: corporate-ca }
extraVolumeMounts:
  - { name: corporate-ca, mountPath: /etc/corporate-ca, readOnly: true }
extraEnv:
  - { name: SSL_CERT_FILE, value: /etc/corporate-ca/ca-bundle.crt }
topologySpreadConstraints:
  - { maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway }
  - maxSkew: 2
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: DoNotSchedule
    labelSelector: { matchLabels: { team: a } }
",
    )
    .expect("write the values");
    let path = values.path().display().to_string();
    let docs = render(&["--values", &path]);
    let deployment = find(&docs, "Deployment", OPERATOR, None);
    let pod = pod_spec(deployment);
    assert_eq!(
        pod["volumes"],
        json!([{ "name": "corporate-ca", "configMap": { "name": "corporate-ca" } }])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([{ "name": "corporate-ca", "mountPath": "/etc/corporate-ca", "readOnly": true }])
    );
    assert_eq!(
        env_of(deployment, "SSL_CERT_FILE").as_deref(),
        Some("/etc/corporate-ca/ca-bundle.crt")
    );
    let constraints = pod["topologySpreadConstraints"]
        .as_array()
        .expect("constraints");
    assert_eq!(
        constraints[0]["labelSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"],
        "a constraint without a selector spreads the operator's own Pods"
    );
    assert_eq!(
        constraints[1]["labelSelector"],
        json!({ "matchLabels": { "team": "a" } })
    );
    // None of it by default.
    let docs = render(&[]);
    let pod = pod_spec(find(&docs, "Deployment", OPERATOR, None));
    assert!(pod["volumes"].is_null() && pod["topologySpreadConstraints"].is_null());
}

#[tokio::test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
async fn aggregated_roles_let_namespace_editors_manage_the_kinds() {
    let docs = render(&[]);
    let edit = find(&docs, "ClusterRole", "corti-corti-operator-edit", None);
    assert_eq!(
        edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"],
        "true"
    );
    let view = find(&docs, "ClusterRole", "corti-corti-operator-view", None);
    assert_eq!(
        view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"],
        "true"
    );
    assert!(
        !render(&["--set", "rbac.aggregateToDefaultRoles=false"])
            .iter()
            .any(|d| d["metadata"]["name"] == "corti-corti-operator-edit")
    );

    install_crds();
    let operator_ns = namespace("chart-agg").await;
    let team = namespace("chart-team").await;
    let (ns, team_ns) = (operator_ns.name(), team.name());
    let (release, ran) = Release::install(&release_name(&operator_ns), ns, &[]);
    ran.clean("helm install");
    let (editor, viewer) = (format!("editor-{team_ns}"), format!("viewer-{team_ns}"));
    for (user, role) in [(&editor, "edit"), (&viewer, "view")] {
        kubectl(&[
            "create",
            "rolebinding",
            &format!("{role}-{user}"),
            "--clusterrole",
            role,
            "--user",
            user,
            "--namespace",
            team_ns,
        ])
        .clean("kubectl create rolebinding");
    }
    // The aggregation controller (kube-controller-manager) adds the rules within moments.
    eventually(
        "edit lets its holder create Customers",
        Duration::from_secs(30),
        || async {
            can_i(
                &editor,
                "create",
                "customers.admin.corti.app",
                Some(team_ns),
            )
        },
    )
    .await;
    for verb in ["create", "update", "patch", "delete", "list", "watch"] {
        for resource in ["customers.admin.corti.app", "customerusers.admin.corti.app"] {
            assert!(
                can_i(&editor, verb, resource, Some(team_ns)),
                "edit: {verb} {resource}"
            );
        }
    }
    eventually(
        "view lets its holder list CustomerUsers",
        Duration::from_secs(30),
        || async {
            can_i(
                &viewer,
                "list",
                "customerusers.admin.corti.app",
                Some(team_ns),
            )
        },
    )
    .await;
    assert!(can_i(
        &viewer,
        "get",
        "customers.admin.corti.app",
        Some(team_ns)
    ));
    assert!(!can_i(
        &viewer,
        "create",
        "customers.admin.corti.app",
        Some(team_ns)
    ));
    assert!(!can_i(
        &viewer,
        "delete",
        "customerusers.admin.corti.app",
        Some(team_ns)
    ));
    // Bound in one namespace, nothing elsewhere.
    assert!(!can_i(
        &editor,
        "create",
        "customers.admin.corti.app",
        Some(ns)
    ));
    release.uninstall().clean("helm uninstall");
}

/// The series names the operator exposes, each kind of metric recorded once.
fn exposed_series() -> BTreeSet<String> {
    let metrics = Metrics::default();
    metrics.api_call(Endpoint::Login, "200", Duration::from_millis(5));
    metrics.reconciled("Customer", Duration::from_millis(5));
    metrics.reconcile_error("Customer", "RemoteUnavailable");
    metrics.credentials("ns/secret", true, Some(Duration::from_secs(5)));
    metrics.set_leader(true);
    metrics
        .encode()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap_or_default().to_owned())
        .collect()
}

/// Every `corti_operator_*` name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("corti_operator_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn alerts_and_dashboard_use_the_operators_real_metrics() {
    let docs = render(&[
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "grafanaDashboard.enabled=true",
        "--set",
        "prometheusRule.additionalLabels.team=platform",
    ]);
    let rule = find(&docs, "PrometheusRule", OPERATOR, Some("corti-system"));
    let dashboard = find(&docs, "ConfigMap", &format!("{OPERATOR}-dashboard"), None);
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let json_text = dashboard["data"]["corti-operator.json"]
        .as_str()
        .expect("the dashboard JSON");
    let parsed: Value = serde_json::from_str(json_text).expect("the dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 6));

    let rules = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules");
    assert!(rules.len() >= 5, "{rules:?}");
    for alert in rules {
        assert_eq!(alert["labels"]["team"], "platform", "{alert}");
        assert!(alert["annotations"]["summary"].is_string(), "{alert}");
    }

    let exposed = exposed_series();
    let used: BTreeSet<String> = metric_names(&rule["spec"].to_string())
        .union(&metric_names(json_text))
        .cloned()
        .collect();
    assert!(used.len() >= 7, "{used:?}");
    let unknown: Vec<&String> = used.difference(&exposed).collect();
    assert!(
        unknown.is_empty(),
        "not exposed by the operator: {unknown:?} (exposed: {exposed:?})"
    );
    assert!(
        !render(&[]).iter().any(|d| d["kind"] == "PrometheusRule"),
        "off by default: {:?}",
        kinds(&render(&[]))
    );
}
