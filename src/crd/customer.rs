//! The `Customer` kind: one customer (a hospital, a clinic) of a Corti Embedded Assistant project.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DeletionPolicy, SecretRef};

/// A customer of your Corti Embedded Assistant project, kept in sync with the Admin API.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Deserialize, Serialize)]
#[kube(
    group = "admin.corti.app",
    version = "v1alpha1",
    kind = "Customer",
    doc = "A customer (a hospital, a clinic) of a Corti Embedded Assistant project, kept in sync with the Corti Admin API by corti-operator: created, updated, adopted and, with deletionPolicy Delete, deleted there. status.conditions[Ready] says where it stands.",
    namespaced,
    status = "CustomerStatus",
    shortname = "ccust",
    category = "corti",
    printcolumn = r#"{"name":"Customer ID","type":"string","jsonPath":".status.customerId"}"#,
    printcolumn = r#"{"name":"Display Name","type":"string","jsonPath":".spec.displayName"}"#,
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".spec.region"}"#,
    printcolumn = r#"{"name":"Ownership","type":"string","jsonPath":".status.ownership","priority":1}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("has(self.spec.customerId) || size(self.metadata.name) <= 64")
        .message("metadata.name is the default customerId and must then be at most 64 characters: set spec.customerId")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.customerId) == has(oldSelf.customerId) && (!has(self.customerId) || self.customerId == oldSelf.customerId)")
        .message("customerId cannot be changed: it is the customer's key in the Admin API")
        .field_path(".customerId"),
    validation = Rule::new("has(self.tenantName) == has(oldSelf.tenantName) && (!has(self.tenantName) || self.tenantName == oldSelf.tenantName)")
        .message("tenantName cannot be changed: the Admin API fixes it at creation")
        .field_path(".tenantName"),
    validation = Rule::new("self.deletionPolicy != 'Disable'")
        .message("deletionPolicy Disable is for CustomerUsers: the Admin API cannot disable a customer")
        .field_path(".deletionPolicy")
)]
pub struct CustomerSpec {
    /// The customer's key in the Admin API. Defaults to metadata.name. At most 64 characters;
    /// cannot be changed once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub customer_id: Option<String>,

    /// The name people see, e.g. "Contoso Hospital".
    #[schemars(length(min = 1))]
    pub display_name: String,

    /// Where the customer's data lives: `eu` or `us`. Cannot be changed (the Admin API fixes it
    /// at creation).
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region cannot be changed: the Admin API fixes it at creation"))]
    pub region: Region,

    /// The Corti tenant; the Admin API uses `base` when unset. At most 14 characters; cannot be
    /// changed once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 14))]
    pub tenant_name: Option<String>,

    /// A Not-For-Resale account (demos, trials).
    #[serde(default)]
    pub is_nfr: bool,

    /// A Secret in this namespace with the keys `email`, `password` and `projectId` of a Console
    /// admin or owner. When unset, the operator's default credentials are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// What deleting this resource does to the remote customer: `Orphan` (the default) leaves
    /// it, with all its users, in the Admin API; `Delete` deletes it there.
    #[serde(default = "DeletionPolicy::orphan")]
    pub deletion_policy: DeletionPolicy,

    /// `Manage` (the default) or `Observe`: only read the remote customer and report its drift
    /// from this spec; no write, no claim on it (a Customer that manages it is never kept from
    /// it), and deleting this resource never deletes it.
    #[serde(default)]
    pub management_policy: super::ManagementPolicy,
}

/// The region a customer's data lives in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    #[default]
    Eu,
    Us,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "eu",
            Self::Us => "us",
        }
    }
}

/// Where the customer stands, as the operator last saw it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerStatus {
    /// The customer's key in the Admin API, once it exists there (created or adopted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The Console project the customer belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// When the Admin API created the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Generation, ownership, resync and the `Ready` condition, as for every managed kind.
    #[serde(flatten)]
    pub sync: super::SyncStatus,
}

impl Customer {
    /// The remote key: `spec.customerId`, else the resource's name.
    pub fn customer_id(&self) -> String {
        self.spec
            .customer_id
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
