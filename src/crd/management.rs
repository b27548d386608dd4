//! Observe-only management: the policy a resource is managed under, and the drift it reports.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the operator may write to the remote object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, adopt, update and (per deletionPolicy) delete the remote object.
    #[default]
    Manage,
    /// Only read: report in status.drift how the remote object differs from the spec, and in
    /// the Ready message the calls Manage would make. Records no ownership and claims nothing:
    /// it never keeps a resource that manages the object from it, and any number may observe one
    /// object. Deleting the resource never deletes the remote object.
    Observe,
}

/// One field where the remote object differs from the spec (never a password).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct FieldDrift {
    /// The spec field, e.g. `displayName`.
    pub field: String,
    /// Its value in the spec.
    pub spec: String,
    /// Its value in the Admin API.
    pub remote: String,
}
