//! Wiring: the periodic resync. Every resource is looked at once per resync period, without a
//! timer of its own: kube-runtime's scheduler keeps about 700 bytes for each scheduled pass (its
//! reference with uid and resourceVersion, its queue entry), which at 10,000 resources was 7 MiB
//! held only to say "again in five minutes".
//!
//! The period is cut into `SLOTS` ticks; a resource's slot is a fixed hash of its namespace and
//! name, so each is woken once per period, always at the same point of it, and the wakes are
//! spread evenly. A tick reads the cache and keeps nothing.

use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::{ObjectRef, Store};

use super::managed::Keyed;

/// Ticks per period.
const SLOTS: u32 = 300;

/// Wakes each resource of `store` once per `period` through `wake`, from one period after the
/// start (the start itself gives every resource a pass). Ends when `wake` is closed.
pub async fn sweep<K: Keyed>(
    store: Store<K>,
    wake: UnboundedSender<ObjectRef<K>>,
    period: Duration,
) {
    let tick = (period / SLOTS).max(Duration::from_millis(10));
    let mut at = tokio::time::Instant::now() + period;
    let mut slot = 0;
    loop {
        tokio::time::sleep_until(at).await;
        // The controller is gone (shutdown, or leadership lost): even an empty cache ends here.
        if wake.is_closed() {
            return;
        }
        for object in store.state() {
            let meta = object.meta();
            let namespace = meta.namespace.as_deref().unwrap_or_default();
            let name = meta.name.as_deref().unwrap_or_default();
            if slot_of(namespace, name) != slot {
                continue;
            }
            if wake
                .unbounded_send(ObjectRef::new(name).within(namespace))
                .is_err()
            {
                return;
            }
        }
        at += tick;
        slot = (slot + 1) % SLOTS;
    }
}

/// The tick of the period at which `namespace/name` is woken.
fn slot_of(namespace: &str, name: &str) -> u32 {
    u32::try_from(crate::hash_of(&(namespace, name)) % u64::from(SLOTS)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use super::*;
    use crate::controller::tests::object;
    use crate::crd::CustomerUser;

    #[tokio::test(start_paused = true)]
    async fn each_resource_is_woken_once_per_period_and_not_in_the_first() {
        let (store, mut writer) = reflector::store::<CustomerUser>();
        let spec = json!({ "customerRef": { "name": "c" }, "email": "a@example.com",
            "firstName": "A", "lastName": "B" });
        for name in ["ann", "bob", "cy"] {
            let user: CustomerUser = object("CustomerUser", name, spec.clone(), json!(null));
            writer.apply_watcher_event(&watcher::Event::Apply(user));
        }
        let (wake, mut woken) = futures::channel::mpsc::unbounded();
        let period = Duration::from_secs(30);
        tokio::spawn(sweep(store, wake, period));
        let started = tokio::time::Instant::now();
        let mut seen = Vec::new();
        while seen.len() < 6 {
            let reference = woken.next().await.expect("a wake");
            seen.push((reference.name, started.elapsed()));
        }
        for (name, at) in &seen {
            assert!(*at >= period, "{name} woken at {at:?}, in the first period");
        }
        for name in ["ann", "bob", "cy"] {
            let times: Vec<Duration> = seen.iter().filter(|s| s.0 == name).map(|s| s.1).collect();
            assert_eq!(times.len(), 2, "{name}: {times:?}");
            assert_eq!(
                times[1].checked_sub(times[0]),
                Some(period),
                "{name}: once per period"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_ends_with_its_controller_even_over_an_empty_cache() {
        let (store, _writer) = reflector::store::<CustomerUser>();
        let (wake, woken) = futures::channel::mpsc::unbounded();
        let sweeping = tokio::spawn(sweep(store, wake, Duration::from_secs(30)));
        drop(woken);
        tokio::time::timeout(Duration::from_secs(60), sweeping)
            .await
            .expect("ended within a period and a tick")
            .expect("no panic");
    }

    #[test]
    fn slots_are_fixed_and_spread() {
        assert_eq!(slot_of("tenant", "jane"), slot_of("tenant", "jane"));
        let mut counts = vec![0_u32; SLOTS as usize];
        for i in 0..30_000 {
            counts[slot_of("tenant", &format!("user-{i}")) as usize] += 1;
        }
        let (least, most) = (
            counts.iter().min().copied().unwrap_or_default(),
            counts.iter().max().copied().unwrap_or_default(),
        );
        assert!(
            least >= 50 && most <= 150,
            "{least}..{most} per slot, 100 expected"
        );
    }
}
