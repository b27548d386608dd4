//! The calls of the contract, one method each: customers and users listed, created, updated and
//! deleted, and a login check. Tolerant where `NOTES.md` says the service is: 200 or 201 on
//! create, 200 or 204 on delete, 404 on delete means gone.

use reqwest::Method;

use super::client::AdminClient;
use super::credentials::Credentials;
use super::error::ApiError;
use super::transport::{Reply, decode};
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
        let path = ["projects", &credentials.project_id, "customers"];
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
        let path = ["projects", &credentials.project_id, "customers"];
        let reply = self
            .call(
                credentials,
                Endpoint::CreateCustomer,
                Method::POST,
                &path,
                &[],
                Some(customer),
            )
            .await?;
        decode(&reply.body)
    }

    /// Returns the server's view of the customer, or `None` when the reply had no usable body.
    pub async fn update_customer(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        patch: &CustomerPatch,
    ) -> Result<Option<Customer>, ApiError> {
        let path = [
            "projects",
            &credentials.project_id,
            "customers",
            customer_id,
        ];
        let reply = self
            .call(
                credentials,
                Endpoint::UpdateCustomer,
                Method::PATCH,
                &path,
                &[],
                Some(patch),
            )
            .await?;
        Ok(decode(&reply.body).ok())
    }

    pub async fn delete_customer(
        &self,
        credentials: &Credentials,
        customer_id: &str,
    ) -> Result<Deleted, ApiError> {
        let path = [
            "projects",
            &credentials.project_id,
            "customers",
            customer_id,
        ];
        gone_is_done(
            self.call::<()>(
                credentials,
                Endpoint::DeleteCustomer,
                Method::DELETE,
                &path,
                &[],
                None,
            )
            .await,
        )
    }

    pub async fn list_users(
        &self,
        credentials: &Credentials,
        customer_id: &str,
    ) -> Result<Vec<User>, ApiError> {
        let path = [
            "projects",
            &credentials.project_id,
            "customers",
            customer_id,
            "users",
        ];
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
        let path = [
            "projects",
            &credentials.project_id,
            "customers",
            customer_id,
            "users",
        ];
        let reply = self
            .call(
                credentials,
                Endpoint::CreateUser,
                Method::POST,
                &path,
                &[],
                Some(user),
            )
            .await?;
        decode(&reply.body)
    }

    /// Returns the server's view of the user, or `None` when the reply had no usable body.
    pub async fn update_user(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        user_id: &str,
        patch: &UserPatch,
    ) -> Result<Option<User>, ApiError> {
        let path = [
            "projects",
            &credentials.project_id,
            "customers",
            customer_id,
            "users",
            user_id,
        ];
        let reply = self
            .call(
                credentials,
                Endpoint::UpdateUser,
                Method::PATCH,
                &path,
                &[],
                Some(patch),
            )
            .await?;
        Ok(decode(&reply.body).ok())
    }

    pub async fn delete_user(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        user_id: &str,
    ) -> Result<Deleted, ApiError> {
        let path = [
            "projects",
            &credentials.project_id,
            "customers",
            customer_id,
            "users",
            user_id,
        ];
        gone_is_done(
            self.call::<()>(
                credentials,
                Endpoint::DeleteUser,
                Method::DELETE,
                &path,
                &[],
                None,
            )
            .await,
        )
    }

    /// Checks that the credentials can log in (a cached token counts).
    pub async fn login(&self, credentials: &Credentials) -> Result<(), ApiError> {
        self.token(credentials).await.map(drop)
    }
}

fn gone_is_done(result: Result<Reply, ApiError>) -> Result<Deleted, ApiError> {
    match result {
        Ok(_) => Ok(Deleted::Removed),
        Err(ApiError::NotFound { .. }) => Ok(Deleted::AlreadyGone),
        Err(error) => Err(error),
    }
}
