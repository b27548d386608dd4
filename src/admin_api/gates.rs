//! Admin API client: the gates a call passes before it is sent. An account told to wait
//! (`Retry-After`) makes no call until the time is up, whichever resource asks; and a replica whose
//! lease may have lapsed (it was frozen, or cut off) makes no call at all until it renews.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// `Retry-After` per account: every call of that account waits it out.
#[derive(Debug, Default)]
pub(crate) struct AccountPauses {
    until: Mutex<HashMap<[u8; 32], Instant>>,
}

impl AccountPauses {
    /// How long the account `key` must still wait, if it must.
    pub(crate) fn remaining(&self, key: &[u8; 32]) -> Option<Duration> {
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        match until.get(key) {
            Some(at) if *at > now => Some(*at - now),
            Some(_) => {
                until.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn pause(&self, key: [u8; 32], wait: Duration) {
        let at = Instant::now() + wait;
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = until.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }
}

/// The time until which this replica may act for the lease it holds, moved forward by each
/// renewal. Monotonic: a process frozen past it finds it closed the moment it resumes.
#[derive(Debug, Default)]
pub struct LeaseFence {
    open_until: Mutex<Option<Instant>>,
}

impl LeaseFence {
    /// Open until `until` (never moved back).
    pub fn extend(&self, until: Instant) {
        let mut open = self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *open = Some(open.map_or(until, |at| at.max(until)));
    }

    /// Closed at once (a renewal failed): no call until the next renewal succeeds.
    pub fn close(&self) {
        *self
            .open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub fn is_open(&self) -> bool {
        self.open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_account_pause_holds_for_every_caller_then_lifts() {
        let pauses = AccountPauses::default();
        let (a, b) = ([1; 32], [2; 32]);
        pauses.pause(a, Duration::from_secs(20));
        pauses.pause(a, Duration::from_secs(5));
        assert_eq!(
            pauses.remaining(&a),
            Some(Duration::from_secs(20)),
            "never shortened"
        );
        assert_eq!(pauses.remaining(&b), None, "other accounts go on");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(pauses.remaining(&a), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fence_closes_when_renewals_stop() {
        let fence = LeaseFence::default();
        assert!(!fence.is_open(), "closed until the lease is held");
        fence.extend(Instant::now() + Duration::from_secs(10));
        assert!(fence.is_open());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(
            !fence.is_open(),
            "a replica frozen past its lease makes no call"
        );
    }
}
