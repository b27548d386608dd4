//! Bad manifests are refused at admission by the CRD schema (OpenAPI + CEL), with a message that
//! names the field; fields the Admin API cannot change are immutable.

use std::io::Write;
use std::process::Stdio;

use crate::harness::Env;
use crate::support::control_plane;

/// `kubectl apply` of `manifest` into the namespace: Ok(stdout) or Err(stderr).
fn kubectl_apply(namespace: &str, manifest: &str) -> Result<String, String> {
    let mut child = control_plane()
        .command("kubectl")
        .args(["apply", "-n", namespace, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child.stdin.take().expect("stdin").write_all(manifest.as_bytes()).expect("write manifest");
    let output = child.wait_with_output().expect("kubectl finishes");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into())
    }
}

fn customer(name: &str, spec: &str) -> String {
    format!("apiVersion: admin.corti.app/v1alpha1\nkind: Customer\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

fn user(name: &str, spec: &str) -> String {
    format!("apiVersion: admin.corti.app/v1alpha1\nkind: CustomerUser\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

#[track_caller]
fn assert_refused(namespace: &str, manifest: &str, expected: &[&str]) {
    let error = kubectl_apply(namespace, manifest).expect_err("the manifest must be refused");
    for part in expected {
        assert!(error.contains(part), "expected {part:?} in the refusal, got: {error}");
    }
}

const USER_BASE: &str = "  firstName: Jane\n  lastName: Smith\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_rule_refuses_with_the_field_named() {
    let env = Env::start("e2e-valid").await;
    let ns = env.namespace();
    assert_refused(ns, &customer("a", "  region: eu\n"), &["spec.displayName", "Required value"]);
    assert_refused(ns, &customer("a", &format!("  displayName: A\n  customerId: {}\n", "x".repeat(65))), &["spec.customerId", "64"]);
    assert_refused(ns, &customer("a", "  displayName: A\n  region: asia\n"), &["spec.region", "Unsupported value", "\"eu\""]);
    assert_refused(ns, &customer("a", "  displayName: A\n  tenantName: fifteen-chars-x\n"), &["spec.tenantName", "14"]);
    assert_refused(ns, &customer("a", "  displayName: \"\"\n"), &["spec.displayName"]);
    assert_refused(ns, &customer("a", "  displayName: A\n  deletionPolicy: Keep\n"), &["spec.deletionPolicy", "Unsupported value"]);
    assert_refused(ns, &customer(&"n".repeat(65), "  displayName: A\n"), &["metadata.name is the default customerId"]);

    assert_refused(ns, &user("u", &format!("  email: jane@x.example\n{USER_BASE}")), &["exactly one of customerRef", "customerId"]);
    assert_refused(
        ns,
        &user("u", &format!("  customerRef: {{name: c}}\n  customerId: c\n  email: jane@x.example\n{USER_BASE}")),
        &["exactly one of customerRef"],
    );
    assert_refused(ns, &user("u", &format!("  customerId: c\n  email: not-an-email\n{USER_BASE}")), &["spec.email", "email must be an email address"]);
    assert_refused(ns, &user("u", "  customerId: c\n  email: jane@x.example\n  lastName: Smith\n"), &["spec.firstName", "Required value"]);
    assert_refused(
        ns,
        &user("u", &format!("  customerRef: {{name: c}}\n  credentialsSecretRef: {{name: s}}\n  email: jane@x.example\n{USER_BASE}")),
        &["spec.credentialsSecretRef", "goes with customerId only"],
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_the_admin_api_cannot_change_are_immutable() {
    let env = Env::start("e2e-immut").await;
    let ns = env.namespace();
    let base = "  displayName: A\n  customerId: imm\n  tenantName: base\n  region: eu\n  credentialsSecretRef: {name: corti-admin}\n";
    kubectl_apply(ns, &customer("imm", base)).expect("a valid Customer is accepted");
    assert_refused(ns, &customer("imm", &base.replace("region: eu", "region: us")), &["region cannot be changed"]);
    assert_refused(ns, &customer("imm", &base.replace("customerId: imm", "customerId: other")), &["spec.customerId", "customerId cannot be changed"]);
    assert_refused(ns, &customer("imm", &base.replace("tenantName: base", "tenantName: other")), &["tenantName cannot be changed"]);
    kubectl_apply(ns, &customer("imm", &base.replace("displayName: A", "displayName: B"))).expect("displayName may change");

    let user_base = format!("  customerRef: {{name: imm}}\n  email: jane@x.example\n{USER_BASE}");
    kubectl_apply(ns, &user("jane", &user_base)).expect("a valid CustomerUser is accepted");
    assert_refused(ns, &user("jane", &user_base.replace("jane@x.example", "jane2@x.example")), &["spec.email", "email cannot be changed"]);
    assert_refused(ns, &user("jane", &user_base.replace("name: imm", "name: other")), &["cannot move to another customer"]);
    env.finish().await;
}
