//! Admin API client: wire types.
//!
//! As `openapi.yaml` documents them. Unknown fields are ignored and optional ones defaulted,
//! because the real service is only loosely documented.

use serde::{Deserialize, Serialize};

use super::redacted::Password;

/// A customer as the list and write endpoints return it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub customer_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub is_nfr: bool,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Body of `POST /projects/{projectId}/customers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomer {
    pub customer_id: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub is_nfr: bool,
}

/// Body of `PATCH /projects/{projectId}/customers/{customerId}`: only what changes is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_nfr: Option<bool>,
}

impl CustomerPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A user of a customer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub created_at: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Body of `POST /projects/{projectId}/customers/{customerId}/users`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
}

/// Body of `PATCH .../users/{userId}`: only what changes is sent.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.enabled.is_none()
            && self.password.is_none()
    }
}

/// The pagination block of a list page; either style the documentation has shown.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    pub page_size: Option<u64>,
    pub has_next_page: Option<bool>,
    pub total: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(rename = "accessToken")]
    pub access_token: super::redacted::Token,
    #[serde(rename = "expiresIn")]
    pub expires_in: Option<u64>,
}
