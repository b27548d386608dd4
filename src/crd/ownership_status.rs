//! The parts of a status both kinds share: what a resource owns in the Admin API, and how far it
//! is in sync.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Ownership;

/// What this resource owns remotely, and with which credentials. Written before the remote call it
/// describes (the intent to create, an adoption), so a crash leaves a record, never a stray owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnershipStatus {
    /// `Creating`, `Created` or `Adopted`. Unset: this resource owns nothing remotely, and
    /// deleting it makes no remote call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
    /// When the ownership was recorded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_since: Option<String>,
    /// The credentials Secret (in this namespace) the remote object is managed with; unset: the
    /// operator's default credentials. Held by a finalizer while this resource owns something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// What both kinds' statuses record alike: the generation described, ownership, the last resync
/// request acted on, and the `Ready` and `CredentialsValid` conditions.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Whether this resource created or adopted its remote object, and with which credentials.
    #[serde(flatten)]
    pub owner: OwnershipStatus,
    /// Under `managementPolicy: Observe`: each field where the remote object differs from the
    /// spec (never a password).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<super::FieldDrift>,
    /// The value of the `admin.corti.app/resync` annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_resync: Option<String>,
    /// `Ready` says whether the remote object matches the spec, and if not, why (the summary).
    /// `CredentialsValid` says whether the credentials Secret the resource acts with logs in:
    /// `True` (`LoginSucceeded`) once a pass reached the Admin API with it; `False` when it is
    /// missing, out of scope, lacks a key, or is refused (`NoCredentials`, `OutOfScope`,
    /// `SecretNotFound`, `KeyMissing`, `LoginRefused` with when the next login is tried,
    /// `ProjectNotFound`, `Forbidden`); `Unknown` (`NotChecked`) when the pass stopped before
    /// logging in. Its message names the Secret, never the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::conditions_schema")]
    pub conditions: Vec<Condition>,
}
