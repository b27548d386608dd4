//! The Admin API client: every endpoint of the contract, with tokens, timeouts, a rate limit,
//! pagination and the tolerances of `NOTES.md` (200 or 201 on create, 200 or 204 on delete, 404
//! on delete means gone, error bodies of any shape).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::credentials::Credentials;
use super::error::{ApiError, parse_retry_after};
use super::token::TokenCache;
use super::types::{Customer, CustomerPatch, NewCustomer, NewUser, Pagination, TokenResponse, User, UserPatch};
use crate::admin_api::secret::Token;
use crate::metrics::{Endpoint, Metrics};

/// The documented maximum; larger requests are clamped by the service.
pub const MAX_PAGE_SIZE: u32 = 100;
/// A list longer than this many pages is taken for a server that never says "last page".
const MAX_PAGES: u32 = 10_000;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// e.g. `https://api.console.corti.app/functions/v1/public`
    pub base_url: String,
    /// Deadline of one HTTP call, connect to last byte.
    pub timeout: Duration,
    /// Calls per second across the whole process; `None` for no limit.
    pub rate_limit: Option<f64>,
    pub page_size: u32,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), timeout: Duration::from_secs(15), rate_limit: None, page_size: MAX_PAGE_SIZE }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the Admin API URL {0:?} is not an absolute http(s) URL")]
    BaseUrl(String),
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// What a delete found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    AlreadyGone,
}

#[derive(Clone, Debug)]
pub struct AdminClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    tokens: TokenCache,
    limiter: Option<RateLimiter>,
    metrics: Arc<Metrics>,
    page_size: u32,
}

/// A response as far as the client cares.
struct Reply {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl AdminClient {
    pub fn new(config: &ClientConfig, metrics: Arc<Metrics>) -> Result<Self, BuildError> {
        // reqwest and kube share rustls with ring; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = Url::parse(&config.base_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| BuildError::BaseUrl(config.base_url.clone()))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("corti-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Http)?;
        let limiter = config.rate_limit.filter(|rate| *rate > 0.0).map(RateLimiter::new);
        let page_size = config.page_size.clamp(1, MAX_PAGE_SIZE);
        Ok(Self { inner: Arc::new(Inner { http, base, tokens: TokenCache::default(), limiter, metrics, page_size }) })
    }

    pub async fn list_customers(&self, credentials: &Credentials) -> Result<Vec<Customer>, ApiError> {
        let path = ["projects", &credentials.project_id, "customers"];
        self.list_all(credentials, Endpoint::ListCustomers, &path, "customers", |c: &Customer| {
            c.customer_id.clone()
        })
        .await
    }

    pub async fn create_customer(&self, credentials: &Credentials, customer: &NewCustomer) -> Result<Customer, ApiError> {
        let path = ["projects", &credentials.project_id, "customers"];
        let reply = self.call(credentials, Endpoint::CreateCustomer, Method::POST, &path, &[], Some(customer)).await?;
        decode(&reply.body)
    }

    /// Returns the server's view of the customer, or `None` when the reply had no usable body.
    pub async fn update_customer(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        patch: &CustomerPatch,
    ) -> Result<Option<Customer>, ApiError> {
        let path = ["projects", &credentials.project_id, "customers", customer_id];
        let reply = self.call(credentials, Endpoint::UpdateCustomer, Method::PATCH, &path, &[], Some(patch)).await?;
        Ok(decode(&reply.body).ok())
    }

    pub async fn delete_customer(&self, credentials: &Credentials, customer_id: &str) -> Result<Deleted, ApiError> {
        let path = ["projects", &credentials.project_id, "customers", customer_id];
        gone_is_done(self.call::<()>(credentials, Endpoint::DeleteCustomer, Method::DELETE, &path, &[], None).await)
    }

    pub async fn list_users(&self, credentials: &Credentials, customer_id: &str) -> Result<Vec<User>, ApiError> {
        let path = ["projects", &credentials.project_id, "customers", customer_id, "users"];
        self.list_all(credentials, Endpoint::ListUsers, &path, "users", |u: &User| u.id.clone()).await
    }

    pub async fn create_user(&self, credentials: &Credentials, customer_id: &str, user: &NewUser) -> Result<User, ApiError> {
        let path = ["projects", &credentials.project_id, "customers", customer_id, "users"];
        let reply = self.call(credentials, Endpoint::CreateUser, Method::POST, &path, &[], Some(user)).await?;
        decode(&reply.body)
    }

    /// Returns the server's view of the user, or `None` when the reply had no usable body.
    pub async fn update_user(
        &self,
        credentials: &Credentials,
        customer_id: &str,
        user_id: &str,
        patch: &UserPatch,
    ) -> Result<Option<User>, ApiError> {
        let path = ["projects", &credentials.project_id, "customers", customer_id, "users", user_id];
        let reply = self.call(credentials, Endpoint::UpdateUser, Method::PATCH, &path, &[], Some(patch)).await?;
        Ok(decode(&reply.body).ok())
    }

    pub async fn delete_user(&self, credentials: &Credentials, customer_id: &str, user_id: &str) -> Result<Deleted, ApiError> {
        let path = ["projects", &credentials.project_id, "customers", customer_id, "users", user_id];
        gone_is_done(self.call::<()>(credentials, Endpoint::DeleteUser, Method::DELETE, &path, &[], None).await)
    }

    /// Checks that the credentials can log in (a cached token counts).
    pub async fn login(&self, credentials: &Credentials) -> Result<(), ApiError> {
        self.token(credentials).await.map(drop)
    }

    async fn list_all<T: DeserializeOwned>(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        path: &[&str],
        items_key: &str,
        key: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, ApiError> {
        let page_size = self.inner.page_size;
        let (mut items, mut keys, mut fetched) = (Vec::new(), HashSet::new(), 0_u64);
        for page in 1..=MAX_PAGES {
            let query = [("page", page.to_string()), ("pageSize", page_size.to_string())];
            let reply = self.call::<()>(credentials, endpoint, Method::GET, path, &query, None).await?;
            let mut body: serde_json::Value = decode(&reply.body)?;
            let page_items: Vec<T> = serde_json::from_value(body.get_mut(items_key).map(serde_json::Value::take).unwrap_or_default())
                .map_err(|e| ApiError::Decode(format!("`{items_key}` of a list page: {e}")))?;
            let pagination: Pagination = body
                .get_mut("pagination")
                .and_then(|p| serde_json::from_value(p.take()).ok())
                .unwrap_or_default();
            let count = page_items.len() as u64;
            fetched += count;
            // Items can shift between pages while others write: keep the first of each key.
            items.extend(page_items.into_iter().filter(|item| keys.insert(key(item))));
            if !has_next_page(count, fetched, u64::from(page_size), &pagination) {
                return Ok(items);
            }
        }
        Err(ApiError::Decode(format!("a list ran past {MAX_PAGES} pages")))
    }

    async fn token(&self, credentials: &Credentials) -> Result<Token, ApiError> {
        self.inner.tokens.get(credentials, || self.fetch_token(credentials)).await
    }

    async fn fetch_token(&self, credentials: &Credentials) -> Result<(Token, Option<Duration>), ApiError> {
        #[derive(Serialize)]
        struct Login<'a> {
            email: &'a str,
            password: &'a str,
        }
        let body = Login { email: credentials.email.trim(), password: credentials.password.expose() };
        let reply = self.send(Endpoint::Login, Method::POST, &["auth", "token"], &[], Some(&body), None).await?;
        let reply = match check(reply) {
            // A refused login is a credentials problem whatever status carries it.
            Err(ApiError::Invalid { message, .. } | ApiError::NotFound { message }) => {
                return Err(ApiError::Unauthorized { message });
            }
            other => other?,
        };
        let token: TokenResponse = decode(&reply.body)?;
        Ok((token.access_token, token.expires_in.map(Duration::from_secs)))
    }

    /// One call with a bearer token; on 401 the token is refreshed once and the call retried once.
    async fn call<B: Serialize>(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Reply, ApiError> {
        let token = self.token(credentials).await?;
        let reply = self.send(endpoint, method.clone(), path, query, body, Some(&token)).await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return check(reply);
        }
        self.inner.tokens.invalidate(credentials, &token).await;
        let token = self.token(credentials).await?;
        check(self.send(endpoint, method, path, query, body, Some(&token)).await?)
    }

    async fn send<B: Serialize>(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
        token: Option<&Token>,
    ) -> Result<Reply, ApiError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::Decode("base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(path);
        let mut request = self.inner.http.request(method, url).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(limiter) = &self.inner.limiter {
            limiter.acquire().await;
        }
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after =
                parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()));
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Reply { status, retry_after, body })
        }
        .await;
        let elapsed = started.elapsed();
        match result {
            Ok(reply) => {
                tracing::debug!(?endpoint, status = reply.status.as_u16(), ?elapsed, "admin api call");
                self.inner.metrics.api_call(endpoint, reply.status.as_str(), elapsed);
                Ok(reply)
            }
            Err(error) => {
                let error = ApiError::from_transport(&error);
                let status = if matches!(error, ApiError::Timeout) { "timeout" } else { "network" };
                tracing::debug!(?endpoint, status, ?elapsed, "admin api call failed");
                self.inner.metrics.api_call(endpoint, status, elapsed);
                Err(error)
            }
        }
    }
}

fn check(reply: Reply) -> Result<Reply, ApiError> {
    if reply.status.is_success() {
        Ok(reply)
    } else {
        Err(ApiError::from_status(reply.status.as_u16(), reply.retry_after, &reply.body))
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode(format!("{e}")))
}

fn gone_is_done(result: Result<Reply, ApiError>) -> Result<Deleted, ApiError> {
    match result {
        Ok(_) => Ok(Deleted::Removed),
        Err(ApiError::NotFound { .. }) => Ok(Deleted::AlreadyGone),
        Err(error) => Err(error),
    }
}

/// Whether to ask for the page after one that held `count` items (`fetched` so far). A short page
/// always ends the list; otherwise whichever pagination style the server used decides.
pub(crate) fn has_next_page(count: u64, fetched: u64, requested: u64, pagination: &Pagination) -> bool {
    let page_size = pagination.page_size.filter(|size| *size > 0).unwrap_or(requested);
    if count == 0 || count < page_size {
        return false;
    }
    match (pagination.has_next_page, pagination.total) {
        (Some(more), _) => more,
        (None, Some(total)) => fetched < total,
        (None, None) => true,
    }
}

/// Spaces calls evenly at `rate` per second, allowing a burst of one second's worth.
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    burst: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    fn new(rate: f64) -> Self {
        let (interval, burst) = (Duration::from_secs_f64(1.0 / rate), Duration::from_secs(1));
        // Start with the burst available.
        let now = Instant::now();
        Self { interval, burst, next: tokio::sync::Mutex::new(now.checked_sub(burst).unwrap_or(now)) }
    }

    async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let earliest = now.checked_sub(self.burst).unwrap_or(now);
            let slot = (*next).max(earliest);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pagination(page_size: Option<u64>, has_next_page: Option<bool>, total: Option<u64>) -> Pagination {
        Pagination { page_size, has_next_page, total }
    }

    #[test]
    fn pagination_styles_and_short_pages() {
        // hasNextPage style.
        assert!(has_next_page(100, 100, 100, &pagination(Some(100), Some(true), None)));
        assert!(!has_next_page(100, 200, 100, &pagination(Some(100), Some(false), None)));
        // total style.
        assert!(has_next_page(100, 100, 100, &pagination(Some(100), None, Some(150))));
        assert!(!has_next_page(100, 200, 100, &pagination(Some(100), None, Some(200))));
        // A short page ends the list whatever the flags say.
        assert!(!has_next_page(7, 107, 100, &pagination(Some(100), Some(true), None)));
        assert!(!has_next_page(0, 100, 100, &pagination(None, None, None)));
        // A server that clamps pageSize to 50 and says so: 50 is a full page.
        assert!(has_next_page(50, 50, 100, &pagination(Some(50), None, Some(120))));
        // No pagination block at all: a full page asks for the next.
        assert!(has_next_page(100, 100, 100, &pagination(None, None, None)));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_calls_after_a_burst() {
        let limiter = RateLimiter::new(10.0);
        let started = Instant::now();
        for _ in 0..30 {
            limiter.acquire().await;
        }
        // 10 calls of burst, then 20 more at 100 ms each.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(1900) && elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }
}
