//! The part of a status that records what a resource owns in the Admin API (shared by both kinds).

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
