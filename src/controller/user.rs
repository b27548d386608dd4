//! Reconciles a `CustomerUser`: observe (customer, credentials, claim, password, remote user) ->
//! decide (ownership, then fields) -> act (create, adopt, update; on deletion delete or release)
//! -> record.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::access;
use super::claim_check::settle_claim;
use super::cleanup::{Parted, finish_cleanup};
use super::condition::{Readiness, Reason};
use super::context::Context;
use super::credential_health::{FirstLook, note_first_look, record_credentials_valid};
use super::error::{Conflict, CustomerWait, Error, PasswordGap, RemoteObject};
use super::events::{Happened, publish};
use super::finalizer::{follow_secret, hold_secret_of};
use super::invitation;
use super::observe_only::{self, Policies};
use super::ownership::{
    CleanupStep, Found, Left, OwnershipStep, Record, Standing, cleanup_step, ownership_step,
    standing,
};
use super::pass::{self, FRESH, Reconciled};
use super::plan::{DesiredPassword, check_password_length, new_user, user_patch};
use super::status::commit_midway;
use super::user_rivals::rivals;
use super::user_target::{Target, target};
use crate::admin_api::{ApiError, Deleted, ErrorClass, User, UserPatch};
use crate::crd::{CustomerUser, CustomerUserStatus, DeletionPolicy, Ownership, OwnershipStatus};
use crate::observe::{UserMap, email_key};

impl Reconciled for CustomerUser {
    async fn sync(
        &self,
        ctx: &Context,
        status: &mut CustomerUserStatus,
    ) -> Result<Readiness, Error> {
        let mut look = None;
        let outcome = sync(self, ctx, status, &mut look).await;
        let generation = self.metadata.generation;
        record_credentials_valid::<Self, _>(status, look.as_ref(), &outcome, generation);
        outcome
    }

    async fn cleanup(&self, ctx: &Context) -> Result<Action, Error> {
        cleanup(self, ctx).await
    }
}

/// `look`: what the first look at the Admin API told of the credentials, once it is made.
async fn sync(
    user: &CustomerUser,
    ctx: &Context,
    status: &mut CustomerUserStatus,
    look: &mut Option<FirstLook>,
) -> Result<Readiness, Error> {
    // Observe: access, the customer and account, the claim, the password, then the remote user.
    let access = access::access_of(user)?;
    let spec = access.effective(&user.spec);
    let target = target(ctx, user).await?;
    status.customer_id = Some(target.customer_id.clone());
    status.project_id = Some(target.account.credentials.project_id.clone());
    let others = rivals(ctx, user, &target)?;
    let claim = claim_key(
        &target.account.credentials.project_id,
        &target.customer_id,
        user,
    );
    let wanted = RemoteObject::User {
        customer_id: target.customer_id.clone(),
    };
    let held_by = settle_claim(ctx, user, &claim, &others, status, wanted).await?;
    let mut password = desired_password(ctx, user, status).await?;
    let resync = pass::resync_request(user, status.sync.last_resync.as_deref());
    let first_look = observe(ctx, &target, resync.as_ref().map(|r| r.1)).await;
    *look = Some(note_first_look(ctx, &target.account, &first_look).await);
    let mut observed = first_look?;
    status.sync.last_resync = resync.map(|r| r.0).or(status.sync.last_resync.take());
    let email = email_key(&user.spec.email);
    if !observed.contains_key(&email) {
        observed = observe(ctx, &target, Some(FRESH)).await?;
    }
    let remote = observed.get(&email).cloned();
    // Let go of the snapshot: a create recorded into it while a pass still holds it copies it.
    drop(observed);
    if observe_only::observing(user.spec.management_policy, ctx.settings.dry_run) {
        let (owner, adopt) = (&status.sync.owner, ctx.settings.adopt_existing);
        let standing = observe_only::Holding::of(owner, adopt, held_by.as_deref());
        let id = &target.customer_id;
        let seen =
            observe_only::user_drift(&spec, id, remote.as_ref(), password.as_ref(), standing);
        let readiness = access.annotate(observe_only::observed_readiness("user", &seen));
        status.sync.drift = seen.drift;
        return Ok(readiness);
    }
    status.sync.drift.clear();

    // Decide, then act: create, then at most one update; or adopt, then at most one update.
    let record = Record::new(&status.sync.owner, status.user_id.as_deref());
    let step = ownership_step(&record, remote, identify, ctx.settings.adopt_existing);
    let current = match step {
        OwnershipStep::Refuse => return Err(adoption_refused(&target)),
        OwnershipStep::Create { again } => {
            if again {
                let note = "the remote user is gone; creating it again";
                publish(ctx, user, Happened::RemoteMissing, note).await;
            }
            match create(ctx, user, &target, status, password.as_mut()).await? {
                Made::Created(created) => created,
                Made::Found(found) => {
                    take_over(ctx, user, &target, status, &found).await?;
                    forget_applied(password.as_mut(), status);
                    found
                }
            }
        }
        OwnershipStep::Adopt(found) => {
            take_over(ctx, user, &target, status, &found).await?;
            // An adopted user's password is unknown: the Secret's, if any, is applied.
            forget_applied(password.as_mut(), status);
            found
        }
        OwnershipStep::Confirm(current) => {
            status.sync.owner.ownership = Some(Ownership::Created);
            let note = "created the remote user (found again after its create response was lost)";
            publish(ctx, user, Happened::Created, note).await;
            current
        }
        OwnershipStep::Keep(current) => current,
    };
    // The owned object's id is on record before the update, which may fail.
    status.user_id = Some(current.id.clone());
    follow_secret(ctx, user, &mut status.sync.owner, &target.account).await?;
    let remote = match user_patch(&spec, &current, password.as_ref()) {
        Some(patch) => {
            let (sets_password, disables) =
                (patch.password.is_some(), patch.enabled == Some(false));
            let updated = update(ctx, user, &target, current, patch).await?;
            access::announce_expiry(ctx, user, &access, disables).await;
            if let Some(password) = password.as_mut().filter(|_| sets_password) {
                password.applied = true;
                status.password_version = Some(password.version.clone());
            }
            updated
        }
        None => current,
    };

    // Record.
    status.user_id = Some(remote.id.clone());
    status.email_verified = Some(remote.email_verified);
    status.access_expired = access.expired;
    if password.is_none() {
        status.password_version = None;
    }
    let in_sync = access.annotate(Readiness::ready(format!(
        "user is in sync in customer {:?}",
        target.customer_id
    )));
    Ok(invitation::record_invitation(ctx, user, status, &remote, in_sync).await)
}

fn identify(user: &User) -> Found<'_> {
    Found {
        id: &user.id,
        created_at: user.created_at.as_deref().and_then(|t| t.parse().ok()),
    }
}

fn forget_applied(password: Option<&mut DesiredPassword>, status: &mut CustomerUserStatus) {
    if let Some(password) = password {
        password.applied = false;
    }
    status.password_version = None;
}

fn adoption_refused(target: &Target) -> Error {
    Conflict::AdoptionOff {
        object: RemoteObject::User {
            customer_id: target.customer_id.clone(),
        },
    }
    .into()
}

enum Made {
    Created(User),
    Found(User),
}

/// Records the intent (status) before the call; a 409 is resolved by a fresh look.
async fn create(
    ctx: &Context,
    user: &CustomerUser,
    target: &Target,
    status: &mut CustomerUserStatus,
    password: Option<&mut DesiredPassword>,
) -> Result<Made, Error> {
    let project = &target.account.credentials.project_id;
    let previous = (status.sync.owner.clone(), status.user_id.clone());
    status.sync.owner = target.account.owns(Ownership::Creating);
    hold_secret_of(ctx, user, &target.account).await?;
    let intent = Readiness::not_ready(Reason::Creating, "creating the remote user");
    commit_midway(ctx, user, status.clone(), &intent).await?;
    let body = new_user(&user.spec, password.as_deref());
    let result = ctx
        .admin
        .create_user(&target.account.credentials, &target.customer_id, &body)
        .await;
    match result {
        Ok(created) => {
            ctx.snapshots
                .record_user(project, &target.customer_id, created.clone());
            status.sync.owner.ownership = Some(Ownership::Created);
            if let Some(password) = password {
                password.applied = true;
                status.password_version = Some(password.version.clone());
            }
            publish(ctx, user, Happened::Created, "created the remote user").await;
            Ok(Made::Created(created))
        }
        Err(ApiError::Conflict { message }) => {
            let fresh = observe(ctx, target, Some(Duration::ZERO)).await?;
            let found = fresh
                .get(&email_key(&body.email))
                .cloned()
                .ok_or(Error::Api(ApiError::Conflict { message }))?;
            // The very user recorded before (it was never gone: the view was behind), or our
            // own earlier attempt whose response was lost.
            if standing(
                &Record::new(&previous.0, previous.1.as_deref()),
                Some(identify(&found)),
            ) == Standing::Own
            {
                status.sync.owner = previous.0;
                return Ok(Made::Created(found));
            }
            let record = Record::new(&status.sync.owner, None);
            if standing(&record, Some(identify(&found))) == Standing::Own {
                status.sync.owner.ownership = Some(Ownership::Created);
                let note = "created the remote user (an earlier attempt had been applied)";
                publish(ctx, user, Happened::Created, note).await;
                return Ok(Made::Created(found));
            }
            Ok(Made::Found(found))
        }
        Err(error) => {
            if error.class() == ErrorClass::Transient {
                ctx.snapshots.invalidate_users(project, &target.customer_id);
            }
            Err(write_error(error))
        }
    }
}

/// Adopts `found` when adoption is allowed, recording it (status and Event) before any write.
async fn take_over(
    ctx: &Context,
    user: &CustomerUser,
    target: &Target,
    status: &mut CustomerUserStatus,
    found: &User,
) -> Result<(), Error> {
    if !ctx.settings.adopt_existing {
        status.sync.owner = OwnershipStatus::default();
        return Err(adoption_refused(target));
    }
    status.sync.owner = target.account.owns(Ownership::Adopted);
    status.user_id = Some(found.id.clone());
    hold_secret_of(ctx, user, &target.account).await?;
    let note = match user.spec.deletion_policy {
        DeletionPolicy::Delete => {
            "adopted the existing remote user; deleting this resource will delete it (deletionPolicy Delete)"
        }
        DeletionPolicy::Disable => {
            "adopted the existing remote user; deleting this resource will disable it (deletionPolicy Disable)"
        }
        DeletionPolicy::Orphan => "adopted the existing remote user",
    };
    publish(ctx, user, Happened::Adopted, note).await;
    // The adoption is on record before the update that may follow.
    let adopted = Readiness::not_ready(Reason::Updating, "adopted the remote user");
    commit_midway(ctx, user, status.clone(), &adopted).await
}

async fn update(
    ctx: &Context,
    user: &CustomerUser,
    target: &Target,
    current: User,
    patch: UserPatch,
) -> Result<User, Error> {
    let project = &target.account.credentials.project_id;
    let result = ctx
        .admin
        .update_user(
            &target.account.credentials,
            &target.customer_id,
            &current.id,
            &patch,
        )
        .await;
    let server_view = match result {
        Ok(server_view) => server_view,
        Err(error) => {
            if matches!(error.class(), ErrorClass::Transient | ErrorClass::NotFound) {
                ctx.snapshots.invalidate_users(project, &target.customer_id);
            }
            return Err(write_error(error));
        }
    };
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
    let drift = user
        .status
        .as_ref()
        .and_then(|s| s.sync.observed_generation)
        == user.metadata.generation
        && patch.password.is_none();
    let (happened, note) = match (drift, patch.password.is_some()) {
        (true, _) => (
            Happened::DriftReverted,
            "reverted a change made outside Kubernetes to the remote user",
        ),
        (false, true) => (
            Happened::PasswordSet,
            "applied the password from the password Secret",
        ),
        (false, false) => (Happened::Updated, "updated the remote user to the spec"),
    };
    publish(ctx, user, happened, note).await;
    Ok(updated)
}

/// A 400 on a write that carried a password is most likely the password (its pattern is not
/// public): say so.
fn write_error(error: ApiError) -> Error {
    match error {
        ApiError::Invalid { ref message, .. }
            if message.to_ascii_lowercase().contains("password") =>
        {
            PasswordGap::Rejected(error).into()
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
    let (password, version) = ctx
        .secrets
        .password(&namespace, &reference.name, &reference.key)
        .await?;
    check_password_length(&password)?;
    let applied = status.password_version.as_deref() == Some(version.as_str());
    Ok(Some(DesiredPassword {
        password,
        version,
        applied,
    }))
}

async fn observe(
    ctx: &Context,
    target: &Target,
    max_age: Option<Duration>,
) -> Result<Arc<UserMap>, Error> {
    let credentials = &target.account.credentials;
    ctx.snapshots
        .users(&ctx.admin, credentials, &target.customer_id, max_age)
        .await
        .map_err(|error| match error {
            ApiError::NotFound { .. } => {
                ctx.snapshots.invalidate_customers(&credentials.project_id);
                CustomerWait::RemoteGone {
                    customer_id: target.customer_id.clone(),
                    source: error,
                }
                .into()
            }
            other => other.into(),
        })
}

async fn cleanup(user: &CustomerUser, ctx: &Context) -> Result<Action, Error> {
    let status = user.status.clone().unwrap_or_default();
    let parted = match cleanup_step(
        user.spec.deletion(ctx.settings.dry_run),
        status.sync.owner.ownership,
        None,
    ) {
        CleanupStep::Release(left) => Ok(Parted::Left(left)),
        CleanupStep::Look | CleanupStep::Delete => delete_remote(ctx, user, &status).await,
    };
    let claim = match (&status.project_id, &status.customer_id) {
        (Some(project), Some(customer)) => Some(claim_key(project, customer, user)),
        _ => None,
    };
    finish_cleanup(ctx, user, status, parted, "user", claim).await
}

/// Deletes the owned remote user, from what status recorded (customer, project, credentials):
/// the Customer resource may be gone already. Acts only on the same user as recorded.
async fn delete_remote(
    ctx: &Context,
    user: &CustomerUser,
    status: &CustomerUserStatus,
) -> Result<Parted, Error> {
    let namespace = user.namespace().unwrap_or_default();
    let recorded_id = status.user_id.as_deref().unwrap_or("(not yet known)");
    let Some(customer_id) = status.customer_id.clone() else {
        return Ok(Parted::Left(Left::OwnedNothing));
    };
    let secret = status.sync.owner.credentials_secret.as_deref();
    let account = match ctx.secrets.account_for_cleanup(&namespace, secret).await {
        Ok(account) => account,
        Err(Error::CredentialsNotFound(gap)) => {
            return Ok(Parted::Stranded(format!(
                "left remote user {recorded_id} of customer {customer_id:?} in place: {gap}"
            )));
        }
        Err(error) => return Err(error),
    };
    let project = account.credentials.project_id.clone();
    if status.project_id.as_deref() != Some(project.as_str()) {
        return Ok(Parted::Stranded(format!(
            "left remote user {recorded_id} of customer {customer_id:?} in place: the credentials now name another project"
        )));
    }
    let target = Target {
        account,
        customer_id,
    };
    let users = match observe(ctx, &target, Some(FRESH)).await {
        Ok(users) => users,
        // The customer, and so the user, is gone.
        Err(Error::CustomerNotReady(_)) => return Ok(Parted::Left(Left::AlreadyGone)),
        Err(error) => return Err(error),
    };
    let found = users.get(&email_key(&user.spec.email));
    let record = Record::new(&status.sync.owner, status.user_id.as_deref());
    let seen = standing(&record, found.map(identify));
    let user_id = match (
        cleanup_step(
            user.spec.deletion(ctx.settings.dry_run),
            status.sync.owner.ownership,
            Some(seen),
        ),
        found,
    ) {
        (CleanupStep::Delete, Some(found)) => found.id.clone(),
        (CleanupStep::Release(left), _) => return Ok(Parted::Left(left)),
        _ => return Ok(Parted::Left(Left::NotOurs)),
    };
    if let (DeletionPolicy::Disable, Some(found)) = (user.spec.deletion_policy, found) {
        return access::disable_remote(ctx, user, &target, found).await;
    }
    let deleted = ctx
        .admin
        .delete_user(&target.account.credentials, &target.customer_id, &user_id)
        .await?;
    ctx.snapshots
        .forget_user(&project, &target.customer_id, &user.spec.email);
    Ok(match deleted {
        Deleted::Removed => Parted::Deleted,
        Deleted::AlreadyGone => Parted::Left(Left::AlreadyGone),
    })
}

fn claim_key(project: &str, customer_id: &str, user: &CustomerUser) -> String {
    format!(
        "user/{project}/{customer_id}/{}",
        email_key(&user.spec.email)
    )
}
