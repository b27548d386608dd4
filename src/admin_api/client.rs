//! Admin API client: the client and how it is built.
//!
//! Its configuration, the checks on the base URL, the HTTP client with its timeouts, and what all
//! clones share (tokens, rate limit, metrics). The calls themselves are in `calls`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::gates::{AccountPauses, LeaseFence};
use super::rate_limit::RateLimiter;
use super::token::TokenCache;
use crate::metrics::Metrics;

/// The documented maximum; larger requests are clamped by the service.
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// e.g. `https://api.console.corti.app/functions/v1/public`
    pub base_url: String,
    /// Deadline of one HTTP call, connect to last byte.
    pub timeout: Duration,
    /// Calls per second across the whole process; `None` for no limit.
    pub rate_limit: Option<f64>,
    /// Calls in flight at once across the whole process; `None` for no limit.
    pub concurrency: Option<usize>,
    pub page_size: u32,
    /// With leader election: no call is made while the lease may have lapsed.
    pub fence: Option<Arc<LeaseFence>>,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeout: Duration::from_secs(15),
            rate_limit: None,
            concurrency: None,
            page_size: MAX_PAGE_SIZE,
            fence: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the Admin API URL {0:?} is not an absolute http(s) URL")]
    BaseUrl(String),
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}

#[derive(Clone, Debug)]
pub struct AdminClient {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) base: Url,
    pub(super) tokens: TokenCache,
    pub(super) limiter: Option<RateLimiter>,
    pub(super) in_flight: Option<tokio::sync::Semaphore>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) page_size: u32,
    pub(super) pauses: AccountPauses,
    pub(super) fence: Option<Arc<LeaseFence>>,
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
        let limiter = config
            .rate_limit
            .filter(|rate| *rate > 0.0)
            .map(RateLimiter::new);
        let page_size = config.page_size.clamp(1, MAX_PAGE_SIZE);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                tokens: TokenCache::default(),
                limiter,
                in_flight: config
                    .concurrency
                    .map(|n| tokio::sync::Semaphore::new(n.max(1))),
                metrics,
                page_size,
                pauses: AccountPauses::default(),
                fence: config.fence.clone(),
            }),
        })
    }
}
