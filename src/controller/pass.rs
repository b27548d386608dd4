//! The flow of one pass, shared by both kinds: which path it takes (pause, finalizer, apply,
//! cleanup), and how it ends (the outcome becomes `Ready`, the next look is scheduled).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;
use tokio::time::Instant;

use super::condition::{Readiness, Reason, Status, find_ready};
use super::context::Context;
use super::error::Error;
use super::finalizer::{add_finalizer, has_finalizer, release_secret};
use super::managed::{Managed, object_key};
use super::own_writes;
use super::resync;
use super::status::commit;
use crate::crd::{PAUSED_ANNOTATION, RESYNC_ANNOTATION};

/// Before a create (or a delete), an observation at most this old (else a fresh list).
pub const FRESH: Duration = Duration::from_secs(10);

/// What a kind brings to the shared flow of a pass.
pub trait Reconciled: Managed {
    /// Observe, decide and act on the spec; what it learns goes into `status`.
    fn sync(
        &self,
        ctx: &Context,
        status: &mut Self::Status,
    ) -> impl Future<Output = Result<Readiness, Error>> + Send;
    /// A deleted resource: wait, delete or leave the remote object, then release.
    fn cleanup(&self, ctx: &Context) -> impl Future<Output = Result<Action, Error>> + Send;
}

/// One pass over `object`, once both caches hold their first list (until then, it comes back).
pub async fn reconcile<K: Reconciled>(object: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !ctx.caches_synced() {
        return Ok(Action::requeue(CACHE_SYNC_RETRY));
    }
    let resource_version = object.meta().resource_version.as_deref();
    if ctx
        .own_writes
        .cache_behind(&object_key(object.as_ref()), resource_version)
    {
        return Ok(Action::requeue(own_writes::LAG_RETRY));
    }
    let started = Instant::now();
    let _in_flight = ctx.metrics.pass_started(K::KIND);
    let object = object.as_ref();
    let result = match path_of(object) {
        Path::Pause => pause(&ctx, object).await,
        // The finalizer first, then on in the same pass: its write is no change of its own.
        Path::AddFinalizer => match add_finalizer(&ctx, object).await {
            Ok(true) => apply(object, &ctx).await,
            Ok(false) => Ok(Action::await_change()),
            Err(error) => Err(error),
        },
        Path::Apply => apply(object, &ctx).await,
        Path::Cleanup => object.cleanup(&ctx).await,
        Path::Nothing => Ok(Action::await_change()),
    };
    ctx.metrics.reconciled(K::KIND, started.elapsed());
    result
}

/// Syncs, records the outcome, then lets go of a credentials Secret the resource no longer uses.
async fn apply<K: Reconciled>(object: &K, ctx: &Context) -> Result<Action, Error> {
    let mut status = object.current_status().cloned().unwrap_or_default();
    let held_before = K::sync_status(&status).owner.credentials_secret.clone();
    let outcome = object.sync(ctx, &mut status).await;
    let held_now = K::sync_status(&status).owner.credentials_secret.clone();
    let action = finish(ctx, object, status, outcome).await?;
    if let Some(previous) = held_before.filter(|p| Some(p) != held_now.as_ref()) {
        let namespace = object.namespace().unwrap_or_default();
        release_secret(ctx, &namespace, &previous, object.uid().as_deref()).await?;
    }
    Ok(action)
}

/// How soon a pass that found the caches not yet synced looks again.
const CACHE_SYNC_RETRY: Duration = Duration::from_millis(250);

/// The path a pass takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Paused: no remote call, not even a pending deletion's; `Ready` says so.
    Pause,
    /// First pass: put the finalizer in place, then apply.
    AddFinalizer,
    Apply,
    Cleanup,
    /// Being deleted and already released.
    Nothing,
}

pub fn path(paused: bool, deleting: bool, has_finalizer: bool) -> Path {
    match (paused, deleting, has_finalizer) {
        (_, true, false) => Path::Nothing,
        (true, _, _) => Path::Pause,
        (false, true, true) => Path::Cleanup,
        (false, false, false) => Path::AddFinalizer,
        (false, false, true) => Path::Apply,
    }
}

pub fn path_of<K: Managed>(object: &K) -> Path {
    let paused = object
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(PAUSED_ANNOTATION))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    path(
        paused,
        object.meta().deletion_timestamp.is_some(),
        has_finalizer(object),
    )
}

/// A new `admin.corti.app/resync` request (its value), and how old an observation may be to
/// serve it (see `resync.rs`).
pub fn resync_request<K: Managed>(object: &K, last: Option<&str>) -> Option<(String, Duration)> {
    let annotations = object.meta().annotations.as_ref();
    let value = resync::requested(annotations.and_then(|a| a.get(RESYNC_ANNOTATION)), last)?;
    let at = resync::requested_at(object.meta().managed_fields.as_deref().unwrap_or_default());
    Some((
        value,
        resync::max_age(at, k8s_openapi::jiff::Timestamp::now()),
    ))
}

/// A paused resource keeps its `Ready` status; its reason says it is paused. No remote calls.
pub async fn pause<K: Managed>(ctx: &Context, object: &K) -> Result<Action, Error> {
    let status = object.current_status().cloned().unwrap_or_default();
    let previous = find_ready(&K::sync_status(&status).conditions).map(|c| c.status.clone());
    let readiness = Readiness {
        status: match previous.as_deref() {
            Some("True") => Status::True,
            Some("False") => Status::False,
            _ => Status::Unknown,
        },
        reason: Reason::Paused,
        message: format!("reconciliation is paused by the {PAUSED_ANNOTATION} annotation"),
        wake_in: None,
    };
    commit(ctx, object, status, &readiness).await?;
    ctx.forget(&object_key(object));
    Ok(Action::await_change())
}

/// Ends a pass: the outcome becomes the `Ready` condition, and the next look is scheduled.
pub async fn finish<K: Managed>(
    ctx: &Context,
    object: &K,
    status: K::Status,
    outcome: Result<Readiness, Error>,
) -> Result<Action, Error> {
    let key = object_key(object);
    let wake_in = outcome.as_ref().ok().and_then(|r| r.wake_in);
    let (readiness, retry) = match outcome {
        Ok(readiness) => (readiness, None),
        Err(Error::Kube(error)) => return Err(Error::Kube(error)),
        // Leadership is in doubt: this replica writes nothing at all, status included.
        Err(Error::Api(crate::admin_api::ApiError::Fenced)) => {
            return Ok(Action::requeue(Duration::from_secs(5)));
        }
        Err(error) => {
            tracing::info!(object = %key, reason = error.reason().as_str(), error = %error.chain(), "not ready");
            ctx.metrics
                .reconcile_error(K::KIND, error.reason().as_str());
            (
                Readiness::not_ready(error.reason(), error.chain()),
                Some(error.retry()),
            )
        }
    };
    commit(ctx, object, status, &readiness).await?;
    Ok(match wake_in {
        Some(wake) if retry.is_none() => ctx.next_action_within(&key, wake),
        _ => ctx.next_action(&key, retry),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_takes_one_path() {
        assert_eq!(path(false, false, false), Path::AddFinalizer);
        assert_eq!(path(false, false, true), Path::Apply);
        assert_eq!(path(false, true, true), Path::Cleanup);
        assert_eq!(path(false, true, false), Path::Nothing);
        assert_eq!(
            path(true, true, true),
            Path::Pause,
            "paused while deleting: the deletion waits, no remote call"
        );
        assert_eq!(path(true, false, false), Path::Pause);
        assert_eq!(path(true, true, false), Path::Nothing);
    }
}
