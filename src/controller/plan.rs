//! Decide (pure): the fields. The spec and what the Admin API holds in, the smallest set of
//! calls out: a create body, or the update that closes the difference. A spec that matches the
//! remote object plans nothing. Ownership (may this resource write at all) is `ownership.rs`.

use super::error::PasswordGap;
use crate::admin_api::{Customer, CustomerPatch, NewCustomer, NewUser, Password, User, UserPatch};
use crate::crd::{CustomerSpec, CustomerUserSpec};

/// Why a remote object cannot be brought to the spec by any call the Admin API offers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {wanted:?} in the spec but {found:?} in the Admin API, which cannot change it")]
pub struct Unreachable {
    pub field: &'static str,
    pub wanted: String,
    pub found: String,
}

/// The create body for a customer under `customer_id`.
pub fn new_customer(spec: &CustomerSpec, customer_id: &str) -> NewCustomer {
    NewCustomer {
        customer_id: customer_id.to_string(),
        display_name: spec.display_name.clone(),
        tenant_name: spec.tenant_name.clone(),
        region: Some(spec.region.as_str().to_string()),
        is_nfr: spec.is_nfr,
    }
}

/// The update that brings `remote` to the spec (`None`: in sync), or why none can.
pub fn customer_patch(
    spec: &CustomerSpec,
    remote: &Customer,
) -> Result<Option<CustomerPatch>, Unreachable> {
    // Fields fixed at creation: an adopted customer must already agree.
    if let Some(found) = remote.region.as_deref()
        && !found.eq_ignore_ascii_case(spec.region.as_str())
    {
        return Err(Unreachable {
            field: "region",
            wanted: spec.region.as_str().into(),
            found: found.into(),
        });
    }
    if let (Some(wanted), Some(found)) =
        (spec.tenant_name.as_deref(), remote.tenant_name.as_deref())
        && wanted != found
    {
        return Err(Unreachable {
            field: "tenantName",
            wanted: wanted.into(),
            found: found.into(),
        });
    }
    let patch = CustomerPatch {
        display_name: (remote.display_name != spec.display_name).then(|| spec.display_name.clone()),
        is_nfr: (remote.is_nfr != spec.is_nfr).then_some(spec.is_nfr),
    };
    Ok((!patch.is_empty()).then_some(patch))
}

/// The password the spec asks for, and whether it is already applied.
#[derive(Clone, Debug)]
pub struct DesiredPassword {
    pub password: Password,
    /// The Secret's version, recorded in status once applied.
    pub version: String,
    pub applied: bool,
}

/// The create body: names and password (`enabled` is not part of it, so a disabled user takes a
/// create and then an update).
pub fn new_user(spec: &CustomerUserSpec, password: Option<&DesiredPassword>) -> NewUser {
    NewUser {
        email: spec.email.trim().to_string(),
        first_name: spec.first_name.clone(),
        last_name: spec.last_name.clone(),
        password: password.map(|p| p.password.clone()),
    }
}

/// The update that brings `remote` to the spec and applies a password not yet applied
/// (`None`: in sync).
pub fn user_patch(
    spec: &CustomerUserSpec,
    remote: &User,
    password: Option<&DesiredPassword>,
) -> Option<UserPatch> {
    let patch = UserPatch {
        first_name: (remote.first_name != spec.first_name).then(|| spec.first_name.clone()),
        last_name: (remote.last_name != spec.last_name).then(|| spec.last_name.clone()),
        enabled: (remote.enabled != spec.enabled).then_some(spec.enabled),
        password: password.filter(|p| !p.applied).map(|p| p.password.clone()),
    };
    (!patch.is_empty()).then_some(patch)
}

/// The Admin API's documented password length, checked before any call.
pub fn check_password_length(password: &Password) -> Result<(), PasswordGap> {
    if (16..=64).contains(&password.char_len()) {
        Ok(())
    } else {
        Err(PasswordGap::Length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{DeletionPolicy, LocalRef, Region};

    fn customer_spec() -> CustomerSpec {
        CustomerSpec {
            customer_id: None,
            display_name: "Contoso Hospital".into(),
            region: Region::Eu,
            tenant_name: None,
            is_nfr: false,
            credentials_secret_ref: None,
            deletion_policy: DeletionPolicy::Orphan,
            management_policy: crate::crd::ManagementPolicy::Manage,
        }
    }

    fn remote_customer() -> Customer {
        Customer {
            customer_id: "contoso".into(),
            display_name: "Contoso Hospital".into(),
            tenant_name: Some("base".into()),
            region: Some("eu".into()),
            is_nfr: false,
            created_at: None,
        }
    }

    #[test]
    fn missing_customer_is_created_with_the_spec() {
        let body = new_customer(&customer_spec(), "contoso");
        assert_eq!(body.customer_id, "contoso");
        assert_eq!(body.region.as_deref(), Some("eu"));
        assert_eq!(body.tenant_name, None, "the server default applies");
    }

    #[test]
    fn matching_customer_plans_nothing_and_drift_plans_only_the_difference() {
        let remote = remote_customer();
        assert_eq!(customer_patch(&customer_spec(), &remote), Ok(None));
        let drifted = Customer {
            display_name: "Renamed in Console".into(),
            ..remote
        };
        assert_eq!(
            customer_patch(&customer_spec(), &drifted),
            Ok(Some(CustomerPatch {
                display_name: Some("Contoso Hospital".into()),
                is_nfr: None
            }))
        );
    }

    #[test]
    fn fixed_fields_that_disagree_cannot_be_reconciled() {
        let remote = Customer {
            region: Some("us".into()),
            ..remote_customer()
        };
        let error = customer_patch(&customer_spec(), &remote).unwrap_err();
        assert_eq!(error.field, "region");
        let spec = CustomerSpec {
            tenant_name: Some("other".into()),
            ..customer_spec()
        };
        assert_eq!(
            customer_patch(&spec, &remote_customer()).unwrap_err().field,
            "tenantName"
        );
        // An unset tenantName accepts whatever the server chose.
        assert_eq!(
            customer_patch(&customer_spec(), &remote_customer()),
            Ok(None)
        );
    }

    fn user_spec() -> CustomerUserSpec {
        CustomerUserSpec {
            customer_ref: Some(LocalRef {
                name: "contoso".into(),
            }),
            customer_id: None,
            credentials_secret_ref: None,
            email: "Jane.Smith@contoso.example".into(),
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            enabled: true,
            password_secret_ref: None,
            access_expires_at: None,
            deletion_policy: DeletionPolicy::Delete,
            management_policy: crate::crd::ManagementPolicy::Manage,
        }
    }

    fn remote_user() -> User {
        User {
            id: "u1".into(),
            email: "jane.smith@contoso.example".into(),
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            email_verified: false,
            enabled: true,
            created_at: None,
        }
    }

    fn desired(applied: bool) -> DesiredPassword {
        let password = Password::new("correct-horse-battery");
        DesiredPassword {
            version: "uid/1/password".into(),
            password,
            applied,
        }
    }

    #[test]
    fn user_in_sync_plans_nothing() {
        assert!(user_patch(&user_spec(), &remote_user(), Some(&desired(true))).is_none());
    }

    #[test]
    fn user_created_with_password_and_updated_on_drift() {
        let body = new_user(&user_spec(), Some(&desired(false)));
        assert!(body.password.is_some());

        let drifted = User {
            enabled: false,
            last_name: "Smyth".into(),
            ..remote_user()
        };
        let patch = user_patch(&user_spec(), &drifted, None).expect("an update");
        assert_eq!(
            (patch.first_name, patch.last_name.as_deref(), patch.enabled),
            (None, Some("Smith"), Some(true))
        );
        assert!(patch.password.is_none());
    }

    #[test]
    fn changed_password_secret_is_applied_once() {
        let patch =
            user_patch(&user_spec(), &remote_user(), Some(&desired(false))).expect("an update");
        assert!(patch.password.is_some() && patch.first_name.is_none());
        assert!(user_patch(&user_spec(), &remote_user(), Some(&desired(true))).is_none());
    }

    #[test]
    fn password_length_is_checked() {
        let password = Password::new("0123456789abcdef");
        assert!(check_password_length(&password).is_ok());
        let refused = check_password_length(&Password::new("short"))
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("16 to 64") && !refused.contains('5'),
            "{refused}"
        );
        assert!(check_password_length(&Password::new("x".repeat(65))).is_err());
    }
}
