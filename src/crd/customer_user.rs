//! The `CustomerUser` kind: one person who logs in to the assistant, a user of a customer.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DeletionPolicy, LocalRef, SecretRef};

/// A user of a Corti customer (a clinician who logs in), kept in sync with the Admin API.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Deserialize, Serialize)]
#[kube(
    group = "admin.corti.app",
    version = "v1alpha1",
    kind = "CustomerUser",
    doc = "A user (a clinician who logs in) of a Corti customer, kept in sync with the Corti Admin API by corti-operator: created, updated, enabled or disabled, given a password and, with deletionPolicy Delete (the default), deleted there. status.conditions[Ready] says where it stands.",
    namespaced,
    status = "CustomerUserStatus",
    shortname = "cuser",
    category = "corti",
    printcolumn = r#"{"name":"Email","type":"string","jsonPath":".spec.email"}"#,
    printcolumn = r#"{"name":"Customer","type":"string","jsonPath":".status.customerId"}"#,
    printcolumn = r#"{"name":"User ID","type":"string","jsonPath":".status.userId","priority":1}"#,
    printcolumn = r#"{"name":"Enabled","type":"boolean","jsonPath":".spec.enabled"}"#,
    printcolumn = r#"{"name":"Access Ends","type":"string","jsonPath":".spec.accessExpiresAt"}"#,
    printcolumn = r#"{"name":"Verified","type":"boolean","jsonPath":".status.emailVerified"}"#,
    printcolumn = r#"{"name":"Ownership","type":"string","jsonPath":".status.ownership","priority":1}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.customerRef) != has(self.customerId)")
        .message("set exactly one of customerRef (a Customer in this namespace) and customerId (a customer not managed here)"),
    validation = Rule::new("has(self.customerRef) == has(oldSelf.customerRef) && has(self.customerId) == has(oldSelf.customerId) && (!has(self.customerRef) || self.customerRef.name == oldSelf.customerRef.name) && (!has(self.customerId) || self.customerId == oldSelf.customerId)")
        .message("a user cannot move to another customer: create a new CustomerUser instead"),
    validation = Rule::new("!has(self.credentialsSecretRef) || has(self.customerId)")
        .message("credentialsSecretRef goes with customerId only: a user with customerRef uses its Customer's credentials")
        .field_path(".credentialsSecretRef")
)]
pub struct CustomerUserSpec {
    /// The Customer resource, in this namespace, that the user belongs to. Exactly one of
    /// customerRef and customerId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<LocalRef>,

    /// The Admin API key of a customer not managed by a Customer resource. Exactly one of
    /// customerRef and customerId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub customer_id: Option<String>,

    /// A Secret in this namespace with the keys `email`, `password` and `projectId`, for a user
    /// given by customerId. When unset, the operator's default credentials are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// The user's login email. Cannot be changed (the Admin API fixes it); compared without
    /// regard to case.
    #[schemars(length(min = 3, max = 254))]
    #[x_kube(
        validation = Rule::new("self.matches('^[^@\\\\s]+@[^@\\\\s]+\\\\.[^@\\\\s]+$')").message("email must be an email address, like jane.smith@example.org"),
        validation = Rule::new("self == oldSelf").message("email cannot be changed: create a new CustomerUser instead")
    )]
    pub email: String,

    /// The user's first (given) name, as shown in the Console. Changes are applied to the
    /// remote user.
    #[schemars(length(min = 1))]
    pub first_name: String,

    /// The user's last (family) name, as shown in the Console. Changes are applied to the remote
    /// user.
    #[schemars(length(min = 1))]
    pub last_name: String,

    /// Whether the user may log in.
    #[serde(default = "enabled_default")]
    pub enabled: bool,

    /// When the user's access ends (RFC 3339, e.g. `2027-03-31T17:00:00Z`): from then on the
    /// remote user is kept disabled. A later date enables it again (if `enabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub access_expires_at: Option<String>,

    /// A Secret in this namespace holding the user's initial password (16 to 64 characters). It
    /// is set when the user is created and again whenever the Secret's value changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<PasswordSecretRef>,

    /// What deleting this resource does to the remote user: `Delete` (the default) deletes it in
    /// the Admin API; `Orphan` leaves it there; `Disable` disables it and keeps it (for records).
    #[serde(default = "DeletionPolicy::delete")]
    pub deletion_policy: DeletionPolicy,

    /// `Manage` (the default) or `Observe`: only read the remote user and report its drift from
    /// this spec; no write, no claim on it (a CustomerUser that manages it is never kept from
    /// it), and deleting this resource never deletes it.
    #[serde(default)]
    pub management_policy: super::ManagementPolicy,
}

fn enabled_default() -> bool {
    true
}

/// A key of a Secret in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSecretRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key within the Secret.
    #[serde(default = "password_key_default")]
    pub key: String,
}

fn password_key_default() -> String {
    "password".into()
}

/// Where the user stands, as the operator last saw it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerUserStatus {
    /// The id the Admin API assigned to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The Admin API key of the user's customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The Console project of the user's customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Whether the user has verified their email, as the Admin API reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Which version of the password Secret was last applied (its uid, resourceVersion and key;
    /// nothing derived from the password): a change of the Secret is applied once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_version: Option<String>,
    /// Generation, ownership, resync and the `Ready` condition, as for every managed kind.
    #[serde(flatten)]
    pub sync: super::SyncStatus,
    /// Whether `accessExpiresAt` has passed: the remote user is kept disabled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub access_expired: bool,
    /// A user the operator created has not verified their email within the Console's 7-day
    /// invitation window (a Warning Event said so once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invitation_overdue: bool,
}
