//! Observe, for a CustomerUser pass: the other resources that claim the same remote user.

use kube::runtime::reflector::ObjectRef;

use super::claim_check::claim_of;
use super::claims::Claim;
use super::context::Context;
use super::error::Error;
use super::packed::{Cached, PackedUser};
use super::user_target::Target;
use crate::crd::CustomerUser;
use crate::observe::email_key;

/// Other CustomerUsers with the same email (any case) in the same remote customer, from the
/// email index: no scan of every cached user. Each rival's status is read from its packed copy;
/// one that cannot be read stops the pass (it could be the record of who owns the remote user).
pub fn rivals(ctx: &Context, user: &CustomerUser, target: &Target) -> Result<Vec<Claim>, Error> {
    let email = email_key(&user.spec.email);
    let project = target.account.credentials.project_id.as_str();
    let mut claims = Vec::new();
    let is_self = |reference: &ObjectRef<PackedUser>| {
        Some(reference.name.as_str()) == user.metadata.name.as_deref()
            && reference.namespace.as_deref() == user.metadata.namespace.as_deref()
    };
    for reference in ctx.user_index.with_email(&email) {
        // Not the user itself: its claim is `mine`, made from the copy this pass acts on.
        if is_self(&reference) {
            continue;
        }
        let Some(other) = ctx.users.get(&reference) else {
            continue;
        };
        if email_key(&other.spec.email) != email {
            continue;
        }
        let other = other.whole()?;
        let same_customer = other.status.as_ref().is_some_and(|s| {
            s.customer_id.as_deref() == Some(target.customer_id.as_str())
                && s.project_id.as_deref() == Some(project)
        });
        if same_customer {
            claims.push(claim_of(other.as_ref()));
        }
    }
    Ok(claims)
}
