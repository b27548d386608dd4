//! Record: Events on a resource, for what a pass did remotely and for changes of `Ready`. Their
//! reasons form a closed set, like the condition's. Notes name resources and remote ids, never
//! an email.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

use super::condition::{Readiness, Reason, Status};
use super::context::Context;
use super::managed::{Managed, object_key};

/// How long a repeat of the same Event counts up its series instead of making a new one (what
/// kube-runtime's recorder uses).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Writes Events as `events.k8s.io/v1`. It remembers only the last Event of each resource, to
/// count a repeat into its series: kube-runtime's recorder keeps every Event of the last six
/// minutes and sweeps them all on each publish, which at 10,000 resources cost tens of MiB and a
/// sweep of tens of thousands of entries per Event.
pub struct EventWriter {
    kube: kube::Client,
    controller: String,
    instance: String,
    last: Mutex<LastEvents>,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter")
            .field("controller", &self.controller)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// No string is kept: the Event's name is the resource's name and `stamp`.
#[derive(Debug)]
struct LastEvent {
    stamp: u64,
    fingerprint: u64,
    count: i32,
    at: Instant,
}

impl EventWriter {
    pub fn new(kube: kube::Client, controller: &str, instance: &str) -> Self {
        Self {
            kube,
            controller: controller.into(),
            instance: instance.into(),
            last: Mutex::default(),
        }
    }

    async fn write<K: Managed>(
        &self,
        object: &K,
        kind: EventType,
        reason: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        let namespace = object.namespace().unwrap_or_default();
        let events: Api<Event> = Api::namespaced(self.kube.clone(), &namespace);
        let key = resource_key(object);
        let fingerprint = fingerprint(kind, reason, note);
        let now = MicroTime(jiff::Timestamp::now());
        if let Some((stamp, count)) = self.repeat(key, fingerprint) {
            let name = event_name(object, stamp);
            let series = serde_json::json!({ "series": EventSeries { count, last_observed_time: now.clone() } });
            match events
                .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                other => return other.map(|_| ()),
            }
        }
        // Unique per resource and moment; u64 nanoseconds last until the year 2554.
        let stamp = u64::try_from(now.0.as_nanosecond()).unwrap_or_default();
        let name = event_name(object, stamp);
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            action: Some("Reconcile".into()),
            reason: Some(reason.into()),
            note: Some(note.into()),
            type_: Some(kind.as_str().into()),
            regarding: Some(object.object_ref(&())),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            event_time: Some(now),
            ..Event::default()
        };
        events.create(&PostParams::default(), &event).await?;
        self.remember(key, stamp, fingerprint);
        Ok(())
    }

    fn repeat(&self, key: u64, fingerprint: u64) -> Option<(u64, i32)> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.repeat(key, fingerprint, Instant::now())
    }

    fn remember(&self, key: u64, stamp: u64, fingerprint: u64) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.remember(key, stamp, fingerprint, Instant::now());
    }
}

fn event_name<K: Managed>(object: &K, stamp: u64) -> String {
    format!("{}.{stamp:x}", object.name_any())
}

/// A resource, by a hash of its uid (of its key, before it has one). Two resources whose hashes
/// collide would at worst count one's Event into the other's series.
fn resource_key<K: Managed>(object: &K) -> u64 {
    match object.meta().uid.as_deref() {
        Some(uid) => crate::hash_of(uid),
        None => crate::hash_of(&object_key(object)),
    }
}

/// The last Event of each resource.
#[derive(Debug, Default)]
struct LastEvents(HashMap<u64, LastEvent>);

impl LastEvents {
    /// The stamp and next count of the resource's last Event, when this one repeats it in time.
    fn repeat(&mut self, key: u64, fingerprint: u64, now: Instant) -> Option<(u64, i32)> {
        let entry = self.0.get_mut(&key)?;
        if entry.fingerprint != fingerprint || now.duration_since(entry.at) > SERIES_WINDOW {
            return None;
        }
        entry.count += 1;
        entry.at = now;
        Some((entry.stamp, entry.count))
    }

    fn remember(&mut self, key: u64, stamp: u64, fingerprint: u64, now: Instant) {
        let last = &mut self.0;
        last.insert(
            key,
            LastEvent {
                stamp,
                fingerprint,
                count: 1,
                at: now,
            },
        );
        // Forget what can no longer be repeated, now and then (amortised: at each power of two).
        if last.len().is_power_of_two() && last.len() >= 1024 {
            last.retain(|_, entry| now.duration_since(entry.at) <= SERIES_WINDOW);
        }
    }
}

fn fingerprint(kind: EventType, reason: &str, note: &str) -> u64 {
    crate::hash_of(&(kind.as_str(), reason, note))
}

/// What a pass did, or decided not to do, to a remote object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happened {
    Created,
    Adopted,
    Updated,
    DriftReverted,
    PasswordSet,
    /// The owned remote object was gone; it is made again.
    RemoteMissing,
    Deleted,
    /// Deleted with `deletionPolicy: Orphan`, or owning nothing: released, nothing remote touched.
    Orphaned,
    /// Deleted, but the remote object was left in place for a reason a person should know.
    LeftInPlace,
    /// `accessExpiresAt` passed: the remote user was disabled.
    AccessExpired,
    /// Deleted with `deletionPolicy: Disable`: the remote user is disabled and kept.
    Disabled,
    /// A created user has not verified their email within the invitation window.
    InvitationExpired,
    /// Another resource holds the claim this one had recorded: it gives up its ownership.
    ClaimLost,
}

impl Happened {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Adopted => "Adopted",
            Self::Updated => "Updated",
            Self::DriftReverted => "DriftReverted",
            Self::PasswordSet => "PasswordSet",
            Self::RemoteMissing => "RemoteMissing",
            Self::Deleted => "Deleted",
            Self::Orphaned => "Orphaned",
            Self::LeftInPlace => "LeftInPlace",
            Self::ClaimLost => "ClaimLost",
            Self::AccessExpired => "AccessExpired",
            Self::Disabled => "Disabled",
            Self::InvitationExpired => "InvitationExpired",
        }
    }

    fn event_type(self) -> EventType {
        match self {
            Self::RemoteMissing | Self::LeftInPlace | Self::ClaimLost | Self::InvitationExpired => {
                EventType::Warning
            }
            _ => EventType::Normal,
        }
    }
}

/// An Event for what a pass did.
pub async fn publish<K: Managed>(ctx: &Context, object: &K, happened: Happened, note: &str) {
    send(ctx, object, happened.event_type(), happened.as_str(), note).await;
}

/// An Event for a change of what `Ready` says.
pub async fn publish_transition<K: Managed>(ctx: &Context, object: &K, readiness: &Readiness) {
    let kind = match readiness.status {
        Status::True => EventType::Normal,
        _ if readiness.reason.needs_attention()
            || readiness.reason == Reason::RemoteUnavailable =>
        {
            EventType::Warning
        }
        _ => EventType::Normal,
    };
    send(
        ctx,
        object,
        kind,
        readiness.reason.as_str(),
        &readiness.message,
    )
    .await;
}

/// A failure to record an Event is logged, never fatal.
async fn send<K: Managed>(ctx: &Context, object: &K, kind: EventType, reason: &str, note: &str) {
    if let Err(error) = ctx.events.write(object, kind, reason, note).await {
        tracing::warn!(object = %object_key(object), %error, "cannot record an Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_counts_into_the_series_of_the_same_event_only_while_it_is_recent() {
        let mut last = LastEvents::default();
        let start = Instant::now();
        let warning = fingerprint(EventType::Warning, "RemoteUnavailable", "down");
        last.remember(1, 11, warning, start);
        assert_eq!(last.repeat(1, warning, start), Some((11, 2)));
        assert_eq!(last.repeat(1, warning, start), Some((11, 3)));
        // Another note, another resource, or too late: a new Event.
        let other = fingerprint(EventType::Warning, "RemoteUnavailable", "still down");
        assert_eq!(last.repeat(1, other, start), None);
        assert_eq!(last.repeat(2, warning, start), None);
        let later = start + SERIES_WINDOW + Duration::from_secs(1);
        assert_eq!(last.repeat(1, warning, later), None);
    }

    #[test]
    fn old_entries_are_forgotten_so_memory_stays_bounded_by_recent_activity() {
        let mut last = LastEvents::default();
        let start = Instant::now();
        for i in 0..1023 {
            last.remember(i, i, 1, start);
        }
        let later = start + SERIES_WINDOW + Duration::from_secs(1);
        last.remember(5000, 5000, 1, later);
        assert_eq!(last.0.len(), 1, "only the recent entry is kept");
    }
}
