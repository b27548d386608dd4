//! Simulator: the store, with its projects and customers.
//!
//! The simulated service's data, per project, and the rules for its customers (users are in
//! `state_users`). Pure: no HTTP, no clock, no randomness (ids and timestamps are passed in), so
//! the rules are unit-tested here. Customers and users are kept in creation order, which is also
//! the order lists return.

use jiff::Timestamp;

use super::config::{PaginationStyle, ProjectConfig};
use super::pagination::{PageRequest, Pagination, paginate};
use super::wire::{
    ProjectDump, SimCustomer, SimCustomerPatch, SimNewCustomer, StateDump, StoredCustomer,
};

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

    pub(super) fn customer(
        &self,
        project_id: &str,
        customer_id: &str,
    ) -> Result<&StoredCustomer, StateError> {
        self.project(project_id)?
            .customers
            .iter()
            .find(|c| c.customer.customer_id == customer_id)
            .ok_or(StateError::CustomerNotFound)
    }

    pub(super) fn customer_mut(
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
        let customers = &self.project(project_id)?.customers;
        Ok(paginate(customers, |c| c.customer.clone(), request, style))
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
}

/// What the store's tests (here and in `state_users`) start from.
#[cfg(test)]
pub(super) mod fixtures {
    use jiff::Timestamp;

    use super::Store;
    use crate::sim::config::ProjectConfig;
    use crate::sim::pagination::PageRequest;
    use crate::sim::wire::{SimNewCustomer, SimNewUser, SimRegion};

    pub const P: &str = "p1";

    pub fn store() -> Store {
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

    pub fn new_customer(id: &str) -> SimNewCustomer {
        SimNewCustomer {
            customer_id: id.into(),
            display_name: format!("Customer {id}"),
            tenant_name: "base".into(),
            region: SimRegion::Eu,
            is_nfr: false,
        }
    }

    pub fn new_user(email: &str) -> SimNewUser {
        SimNewUser {
            email: email.into(),
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            password: None,
        }
    }

    pub fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    pub fn page(page: u32, page_size: u32) -> PageRequest {
        PageRequest { page, page_size }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use uuid::Uuid;

    use super::fixtures::{P, new_customer, new_user, now, page, store};
    use super::*;

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
