//! Reconciles a `Customer`: observe (credentials, claim, remote customer) -> decide (ownership,
//! then fields) -> act (create, adopt, update; on deletion wait, delete or release) -> record.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::ListParams;
use kube::runtime::controller::Action;

use super::claim_check::{claim_of, settle_claim};
use super::claims::{self, Claim};
use super::cleanup::{Parted, finish_cleanup};
use super::condition::{Readiness, Reason};
use super::context::Context;
use super::credential_health::{FirstLook, note_first_look, record_credentials_valid};
use super::error::{Conflict, Error, RemoteObject, Retry};
use super::events::{Happened, publish};
use super::finalizer::{follow_secret, hold_secret_of};
use super::managed::{Managed, object_key};
use super::observe_only::{self, Policies};
use super::ownership::{
    CleanupStep, Found, Left, OwnershipStep, Record, Standing, cleanup_step, ownership_step,
    standing,
};
use super::pass::{self, FRESH, Reconciled};
use super::plan::{customer_patch, new_customer};
use super::secret_reader::Account;
use super::status::{commit, commit_midway};
use crate::admin_api::{ApiError, Credentials, Customer as RemoteCustomer, CustomerPatch, Deleted};
use crate::crd::{Customer, CustomerStatus, Ownership, OwnershipStatus};
use crate::observe::CustomerMap;

impl Reconciled for Customer {
    async fn sync(&self, ctx: &Context, status: &mut CustomerStatus) -> Result<Readiness, Error> {
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
    customer: &Customer,
    ctx: &Context,
    status: &mut CustomerStatus,
    look: &mut Option<FirstLook>,
) -> Result<Readiness, Error> {
    let key = customer.customer_id();
    let namespace = customer.namespace().unwrap_or_default();
    // Observe: the account, the claim, then the remote customer (fresh before any create).
    let account = ctx
        .secrets
        .account(&namespace, customer.credentials_ref())
        .await?;
    let project = account.credentials.project_id.clone();
    status.project_id = Some(project.clone());
    let cached = ctx.customers.state();
    let others = rivals(cached.iter().map(AsRef::as_ref), customer, &project);
    let claim = claim_key(&project, &key);
    let wanted = RemoteObject::Customer {
        customer_id: key.clone(),
    };
    let held_by = settle_claim(ctx, customer, &claim, &others, status, wanted).await?;
    let resync = pass::resync_request(customer, status.sync.last_resync.as_deref());
    let first_look = observe(ctx, &account.credentials, resync.as_ref().map(|r| r.1)).await;
    *look = Some(note_first_look(ctx, &account, &first_look).await);
    let mut observed = first_look?;
    status.sync.last_resync = resync.map(|r| r.0).or(status.sync.last_resync.take());
    if !observed.contains_key(&key) {
        observed = observe(ctx, &account.credentials, Some(FRESH)).await?;
    }
    let remote = observed.get(&key).cloned();
    if observe_only::observing(customer.spec.management_policy, ctx.settings.dry_run) {
        let (owner, adopt) = (&status.sync.owner, ctx.settings.adopt_existing);
        let standing = observe_only::Holding::of(owner, adopt, held_by.as_deref());
        let seen = observe_only::customer_drift(&customer.spec, &key, remote.as_ref(), standing);
        let readiness = observe_only::observed_readiness("customer", &seen);
        status.sync.drift = seen.drift;
        return Ok(readiness);
    }
    status.sync.drift.clear();

    // Decide, then act: create, then at most one update; or adopt, then at most one update.
    let record = Record::new(&status.sync.owner, recorded_identity(status));
    let step = ownership_step(&record, remote, identify, ctx.settings.adopt_existing);
    let current = match step {
        OwnershipStep::Refuse => return Err(adoption_refused(&key)),
        OwnershipStep::Create { again } => {
            if again {
                let note = "the remote customer is gone; creating it again";
                publish(ctx, customer, Happened::RemoteMissing, note).await;
            }
            match create(ctx, customer, &account, status, &key).await? {
                Made::Created(created) => created,
                Made::Found(found) => {
                    take_over(ctx, customer, &account, status, &found).await?;
                    found
                }
            }
        }
        OwnershipStep::Adopt(found) => {
            take_over(ctx, customer, &account, status, &found).await?;
            found
        }
        OwnershipStep::Confirm(current) => {
            status.sync.owner.ownership = Some(Ownership::Created);
            let note =
                "created the remote customer (found again after its create response was lost)";
            publish(ctx, customer, Happened::Created, note).await;
            current
        }
        OwnershipStep::Keep(current) => current,
    };
    // The owned object's identity is on record before the update, which may fail.
    status.customer_id = Some(current.customer_id.clone());
    status.created_at.clone_from(&current.created_at);
    follow_secret(ctx, customer, &mut status.sync.owner, &account).await?;
    let remote = match customer_patch(&customer.spec, &current)? {
        Some(patch) => update(ctx, customer, &account.credentials, current, patch).await?,
        None => current,
    };

    // Record.
    status.customer_id = Some(remote.customer_id.clone());
    status.created_at.clone_from(&remote.created_at);
    Ok(Readiness::ready(format!(
        "customer {key:?} matches the spec"
    )))
}

/// What identifies a remote customer across a delete and re-create of the same key.
fn identify(customer: &RemoteCustomer) -> Found<'_> {
    Found {
        id: customer
            .created_at
            .as_deref()
            .unwrap_or(&customer.customer_id),
        created_at: customer.created_at.as_deref().and_then(|t| t.parse().ok()),
    }
}

fn recorded_identity(status: &CustomerStatus) -> Option<&str> {
    status
        .created_at
        .as_deref()
        .or(status.customer_id.as_deref())
}

fn adoption_refused(key: &str) -> Error {
    Conflict::AdoptionOff {
        object: RemoteObject::Customer {
            customer_id: key.to_string(),
        },
    }
    .into()
}

/// What a create call left: our new customer, or one that was already there.
enum Made {
    Created(RemoteCustomer),
    Found(RemoteCustomer),
}

/// Records the intent (status) before the call, so a crash after it still knows the object is its
/// own; a 409 is resolved by a fresh look.
async fn create(
    ctx: &Context,
    customer: &Customer,
    account: &Account,
    status: &mut CustomerStatus,
    key: &str,
) -> Result<Made, Error> {
    let project = &account.credentials.project_id;
    let previous = (status.sync.owner.clone(), status.created_at.clone());
    status.sync.owner = account.owns(Ownership::Creating);
    hold_secret_of(ctx, customer, account).await?;
    let intent = Readiness::not_ready(Reason::Creating, "creating the remote customer");
    commit_midway(ctx, customer, status.clone(), &intent).await?;
    let body = new_customer(&customer.spec, key);
    match ctx.admin.create_customer(&account.credentials, &body).await {
        Ok(created) => {
            ctx.snapshots.record_customer(project, created.clone());
            status.sync.owner.ownership = Some(Ownership::Created);
            publish(
                ctx,
                customer,
                Happened::Created,
                "created the remote customer",
            )
            .await;
            Ok(Made::Created(created))
        }
        Err(ApiError::Conflict { message }) => {
            let fresh = observe(ctx, &account.credentials, Some(Duration::ZERO)).await?;
            let found = fresh
                .get(key)
                .cloned()
                .ok_or(Error::Api(ApiError::Conflict { message }))?;
            // The very customer recorded before (the view was behind), or our own earlier attempt
            // whose response was lost.
            let before = Record::new(&previous.0, previous.1.as_deref());
            if previous.1.is_some() && standing(&before, Some(identify(&found))) == Standing::Own {
                status.sync.owner = previous.0;
                return Ok(Made::Created(found));
            }
            let record = Record::new(&status.sync.owner, None);
            if standing(&record, Some(identify(&found))) == Standing::Own {
                // An earlier attempt of ours was applied but its response was lost.
                status.sync.owner.ownership = Some(Ownership::Created);
                let note = "created the remote customer (an earlier attempt had been applied)";
                publish(ctx, customer, Happened::Created, note).await;
                return Ok(Made::Created(found));
            }
            Ok(Made::Found(found))
        }
        Err(error) => {
            if error.class() == crate::admin_api::ErrorClass::Transient {
                // The create may have been applied: observe afresh before trying again. The
                // intent stays recorded, so what the next look finds is known to be ours.
                ctx.snapshots.invalidate_customers(project);
            }
            Err(error.into())
        }
    }
}

/// Adopts `found` when adoption is allowed and its fixed fields agree with the spec; the
/// adoption is recorded (status, Event) before any write to it. Otherwise nothing is owned.
async fn take_over(
    ctx: &Context,
    customer: &Customer,
    account: &Account,
    status: &mut CustomerStatus,
    found: &RemoteCustomer,
) -> Result<(), Error> {
    let patch = match customer_patch(&customer.spec, found) {
        Ok(patch) if ctx.settings.adopt_existing => patch,
        Ok(_) => {
            status.sync.owner = OwnershipStatus::default();
            return Err(adoption_refused(&found.customer_id));
        }
        Err(error) => {
            status.sync.owner = OwnershipStatus::default();
            return Err(error.into());
        }
    };
    status.sync.owner = account.owns(Ownership::Adopted);
    status.customer_id = Some(found.customer_id.clone());
    status.created_at.clone_from(&found.created_at);
    hold_secret_of(ctx, customer, account).await?;
    let note = match customer.spec.deletion_policy {
        crate::crd::DeletionPolicy::Delete => {
            "adopted the existing remote customer; deleting this resource will delete it (deletionPolicy Delete)"
        }
        crate::crd::DeletionPolicy::Orphan | crate::crd::DeletionPolicy::Disable => {
            "adopted the existing remote customer"
        }
    };
    publish(ctx, customer, Happened::Adopted, note).await;
    if patch.is_some() {
        // The adoption is on record before the update that follows.
        let adopted =
            Readiness::not_ready(Reason::Updating, "adopted; updating the remote customer");
        commit_midway(ctx, customer, status.clone(), &adopted).await?;
    }
    Ok(())
}

async fn update(
    ctx: &Context,
    customer: &Customer,
    credentials: &Credentials,
    current: RemoteCustomer,
    patch: CustomerPatch,
) -> Result<RemoteCustomer, Error> {
    let project = &credentials.project_id;
    let result = ctx
        .admin
        .update_customer(credentials, &current.customer_id, &patch)
        .await;
    let server_view = match result {
        Ok(server_view) => server_view,
        Err(error) => {
            if error.class() != crate::admin_api::ErrorClass::Invalid {
                ctx.snapshots.invalidate_customers(project);
            }
            return Err(error.into());
        }
    };
    let updated = server_view.unwrap_or_else(|| RemoteCustomer {
        display_name: patch
            .display_name
            .clone()
            .unwrap_or(current.display_name.clone()),
        is_nfr: patch.is_nfr.unwrap_or(current.is_nfr),
        ..current
    });
    ctx.snapshots.record_customer(project, updated.clone());
    let drift = customer
        .status
        .as_ref()
        .and_then(|s| s.sync.observed_generation)
        == customer.metadata.generation;
    let (happened, note) = if drift {
        (
            Happened::DriftReverted,
            "reverted a change made outside Kubernetes to the remote customer",
        )
    } else {
        (Happened::Updated, "updated the remote customer to the spec")
    };
    publish(ctx, customer, happened, note).await;
    Ok(updated)
}

async fn cleanup(customer: &Customer, ctx: &Context) -> Result<Action, Error> {
    let status = customer.status.clone().unwrap_or_default();
    let ownership = status.sync.owner.ownership;
    if ownership.is_some() {
        let users = users_left(ctx, customer).await?;
        if users > 0 {
            let waiting = Readiness::not_ready(
                Reason::Deleting,
                format!("waiting for {users} CustomerUser(s) of this customer to be deleted first"),
            );
            commit(ctx, customer, status, &waiting).await?;
            return Ok(ctx.next_action(&object_key(customer), Some(Retry::Waiting)));
        }
    }
    let parted = match cleanup_step(
        customer.spec.deletion(ctx.settings.dry_run),
        ownership,
        None,
    ) {
        CleanupStep::Release(left) => Ok(Parted::Left(left)),
        CleanupStep::Look | CleanupStep::Delete => delete_remote(ctx, customer, &status).await,
    };
    let claim = status
        .project_id
        .as_deref()
        .map(|project| claim_key(project, &customer.customer_id()));
    finish_cleanup(ctx, customer, status, parted, "customer", claim).await
}

/// Deletes the owned remote customer, acting only on what is proven: the recorded credentials
/// and project, no other resource holding the key (live read), and the same object as recorded.
async fn delete_remote(
    ctx: &Context,
    customer: &Customer,
    status: &CustomerStatus,
) -> Result<Parted, Error> {
    let namespace = customer.namespace().unwrap_or_default();
    let key = status
        .customer_id
        .clone()
        .unwrap_or_else(|| customer.customer_id());
    let secret = status.sync.owner.credentials_secret.as_deref();
    let account = match ctx.secrets.account_for_cleanup(&namespace, secret).await {
        Ok(account) => account,
        Err(Error::CredentialsNotFound(gap)) => {
            return Ok(Parted::Stranded(format!(
                "left remote customer {key:?} in place: {gap}"
            )));
        }
        Err(error) => return Err(error),
    };
    let project = account.credentials.project_id.clone();
    if status.project_id.as_deref() != Some(project.as_str()) {
        return Ok(Parted::Stranded(format!(
            "left remote customer {key:?} in place: the credentials now name another project than the one it was made in"
        )));
    }
    if another_owner_live(ctx, customer, &project).await? {
        return Ok(Parted::Left(Left::NotOurs));
    }
    let observed = observe(ctx, &account.credentials, Some(FRESH)).await?;
    let record = Record::new(&status.sync.owner, recorded_identity(status));
    let seen = standing(&record, observed.get(&key).map(identify));
    match cleanup_step(
        customer.spec.deletion(ctx.settings.dry_run),
        status.sync.owner.ownership,
        Some(seen),
    ) {
        CleanupStep::Delete => {}
        CleanupStep::Release(left) => return Ok(Parted::Left(left)),
        CleanupStep::Look => return Ok(Parted::Left(Left::NotOurs)),
    }
    let deleted = ctx
        .admin
        .delete_customer(&account.credentials, &key)
        .await?;
    ctx.snapshots.forget_customer(&project, &key);
    Ok(match deleted {
        Deleted::Removed => Parted::Deleted,
        Deleted::AlreadyGone => Parted::Left(Left::AlreadyGone),
    })
}

/// CustomerUsers that name this Customer: the cache first; "none left" is confirmed with a live
/// list, since deleting on the strength of an empty cache is how whole customers were lost.
async fn users_left(ctx: &Context, customer: &Customer) -> Result<usize, Error> {
    let (namespace, name) = (
        customer.namespace().unwrap_or_default(),
        customer.name_any(),
    );
    let names_this = |user: &crate::crd::CustomerUser| {
        user.spec
            .customer_ref
            .as_ref()
            .is_some_and(|r| r.name == name)
    };
    let cached = ctx
        .user_index
        .of_customer(&kube::runtime::reflector::ObjectRef::from_obj(customer))
        .iter()
        .filter(|reference| ctx.users.get(reference).is_some())
        .count();
    if cached > 0 {
        return Ok(cached);
    }
    let live = kube::Api::<crate::crd::CustomerUser>::namespaced(ctx.kube.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .map_err(Error::Kube)?;
    Ok(live.items.iter().filter(|user| names_this(user)).count())
}

pub fn claim_key(project: &str, customer_id: &str) -> String {
    format!("customer/{project}/{customer_id}")
}

/// Other Customers that claim the same key in `project`.
fn rivals<'a>(
    customers: impl IntoIterator<Item = &'a Customer>,
    customer: &Customer,
    project: &str,
) -> Vec<Claim> {
    let key = customer.customer_id();
    customers
        .into_iter()
        .filter(|other| other.customer_id() == key)
        .filter(|other| {
            other.status.as_ref().and_then(|s| s.project_id.as_deref()) == Some(project)
        })
        .map(claim_of)
        .collect()
}

/// Whether another Customer, as the API server shows it now, outranks this one on the key.
async fn another_owner_live(
    ctx: &Context,
    customer: &Customer,
    project: &str,
) -> Result<bool, Error> {
    let live = ctx
        .customers_api()
        .list(&ListParams::default())
        .await
        .map_err(Error::Kube)?;
    let others = rivals(live.items.iter(), customer, project);
    Ok(claims::earlier_claim(&claim_of(customer), &others).is_some())
}

async fn observe(
    ctx: &Context,
    credentials: &Credentials,
    max_age: Option<Duration>,
) -> Result<Arc<CustomerMap>, Error> {
    ctx.snapshots
        .customers(&ctx.admin, credentials, max_age)
        .await
        .map_err(|error| match error {
            ApiError::NotFound { .. } => Error::ProjectNotFound {
                project_id: credentials.project_id.clone(),
                source: error,
            },
            other => other.into(),
        })
}
