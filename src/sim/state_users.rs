//! Simulator: the users of a customer in the store.
//!
//! Emails are unique within a customer (compared case-insensitively), and passwords are kept only
//! as a fingerprint.

use jiff::Timestamp;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::config::PaginationStyle;
use super::pagination::{PageRequest, Pagination, paginate};
use super::state::{StateError, Store};
use super::wire::{SimNewUser, SimUser, SimUserPatch, StoredUser, UserFacts};

/// The first 16 hex digits of SHA-256 over `"corti-admin-sim:"` followed by the password: enough
/// for a test to tell which password was applied, useless for reading one back.
pub fn password_fingerprint(password: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"corti-admin-sim:")
        .chain_update(password.as_bytes())
        .finalize();
    hex::encode(&digest[..8])
}

impl Store {
    pub fn list_users(
        &self,
        project_id: &str,
        customer_id: &str,
        request: PageRequest,
        style: PaginationStyle,
    ) -> Result<(Vec<SimUser>, Pagination), StateError> {
        let users = &self.customer(project_id, customer_id)?.users;
        Ok(paginate(users, |u| u.user.clone(), request, style))
    }

    /// Creates a user; emails are unique within a customer, compared case-insensitively.
    pub fn create_user(
        &mut self,
        project_id: &str,
        customer_id: &str,
        new: SimNewUser,
        id: Uuid,
        now: Timestamp,
    ) -> Result<SimUser, StateError> {
        let customer = self.customer_mut(project_id, customer_id)?;
        let email = new.email.to_lowercase();
        if customer
            .users
            .iter()
            .any(|u| u.user.email.to_lowercase() == email)
        {
            return Err(StateError::EmailExists);
        }
        let user = SimUser {
            id,
            email: new.email,
            first_name: new.first_name,
            last_name: new.last_name,
            email_verified: false,
            enabled: true,
            created_at: now,
        };
        let fingerprint = new
            .password
            .map(|p| password_fingerprint(p.expose_secret()));
        customer.users.push(StoredUser {
            user: user.clone(),
            password_set: fingerprint.is_some(),
            password_fingerprint: fingerprint,
        });
        Ok(user)
    }

    fn user_mut(
        &mut self,
        project_id: &str,
        customer_id: &str,
        user_id: &str,
    ) -> Result<&mut StoredUser, StateError> {
        let customer = self.customer_mut(project_id, customer_id)?;
        let id = Uuid::parse_str(user_id).map_err(|_| StateError::UserNotFound)?;
        customer
            .users
            .iter_mut()
            .find(|u| u.user.id == id)
            .ok_or(StateError::UserNotFound)
    }

    pub fn update_user(
        &mut self,
        project_id: &str,
        customer_id: &str,
        user_id: &str,
        patch: SimUserPatch,
    ) -> Result<SimUser, StateError> {
        let stored = self.user_mut(project_id, customer_id, user_id)?;
        if let Some(first_name) = patch.first_name {
            stored.user.first_name = first_name;
        }
        if let Some(last_name) = patch.last_name {
            stored.user.last_name = last_name;
        }
        if let Some(enabled) = patch.enabled {
            stored.user.enabled = enabled;
        }
        if let Some(password) = patch.password {
            stored.password_set = true;
            stored.password_fingerprint = Some(password_fingerprint(password.expose_secret()));
        }
        Ok(stored.user.clone())
    }

    /// What happens outside the API (see [`UserFacts`]); the API shows it from then on.
    pub fn set_user_facts(
        &mut self,
        project_id: &str,
        customer_id: &str,
        user_id: &str,
        facts: UserFacts,
    ) -> Result<SimUser, StateError> {
        let stored = self.user_mut(project_id, customer_id, user_id)?;
        if let Some(verified) = facts.email_verified {
            stored.user.email_verified = verified;
        }
        if let Some(created_at) = facts.created_at {
            stored.user.created_at = created_at;
        }
        Ok(stored.user.clone())
    }

    pub fn delete_user(
        &mut self,
        project_id: &str,
        customer_id: &str,
        user_id: &str,
    ) -> Result<(), StateError> {
        let customer = self.customer_mut(project_id, customer_id)?;
        let id = Uuid::parse_str(user_id).map_err(|_| StateError::UserNotFound)?;
        let before = customer.users.len();
        customer.users.retain(|u| u.user.id != id);
        if customer.users.len() == before {
            return Err(StateError::UserNotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::sim::state::fixtures::{P, new_customer, new_user, now, store};

    #[test]
    fn duplicate_email_conflicts_case_insensitively_within_a_customer() {
        let mut s = store();
        s.create_customer(P, new_customer("a"), now()).unwrap();
        s.create_customer(P, new_customer("b"), now()).unwrap();
        s.create_user(P, "a", new_user("Jane@X.io"), Uuid::new_v4(), now())
            .unwrap();
        assert_eq!(
            s.create_user(P, "a", new_user("jane@x.IO"), Uuid::new_v4(), now()),
            Err(StateError::EmailExists)
        );
        // Another customer may have the same person.
        s.create_user(P, "b", new_user("jane@x.io"), Uuid::new_v4(), now())
            .unwrap();
        assert_eq!(
            s.create_user(P, "zz", new_user("x@x.io"), Uuid::new_v4(), now()),
            Err(StateError::CustomerNotFound)
        );
    }

    #[test]
    fn user_update_and_delete_say_which_object_is_missing() {
        let mut s = store();
        s.create_customer(P, new_customer("c"), now()).unwrap();
        let user = s
            .create_user(P, "c", new_user("j@x.io"), Uuid::new_v4(), now())
            .unwrap();
        assert!(user.enabled && !user.email_verified);
        let id = user.id.to_string();
        let patch = SimUserPatch {
            enabled: Some(false),
            password: Some(SecretString::from("new-password-1234")),
            ..SimUserPatch::default()
        };
        let updated = s.update_user(P, "c", &id, patch).unwrap();
        assert!(!updated.enabled);
        let stored = &s.dump().projects[0].customers[0].users[0];
        assert!(stored.password_set);
        assert_eq!(
            stored.password_fingerprint.as_deref(),
            Some(password_fingerprint("new-password-1234").as_str())
        );
        let missing = Uuid::new_v4().to_string();
        assert_eq!(
            s.delete_user(P, "c", &missing),
            Err(StateError::UserNotFound)
        );
        assert_eq!(
            s.delete_user(P, "c", "not-a-uuid"),
            Err(StateError::UserNotFound)
        );
        assert_eq!(
            s.delete_user(P, "zz", &id),
            Err(StateError::CustomerNotFound)
        );
        s.delete_user(P, "c", &id).unwrap();
        assert_eq!(s.delete_user(P, "c", &id), Err(StateError::UserNotFound));
        s.delete_customer(P, "c").unwrap();
        assert_eq!(s.delete_customer(P, "c"), Err(StateError::CustomerNotFound));
    }

    #[test]
    fn what_happens_outside_the_api_shows_in_it_and_touches_nothing_else() {
        let mut s = store();
        s.create_customer(P, new_customer("c"), now()).unwrap();
        let made = s
            .create_user(P, "c", new_user("j@x.io"), Uuid::new_v4(), now())
            .unwrap();
        let id = made.id.to_string();
        let week_ago: Timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
        let facts = UserFacts {
            email_verified: Some(true),
            created_at: Some(week_ago),
        };
        let changed = s.set_user_facts(P, "c", &id, facts).unwrap();
        assert!(changed.email_verified);
        assert_eq!(changed.created_at, week_ago);
        assert_eq!(
            SimUser {
                email_verified: made.email_verified,
                created_at: made.created_at,
                ..changed.clone()
            },
            made,
            "nothing else changed"
        );
        let unverified = UserFacts {
            email_verified: Some(false),
            created_at: None,
        };
        let again = s.set_user_facts(P, "c", &id, unverified).unwrap();
        assert_eq!((again.email_verified, again.created_at), (false, week_ago));
        assert_eq!(
            s.set_user_facts(P, "c", "not-a-uuid", UserFacts::default()),
            Err(StateError::UserNotFound)
        );
        assert_eq!(
            s.set_user_facts(P, "zz", &id, UserFacts::default()),
            Err(StateError::CustomerNotFound)
        );
    }
}
