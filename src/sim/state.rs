//! The simulated service's data, per project, and the operations on it. Pure: no HTTP, no
//! clock, no randomness (ids and timestamps are passed in), so the rules are unit-tested here.
//! Customers and users are kept in creation order, which is also the order lists return.

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::config::{PaginationStyle, ProjectConfig};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("project not found")]
    ProjectNotFound,
    #[error("Embedded Assistant is not enabled for this project")]
    NoEmbeddedAssistant,
    #[error("customer not found")]
    CustomerNotFound,
    #[error("user not found")]
    UserNotFound,
    #[error("a customer with this customerId already exists in the project")]
    CustomerExists,
    #[error("a user with this email already exists in the customer")]
    EmailExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimRegion {
    Eu,
    Us,
}

/// A customer as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimCustomer {
    pub display_name: String,
    pub tenant_name: String,
    pub region: SimRegion,
    pub customer_id: String,
    pub is_nfr: bool,
    pub created_at: Timestamp,
}

/// A user as the API returns it (never with a password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimUser {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub email_verified: bool,
    pub enabled: bool,
    pub created_at: Timestamp,
}

/// A user as the simulator keeps it: what the API shows, plus whether a password was set and a
/// fingerprint of it (see [`password_fingerprint`]); the password itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredUser {
    #[serde(flatten)]
    pub user: SimUser,
    pub password_set: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCustomer {
    #[serde(flatten)]
    pub customer: SimCustomer,
    #[serde(default)]
    pub users: Vec<StoredUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDump {
    pub project_id: String,
    pub embedded_assistant: bool,
    #[serde(default)]
    pub customers: Vec<StoredCustomer>,
}

/// Everything the simulator holds: the body of `GET /_sim/state`, and the state file's format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDump {
    pub projects: Vec<ProjectDump>,
}

/// The first 16 hex digits of SHA-256 over `"corti-admin-sim:"` followed by the password: enough
/// for a test to tell which password was applied, useless for reading one back.
pub fn password_fingerprint(password: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"corti-admin-sim:")
        .chain_update(password.as_bytes())
        .finalize();
    hex::encode(&digest[..8])
}

/// A validated create-customer body, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNewCustomer {
    pub customer_id: String,
    pub display_name: String,
    pub tenant_name: String,
    pub region: SimRegion,
    pub is_nfr: bool,
}

/// The fields of a customer PATCH; absent (or null) means unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimCustomerPatch {
    pub display_name: Option<String>,
    pub customer_id: Option<String>,
    pub is_nfr: Option<bool>,
}

/// A validated create-user body.
#[derive(Debug, Clone)]
pub struct SimNewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password: Option<SecretString>,
}

/// The fields of a user PATCH; absent (or null) means unchanged.
#[derive(Debug, Clone, Default)]
pub struct SimUserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub enabled: Option<bool>,
    pub password: Option<SecretString>,
}

/// A validated page request: both numbers >= 1, the size already clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

/// The `pagination` object of a list response, in one of the two documented styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u32,
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_next_page: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
}

/// One page of `items`; a page past the end is empty, not an error.
pub fn paginate<T: Clone>(
    items: &[T],
    request: PageRequest,
    style: PaginationStyle,
) -> (Vec<T>, Pagination) {
    let size = request.page_size as usize;
    let start = (request.page as usize - 1).saturating_mul(size);
    let end = start.saturating_add(size).min(items.len());
    let page = items.get(start..end).unwrap_or_default().to_vec();
    let pagination = Pagination {
        page: request.page,
        page_size: request.page_size,
        has_next_page: (style == PaginationStyle::HasNextPage).then_some(end < items.len()),
        total: (style == PaginationStyle::Total).then_some(items.len()),
    };
    (page, pagination)
}

#[derive(Debug, Clone, Default)]
pub struct Store {
    projects: Vec<ProjectDump>,
}

impl Store {
    pub fn new(projects: &[ProjectConfig]) -> Self {
        Self {
            projects: projects
                .iter()
                .map(|p| ProjectDump {
                    project_id: p.id.clone(),
                    embedded_assistant: p.embedded_assistant,
                    customers: Vec::new(),
                })
                .collect(),
        }
    }

    /// Takes the customers of a saved state. The configuration decides whether a project has
    /// Embedded Assistant; a saved project that is not configured comes back as it was saved.
    pub fn restore(&mut self, saved: StateDump) {
        for project in saved.projects {
            match self
                .projects
                .iter_mut()
                .find(|p| p.project_id == project.project_id)
            {
                Some(existing) => existing.customers = project.customers,
                None => self.projects.push(project),
            }
        }
    }

    pub fn dump(&self) -> StateDump {
        StateDump {
            projects: self.projects.clone(),
        }
    }

    /// 404 for an unknown project, 403 for one without Embedded Assistant.
    pub fn check_project(&self, project_id: &str) -> Result<(), StateError> {
        self.project(project_id).map(|_| ())
    }

    fn project(&self, project_id: &str) -> Result<&ProjectDump, StateError> {
        let project = self
            .projects
            .iter()
            .find(|p| p.project_id == project_id)
            .ok_or(StateError::ProjectNotFound)?;
        if project.embedded_assistant {
            Ok(project)
        } else {
            Err(StateError::NoEmbeddedAssistant)
        }
    }

    fn project_mut(&mut self, project_id: &str) -> Result<&mut ProjectDump, StateError> {
        self.check_project(project_id)?;
        self.projects
            .iter_mut()
            .find(|p| p.project_id == project_id)
            .ok_or(StateError::ProjectNotFound)
    }

    fn customer(&self, project_id: &str, customer_id: &str) -> Result<&StoredCustomer, StateError> {
        self.project(project_id)?
            .customers
            .iter()
            .find(|c| c.customer.customer_id == customer_id)
            .ok_or(StateError::CustomerNotFound)
    }

    fn customer_mut(
        &mut self,
        project_id: &str,
        customer_id: &str,
    ) -> Result<&mut StoredCustomer, StateError> {
        self.project_mut(project_id)?
            .customers
            .iter_mut()
            .find(|c| c.customer.customer_id == customer_id)
            .ok_or(StateError::CustomerNotFound)
    }

    pub fn list_customers(
        &self,
        project_id: &str,
        request: PageRequest,
        style: PaginationStyle,
    ) -> Result<(Vec<SimCustomer>, Pagination), StateError> {
        let customers: Vec<SimCustomer> = self
            .project(project_id)?
            .customers
            .iter()
            .map(|c| c.customer.clone())
            .collect();
        Ok(paginate(&customers, request, style))
    }

    pub fn create_customer(
        &mut self,
        project_id: &str,
        new: SimNewCustomer,
        now: Timestamp,
    ) -> Result<SimCustomer, StateError> {
        let project = self.project_mut(project_id)?;
        if project
            .customers
            .iter()
            .any(|c| c.customer.customer_id == new.customer_id)
        {
            return Err(StateError::CustomerExists);
        }
        let customer = SimCustomer {
            display_name: new.display_name,
            tenant_name: new.tenant_name,
            region: new.region,
            customer_id: new.customer_id,
            is_nfr: new.is_nfr,
            created_at: now,
        };
        project.customers.push(StoredCustomer {
            customer: customer.clone(),
            users: Vec::new(),
        });
        Ok(customer)
    }

    /// Applies a PATCH; a new `customerId` renames the customer, its users moving with it.
    pub fn update_customer(
        &mut self,
        project_id: &str,
        customer_id: &str,
        patch: SimCustomerPatch,
    ) -> Result<SimCustomer, StateError> {
        let project = self.project_mut(project_id)?;
        let index = project
            .customers
            .iter()
            .position(|c| c.customer.customer_id == customer_id)
            .ok_or(StateError::CustomerNotFound)?;
        if let Some(new_id) = &patch.customer_id
            && new_id != customer_id
            && project
                .customers
                .iter()
                .any(|c| &c.customer.customer_id == new_id)
        {
            return Err(StateError::CustomerExists);
        }
        let customer = &mut project.customers[index].customer;
        if let Some(id) = patch.customer_id {
            customer.customer_id = id;
        }
        if let Some(name) = patch.display_name {
            customer.display_name = name;
        }
        if let Some(is_nfr) = patch.is_nfr {
            customer.is_nfr = is_nfr;
        }
        Ok(customer.clone())
    }

    /// Deletes the customer and its users.
    pub fn delete_customer(
        &mut self,
        project_id: &str,
        customer_id: &str,
    ) -> Result<(), StateError> {
        let project = self.project_mut(project_id)?;
        let before = project.customers.len();
        project
            .customers
            .retain(|c| c.customer.customer_id != customer_id);
        if project.customers.len() == before {
            return Err(StateError::CustomerNotFound);
        }
        Ok(())
    }

    pub fn list_users(
        &self,
        project_id: &str,
        customer_id: &str,
        request: PageRequest,
        style: PaginationStyle,
    ) -> Result<(Vec<SimUser>, Pagination), StateError> {
        let users: Vec<SimUser> = self
            .customer(project_id, customer_id)?
            .users
            .iter()
            .map(|u| u.user.clone())
            .collect();
        Ok(paginate(&users, request, style))
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

    pub fn update_user(
        &mut self,
        project_id: &str,
        customer_id: &str,
        user_id: &str,
        patch: SimUserPatch,
    ) -> Result<SimUser, StateError> {
        let customer = self.customer_mut(project_id, customer_id)?;
        let id = Uuid::parse_str(user_id).map_err(|_| StateError::UserNotFound)?;
        let stored = customer
            .users
            .iter_mut()
            .find(|u| u.user.id == id)
            .ok_or(StateError::UserNotFound)?;
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
    use super::*;

    const P: &str = "p1";

    fn store() -> Store {
        Store::new(&[
            ProjectConfig {
                id: P.into(),
                embedded_assistant: true,
            },
            ProjectConfig {
                id: "plain".into(),
                embedded_assistant: false,
            },
        ])
    }

    fn new_customer(id: &str) -> SimNewCustomer {
        SimNewCustomer {
            customer_id: id.into(),
            display_name: format!("Customer {id}"),
            tenant_name: "base".into(),
            region: SimRegion::Eu,
            is_nfr: false,
        }
    }

    fn new_user(email: &str) -> SimNewUser {
        SimNewUser {
            email: email.into(),
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            password: None,
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn page(page: u32, page_size: u32) -> PageRequest {
        PageRequest { page, page_size }
    }

    #[test]
    fn projects_must_exist_and_have_embedded_assistant() {
        let mut s = store();
        assert_eq!(s.check_project("nope"), Err(StateError::ProjectNotFound));
        assert_eq!(
            s.create_customer("plain", new_customer("c"), now()),
            Err(StateError::NoEmbeddedAssistant)
        );
        assert_eq!(
            s.list_customers("plain", page(1, 20), PaginationStyle::HasNextPage),
            Err(StateError::NoEmbeddedAssistant)
        );
    }

    #[test]
    fn duplicate_customer_id_conflicts_per_project() {
        let mut s = store();
        s.create_customer(P, new_customer("c"), now()).unwrap();
        assert_eq!(
            s.create_customer(P, new_customer("c"), now()),
            Err(StateError::CustomerExists)
        );
    }

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
    fn rename_moves_users_and_refuses_a_taken_id() {
        let mut s = store();
        s.create_customer(P, new_customer("old"), now()).unwrap();
        s.create_customer(P, new_customer("taken"), now()).unwrap();
        let user = s
            .create_user(P, "old", new_user("j@x.io"), Uuid::new_v4(), now())
            .unwrap();
        let rename = |id: &str| SimCustomerPatch {
            customer_id: Some(id.into()),
            ..SimCustomerPatch::default()
        };
        assert_eq!(
            s.update_customer(P, "old", rename("taken")),
            Err(StateError::CustomerExists)
        );
        let renamed = s.update_customer(P, "old", rename("new")).unwrap();
        assert_eq!(renamed.customer_id, "new");
        assert_eq!(renamed.display_name, "Customer old");
        let (users, _) = s
            .list_users(P, "new", page(1, 20), PaginationStyle::HasNextPage)
            .unwrap();
        assert_eq!(users, vec![user]);
        assert_eq!(
            s.list_users(P, "old", page(1, 20), PaginationStyle::HasNextPage),
            Err(StateError::CustomerNotFound)
        );
        // Renaming to its own id is a no-op, not a conflict.
        assert!(s.update_customer(P, "new", rename("new")).is_ok());
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
    fn pagination_math() {
        let items: Vec<u32> = (1..=45).collect();
        let (p, meta) = paginate(&items, page(1, 20), PaginationStyle::HasNextPage);
        assert_eq!(
            (p.len(), meta.has_next_page, meta.total),
            (20, Some(true), None)
        );
        let (p, meta) = paginate(&items, page(3, 20), PaginationStyle::HasNextPage);
        assert_eq!((p, meta.has_next_page), ((41..=45).collect(), Some(false)));
        let (p, meta) = paginate(&items, page(4, 20), PaginationStyle::Total);
        assert_eq!(
            (p.len(), meta.has_next_page, meta.total),
            (0, None, Some(45))
        );
        // An exact multiple: the last full page has no next page.
        let (_, meta) = paginate(&items[..40], page(2, 20), PaginationStyle::HasNextPage);
        assert_eq!(meta.has_next_page, Some(false));
        let (p, _) = paginate(&items, page(u32::MAX, u32::MAX), PaginationStyle::Total);
        assert!(p.is_empty());
        let json = serde_json::to_value(meta).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"page": 2, "pageSize": 20, "hasNextPage": false})
        );
    }

    #[test]
    fn lists_keep_creation_order() {
        let mut s = store();
        for id in ["zeta", "alpha", "mid"] {
            s.create_customer(P, new_customer(id), now()).unwrap();
        }
        let (customers, _) = s
            .list_customers(P, page(1, 20), PaginationStyle::HasNextPage)
            .unwrap();
        let ids: Vec<&str> = customers.iter().map(|c| c.customer_id.as_str()).collect();
        assert_eq!(ids, ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn restore_keeps_configured_flags_and_adds_saved_projects() {
        let mut s = store();
        s.create_customer(P, new_customer("c"), now()).unwrap();
        let mut saved = s.dump();
        saved.projects[0].embedded_assistant = false;
        saved.projects.push(ProjectDump {
            project_id: "other".into(),
            embedded_assistant: true,
            customers: Vec::new(),
        });
        let mut fresh = store();
        fresh.restore(saved);
        assert!(fresh.check_project(P).is_ok());
        assert!(fresh.check_project("other").is_ok());
        assert_eq!(fresh.dump().projects[0].customers.len(), 1);
    }

    #[test]
    fn dump_round_trips_and_never_holds_a_password() {
        let mut s = store();
        s.create_customer(P, new_customer("c"), now()).unwrap();
        let mut user = new_user("j@x.io");
        user.password = Some(SecretString::from("secret-password-123"));
        s.create_user(P, "c", user, Uuid::new_v4(), now()).unwrap();
        let json = serde_json::to_string(&s.dump()).unwrap();
        assert!(!json.contains("secret-password-123"));
        assert!(
            json.contains(r#""createdAt":"2027-01-15T08:00:00Z""#),
            "{json}"
        );
        let back: StateDump = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s.dump());
    }
}
