//! Observe, for a CustomerUser pass: the other resources that claim the same remote user.

use super::claim_check::claim_of;
use super::claims::Claim;
use super::context::Context;
use super::user_target::Target;
use crate::crd::CustomerUser;
use crate::observe::email_key;

/// Other CustomerUsers with the same email (any case) in the same remote customer, from the
/// email index: no scan of every cached user.
pub fn rivals(ctx: &Context, user: &CustomerUser, target: &Target) -> Vec<Claim> {
    let email = email_key(&user.spec.email);
    let project = target.account.credentials.project_id.as_str();
    ctx.user_index
        .with_email(&email)
        .iter()
        .filter_map(|reference| ctx.users.get(reference))
        .filter(|other| email_key(&other.spec.email) == email)
        .filter(|other| {
            other.status.as_ref().is_some_and(|s| {
                s.customer_id.as_deref() == Some(target.customer_id.as_str())
                    && s.project_id.as_deref() == Some(project)
            })
        })
        .map(|other| claim_of(other.as_ref()))
        .collect()
}
