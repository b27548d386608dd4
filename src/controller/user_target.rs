//! Observe, for a CustomerUser pass: where the user lives (its Customer, which must be Ready, or
//! a `customerId`) and the account that reaches it.

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::condition::READY;
use super::context::Context;
use super::error::{CustomerWait, Error};
use super::managed::Managed;
use super::secret_reader::Account;
use crate::crd::{Customer, CustomerUser};

/// The remote customer a user lives in, and the account to reach it with.
pub struct Target {
    pub account: Account,
    pub customer_id: String,
}

/// For a pass that applies the spec: the Customer named by `customerRef` (Ready), or `customerId`.
pub async fn target(ctx: &Context, user: &CustomerUser) -> Result<Target, Error> {
    let namespace = user.namespace().unwrap_or_default();
    let (secret, customer_id) = match (&user.spec.customer_ref, &user.spec.customer_id) {
        (Some(reference), _) => {
            let customer = ctx
                .customers
                .get(&ObjectRef::<Customer>::new(&reference.name).within(&namespace))
                .ok_or_else(|| CustomerWait::Missing {
                    name: reference.name.clone(),
                })?;
            customer_ready(&customer)?;
            let customer_id = customer
                .status
                .as_ref()
                .and_then(|s| s.customer_id.clone())
                .unwrap_or_else(|| customer.customer_id());
            (customer.credentials_ref().map(str::to_string), customer_id)
        }
        (None, Some(customer_id)) => (
            user.credentials_ref().map(str::to_string),
            customer_id.clone(),
        ),
        (None, None) => {
            return Err(Error::InvalidSpec {
                field: "customerRef",
                why: "set customerRef or customerId".into(),
            });
        }
    };
    let account = ctx.secrets.account(&namespace, secret.as_deref()).await?;
    Ok(Target {
        account,
        customer_id,
    })
}

/// A user waits until its Customer is Ready for its current spec.
fn customer_ready(customer: &Customer) -> Result<(), Error> {
    let name = customer.name_any();
    if customer.metadata.deletion_timestamp.is_some() {
        return Err(CustomerWait::Deleting { name }.into());
    }
    let ready = customer
        .status
        .as_ref()
        .and_then(|s| s.sync.conditions.iter().find(|c| c.type_ == READY));
    match ready {
        Some(c) if c.status == "True" && c.observed_generation == customer.metadata.generation => {
            Ok(())
        }
        Some(c) => Err(CustomerWait::NotReady {
            name,
            reason: c.reason.clone(),
            message: c.message.clone(),
        }
        .into()),
        None => Err(CustomerWait::NotReadyYet { name }.into()),
    }
}
