//! `corti-operator export`: a project made in the Console, exported and applied as it is, adopts
//! everything with no write to the Admin API, even where names collide and fields are unusual.

use corti_operator::admin_api::{NewCustomer, NewUser, UserPatch};
use corti_operator::crd::{DeletionPolicy, Ownership};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams};

use crate::harness::{CREDENTIALS, Env, WAIT};
use crate::support::{control_plane, eventually};

/// Customers `(customerId, displayName, region, tenantName, isNfr)` and their users
/// `(email, enabled)`, made in the Console.
async fn seed(env: &Env) {
    let (console, credentials) = env.console();
    let customers = [
        (
            "Contoso_Hospital",
            "Contoso (NFR)",
            "us",
            Some("tenant-x"),
            true,
        ),
        ("contoso.hospital", "Contoso EU", "eu", None, false),
        ("other", "Other", "eu", None, false),
    ];
    for (id, display, region, tenant, nfr) in customers {
        console
            .create_customer(
                &credentials,
                &NewCustomer {
                    customer_id: id.into(),
                    display_name: display.into(),
                    tenant_name: tenant.map(Into::into),
                    region: Some(region.into()),
                    is_nfr: nfr,
                },
            )
            .await
            .expect("console creates the customer");
    }
    let users = [
        ("Contoso_Hospital", "jane.smith@contoso.example", true),
        // The same local part, another domain; and one that only collides once made a name.
        ("Contoso_Hospital", "jane.smith@other.example", true),
        ("Contoso_Hospital", "Jane_Smith@contoso.example", true),
        ("Contoso_Hospital", "leaver@contoso.example", false),
        // The same email in another customer.
        ("contoso.hospital", "jane.smith@contoso.example", true),
        ("other", "o@other.example", true),
    ];
    for (customer, email, enabled) in users {
        let made = console
            .create_user(
                &credentials,
                customer,
                &NewUser {
                    email: email.into(),
                    first_name: "Console".into(),
                    last_name: "Made".into(),
                    password: None,
                },
            )
            .await
            .expect("console creates the user");
        if !enabled {
            let patch = UserPatch {
                enabled: Some(false),
                ..UserPatch::default()
            };
            console
                .update_user(&credentials, customer, &made.id, &patch)
                .await
                .expect("console disables the user");
        }
    }
}

/// Runs `corti-operator export` with the control plane's admin kubeconfig.
async fn export(env: &Env, extra: &[&str]) -> std::process::Output {
    let secret = format!("{}/{CREDENTIALS}", env.namespace());
    tokio::process::Command::new(env!("CARGO_BIN_EXE_corti-operator"))
        .args(["export", "--admin-api-url", &env.sim.base_url])
        .args([
            "--credentials-secret",
            &secret,
            "--namespace",
            env.namespace(),
        ])
        .args(extra)
        .env("KUBECONFIG", control_plane().kubeconfig_path())
        .output()
        .await
        .expect("export runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local control plane: make test-e2e"]
async fn an_exported_project_applied_as_it_is_adopts_everything_with_no_write() {
    let env = Env::start("e2e-export").await;
    seed(&env).await;
    env.sim.sim.reset_calls();

    // A filter exports only what it names; an unknown customer is an error, not an empty export.
    let only = export(&env, &["--customer", "other"]).await;
    assert!(
        only.status.success(),
        "{}",
        String::from_utf8_lossy(&only.stderr)
    );
    let only = String::from_utf8_lossy(&only.stdout);
    assert_eq!(only.matches("kind: Customer\n").count(), 1, "{only}");
    assert_eq!(only.matches("kind: CustomerUser\n").count(), 1, "{only}");
    let unknown = export(&env, &["--customer", "nope"]).await;
    assert!(!unknown.status.success());

    let out = export(&env, &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains('@'), "no email on stderr: {stderr}");
    let manifests = String::from_utf8_lossy(&out.stdout).into_owned();
    let file = std::env::temp_dir().join(format!("{}-export.yaml", env.namespace()));
    std::fs::write(&file, &manifests).expect("write the export");
    let applied = control_plane().kubectl(["apply", "-f", file.to_str().unwrap_or_default()]);
    assert!(
        applied.status.success(),
        "kubectl apply: {}\n{manifests}",
        String::from_utf8_lossy(&applied.stderr)
    );

    let customers = env
        .customers()
        .list(&ListParams::default())
        .await
        .expect("list");
    let users = env
        .users()
        .list(&ListParams::default())
        .await
        .expect("list");
    assert_eq!(
        (customers.items.len(), users.items.len()),
        (3, 6),
        "{manifests}"
    );
    for customer in &customers.items {
        let ready = env
            .wait_ready(&env.customers(), &customer.name_any(), "True", "Reconciled")
            .await;
        let status = ready.status.expect("status");
        assert_eq!(status.sync.owner.ownership, Some(Ownership::Adopted));
        assert_eq!(ready.spec.deletion_policy, DeletionPolicy::Orphan);
    }
    for user in &users.items {
        let ready = env
            .wait_ready(&env.users(), &user.name_any(), "True", "Reconciled")
            .await;
        assert_eq!(
            ready.status.and_then(|s| s.sync.owner.ownership),
            Some(Ownership::Adopted)
        );
    }
    let leaver = users
        .items
        .iter()
        .find(|u| u.spec.email == "leaver@contoso.example")
        .expect("the disabled user exported");
    assert!(!leaver.spec.enabled);
    assert_eq!(env.admin_writes(), 0, "calls: {:?}", env.sim.sim.calls());
    let listed = env.sim.sim.calls();
    eprintln!("calls from the first export to all Ready: {listed:?}");

    // Deleting every exported resource leaves the project as it was (deletionPolicy Orphan).
    let _ = env
        .users()
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let _ = env
        .customers()
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    eventually("all exported resources released", WAIT, || async {
        env.customers()
            .list(&ListParams::default())
            .await
            .is_ok_and(|l| l.items.is_empty())
    })
    .await;
    assert_eq!(env.admin_writes(), 0, "calls: {:?}", env.sim.sim.calls());
    assert_eq!(env.remote_customers().len(), 3);
    assert_eq!(env.remote_users("Contoso_Hospital").len(), 4);
    let _ = std::fs::remove_file(file);
    env.finish().await;
}
