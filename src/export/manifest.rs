//! Decide (pure): the manifests that describe a project's remote customers and users exactly as
//! they are, so that applying them adopts everything with no write to the Admin API.
//!
//! Each spec field the operator compares (`controller::plan`) is taken from the remote object:
//! displayName, isNfr, region and tenantName for a customer; firstName, lastName and enabled for
//! a user. No password reference is exported (an adopted user without one gets no password
//! call), and `deletionPolicy: Orphan` everywhere: deleting an exported resource never deletes
//! what it describes. An object the CRD schema could not hold as it is is skipped and reported:
//! exporting it changed would make the operator write.

use std::collections::BTreeSet;

use kube::api::ObjectMeta;

use super::names::{Names, customer_base, user_base};
use crate::admin_api::{Customer as RemoteCustomer, User as RemoteUser};
use crate::crd::{
    Customer, CustomerSpec, CustomerUser, CustomerUserSpec, DeletionPolicy, LocalRef,
    ManagementPolicy, Region, SecretRef,
};

/// A remote customer and its users, as listed.
#[derive(Clone, Debug)]
pub struct RemoteTree {
    pub customer: RemoteCustomer,
    pub users: Vec<RemoteUser>,
}

/// Where the manifests go.
#[derive(Clone, Debug, Default)]
pub struct Destination {
    pub namespace: String,
    /// The credentials Secret, in `namespace`, that each Customer names; `None`: the operator's
    /// default credentials.
    pub credentials_secret: Option<String>,
    /// Export as `managementPolicy: Observe`: applied, the resources report drift and write
    /// nothing until switched to `Manage`.
    pub observe: bool,
}

impl Destination {
    fn management_policy(&self) -> ManagementPolicy {
        if self.observe {
            ManagementPolicy::Observe
        } else {
            ManagementPolicy::Manage
        }
    }
}

/// A remote object left out, and why; named by remote ids, never by email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skipped {
    Customer {
        customer_id: String,
        why: &'static str,
    },
    User {
        customer_id: String,
        user_id: String,
        why: &'static str,
    },
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Customer { customer_id, why } => {
                write!(f, "skipped customer {customer_id:?} (and its users): {why}")
            }
            Self::User {
                customer_id,
                user_id,
                why,
            } => write!(
                f,
                "skipped user {user_id} of customer {customer_id:?}: {why}"
            ),
        }
    }
}

/// The export: resources in a stable order (customers by key, users by customer then email).
#[derive(Debug, Default)]
pub struct Export {
    pub customers: Vec<Customer>,
    pub users: Vec<CustomerUser>,
    pub skipped: Vec<Skipped>,
}

/// Manifests for `trees`, named deterministically whatever order they were listed in.
pub fn export_project(trees: &[RemoteTree], destination: &Destination) -> Export {
    let mut trees: Vec<&RemoteTree> = trees.iter().collect();
    trees.sort_by(|a, b| a.customer.customer_id.cmp(&b.customer.customer_id));
    let mut out = Export::default();
    let mut customer_names = Names::default();
    let mut user_names = Names::default();
    for tree in trees {
        let remote = &tree.customer;
        let spec = match exported_customer_spec(remote, destination) {
            Ok(spec) => spec,
            Err(why) => {
                out.skipped.push(Skipped::Customer {
                    customer_id: remote.customer_id.clone(),
                    why,
                });
                continue;
            }
        };
        let name = customer_names.claim(&customer_base(&remote.customer_id), &remote.customer_id);
        let mut users: Vec<&RemoteUser> = tree.users.iter().collect();
        users.sort_by(|a, b| {
            (a.email.to_ascii_lowercase(), &a.id).cmp(&(b.email.to_ascii_lowercase(), &b.id))
        });
        let mut emails = BTreeSet::new();
        for user in users {
            let skip = |why| Skipped::User {
                customer_id: remote.customer_id.clone(),
                user_id: user.id.clone(),
                why,
            };
            // Two resources with one email would claim the same key: one would be a Conflict.
            if !emails.insert(crate::observe::email_key(&user.email)) {
                out.skipped
                    .push(skip("another user of this customer has the same email"));
                continue;
            }
            match exported_user_spec(user, &name) {
                Ok(mut spec) => {
                    spec.management_policy = destination.management_policy();
                    let user_name = user_names.claim(&user_base(&name, &user.email), &user.id);
                    let mut resource = CustomerUser::new(&user_name, spec);
                    resource.metadata = meta(&user_name, destination);
                    out.users.push(resource);
                }
                Err(why) => out.skipped.push(skip(why)),
            }
        }
        let mut resource = Customer::new(&name, spec);
        resource.metadata = meta(&name, destination);
        out.customers.push(resource);
    }
    out
}

fn meta(name: &str, destination: &Destination) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(destination.namespace.clone()),
        ..ObjectMeta::default()
    }
}

/// The spec that matches `remote` exactly, or why the CRD cannot express it.
pub fn exported_customer_spec(
    remote: &RemoteCustomer,
    destination: &Destination,
) -> Result<CustomerSpec, &'static str> {
    if remote.customer_id.is_empty() || remote.customer_id.chars().count() > 64 {
        return Err("its customerId is not 1 to 64 characters");
    }
    if remote.display_name.is_empty() {
        return Err("it has no displayName (the CRD requires one)");
    }
    let region = match remote.region.as_deref() {
        // The operator accepts any region when the Admin API reports none.
        None => Region::Eu,
        Some(r) if r.eq_ignore_ascii_case("eu") => Region::Eu,
        Some(r) if r.eq_ignore_ascii_case("us") => Region::Us,
        Some(_) => return Err("its region is neither eu nor us"),
    };
    // Fixed at creation: recorded as it is, or left unset (which accepts whatever is there)
    // when the CRD's limits could not hold it.
    let tenant_name = remote
        .tenant_name
        .clone()
        .filter(|t| (1..=14).contains(&t.chars().count()));
    Ok(CustomerSpec {
        customer_id: Some(remote.customer_id.clone()),
        display_name: remote.display_name.clone(),
        region,
        tenant_name,
        is_nfr: remote.is_nfr,
        credentials_secret_ref: destination
            .credentials_secret
            .clone()
            .map(|name| SecretRef { name }),
        deletion_policy: DeletionPolicy::Orphan,
        management_policy: destination.management_policy(),
    })
}

/// The spec that matches `remote` exactly, in the Customer resource `customer`, or why the CRD
/// cannot express it.
pub fn exported_user_spec(
    remote: &RemoteUser,
    customer: &str,
) -> Result<CustomerUserSpec, &'static str> {
    let email = remote.email.trim();
    if !(3..=254).contains(&email.chars().count()) || !email_shaped(email) {
        return Err("its email is not one the CRD accepts");
    }
    if remote.first_name.is_empty() || remote.last_name.is_empty() {
        return Err("it has an empty firstName or lastName (the CRD requires both)");
    }
    Ok(CustomerUserSpec {
        customer_ref: Some(LocalRef {
            name: customer.to_string(),
        }),
        customer_id: None,
        credentials_secret_ref: None,
        email: email.to_string(),
        first_name: remote.first_name.clone(),
        last_name: remote.last_name.clone(),
        enabled: remote.enabled,
        password_secret_ref: None,
        access_expires_at: None,
        deletion_policy: DeletionPolicy::Orphan,
        management_policy: ManagementPolicy::Manage,
    })
}

/// The CRD's email rule, `^[^@\s]+@[^@\s]+\.[^@\s]+$`, without a regex engine.
fn email_shaped(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let plain = |s: &str| !s.is_empty() && !s.contains('@') && !s.contains(char::is_whitespace);
    plain(local)
        && plain(domain)
        && domain
            .char_indices()
            .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

/// The manifests as one YAML stream, after a comment that says what they are.
pub fn render(export: &Export, project_id: &str) -> Result<String, serde_norway::Error> {
    let mut out = format!(
        "# corti-operator export of project {project_id}: {} customers, {} users, {} skipped.\n\
         # deletionPolicy Orphan throughout: deleting these resources leaves the remote objects.\n",
        export.customers.len(),
        export.users.len(),
        export.skipped.len()
    );
    for customer in &export.customers {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(customer)?);
        let name = customer.metadata.name.as_deref();
        for user in export
            .users
            .iter()
            .filter(|u| u.spec.customer_ref.as_ref().map(|r| r.name.as_str()) == name)
        {
            out.push_str("---\n");
            out.push_str(&serde_norway::to_string(user)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
