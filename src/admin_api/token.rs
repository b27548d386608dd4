//! Admin API client: the bearer token cache.
//!
//! Tokens are cached per Console account: reused until shortly before `expiresIn`, fetched once for
//! many concurrent callers, and dropped when the account's password changes.

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
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// By hand: the keys are account emails (personal data) and the slots hold an unsalted hash of
/// each password, so only the number of accounts is shown.
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
        let (token, lifetime) = login().await?;
        slot.refresh_at =
            Some(Instant::now() + usable_lifetime(lifetime.unwrap_or(DEFAULT_LIFETIME)));
        slot.token = Some(token.clone());
        Ok(token)
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
        slots.entry(credentials.account_key()).or_default().clone()
    }
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
