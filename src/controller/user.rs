//! Reconciles a `CustomerUser`: customer -> credentials -> claim check -> password -> observe ->
//! plan -> apply -> status.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use super::claims::{Claim, earlier_claim};
use super::condition::{READY, Readiness};
use super::context::Context;
use super::error::Error;
use super::plan::{DesiredPassword, UserPlan, check_password_length, password_hash, plan_user};
use super::status::{
    Managed, add_finalizer, commit, has_finalizer, object_key, publish, remove_finalizer,
};
use super::{CREATE_MAX_AGE, paused, resync_request};
use crate::admin_api::{ApiError, Credentials, Deleted, ErrorClass, NewUser, User, UserPatch};
use crate::crd::{Customer, CustomerUser, CustomerUserStatus, DeletionPolicy};
use crate::observe::{UserMap, email_key};

/// The remote customer a user lives in, and the account to reach it with.
struct Target {
    credentials: Credentials,
    customer_id: String,
}

pub async fn reconcile(user: Arc<CustomerUser>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = if paused(user.as_ref()) {
        super::pause(&ctx, user.as_ref()).await
    } else if user.metadata.deletion_timestamp.is_some() {
        cleanup(&user, &ctx).await
    } else {
        apply(&user, &ctx).await
    };
    ctx.metrics
        .reconciled(CustomerUser::KIND, started.elapsed());
    result
}

async fn apply(user: &CustomerUser, ctx: &Context) -> Result<Action, Error> {
    if !has_finalizer(user) {
        add_finalizer(ctx, user).await?;
        return Ok(Action::await_change());
    }
    let mut status = user.status.clone().unwrap_or_default();
    let outcome = sync(user, ctx, &mut status).await;
    super::finish(ctx, user, status, outcome).await
}

async fn sync(
    user: &CustomerUser,
    ctx: &Context,
    status: &mut CustomerUserStatus,
) -> Result<Readiness, Error> {
    let target = target(ctx, user, false).await?;
    status.customer_id = Some(target.customer_id.clone());
    status.project_id = Some(target.credentials.project_id.clone());
    if let Some(owner) = claimed_by_another(ctx, user, &target) {
        return Err(Error::Conflict(format!(
            "this email in customer {:?} is already managed by CustomerUser {owner}",
            target.customer_id
        )));
    }
    let password = desired_password(ctx, user, status).await?;
    let resync = resync_request(user, status.last_resync.as_deref());
    let observed = observe(ctx, &target, resync.as_ref().map(|(_, max_age)| *max_age)).await?;
    status.last_resync = resync.map(|(value, _)| value).or(status.last_resync.take());
    let mut remote = observed.get(&email_key(&user.spec.email)).cloned();
    if remote.is_none() && status.user_id.is_some() {
        publish(
            ctx,
            user,
            EventType::Warning,
            "RemoteMissing",
            "the remote user is gone; creating it again",
        )
        .await;
    }
    // Create (names, password), then at most one update (e.g. `enabled: false`, or the password
    // of an adopted user, whose current password is unknown).
    let mut password = password;
    for _ in 0..2 {
        let plan = plan_user(&user.spec, remote.as_ref(), password.as_ref());
        let sets_password = plan.sets_password();
        let (next, adopted) = match plan {
            UserPlan::InSync => break,
            UserPlan::Create(body) => create(ctx, user, &target, body).await?,
            UserPlan::Update(patch) => {
                let current = remote
                    .clone()
                    .ok_or_else(|| Error::Api(ApiError::Decode("no user to update".into())))?;
                update(ctx, user, &target, current, patch).await?
            }
        };
        remote = Some(next);
        if let Some(password) = password.as_mut() {
            if adopted {
                password.applied = false;
                status.password_hash = None;
            } else if sets_password {
                password.applied = true;
                status.password_hash = Some(password.hash.clone());
            }
        }
    }
    let remote =
        remote.ok_or_else(|| Error::Api(ApiError::Decode("no user after create".into())))?;
    status.user_id = Some(remote.id.clone());
    status.email_verified = Some(remote.email_verified);
    if password.is_none() {
        status.password_hash = None;
    }
    Ok(Readiness::ready(format!(
        "user is in sync in customer {:?}",
        target.customer_id
    )))
}

/// The returned flag is true when an existing user was adopted rather than created.
async fn create(
    ctx: &Context,
    user: &CustomerUser,
    target: &Target,
    body: NewUser,
) -> Result<(User, bool), Error> {
    let project = &target.credentials.project_id;
    let fresh = observe(ctx, target, Some(CREATE_MAX_AGE)).await?;
    if let Some(found) = fresh.get(&email_key(&body.email)) {
        publish(
            ctx,
            user,
            EventType::Normal,
            "Adopted",
            "adopted the existing remote user",
        )
        .await;
        return Ok((found.clone(), true));
    }
    match ctx
        .admin
        .create_user(&target.credentials, &target.customer_id, &body)
        .await
    {
        Ok(created) => {
            ctx.snapshots
                .record_user(project, &target.customer_id, created.clone());
            publish(
                ctx,
                user,
                EventType::Normal,
                "Created",
                "created the remote user",
            )
            .await;
            Ok((created, false))
        }
        Err(ApiError::Conflict { message }) => {
            let fresh = observe(ctx, target, Some(Duration::ZERO)).await?;
            let found = fresh
                .get(&email_key(&body.email))
                .cloned()
                .ok_or(Error::Api(ApiError::Conflict { message }))?;
            publish(
                ctx,
                user,
                EventType::Normal,
                "Adopted",
                "adopted the existing remote user",
            )
            .await;
            Ok((found, true))
        }
        Err(error) => {
            if error.class() == ErrorClass::Transient {
                ctx.snapshots.invalidate_users(project, &target.customer_id);
            }
            Err(write_error(error))
        }
    }
}

async fn update(
    ctx: &Context,
    user: &CustomerUser,
    target: &Target,
    current: User,
    patch: UserPatch,
) -> Result<(User, bool), Error> {
    let project = &target.credentials.project_id;
    match ctx
        .admin
        .update_user(
            &target.credentials,
            &target.customer_id,
            &current.id,
            &patch,
        )
        .await
    {
        Ok(server_view) => {
            let updated = server_view.unwrap_or_else(|| User {
                first_name: patch
                    .first_name
                    .clone()
                    .unwrap_or(current.first_name.clone()),
                last_name: patch.last_name.clone().unwrap_or(current.last_name.clone()),
                enabled: patch.enabled.unwrap_or(current.enabled),
                ..current
            });
            ctx.snapshots
                .record_user(project, &target.customer_id, updated.clone());
            let drift = user.status.as_ref().and_then(|s| s.observed_generation)
                == user.metadata.generation
                && patch.password.is_none();
            let (reason, note) = match (drift, patch.password.is_some()) {
                (true, _) => (
                    "DriftReverted",
                    "reverted a change made outside Kubernetes to the remote user",
                ),
                (false, true) => (
                    "PasswordSet",
                    "applied the password from the password Secret",
                ),
                (false, false) => ("Updated", "updated the remote user to the spec"),
            };
            publish(ctx, user, EventType::Normal, reason, note).await;
            Ok((updated, false))
        }
        Err(error) => {
            if matches!(error.class(), ErrorClass::Transient | ErrorClass::NotFound) {
                ctx.snapshots.invalidate_users(project, &target.customer_id);
            }
            Err(write_error(error))
        }
    }
}

/// A 400 on a write that carried a password is most likely the password (its pattern is not
/// public): say so.
fn write_error(error: ApiError) -> Error {
    match error {
        ApiError::Invalid { message, .. } if message.to_ascii_lowercase().contains("password") => {
            Error::InvalidPassword(format!("the Admin API rejected the password: {message}"))
        }
        other => other.into(),
    }
}

async fn desired_password(
    ctx: &Context,
    user: &CustomerUser,
    status: &CustomerUserStatus,
) -> Result<Option<DesiredPassword>, Error> {
    let Some(reference) = &user.spec.password_secret_ref else {
        return Ok(None);
    };
    let namespace = user.namespace().unwrap_or_default();
    let password = ctx
        .secrets
        .password(&namespace, &reference.name, &reference.key)
        .await?;
    check_password_length(&password).map_err(Error::InvalidPassword)?;
    let hash = password_hash(&user.uid().unwrap_or_default(), &password);
    let applied = status.password_hash.as_deref() == Some(hash.as_str());
    Ok(Some(DesiredPassword {
        password,
        hash,
        applied,
    }))
}

async fn target(ctx: &Context, user: &CustomerUser, for_cleanup: bool) -> Result<Target, Error> {
    let namespace = user.namespace().unwrap_or_default();
    let (secret_name, customer_id) = match (&user.spec.customer_ref, &user.spec.customer_id) {
        (Some(reference), _) => {
            let customer = ctx
                .customers
                .get(&ObjectRef::<Customer>::new(&reference.name).within(&namespace))
                .ok_or_else(|| {
                    Error::CustomerNotReady(format!(
                        "Customer {namespace}/{} not found",
                        reference.name
                    ))
                })?;
            if !for_cleanup {
                customer_ready(&customer)?;
            }
            let customer_id = customer
                .status
                .as_ref()
                .and_then(|s| s.customer_id.clone())
                .unwrap_or_else(|| customer.customer_id());
            (
                customer
                    .spec
                    .credentials_secret_ref
                    .as_ref()
                    .map(|r| r.name.clone()),
                customer_id,
            )
        }
        (None, Some(customer_id)) => (
            user.spec
                .credentials_secret_ref
                .as_ref()
                .map(|r| r.name.clone()),
            customer_id.clone(),
        ),
        (None, None) => return Err(Error::InvalidSpec("set customerRef or customerId".into())),
    };
    let secret = ctx
        .secrets
        .credentials_secret(&namespace, secret_name.as_deref())?;
    let credentials = if for_cleanup {
        ctx.secrets.credentials_for_cleanup(&secret).await?
    } else {
        ctx.secrets.credentials(&secret).await?
    };
    Ok(Target {
        credentials,
        customer_id,
    })
}

/// A user waits until its Customer is Ready for its current spec.
fn customer_ready(customer: &Customer) -> Result<(), Error> {
    let name = customer.name_any();
    if customer.metadata.deletion_timestamp.is_some() {
        return Err(Error::CustomerNotReady(format!(
            "Customer {name} is being deleted"
        )));
    }
    let ready = customer
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == READY));
    match ready {
        Some(c) if c.status == "True" && c.observed_generation == customer.metadata.generation => {
            Ok(())
        }
        Some(c) => Err(Error::CustomerNotReady(format!(
            "Customer {name} is not Ready ({}): {}",
            c.reason, c.message
        ))),
        None => Err(Error::CustomerNotReady(format!(
            "Customer {name} is not Ready yet"
        ))),
    }
}

async fn observe(
    ctx: &Context,
    target: &Target,
    max_age: Option<Duration>,
) -> Result<Arc<UserMap>, Error> {
    ctx.snapshots
        .users(
            &ctx.admin,
            &target.credentials,
            &target.customer_id,
            max_age,
        )
        .await
        .map_err(|error| match error {
            ApiError::NotFound { message } => {
                ctx.snapshots
                    .invalidate_customers(&target.credentials.project_id);
                Error::CustomerNotReady(format!(
                    "customer {:?} not found in the Admin API ({message})",
                    target.customer_id
                ))
            }
            other => other.into(),
        })
}

async fn cleanup(user: &CustomerUser, ctx: &Context) -> Result<Action, Error> {
    if !has_finalizer(user) {
        return Ok(Action::await_change());
    }
    if user.spec.deletion_policy == DeletionPolicy::Orphan {
        publish(
            ctx,
            user,
            EventType::Normal,
            "Orphaned",
            "left the remote user in place (deletionPolicy Orphan)",
        )
        .await;
        return release(ctx, user).await;
    }
    match delete_remote(ctx, user).await {
        Ok(()) => release(ctx, user).await,
        Err(error) => {
            let mut status = user.status.clone().unwrap_or_default();
            status.observed_generation = user.metadata.generation;
            let readiness = Readiness::not_ready(
                error.reason(),
                format!("cannot delete the remote user: {error}"),
            );
            commit(ctx, user, status, &readiness).await?;
            Ok(ctx.next_action(&object_key(user), Some(error.retry())))
        }
    }
}

async fn delete_remote(ctx: &Context, user: &CustomerUser) -> Result<(), Error> {
    let target = match target(ctx, user, true).await {
        Ok(target) => target,
        Err(Error::CredentialsNotFound(message) | Error::CustomerNotReady(message)) => {
            let note = format!("left the remote user in place: {message}");
            publish(ctx, user, EventType::Warning, "Orphaned", &note).await;
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    if claimed_by_another(ctx, user, &target).is_some() {
        return Ok(()); // Not ours to delete.
    }
    let users = match observe(ctx, &target, Some(CREATE_MAX_AGE)).await {
        Ok(users) => users,
        Err(Error::CustomerNotReady(_)) => return Ok(()), // the customer, and so the user, is gone
        Err(error) => return Err(error),
    };
    let recorded = user.status.as_ref().and_then(|s| s.user_id.clone());
    let found = users
        .get(&email_key(&user.spec.email))
        .map(|u| u.id.clone());
    let Some(user_id) = found.or(recorded) else {
        return Ok(());
    };
    let deleted = ctx
        .admin
        .delete_user(&target.credentials, &target.customer_id, &user_id)
        .await?;
    ctx.snapshots.forget_user(
        &target.credentials.project_id,
        &target.customer_id,
        &user.spec.email,
    );
    if deleted == Deleted::Removed {
        publish(
            ctx,
            user,
            EventType::Normal,
            "Deleted",
            "deleted the remote user",
        )
        .await;
    }
    Ok(())
}

async fn release(ctx: &Context, user: &CustomerUser) -> Result<Action, Error> {
    remove_finalizer(ctx, user).await?;
    ctx.forget(&object_key(user));
    Ok(Action::await_change())
}

/// Another CustomerUser with the same email (any case) in the same remote customer, created earlier.
fn claimed_by_another(ctx: &Context, user: &CustomerUser, target: &Target) -> Option<String> {
    let email = email_key(&user.spec.email);
    let claim = |u: &CustomerUser| Claim {
        namespace: u.namespace().unwrap_or_default(),
        name: u.name_any(),
        created: u.metadata.creation_timestamp.clone(),
    };
    let others: Vec<Claim> = ctx
        .users
        .state()
        .iter()
        .filter(|other| email_key(&other.spec.email) == email)
        .filter(|other| {
            other.status.as_ref().is_some_and(|s| {
                s.customer_id.as_deref() == Some(target.customer_id.as_str())
                    && s.project_id.as_deref() == Some(target.credentials.project_id.as_str())
            })
        })
        .map(|other| claim(other))
        .collect();
    earlier_claim(&claim(user), &others).map(|owner| format!("{}/{}", owner.namespace, owner.name))
}
