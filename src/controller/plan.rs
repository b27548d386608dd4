//! Decisions as pure functions: the spec and what the Admin API holds in, the smallest set of
//! calls out. A spec that matches the remote object plans nothing.

use crate::admin_api::{Customer, CustomerPatch, NewCustomer, NewUser, Password, User, UserPatch};
use crate::crd::{CustomerSpec, CustomerUserSpec};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomerPlan {
    InSync,
    Create(NewCustomer),
    Update(CustomerPatch),
}

/// Why a remote object cannot be brought to the spec by any call the Admin API offers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {wanted:?} in the spec but {found:?} in the Admin API, which cannot change it")]
pub struct Unreachable {
    pub field: &'static str,
    pub wanted: String,
    pub found: String,
}

pub fn plan_customer(spec: &CustomerSpec, customer_id: &str, remote: Option<&Customer>) -> Result<CustomerPlan, Unreachable> {
    let Some(remote) = remote else {
        return Ok(CustomerPlan::Create(NewCustomer {
            customer_id: customer_id.to_string(),
            display_name: spec.display_name.clone(),
            tenant_name: spec.tenant_name.clone(),
            region: Some(spec.region.as_str().to_string()),
            is_nfr: spec.is_nfr,
        }));
    };
    // Fields fixed at creation: an adopted customer must already agree.
    if let Some(found) = remote.region.as_deref()
        && !found.eq_ignore_ascii_case(spec.region.as_str())
    {
        return Err(Unreachable { field: "region", wanted: spec.region.as_str().into(), found: found.into() });
    }
    if let (Some(wanted), Some(found)) = (spec.tenant_name.as_deref(), remote.tenant_name.as_deref())
        && wanted != found
    {
        return Err(Unreachable { field: "tenantName", wanted: wanted.into(), found: found.into() });
    }
    let patch = CustomerPatch {
        display_name: (remote.display_name != spec.display_name).then(|| spec.display_name.clone()),
        is_nfr: (remote.is_nfr != spec.is_nfr).then_some(spec.is_nfr),
    };
    Ok(if patch.is_empty() { CustomerPlan::InSync } else { CustomerPlan::Update(patch) })
}

/// The password the spec asks for, and whether it is already applied.
#[derive(Clone, Debug)]
pub struct DesiredPassword {
    pub password: Password,
    /// Salted hash recorded in status once applied.
    pub hash: String,
    pub applied: bool,
}

#[derive(Clone, Debug)]
pub enum UserPlan {
    InSync,
    Create(NewUser),
    Update(UserPatch),
}

impl UserPlan {
    pub fn sets_password(&self) -> bool {
        match self {
            Self::InSync => false,
            Self::Create(user) => user.password.is_some(),
            Self::Update(patch) => patch.password.is_some(),
        }
    }
}

/// A user is created with names and password; `enabled` is not part of the create body, so a
/// disabled user takes a create and then an update.
pub fn plan_user(spec: &CustomerUserSpec, remote: Option<&User>, password: Option<&DesiredPassword>) -> UserPlan {
    let Some(remote) = remote else {
        return UserPlan::Create(NewUser {
            email: spec.email.trim().to_string(),
            first_name: spec.first_name.clone(),
            last_name: spec.last_name.clone(),
            password: password.map(|p| p.password.clone()),
        });
    };
    let patch = UserPatch {
        first_name: (remote.first_name != spec.first_name).then(|| spec.first_name.clone()),
        last_name: (remote.last_name != spec.last_name).then(|| spec.last_name.clone()),
        enabled: (remote.enabled != spec.enabled).then_some(spec.enabled),
        password: password.filter(|p| !p.applied).map(|p| p.password.clone()),
    };
    if patch.is_empty() { UserPlan::InSync } else { UserPlan::Update(patch) }
}

/// The hash of `password` recorded in status: salted with the resource's uid so equal passwords
/// of two users do not show as equal hashes.
pub fn password_hash(uid: &str, password: &Password) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(uid.as_bytes());
    hash.update(b":");
    hash.update(password.expose().as_bytes());
    format!("sha256:{}", hex::encode(hash.finalize()))
}

/// The Admin API's documented password length, checked before any call.
pub fn check_password_length(password: &Password) -> Result<(), String> {
    let len = password.char_len();
    if (16..=64).contains(&len) {
        Ok(())
    } else {
        Err(format!("the password must be 16 to 64 characters long; the Secret's value has {len}"))
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
        let plan = plan_customer(&customer_spec(), "contoso", None).unwrap();
        let CustomerPlan::Create(body) = plan else { panic!("expected a create, got {plan:?}") };
        assert_eq!(body.customer_id, "contoso");
        assert_eq!(body.region.as_deref(), Some("eu"));
        assert_eq!(body.tenant_name, None, "the server default applies");
    }

    #[test]
    fn matching_customer_plans_nothing_and_drift_plans_only_the_difference() {
        let remote = remote_customer();
        assert_eq!(plan_customer(&customer_spec(), "contoso", Some(&remote)).unwrap(), CustomerPlan::InSync);
        let drifted = Customer { display_name: "Renamed in Console".into(), ..remote };
        let plan = plan_customer(&customer_spec(), "contoso", Some(&drifted)).unwrap();
        assert_eq!(
            plan,
            CustomerPlan::Update(CustomerPatch { display_name: Some("Contoso Hospital".into()), is_nfr: None })
        );
    }

    #[test]
    fn fixed_fields_that_disagree_cannot_be_reconciled() {
        let remote = Customer { region: Some("us".into()), ..remote_customer() };
        let error = plan_customer(&customer_spec(), "contoso", Some(&remote)).unwrap_err();
        assert_eq!(error.field, "region");
        let spec = CustomerSpec { tenant_name: Some("other".into()), ..customer_spec() };
        assert_eq!(plan_customer(&spec, "contoso", Some(&remote_customer())).unwrap_err().field, "tenantName");
        // An unset tenantName accepts whatever the server chose.
        assert_eq!(plan_customer(&customer_spec(), "contoso", Some(&remote_customer())).unwrap(), CustomerPlan::InSync);
    }

    fn user_spec() -> CustomerUserSpec {
        CustomerUserSpec {
            customer_ref: Some(LocalRef { name: "contoso".into() }),
            customer_id: None,
            credentials_secret_ref: None,
            email: "Jane.Smith@contoso.example".into(),
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            enabled: true,
            password_secret_ref: None,
            deletion_policy: DeletionPolicy::Delete,
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
        DesiredPassword { hash: password_hash("uid", &password), password, applied }
    }

    #[test]
    fn user_in_sync_plans_nothing() {
        assert!(matches!(plan_user(&user_spec(), Some(&remote_user()), Some(&desired(true))), UserPlan::InSync));
    }

    #[test]
    fn user_created_with_password_and_updated_on_drift() {
        let plan = plan_user(&user_spec(), None, Some(&desired(false)));
        assert!(matches!(&plan, UserPlan::Create(user) if user.password.is_some()));
        assert!(plan.sets_password());

        let drifted = User { enabled: false, last_name: "Smyth".into(), ..remote_user() };
        let UserPlan::Update(patch) = plan_user(&user_spec(), Some(&drifted), None) else { panic!("expected update") };
        assert_eq!((patch.first_name, patch.last_name.as_deref(), patch.enabled), (None, Some("Smith"), Some(true)));
        assert!(patch.password.is_none());
    }

    #[test]
    fn changed_password_secret_is_applied_once() {
        let UserPlan::Update(patch) = plan_user(&user_spec(), Some(&remote_user()), Some(&desired(false))) else {
            panic!("expected update")
        };
        assert!(patch.password.is_some() && patch.first_name.is_none());
    }

    #[test]
    fn password_hash_is_salted_and_length_is_checked() {
        let password = Password::new("0123456789abcdef");
        assert_ne!(password_hash("a", &password), password_hash("b", &password));
        assert!(check_password_length(&password).is_ok());
        assert!(check_password_length(&Password::new("short")).unwrap_err().contains("has 5"));
        assert!(check_password_length(&Password::new("x".repeat(65))).is_err());
    }
}
