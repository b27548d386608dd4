//! Reconciles a `Customer`: credentials -> claim check -> observe -> plan -> apply -> status.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tokio::time::Instant;

use super::claims::{Claim, earlier_claim};
use super::condition::{Readiness, Reason};
use super::context::Context;
use super::error::{Error, Retry};
use super::plan::{CustomerPlan, plan_customer};
use super::status::{
    Managed, add_finalizer, commit, has_finalizer, object_key, publish, remove_finalizer,
};
use super::{CREATE_MAX_AGE, paused, resync_request};
use crate::admin_api::{ApiError, Credentials, Customer as RemoteCustomer, Deleted, ErrorClass};
use crate::crd::{Customer, CustomerStatus, CustomerUser, DeletionPolicy};

pub async fn reconcile(customer: Arc<Customer>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = if paused(customer.as_ref()) {
        super::pause(&ctx, customer.as_ref()).await
    } else if customer.metadata.deletion_timestamp.is_some() {
        cleanup(&customer, &ctx).await
    } else {
        apply(&customer, &ctx).await
    };
    ctx.metrics.reconciled(Customer::KIND, started.elapsed());
    result
}

async fn apply(customer: &Customer, ctx: &Context) -> Result<Action, Error> {
    if !has_finalizer(customer) {
        // The patch is itself a change: the next pass starts with the finalizer in place.
        add_finalizer(ctx, customer).await?;
        return Ok(Action::await_change());
    }
    let mut status = customer.status.clone().unwrap_or_default();
    let outcome = sync(customer, ctx, &mut status).await;
    super::finish(ctx, customer, status, outcome).await
}

async fn sync(
    customer: &Customer,
    ctx: &Context,
    status: &mut CustomerStatus,
) -> Result<Readiness, Error> {
    let customer_id = customer.customer_id();
    let credentials = credentials(ctx, customer).await?;
    status.project_id = Some(credentials.project_id.clone());
    if let Some(owner) = claimed_by_another(ctx, customer, &credentials.project_id) {
        return Err(Error::Conflict(format!(
            "customer {customer_id:?} of project {} is already managed by Customer {owner}",
            credentials.project_id
        )));
    }
    let resync = resync_request(customer, status.last_resync.as_deref());
    let observed = observe(
        ctx,
        &credentials,
        resync.as_ref().map(|(_, max_age)| *max_age),
    )
    .await?;
    status.last_resync = resync.map(|(value, _)| value).or(status.last_resync.take());
    let mut remote = observed.get(&customer_id).cloned();
    if remote.is_none() && status.customer_id.is_some() {
        publish(
            ctx,
            customer,
            EventType::Warning,
            "RemoteMissing",
            "the remote customer is gone; creating it again",
        )
        .await;
    }
    // Create, then at most one update: a pass never loops on a server that disagrees.
    for _ in 0..2 {
        let plan = plan_customer(&customer.spec, &customer_id, remote.as_ref())
            .map_err(|e| Error::InvalidSpec(e.to_string()))?;
        remote = Some(match plan {
            CustomerPlan::InSync => break,
            CustomerPlan::Create(body) => create(ctx, customer, &credentials, body).await?,
            CustomerPlan::Update(patch) => {
                let current = remote.unwrap_or_else(|| unreachable_remote(&customer_id));
                update(ctx, customer, &credentials, current, patch).await?
            }
        });
    }
    let remote = remote.unwrap_or_else(|| unreachable_remote(&customer_id));
    status.customer_id = Some(remote.customer_id.clone());
    status.created_at.clone_from(&remote.created_at);
    Ok(Readiness::ready(format!(
        "customer {customer_id:?} matches the spec"
    )))
}

/// Only reached if a plan step returned without a remote object, which the steps never do.
fn unreachable_remote(customer_id: &str) -> RemoteCustomer {
    RemoteCustomer {
        customer_id: customer_id.into(),
        display_name: String::new(),
        tenant_name: None,
        region: None,
        is_nfr: false,
        created_at: None,
    }
}

async fn create(
    ctx: &Context,
    customer: &Customer,
    credentials: &Credentials,
    body: crate::admin_api::NewCustomer,
) -> Result<RemoteCustomer, Error> {
    let project = &credentials.project_id;
    // Never create from a stale view: a recent observation, or a fresh list.
    let fresh = observe(ctx, credentials, Some(CREATE_MAX_AGE)).await?;
    if let Some(found) = fresh.get(&body.customer_id) {
        publish(
            ctx,
            customer,
            EventType::Normal,
            "Adopted",
            "adopted the existing remote customer",
        )
        .await;
        return Ok(found.clone());
    }
    match ctx.admin.create_customer(credentials, &body).await {
        Ok(created) => {
            ctx.snapshots.record_customer(project, created.clone());
            publish(
                ctx,
                customer,
                EventType::Normal,
                "Created",
                "created the remote customer",
            )
            .await;
            Ok(created)
        }
        // It exists (our own lost response, or the Console): find it and adopt it.
        Err(ApiError::Conflict { message }) => {
            let fresh = observe(ctx, credentials, Some(Duration::ZERO)).await?;
            let found = fresh
                .get(&body.customer_id)
                .cloned()
                .ok_or(Error::Api(ApiError::Conflict { message }))?;
            publish(
                ctx,
                customer,
                EventType::Normal,
                "Adopted",
                "adopted the existing remote customer",
            )
            .await;
            Ok(found)
        }
        Err(error) => {
            if error.class() == ErrorClass::Transient {
                // The create may have been applied: observe afresh before trying again.
                ctx.snapshots.invalidate_customers(project);
            }
            Err(error.into())
        }
    }
}

async fn update(
    ctx: &Context,
    customer: &Customer,
    credentials: &Credentials,
    current: RemoteCustomer,
    patch: crate::admin_api::CustomerPatch,
) -> Result<RemoteCustomer, Error> {
    let project = &credentials.project_id;
    match ctx
        .admin
        .update_customer(credentials, &current.customer_id, &patch)
        .await
    {
        Ok(server_view) => {
            let updated = server_view.unwrap_or_else(|| RemoteCustomer {
                display_name: patch
                    .display_name
                    .clone()
                    .unwrap_or(current.display_name.clone()),
                is_nfr: patch.is_nfr.unwrap_or(current.is_nfr),
                ..current
            });
            ctx.snapshots.record_customer(project, updated.clone());
            let drift = customer.status.as_ref().and_then(|s| s.observed_generation)
                == customer.metadata.generation;
            let (reason, note) = if drift {
                (
                    "DriftReverted",
                    "reverted a change made outside Kubernetes to the remote customer",
                )
            } else {
                ("Updated", "updated the remote customer to the spec")
            };
            publish(ctx, customer, EventType::Normal, reason, note).await;
            Ok(updated)
        }
        Err(error) => {
            if matches!(error.class(), ErrorClass::Transient | ErrorClass::NotFound) {
                ctx.snapshots.invalidate_customers(project);
            }
            Err(error.into())
        }
    }
}

async fn cleanup(customer: &Customer, ctx: &Context) -> Result<Action, Error> {
    if !has_finalizer(customer) {
        return Ok(Action::await_change());
    }
    let mut status = customer.status.clone().unwrap_or_default();
    let users = users_of(ctx, customer);
    if users > 0 {
        let readiness = Readiness::not_ready(
            Reason::Deleting,
            format!("waiting for {users} CustomerUser(s) of this customer to be deleted first"),
        );
        commit(ctx, customer, status, &readiness).await?;
        return Ok(ctx.next_action(&object_key(customer), Some(Retry::Waiting)));
    }
    if customer.spec.deletion_policy == DeletionPolicy::Orphan {
        publish(
            ctx,
            customer,
            EventType::Normal,
            "Orphaned",
            "left the remote customer in place (deletionPolicy Orphan)",
        )
        .await;
        return release(ctx, customer).await;
    }
    match delete_remote(ctx, customer).await {
        Ok(()) => release(ctx, customer).await,
        Err(error) => {
            let readiness = Readiness::not_ready(
                error.reason(),
                format!("cannot delete the remote customer: {error}"),
            );
            status.observed_generation = customer.metadata.generation;
            commit(ctx, customer, status, &readiness).await?;
            Ok(ctx.next_action(&object_key(customer), Some(error.retry())))
        }
    }
}

async fn delete_remote(ctx: &Context, customer: &Customer) -> Result<(), Error> {
    let secret = ctx.secrets.credentials_secret(
        &customer.namespace().unwrap_or_default(),
        customer
            .spec
            .credentials_secret_ref
            .as_ref()
            .map(|r| r.name.as_str()),
    );
    let credentials = match secret {
        Ok(secret) => ctx.secrets.credentials_for_cleanup(&secret).await,
        Err(error) => Err(error),
    };
    let credentials = match credentials {
        Ok(credentials) => credentials,
        Err(Error::CredentialsNotFound(message)) => {
            // Nothing to act with (a namespace deletion took the Secret first): never a stuck
            // resource; say what was left behind.
            let note = format!("left the remote customer in place: {message}");
            publish(ctx, customer, EventType::Warning, "Orphaned", &note).await;
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    if claimed_by_another(ctx, customer, &credentials.project_id).is_some() {
        return Ok(()); // Not ours to delete.
    }
    let recorded = customer.status.as_ref().and_then(|s| s.customer_id.clone());
    let customer_id = match recorded {
        Some(id) => id,
        None => {
            // Never recorded: delete only what a fresh look finds under its key.
            let fresh = observe(ctx, &credentials, Some(CREATE_MAX_AGE)).await?;
            let id = customer.customer_id();
            if !fresh.contains_key(&id) {
                return Ok(());
            }
            id
        }
    };
    let deleted = ctx
        .admin
        .delete_customer(&credentials, &customer_id)
        .await?;
    ctx.snapshots
        .forget_customer(&credentials.project_id, &customer_id);
    if deleted == Deleted::Removed {
        publish(
            ctx,
            customer,
            EventType::Normal,
            "Deleted",
            "deleted the remote customer",
        )
        .await;
    }
    Ok(())
}

async fn release(ctx: &Context, customer: &Customer) -> Result<Action, Error> {
    remove_finalizer(ctx, customer).await?;
    ctx.forget(&object_key(customer));
    Ok(Action::await_change())
}

async fn credentials(ctx: &Context, customer: &Customer) -> Result<Credentials, Error> {
    let secret = ctx.secrets.credentials_secret(
        &customer.namespace().unwrap_or_default(),
        customer
            .spec
            .credentials_secret_ref
            .as_ref()
            .map(|r| r.name.as_str()),
    )?;
    let credentials = ctx.secrets.credentials(&secret).await?;
    Ok(credentials)
}

async fn observe(
    ctx: &Context,
    credentials: &Credentials,
    max_age: Option<Duration>,
) -> Result<Arc<crate::observe::CustomerMap>, Error> {
    ctx.snapshots.customers(&ctx.admin, credentials, max_age).await.map_err(|error| match error {
        ApiError::NotFound { message } => Error::CredentialsRejected(format!(
            "project {:?} not found in the Admin API ({message}): check projectId in the credentials Secret",
            credentials.project_id
        )),
        other => other.into(),
    })
}

/// Another Customer that claims the same remote customer in the same project, created earlier.
fn claimed_by_another(ctx: &Context, customer: &Customer, project_id: &str) -> Option<String> {
    let customer_id = customer.customer_id();
    let claim = |c: &Customer| Claim {
        namespace: c.namespace().unwrap_or_default(),
        name: c.name_any(),
        created: c.metadata.creation_timestamp.clone(),
    };
    let others: Vec<Claim> = ctx
        .customers
        .state()
        .iter()
        .filter(|other| other.customer_id() == customer_id)
        .filter(|other| {
            other.status.as_ref().and_then(|s| s.project_id.as_deref()) == Some(project_id)
        })
        .map(|other| claim(other))
        .collect();
    earlier_claim(&claim(customer), &others)
        .map(|owner| format!("{}/{}", owner.namespace, owner.name))
}

/// CustomerUsers in the cache that name this Customer by `customerRef`.
fn users_of(ctx: &Context, customer: &Customer) -> usize {
    let (namespace, name) = (customer.namespace(), customer.name_any());
    ctx.users
        .state()
        .iter()
        .filter(|user: &&Arc<CustomerUser>| user.namespace() == namespace)
        .filter(|user| {
            user.spec
                .customer_ref
                .as_ref()
                .is_some_and(|r| r.name == name)
        })
        .count()
}
