//! Admin API client: the calls of the contract.
//!
//! One method each: customers and users listed, created, updated and deleted, and a login check.
//! Tolerant where `NOTES.md` says the service is: 200 or 201 on create, 200 or 204 on delete, 404
//! on delete means gone.

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::AdminClient;
use super::credentials::Credentials;
use super::error::ApiError;
use super::transport::decode;
use super::types::{Customer, CustomerPatch, NewCustomer, NewUser, User, UserPatch};
use crate::metrics::Endpoint;

/// What a delete found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    AlreadyGone,
}

impl AdminClient {
    pub async fn list_customers(
        &self,
        credentials: &Credentials,
    ) -> Result<Vec<Customer>, ApiError> {
        let path = customers_path(credentials);
        self.list_all(
            credentials,
            Endpoint::ListCustomers,
            &path,
            "customers",
            |c: &Customer| c.customer_id.clone(),
        )
        .await
    }

    pub async fn create_customer(
        &self,
        credentials: &Credentials,
        customer: &NewCustomer,
    ) -> Result<Customer, ApiError> {
        let path = customers_path(credentials);
        self.create(credentials, Endpoint::CreateCustomer, &path, customer)
            .await
    }

    /// Returns the server's view of the customer, or `None` when the reply had no usable body.
    pub async fn update_customer(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        patch: &CustomerPatch,
    ) -> Result<Option<Customer>, ApiError> {
        let path = customer_path(credentials, customer_id);
        self.update(credentials, Endpoint::UpdateCustomer, &path, patch)
            .await
    }

    pub async fn delete_customer(
        &self,
        credentials: &Credentials,
        customer_id: &str,
    ) -> Result<Deleted, ApiError> {
        let path = customer_path(credentials, customer_id);
        self.delete(credentials, Endpoint::DeleteCustomer, &path)
            .await
    }

    pub async fn list_users(
        &self,
        credentials: &Credentials,
        customer_id: &str,
    ) -> Result<Vec<User>, ApiError> {
        let path = users_path(credentials, customer_id);
        self.list_all(
            credentials,
            Endpoint::ListUsers,
            &path,
            "users",
            |u: &User| u.id.clone(),
        )
        .await
    }

    pub async fn create_user(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        user: &NewUser,
    ) -> Result<User, ApiError> {
        let path = users_path(credentials, customer_id);
        self.create(credentials, Endpoint::CreateUser, &path, user)
            .await
    }

    /// Returns the server's view of the user, or `None` when the reply had no usable body.
    pub async fn update_user(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        user_id: &str,
        patch: &UserPatch,
    ) -> Result<Option<User>, ApiError> {
        let path = user_path(credentials, customer_id, user_id);
        self.update(credentials, Endpoint::UpdateUser, &path, patch)
            .await
    }

    pub async fn delete_user(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        user_id: &str,
    ) -> Result<Deleted, ApiError> {
        let path = user_path(credentials, customer_id, user_id);
        self.delete(credentials, Endpoint::DeleteUser, &path).await
    }

    /// While `credentials` are refused: when (wall clock, whole seconds) the next login may be
    /// tried. The same instant for every pass of one pause.
    pub async fn login_paused_until(&self, credentials: &Credentials) -> Option<jiff::Timestamp> {
        self.inner.tokens.paused_until(credentials).await
    }

    /// Checks that the credentials can log in (a cached token counts).
    pub async fn login(&self, credentials: &Credentials) -> Result<(), ApiError> {
        self.token(credentials).await.map(drop)
    }

    /// POSTs `body`; the reply must be the object created.
    async fn create<B: Serialize, T: DeserializeOwned>(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        path: &[&str],
        body: &B,
    ) -> Result<T, ApiError> {
        let reply = self
            .call(credentials, endpoint, Method::POST, path, &[], Some(body))
            .await?;
        decode(&reply.body)
    }

    /// PATCHes `patch`; the object the server returns, or `None` when the reply had no usable
    /// body (the change itself was made).
    async fn update<B: Serialize, T: DeserializeOwned>(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        path: &[&str],
        patch: &B,
    ) -> Result<Option<T>, ApiError> {
        let reply = self
            .call(credentials, endpoint, Method::PATCH, path, &[], Some(patch))
            .await?;
        Ok(decode(&reply.body).ok())
    }

    /// DELETEs; a 404 means someone else already did.
    async fn delete(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        path: &[&str],
    ) -> Result<Deleted, ApiError> {
        match self
            .call::<()>(credentials, endpoint, Method::DELETE, path, &[], None)
            .await
        {
            Ok(_) => Ok(Deleted::Removed),
            Err(ApiError::NotFound { .. }) => Ok(Deleted::AlreadyGone),
            Err(error) => Err(error),
        }
    }
}

/// `projects/{projectId}/customers`
fn customers_path(credentials: &Credentials) -> Vec<&str> {
    vec!["projects", &credentials.project_id, "customers"]
}

/// `projects/{projectId}/customers/{customerId}`
fn customer_path<'a>(credentials: &'a Credentials, customer_id: &'a str) -> Vec<&'a str> {
    let mut path = customers_path(credentials);
    path.push(customer_id);
    path
}

/// `projects/{projectId}/customers/{customerId}/users`
fn users_path<'a>(credentials: &'a Credentials, customer_id: &'a str) -> Vec<&'a str> {
    let mut path = customer_path(credentials, customer_id);
    path.push("users");
    path
}

/// `projects/{projectId}/customers/{customerId}/users/{userId}`
fn user_path<'a>(
    credentials: &'a Credentials,
    customer_id: &'a str,
    user_id: &'a str,
) -> Vec<&'a str> {
    let mut path = users_path(credentials, customer_id);
    path.push(user_id);
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_api::Password;

    #[test]
    fn paths_nest() {
        let credentials = Credentials {
            email: "a@x.io".into(),
            password: Password::new("0123456789abcdef"),
            project_id: "p1".into(),
        };
        assert_eq!(
            customers_path(&credentials),
            ["projects", "p1", "customers"]
        );
        assert_eq!(
            user_path(&credentials, "c1", "u1"),
            ["projects", "p1", "customers", "c1", "users", "u1"]
        );
        assert_eq!(
            customer_path(&credentials, "c1"),
            users_path(&credentials, "c1")[..4]
        );
    }
}
