//! Tests of `manifest`: exported specs that plan no change, and stable names, without I/O.

use super::*;
use crate::controller::plan::{customer_patch, user_patch};
use crate::export::names::is_dns_label;

fn customer(id: &str) -> RemoteCustomer {
    RemoteCustomer {
        customer_id: id.into(),
        display_name: format!("{id} display"),
        tenant_name: Some("base".into()),
        region: Some("eu".into()),
        is_nfr: false,
        created_at: Some("2026-01-01T00:00:00Z".into()),
    }
}

fn user(id: &str, email: &str) -> RemoteUser {
    RemoteUser {
        id: id.into(),
        email: email.into(),
        first_name: "First".into(),
        last_name: "Last".into(),
        email_verified: false,
        enabled: true,
        created_at: None,
    }
}

fn destination() -> Destination {
    Destination {
        namespace: "tenants".into(),
        credentials_secret: Some("corti-admin".into()),
        observe: false,
    }
}

/// The adversary: every field the operator compares set away from its default.
fn awkward_project() -> Vec<RemoteTree> {
    let contoso = RemoteCustomer {
        region: Some("US".into()),
        tenant_name: Some("tenant-14chars".into()),
        is_nfr: true,
        display_name: "Contoso (NFR)".into(),
        ..customer("Contoso_Hospital")
    };
    let disabled = RemoteUser {
        enabled: false,
        first_name: "Dis".into(),
        last_name: "Abled".into(),
        ..user("u-3", "gone@contoso.example")
    };
    vec![
        RemoteTree {
            customer: contoso,
            users: vec![
                user("u-2", "jane.smith@other.example"),
                user("u-1", "Jane.Smith@contoso.example"),
                user("u-4", "jane_smith@contoso.example"),
                disabled,
            ],
        },
        RemoteTree {
            customer: RemoteCustomer {
                region: None,
                tenant_name: None,
                ..customer("contoso.hospital")
            },
            users: vec![user("u-5", "jane.smith@contoso.example")],
        },
    ]
}

#[test]
fn every_exported_object_plans_no_write() {
    let trees = awkward_project();
    let export = export_project(&trees, &destination());
    assert!(export.skipped.is_empty(), "{:?}", export.skipped);
    assert_eq!((export.customers.len(), export.users.len()), (2, 5));
    for tree in &trees {
        let resource = export
            .customers
            .iter()
            .find(|c| c.spec.customer_id.as_deref() == Some(tree.customer.customer_id.as_str()))
            .expect("exported");
        assert_eq!(customer_patch(&resource.spec, &tree.customer), Ok(None));
        assert_eq!(resource.spec.deletion_policy, DeletionPolicy::Orphan);
        for remote in &tree.users {
            let exported = export
                .users
                .iter()
                .find(|u| u.spec.email == remote.email)
                .expect("exported");
            assert_eq!(
                exported.spec.customer_ref.as_ref().map(|r| &r.name),
                resource.metadata.name.as_ref(),
                "customerRef names the exported Customer"
            );
            assert!(user_patch(&exported.spec, remote, None).is_none());
            assert!(exported.spec.password_secret_ref.is_none());
            assert_eq!(exported.spec.deletion_policy, DeletionPolicy::Orphan);
        }
    }
}

#[test]
fn names_are_valid_unique_and_independent_of_listing_order() {
    let trees = awkward_project();
    let names = |trees: &[RemoteTree]| {
        let export = export_project(trees, &destination());
        let customers: Vec<String> = export
            .customers
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        let users: Vec<(String, String)> = export
            .users
            .iter()
            .map(|u| (u.spec.email.clone(), u.metadata.name.clone().unwrap()))
            .collect();
        (customers, users)
    };
    let (customers, users) = names(&trees);
    assert_eq!(
        customers[0], "contoso-hospital",
        "Contoso_Hospital sorts first"
    );
    assert!(
        customers[1].starts_with("contoso-hospital-"),
        "{customers:?}"
    );
    let mut all: Vec<&String> = customers.iter().chain(users.iter().map(|u| &u.1)).collect();
    assert!(all.iter().all(|n| is_dns_label(n)), "{all:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), customers.len() + users.len(), "unique: {all:?}");

    let mut reversed: Vec<RemoteTree> = trees.into_iter().rev().collect();
    for tree in &mut reversed {
        tree.users.reverse();
    }
    let (customers_again, mut users_again) = names(&reversed);
    let mut users = users;
    users.sort();
    users_again.sort();
    assert_eq!((customers, users), (customers_again, users_again));
}

#[test]
fn what_the_crd_cannot_hold_is_skipped_and_named_by_id_only() {
    let trees = vec![
        RemoteTree {
            customer: RemoteCustomer {
                region: Some("apac".into()),
                ..customer("far")
            },
            users: vec![user("u-far", "far@far.example")],
        },
        RemoteTree {
            customer: RemoteCustomer {
                display_name: String::new(),
                ..customer("nameless")
            },
            users: vec![],
        },
        RemoteTree {
            customer: customer("ok"),
            users: vec![
                RemoteUser {
                    first_name: String::new(),
                    ..user("u-a", "anon@ok.example")
                },
                user("u-b", "no-domain@localhost"),
                user("u-c", "dup@ok.example"),
                user("u-d", "DUP@ok.example"),
            ],
        },
    ];
    let export = export_project(&trees, &destination());
    assert_eq!(export.customers.len(), 1);
    assert_eq!(export.users.len(), 1, "only the first of the duplicates");
    assert_eq!(export.users[0].spec.email, "dup@ok.example");
    assert_eq!(export.skipped.len(), 5, "{:?}", export.skipped);
    for skipped in &export.skipped {
        let said = skipped.to_string();
        assert!(!said.contains('@'), "no email in {said}");
    }
}

#[test]
fn rendered_manifests_read_back_as_the_resources() {
    let export = export_project(&awkward_project(), &destination());
    let yaml = render(&export, "p1").unwrap();
    assert!(!yaml.contains("password"), "{yaml}");
    let mut customers = 0;
    let mut users = 0;
    for document in serde_norway::Deserializer::from_str(&yaml) {
        let value = serde_norway::Value::deserialize(document).unwrap();
        match value["kind"].as_str() {
            Some("Customer") => {
                let c: Customer = serde_norway::from_value(value).unwrap();
                assert_eq!(c.metadata.namespace.as_deref(), Some("tenants"));
                assert_eq!(c.spec.credentials_secret_ref.unwrap().name, "corti-admin");
                customers += 1;
            }
            Some("CustomerUser") => {
                let u: CustomerUser = serde_norway::from_value(value).unwrap();
                assert!(export.users.iter().any(|e| e.spec == u.spec));
                users += 1;
            }
            other => panic!("unexpected document {other:?}"),
        }
    }
    assert_eq!((customers, users), (2, 5));
    assert!(
        yaml.contains("deletionPolicy: Orphan")
            && yaml.contains("apiVersion: admin.corti.app/v1alpha1")
    );
}

#[test]
fn the_crd_email_rule_is_followed() {
    for ok in ["a@b.c", "x.y+z@sub.example.org", "a@b.c."] {
        assert!(email_shaped(ok), "{ok}");
    }
    for bad in ["a@b", "@b.c", "a@.c", "a b@c.d", "a@b@c.d", "a@bc."] {
        assert!(!email_shaped(bad), "{bad}");
    }
}

use serde::Deserialize;

#[test]
fn an_observe_export_marks_every_resource_observe() {
    let observe = Destination {
        observe: true,
        ..destination()
    };
    let export = export_project(&awkward_project(), &observe);
    assert!(
        export
            .customers
            .iter()
            .all(|c| c.spec.management_policy == ManagementPolicy::Observe)
    );
    assert!(
        export
            .users
            .iter()
            .all(|u| u.spec.management_policy == ManagementPolicy::Observe)
    );
    assert!(!export.users.is_empty());
}
