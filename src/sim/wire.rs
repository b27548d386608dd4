//! Simulator: wire types.
//!
//! Customers and users as the API returns them, the validated request bodies the store takes, and
//! the stored form that `GET /_sim/state` and the state file use. Kept apart from `admin_api`'s
//! types on purpose: the simulator checks the contract, it does not share the client's reading of
//! it.

use jiff::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// What happens to a user outside the Admin API, for tests: the person completes the invitation,
/// or time passes. The body of `PATCH /_sim/projects/{projectId}/customers/{customerId}/users/{userId}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserFacts {
    /// The person verified their email (accepted the Console's invitation), or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// When the user was made: set back to stand for time passed (e.g. past the 7-day
    /// invitation window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
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
