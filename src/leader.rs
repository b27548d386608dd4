//! Leader election on a `coordination.k8s.io` Lease, so two replicas never both write. Every claim
//! and renewal is a replace guarded by the Lease's resourceVersion: of two racing replicas, one
//! write fails with 409 and that replica stays a follower.

use std::time::Duration;

use crate::admin_api::LeaseFence;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
    /// How often the holder renews (well inside `duration`).
    pub renew_every: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("leadership lost: the lease is now held by {0:?}")]
    Lost(Option<String>),
    #[error("leadership lost: the lease could not be renewed in time")]
    RenewTimedOut,
}

/// What to do with the Lease as it stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours already, or free, or expired: write our claim.
    Take { transition: bool },
    /// Someone else's and live.
    Wait,
}

/// Pure: may `identity` claim `lease` at `now`?
pub fn decide(lease: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Claim {
    let Some(spec) = lease else {
        return Claim::Take { transition: true };
    };
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    if holder == Some(identity) {
        return Claim::Take { transition: false };
    }
    let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(MicroTime(renewed)), Some(seconds)) => renewed
            .checked_add(jiff_seconds(i64::from(seconds)))
            .map_or(true, |until| until < now),
        _ => true,
    };
    if holder.is_none() || expired {
        Claim::Take { transition: true }
    } else {
        Claim::Wait
    }
}

fn jiff_seconds(seconds: i64) -> k8s_openapi::jiff::SignedDuration {
    k8s_openapi::jiff::SignedDuration::from_secs(seconds)
}

/// How long after a renewal began this replica may still act: the lease's duration, less one
/// renewal period, so the fence closes before any other replica can take the lease.
fn fence_until(config: &LeaseConfig, began: tokio::time::Instant) -> tokio::time::Instant {
    began + config.duration.saturating_sub(config.renew_every)
}

/// Blocks until this replica holds the lease; `fence` then opens.
pub async fn acquire(client: &kube::Client, config: &LeaseConfig, fence: &LeaseFence) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    loop {
        let began = tokio::time::Instant::now();
        match bounded_claim(&api, config).await {
            Ok(true) => {
                fence.extend(fence_until(config, began));
                tracing::info!(lease = %config.name, identity = %config.identity, "became leader");
                return;
            }
            Ok(false) => {}
            Err(error) => tracing::debug!(%error, "lease claim failed; retrying"),
        }
        tokio::time::sleep(config.renew_every).await;
    }
}

/// Renews the lease until it is lost (returns the reason) or the future is dropped. Each renewal
/// keeps `fence` open a little longer; a failed one closes it at once, so no Admin API call is made
/// while leadership is in doubt; no renewal for `duration - renew_every` (the renew deadline,
/// measured on the monotonic clock) ends the leadership.
pub async fn hold(client: &kube::Client, config: &LeaseConfig, fence: &LeaseFence) -> LeaderError {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    let renew_deadline = config.duration.saturating_sub(config.renew_every);
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(config.renew_every).await;
        let began = tokio::time::Instant::now();
        match bounded_claim(&api, config).await {
            Ok(true) => {
                last_renewal = began;
                fence.extend(fence_until(config, began));
            }
            Ok(false) => {
                fence.close();
                let holder = api
                    .get_opt(&config.name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|l| l.spec?.holder_identity);
                return LeaderError::Lost(holder);
            }
            Err(error) => {
                fence.close();
                tracing::warn!(%error, "lease renewal failed; no Admin API call until it succeeds");
                if last_renewal.elapsed() >= renew_deadline {
                    return LeaderError::RenewTimedOut;
                }
            }
        }
    }
}

/// One claim or renewal, given at most one renewal period: a hung API server cannot stretch it.
async fn bounded_claim(api: &Api<Lease>, config: &LeaseConfig) -> Result<bool, kube::Error> {
    match tokio::time::timeout(config.renew_every, try_claim(api, config)).await {
        Ok(result) => result,
        Err(_) => Err(kube::Error::Service(
            "the Lease call did not answer within one renewal period".into(),
        )),
    }
}

/// Gives the lease up on shutdown so a successor need not wait for it to expire.
pub async fn release(client: &kube::Client, config: &LeaseConfig) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    if let Ok(Some(mut lease)) = api.get_opt(&config.name).await
        && let Some(spec) = lease.spec.as_mut()
        && spec.holder_identity.as_deref() == Some(config.identity.as_str())
    {
        spec.holder_identity = None;
        let _ = api
            .replace(&config.name, &PostParams::default(), &lease)
            .await;
    }
}

/// One claim attempt: `Ok(true)` when the lease is now ours.
async fn try_claim(api: &Api<Lease>, config: &LeaseConfig) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let existing = api.get_opt(&config.name).await?;
    let Claim::Take { transition } = decide(
        existing.as_ref().and_then(|l| l.spec.as_ref()),
        &config.identity,
        now,
    ) else {
        return Ok(false);
    };
    let previous = existing
        .as_ref()
        .and_then(|l| l.spec.clone())
        .unwrap_or_default();
    let spec = LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(i32::try_from(config.duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: if transition {
            Some(MicroTime(now))
        } else {
            previous.acquire_time
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(
            previous.lease_transitions.unwrap_or(0) + i32::from(transition && existing.is_some()),
        ),
        ..LeaseSpec::default()
    };
    let result = match existing {
        // resourceVersion rides along in metadata: a concurrent writer makes this a 409.
        Some(mut lease) => {
            lease.spec = Some(spec);
            api.replace(&config.name, &PostParams::default(), &lease)
                .await
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            };
            api.create(&PostParams::default(), &lease).await
        }
    };
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, renewed: i64, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(seconds),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn claims_only_free_expired_or_own_leases() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(decide(None, "me", now), Claim::Take { transition: true });
        assert_eq!(
            decide(Some(&spec(Some("me"), 995, 15)), "me", now),
            Claim::Take { transition: false }
        );
        assert_eq!(
            decide(Some(&spec(Some("other"), 995, 15)), "me", now),
            Claim::Wait
        );
        assert_eq!(
            decide(Some(&spec(Some("other"), 980, 15)), "me", now),
            Claim::Take { transition: true }
        );
        assert_eq!(
            decide(Some(&spec(None, 999, 15)), "me", now),
            Claim::Take { transition: true }
        );
    }
}
