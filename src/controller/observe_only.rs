//! Decide and record (pure) for a resource under `managementPolicy: Observe` (or the operator's
//! `--dry-run`): the drift between spec and remote object, field by field, and the calls `Manage`
//! would make. Nothing here writes: an observer records no ownership and claims nothing (it only
//! reads, see `claims`), and its deletion never deletes the remote object.

use super::condition::{Readiness, Reason, Status};
use super::plan::{DesiredPassword, customer_patch, user_patch};
use crate::admin_api::{Customer as RemoteCustomer, User as RemoteUser};
use crate::crd::{
    CustomerSpec, CustomerUserSpec, DeletionPolicy, FieldDrift, ManagementPolicy, OwnershipStatus,
};

/// Whether a resource with `policy` is only observed.
pub fn observing(policy: ManagementPolicy, dry_run: bool) -> bool {
    dry_run || policy == ManagementPolicy::Observe
}

/// The policies a spec sets, as they apply under the operator's `--dry-run` (`dry_run`).
pub trait Policies {
    /// An observed resource never deletes (nor disables) anything.
    fn deletion(&self, dry_run: bool) -> DeletionPolicy;
}

impl Policies for CustomerSpec {
    fn deletion(&self, dry_run: bool) -> DeletionPolicy {
        match effective_deletion(self.deletion_policy, self.management_policy, dry_run) {
            // The schema refuses it; were it ever there, it must not read as Delete.
            DeletionPolicy::Disable => DeletionPolicy::Orphan,
            policy => policy,
        }
    }
}

impl Policies for CustomerUserSpec {
    fn deletion(&self, dry_run: bool) -> DeletionPolicy {
        effective_deletion(self.deletion_policy, self.management_policy, dry_run)
    }
}

/// The deletion policy that applies: an observed resource never deletes (nor disables) anything.
pub fn effective_deletion(
    policy: DeletionPolicy,
    management: ManagementPolicy,
    dry_run: bool,
) -> DeletionPolicy {
    if observing(management, dry_run) {
        DeletionPolicy::Orphan
    } else {
        policy
    }
}

/// What observing found: the fields that differ, the calls `Manage` would make, and whether
/// there is a remote object at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub drift: Vec<FieldDrift>,
    pub calls: Vec<String>,
    pub exists: bool,
}

/// Whether the resource's status records it as the owner of the remote object (then Manage
/// would not adopt it again), and who would keep it from the object were it managed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holding<'a> {
    pub owned: bool,
    pub adopt_existing: bool,
    /// The resource that manages the object (as this one's reader may see it named): Manage
    /// would be `Conflict`.
    pub held_by: Option<&'a str>,
}

impl<'a> Holding<'a> {
    pub fn of(owner: &OwnershipStatus, adopt_existing: bool, held_by: Option<&'a str>) -> Self {
        Self {
            owned: owner.ownership.is_some(),
            adopt_existing,
            held_by,
        }
    }
}

fn drift<S, R>(field: &str, spec: &S, remote: &R) -> FieldDrift
where
    S: ToString + ?Sized,
    R: ToString + ?Sized,
{
    FieldDrift {
        field: field.to_string(),
        spec: spec.to_string(),
        remote: remote.to_string(),
    }
}

/// Manage would meet a `Conflict`: the call it would make (none), said in `calls`.
fn held_elsewhere(holding: Holding<'_>, calls: &mut Vec<String>) -> bool {
    let Some(holder) = holding.held_by else {
        return false;
    };
    calls.push(format!("none: {holder} manages it (Conflict)"));
    true
}

/// The calls before any field update: nothing (owned), an adoption, or a refusal.
fn take_over(holding: Holding<'_>, calls: &mut Vec<String>) -> bool {
    if held_elsewhere(holding, calls) {
        return false;
    }
    match (holding.owned, holding.adopt_existing) {
        (true, _) => true,
        (false, true) => {
            calls.push("adopt it (a status record, no call)".into());
            true
        }
        (false, false) => {
            calls.push(
                "none: it exists, this resource did not create it, and adoption is off (Conflict)"
                    .into(),
            );
            false
        }
    }
}

pub fn customer_drift(
    spec: &CustomerSpec,
    key: &str,
    remote: Option<&RemoteCustomer>,
    holding: Holding<'_>,
) -> Observation {
    let Some(remote) = remote else {
        let mut calls = Vec::new();
        if !held_elsewhere(holding, &mut calls) {
            calls.push(format!("POST customers (create customer {key:?})"));
        }
        return Observation {
            calls,
            ..Observation::default()
        };
    };
    let mut out = Observation {
        exists: true,
        ..Observation::default()
    };
    if remote.display_name != spec.display_name {
        out.drift.push(drift(
            "displayName",
            &spec.display_name,
            &remote.display_name,
        ));
    }
    if remote.is_nfr != spec.is_nfr {
        out.drift.push(drift("isNfr", &spec.is_nfr, &remote.is_nfr));
    }
    let plan = match customer_patch(spec, remote) {
        Ok(plan) => plan,
        Err(unreachable) => {
            out.drift.push(drift(
                unreachable.field,
                &unreachable.wanted,
                &unreachable.found,
            ));
            out.calls.push(format!(
                "none: no call can change {} (the Admin API fixes it at creation)",
                unreachable.field
            ));
            return out;
        }
    };
    if !take_over(holding, &mut out.calls) {
        return out;
    }
    if let Some(patch) = plan {
        let mut fields = Vec::new();
        if patch.display_name.is_some() {
            fields.push("displayName");
        }
        if patch.is_nfr.is_some() {
            fields.push("isNfr");
        }
        out.calls
            .push(format!("PATCH customers/{key} ({})", fields.join(", ")));
    }
    out
}

/// `customer_id`: the remote customer the user lives in. Emails are never in what this returns
/// (the key cannot drift: it is compared without regard to case).
pub fn user_drift(
    spec: &CustomerUserSpec,
    customer_id: &str,
    remote: Option<&RemoteUser>,
    password: Option<&DesiredPassword>,
    holding: Holding<'_>,
) -> Observation {
    let Some(remote) = remote else {
        let mut calls = Vec::new();
        if !held_elsewhere(holding, &mut calls) {
            calls.push(format!(
                "POST customers/{customer_id}/users (create the user)"
            ));
            if !spec.enabled {
                calls.push("PATCH the new user (enabled)".into());
            }
        }
        return Observation {
            calls,
            ..Observation::default()
        };
    };
    let mut out = Observation {
        exists: true,
        ..Observation::default()
    };
    if remote.first_name != spec.first_name {
        out.drift
            .push(drift("firstName", &spec.first_name, &remote.first_name));
    }
    if remote.last_name != spec.last_name {
        out.drift
            .push(drift("lastName", &spec.last_name, &remote.last_name));
    }
    if remote.enabled != spec.enabled {
        out.drift
            .push(drift("enabled", &spec.enabled, &remote.enabled));
    }
    if !take_over(holding, &mut out.calls) {
        return out;
    }
    // An adopted user's password is unknown: Manage applies the Secret's, if any.
    let password = password.map(|p| DesiredPassword {
        applied: p.applied && holding.owned,
        ..p.clone()
    });
    if let Some(patch) = user_patch(spec, remote, password.as_ref()) {
        let mut fields = Vec::new();
        for (set, field) in [
            (patch.first_name.is_some(), "firstName"),
            (patch.last_name.is_some(), "lastName"),
            (patch.enabled.is_some(), "enabled"),
            (patch.password.is_some(), "password from its Secret"),
        ] {
            if set {
                fields.push(field);
            }
        }
        out.calls.push(format!(
            "PATCH customers/{customer_id}/users/{} ({})",
            remote.id,
            fields.join(", ")
        ));
    }
    out
}

/// The `Ready` condition of an observed resource: True when the remote object exists (its drift,
/// if any, is in status), False when it does not; the message lists the calls Manage would make.
pub fn observed_readiness(what: &str, observation: &Observation) -> Readiness {
    let calls = if observation.calls.is_empty() {
        format!("the remote {what} matches the spec; Manage would make no call")
    } else {
        format!("Manage would: {}", observation.calls.join("; then "))
    };
    let message = format!("observe only, no write: {calls}");
    Readiness {
        status: if observation.exists {
            Status::True
        } else {
            Status::False
        },
        reason: Reason::Observed,
        message,
        wake_in: None,
    }
}

#[cfg(test)]
#[path = "observe_only_tests.rs"]
mod tests;
