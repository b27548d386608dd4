//! Tests of `observe_only`: the drift report and the calls Manage would make, without I/O.

use super::*;
use crate::admin_api::Password;
use crate::crd::{LocalRef, Region};

fn customer_spec() -> CustomerSpec {
    CustomerSpec {
        customer_id: Some("contoso".into()),
        display_name: "Contoso".into(),
        region: Region::Eu,
        tenant_name: None,
        is_nfr: false,
        credentials_secret_ref: None,
        deletion_policy: DeletionPolicy::Delete,
        management_policy: ManagementPolicy::Observe,
    }
}

fn remote_customer() -> RemoteCustomer {
    RemoteCustomer {
        customer_id: "contoso".into(),
        display_name: "Contoso".into(),
        tenant_name: Some("base".into()),
        region: Some("eu".into()),
        is_nfr: false,
        created_at: None,
    }
}

const ADOPTABLE: Holding<'static> = Holding {
    owned: false,
    adopt_existing: true,
    held_by: None,
};
const OWNED: Holding<'static> = Holding {
    owned: true,
    adopt_existing: true,
    held_by: None,
};
const MANAGED_ELSEWHERE: Holding<'static> = Holding {
    owned: false,
    adopt_existing: true,
    held_by: Some("Customer owner"),
};

#[test]
fn the_policy_and_dry_run_decide_and_an_observer_never_deletes() {
    assert!(!observing(ManagementPolicy::Manage, false));
    assert!(observing(ManagementPolicy::Observe, false));
    assert!(observing(ManagementPolicy::Manage, true));
    assert_eq!(
        effective_deletion(DeletionPolicy::Delete, ManagementPolicy::Observe, false),
        DeletionPolicy::Orphan
    );
    assert_eq!(
        effective_deletion(DeletionPolicy::Delete, ManagementPolicy::Manage, true),
        DeletionPolicy::Orphan
    );
    assert_eq!(
        effective_deletion(DeletionPolicy::Delete, ManagementPolicy::Manage, false),
        DeletionPolicy::Delete
    );
}

#[test]
fn customer_drift_lists_each_field_and_the_calls_manage_would_make() {
    let remote = RemoteCustomer {
        display_name: "Renamed".into(),
        is_nfr: true,
        ..remote_customer()
    };
    let seen = customer_drift(&customer_spec(), "contoso", Some(&remote), ADOPTABLE);
    assert_eq!(
        seen.drift,
        vec![
            drift("displayName", "Contoso", "Renamed"),
            drift("isNfr", &false, &true)
        ]
    );
    assert_eq!(
        seen.calls,
        vec![
            "adopt it (a status record, no call)".to_string(),
            "PATCH customers/contoso (displayName, isNfr)".to_string()
        ]
    );
    let ready = observed_readiness("customer", &seen);
    assert_eq!(
        (ready.status, ready.reason),
        (Status::True, Reason::Observed)
    );
    assert!(
        ready.message.contains("PATCH customers/contoso"),
        "{}",
        ready.message
    );

    let in_sync = customer_drift(&customer_spec(), "contoso", Some(&remote_customer()), OWNED);
    assert_eq!(
        in_sync,
        Observation {
            exists: true,
            ..Observation::default()
        }
    );
    assert!(
        observed_readiness("customer", &in_sync)
            .message
            .contains("no call")
    );
}

#[test]
fn a_missing_customer_would_be_created_and_a_fixed_field_cannot_be_changed() {
    let missing = customer_drift(&customer_spec(), "contoso", None, ADOPTABLE);
    assert!(!missing.exists && missing.drift.is_empty());
    assert_eq!(
        observed_readiness("customer", &missing).status,
        Status::False
    );
    assert!(missing.calls[0].starts_with("POST customers"));

    let us = RemoteCustomer {
        region: Some("us".into()),
        ..remote_customer()
    };
    let seen = customer_drift(&customer_spec(), "contoso", Some(&us), ADOPTABLE);
    assert_eq!(seen.drift, vec![drift("region", "eu", "us")]);
    assert_eq!(
        seen.calls.len(),
        1,
        "no adoption of what cannot match: {:?}",
        seen.calls
    );
    assert!(seen.calls[0].contains("no call can change region"));
}

#[test]
fn with_adoption_off_the_only_call_is_none() {
    let off = Holding {
        adopt_existing: false,
        ..ADOPTABLE
    };
    let remote = RemoteCustomer {
        display_name: "Renamed".into(),
        ..remote_customer()
    };
    let seen = customer_drift(&customer_spec(), "contoso", Some(&remote), off);
    assert_eq!(seen.drift.len(), 1);
    assert_eq!(seen.calls.len(), 1);
    assert!(seen.calls[0].contains("adoption is off"));
}

fn user_spec() -> CustomerUserSpec {
    CustomerUserSpec {
        customer_ref: Some(LocalRef { name: "c".into() }),
        customer_id: None,
        credentials_secret_ref: None,
        email: "Jane@Contoso.example".into(),
        first_name: "Jane".into(),
        last_name: "Smith".into(),
        enabled: true,
        password_secret_ref: None,
        access_expires_at: None,
        deletion_policy: DeletionPolicy::Delete,
        management_policy: ManagementPolicy::Observe,
    }
}

fn remote_user() -> RemoteUser {
    RemoteUser {
        id: "u1".into(),
        email: "jane@contoso.example".into(),
        first_name: "Jane".into(),
        last_name: "Smith".into(),
        email_verified: true,
        enabled: true,
        created_at: None,
    }
}

fn password(applied: bool) -> DesiredPassword {
    DesiredPassword {
        password: Password::new("a-secret-password-0123"),
        version: "uid/1/password".into(),
        applied,
    }
}

#[test]
fn user_drift_never_shows_a_password_or_an_email() {
    let remote = RemoteUser {
        enabled: false,
        last_name: "Smyth".into(),
        ..remote_user()
    };
    let seen = user_drift(
        &user_spec(),
        "contoso",
        Some(&remote),
        Some(&password(false)),
        OWNED,
    );
    assert_eq!(
        seen.drift,
        vec![
            drift("lastName", "Smith", "Smyth"),
            drift("enabled", &true, &false)
        ]
    );
    assert_eq!(
        seen.calls,
        vec!["PATCH customers/contoso/users/u1 (lastName, enabled, password from its Secret)"]
    );
    let shown = format!("{seen:?}{}", observed_readiness("user", &seen).message);
    assert!(
        !shown.contains("a-secret-password") && !shown.contains('@'),
        "{shown}"
    );
}

#[test]
fn an_adopted_user_would_get_the_secrets_password_an_owned_one_only_when_it_changed() {
    let applied = Some(password(true));
    let owned = user_drift(
        &user_spec(),
        "c",
        Some(&remote_user()),
        applied.as_ref(),
        OWNED,
    );
    assert!(owned.calls.is_empty(), "{:?}", owned.calls);
    let adopted = user_drift(
        &user_spec(),
        "c",
        Some(&remote_user()),
        applied.as_ref(),
        ADOPTABLE,
    );
    assert_eq!(adopted.calls.len(), 2, "{:?}", adopted.calls);
    assert!(adopted.calls[1].contains("password from its Secret"));
    assert!(adopted.drift.is_empty());
}

#[test]
fn a_missing_disabled_user_would_be_created_then_disabled() {
    let spec = CustomerUserSpec {
        enabled: false,
        ..user_spec()
    };
    let seen = user_drift(&spec, "c", None, None, ADOPTABLE);
    assert_eq!(seen.calls.len(), 2);
    assert_eq!(observed_readiness("user", &seen).status, Status::False);
}

#[test]
fn an_object_another_resource_manages_is_reported_and_manage_would_conflict() {
    let remote = RemoteCustomer {
        display_name: "Owner's name".into(),
        ..remote_customer()
    };
    let seen = customer_drift(
        &customer_spec(),
        "contoso",
        Some(&remote),
        MANAGED_ELSEWHERE,
    );
    assert_eq!(
        seen.drift,
        vec![drift("displayName", "Contoso", "Owner's name")],
        "the drift is still reported"
    );
    assert_eq!(
        seen.calls,
        vec!["none: Customer owner manages it (Conflict)".to_string()],
        "no adoption, no PATCH"
    );
    let ready = observed_readiness("customer", &seen);
    assert_eq!(
        (ready.status, ready.reason),
        (Status::True, Reason::Observed)
    );
    // Gone from the Admin API: its manager, not a Manage of this one, would make it again.
    let missing = customer_drift(&customer_spec(), "contoso", None, MANAGED_ELSEWHERE);
    assert_eq!(missing.calls, seen.calls);
    let user = user_drift(&user_spec(), "c", None, None, MANAGED_ELSEWHERE);
    assert_eq!(user.calls, seen.calls);
}
