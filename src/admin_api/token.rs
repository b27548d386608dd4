//! Admin API client: the bearer token cache.
//!
//! Tokens are cached per Console account: reused until shortly before `expiresIn`, fetched once for
//! many concurrent callers, and dropped when the account's password changes. A refused login
//! pauses that account's logins (exponential backoff, shared by every caller) until the pause ends
//! or the password changes: a wrong password never becomes a stream of failed logins that would
//! lock the account.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::credentials::Credentials;
use super::error::ApiError;
use super::redacted::Token;

/// Used when the login response omits `expiresIn`.
pub(super) const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The pause after a first refused login; it doubles with each further refusal, up to the cap.
const LOGIN_PAUSE: Duration = Duration::from_secs(15);
const LOGIN_PAUSE_CAP: Duration = Duration::from_secs(300);

#[derive(Default)]
pub(crate) struct TokenCache {
    /// One slot per credential set (email and password): two Secrets naming one account with
    /// different passwords never share, or reset, each other's token or login pause.
    slots: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<Slot>>>>,
}

/// By hand: the keys are hashes of account emails (personal data) and passwords, so only the
/// number of credential sets is shown.
impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accounts = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("TokenCache")
            .field("accounts", &accounts)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Slot {
    fingerprint: [u8; 32],
    token: Option<Token>,
    refresh_at: Option<Instant>,
    refused: Option<Refusal>,
}

/// The account's last refused login with this password, and when the next may be tried.
struct Refusal {
    times: u32,
    retry_at: Instant,
    /// `retry_at` on the wall clock, to the second: fixed once, so a status that names it does
    /// not change from one pass to the next.
    retry_at_wall: jiff::Timestamp,
    message: String,
}

impl Refusal {
    /// The same words from the refusal to the end of its pause: a status that quotes them is
    /// not rewritten at every pass meanwhile.
    fn held_back(&self) -> ApiError {
        ApiError::Unauthorized {
            message: format!(
                "{} (logins with this password are held back until {} after {} refusal(s); fix the credentials Secret)",
                self.message, self.retry_at_wall, self.times
            ),
        }
    }
}

impl TokenCache {
    /// A valid token for `credentials`, logging in with `login` only when there is none. Callers
    /// for the same account wait on one login instead of each making their own.
    pub(crate) async fn get<F, Fut>(
        &self,
        credentials: &Credentials,
        login: F,
    ) -> Result<Token, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Token, Option<Duration>), ApiError>>,
    {
        let slot = self.slot(credentials);
        let mut slot = slot.lock().await;
        let fingerprint = credentials.fingerprint();
        if slot.fingerprint != fingerprint {
            *slot = Slot {
                fingerprint,
                ..Slot::default()
            };
        }
        if let (Some(token), Some(refresh_at)) = (&slot.token, slot.refresh_at)
            && Instant::now() < refresh_at
        {
            return Ok(token.clone());
        }
        if let Some(refusal) = &slot.refused
            && Instant::now() < refusal.retry_at
        {
            return Err(refusal.held_back());
        }
        let (token, lifetime) = match login().await {
            Ok(issued) => issued,
            Err(ApiError::Unauthorized { message }) => {
                let times = slot.refused.as_ref().map_or(0, |r| r.times) + 1;
                let pause = login_pause(times);
                let refusal = Refusal {
                    times,
                    retry_at: Instant::now() + pause,
                    retry_at_wall: wall_clock_after(pause),
                    message,
                };
                let refused = refusal.held_back();
                slot.refused = Some(refusal);
                return Err(refused);
            }
            Err(other) => return Err(other),
        };
        slot.refused = None;
        slot.refresh_at =
            Some(Instant::now() + usable_lifetime(lifetime.unwrap_or(DEFAULT_LIFETIME)));
        slot.token = Some(token.clone());
        Ok(token)
    }

    /// While `credentials` are refused: when (wall clock, whole seconds) the next login may be
    /// tried.
    pub(crate) async fn paused_until(&self, credentials: &Credentials) -> Option<jiff::Timestamp> {
        let slot = self.slot(credentials);
        let slot = slot.lock().await;
        slot.refused
            .as_ref()
            .filter(|refusal| Instant::now() < refusal.retry_at)
            .map(|refusal| refusal.retry_at_wall)
    }

    /// Forgets `rejected` after a 401, unless another caller already replaced it.
    pub(crate) async fn invalidate(&self, credentials: &Credentials, rejected: &Token) {
        let slot = self.slot(credentials);
        let mut slot = slot.lock().await;
        if slot.token.as_ref() == Some(rejected) {
            slot.token = None;
            slot.refresh_at = None;
        }
    }

    fn slot(&self, credentials: &Credentials) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(credentials.fingerprint()).or_default().clone()
    }
}

/// The wall-clock time `wait` from now, rounded up to the second.
fn wall_clock_after(wait: Duration) -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    let later = jiff::SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| now.checked_add(wait).ok())
        .unwrap_or(now);
    let ceiling = later
        .as_second()
        .saturating_add(i64::from(later.subsec_nanosecond() > 0));
    jiff::Timestamp::from_second(ceiling).unwrap_or(later)
}

/// How long logins wait after the `times`-th refusal in a row: 15 s, 30 s, 60 s, ... up to 5 min.
pub(crate) fn login_pause(times: u32) -> Duration {
    LOGIN_PAUSE
        .saturating_mul(1_u32 << times.saturating_sub(1).min(16))
        .min(LOGIN_PAUSE_CAP)
}

/// How long to use a token of `lifetime`: refresh a fifth early, at most a minute, so a call
/// never starts with a token about to lapse.
pub(crate) fn usable_lifetime(lifetime: Duration) -> Duration {
    let margin = (lifetime / 5).min(Duration::from_secs(60));
    lifetime.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::admin_api::redacted::Password;

    fn credentials(password: &str) -> Credentials {
        Credentials {
            email: "Admin@Example.com".into(),
            password: Password::new(password),
            project_id: "p".into(),
        }
    }

    #[test]
    fn refreshes_shortly_before_expiry() {
        assert_eq!(
            usable_lifetime(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(
            usable_lifetime(Duration::from_secs(5)),
            Duration::from_secs(4)
        );
        assert_eq!(usable_lifetime(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn one_login_for_many_callers_then_refresh_after_expiry() {
        let cache = Arc::new(TokenCache::default());
        let logins = Arc::new(AtomicUsize::new(0));
        let login = |logins: Arc<AtomicUsize>| async move {
            let n = logins.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok((Token::new(format!("t{n}")), Some(Duration::from_secs(10))))
        };
        let callers = (0..20).map(|_| {
            let (cache, logins) = (cache.clone(), logins.clone());
            tokio::spawn(async move { cache.get(&credentials("pw"), || login(logins)).await })
        });
        for caller in futures::future::join_all(callers).await {
            assert_eq!(caller.unwrap().unwrap().expose(), "t0");
        }
        assert_eq!(logins.load(Ordering::SeqCst), 1);

        tokio::time::advance(Duration::from_secs(9)).await;
        let token = cache
            .get(&credentials("pw"), || login(logins.clone()))
            .await
            .unwrap();
        assert_eq!(token.expose(), "t1", "refreshed before the 10 s expiry");
    }

    #[test]
    fn login_pauses_double_up_to_a_cap() {
        let pauses: Vec<u64> = (1..=7).map(|n| login_pause(n).as_secs()).collect();
        assert_eq!(pauses, [15, 30, 60, 120, 240, 300, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_login_pauses_every_caller_until_the_pause_ends_or_the_password_changes() {
        let cache = Arc::new(TokenCache::default());
        let attempts = Arc::new(AtomicUsize::new(0));
        let refuse = |attempts: Arc<AtomicUsize>| async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err(ApiError::Unauthorized {
                message: "invalid login".into(),
            })
        };
        // Ten resources with the same wrong password, again and again for 14 s: one login.
        let mut said = Vec::new();
        for _ in 0..14 {
            for _ in 0..10 {
                let refused = cache
                    .get(&credentials("wrong"), || refuse(attempts.clone()))
                    .await
                    .unwrap_err();
                assert!(matches!(refused, ApiError::Unauthorized { .. }));
                said.push(refused.to_string());
            }
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        said.dedup();
        assert_eq!(
            said.len(),
            1,
            "the same words all through the pause: {said:?}"
        );
        // When the next login may be tried is one fixed instant, whenever it is asked.
        let until = cache.paused_until(&credentials("wrong")).await;
        assert!(
            until.is_some_and(|t| t > jiff::Timestamp::now()),
            "{until:?}"
        );
        assert_eq!(cache.paused_until(&credentials("wrong")).await, until);
        assert_eq!(cache.paused_until(&credentials("other")).await, None);
        let paused = cache
            .get(&credentials("wrong"), || refuse(attempts.clone()))
            .await
            .unwrap_err();
        let until = until.expect("paused");
        assert!(
            paused
                .to_string()
                .contains(&format!("held back until {until} after 1 refusal")),
            "{paused}"
        );
        // After the pause: one more try, then a longer pause (30 s).
        tokio::time::advance(Duration::from_secs(1)).await;
        let _ = cache
            .get(&credentials("wrong"), || refuse(attempts.clone()))
            .await;
        tokio::time::advance(Duration::from_secs(29)).await;
        let _ = cache
            .get(&credentials("wrong"), || refuse(attempts.clone()))
            .await;
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
        assert_ne!(
            cache.paused_until(&credentials("wrong")).await,
            Some(until),
            "a further refusal sets a later instant"
        );
        // A changed password is tried at once, and a success clears the pause.
        let issued = cache
            .get(&credentials("fixed"), || async {
                Ok((Token::new("t"), Some(Duration::from_secs(60))))
            })
            .await
            .unwrap();
        assert_eq!(issued.expose(), "t");
    }

    #[tokio::test]
    async fn a_password_change_drops_the_token_and_invalidate_is_targeted() {
        let cache = TokenCache::default();
        let issue = |name: &'static str| async move {
            Ok((Token::new(name), Some(Duration::from_secs(60))))
        };
        let first = cache.get(&credentials("old"), || issue("a")).await.unwrap();
        assert_eq!(first.expose(), "a");
        let rotated = cache.get(&credentials("new"), || issue("b")).await.unwrap();
        assert_eq!(rotated.expose(), "b");

        cache.invalidate(&credentials("new"), &first).await;
        let kept = cache.get(&credentials("new"), || issue("c")).await.unwrap();
        assert_eq!(
            kept.expose(),
            "b",
            "a stale rejection does not drop a newer token"
        );
        cache.invalidate(&credentials("new"), &kept).await;
        let fresh = cache.get(&credentials("new"), || issue("d")).await.unwrap();
        assert_eq!(fresh.expose(), "d");
    }
}
