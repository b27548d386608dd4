//! Admin API client: one HTTP exchange.
//!
//! The URL, the bearer token (refreshed once on a 401), the rate limit, metrics and logs, and the
//! mapping of a failed reply to an [`ApiError`].

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::client::AdminClient;
use super::credentials::Credentials;
use super::error::{ApiError, parse_retry_after};
use super::redacted::Token;
use super::types::TokenResponse;
use crate::metrics::Endpoint;

/// A response as far as the client cares.
pub(super) struct Reply {
    status: StatusCode,
    retry_after: Option<Duration>,
    pub(super) body: Vec<u8>,
}

impl AdminClient {
    pub(super) async fn token(&self, credentials: &Credentials) -> Result<Token, ApiError> {
        self.inner
            .tokens
            .get(credentials, || self.fetch_token(credentials))
            .await
    }

    async fn fetch_token(
        &self,
        credentials: &Credentials,
    ) -> Result<(Token, Option<Duration>), ApiError> {
        #[derive(Serialize)]
        struct Login<'a> {
            email: &'a str,
            password: &'a str,
        }
        let body = Login {
            email: credentials.email.trim(),
            password: credentials.password.expose(),
        };
        let reply = self
            .send(
                Endpoint::Login,
                Method::POST,
                &["auth", "token"],
                &[],
                Some(&body),
                None,
            )
            .await?;
        let reply = match check(reply) {
            // A refused login is a credentials problem whatever status carries it.
            Err(ApiError::Invalid { message, .. } | ApiError::NotFound { message }) => {
                self.inner.metrics.failed_login(&credentials.source());
                return Err(ApiError::Unauthorized { message });
            }
            Err(error @ ApiError::Unauthorized { .. }) => {
                self.inner.metrics.failed_login(&credentials.source());
                return Err(error);
            }
            other => other?,
        };
        let token: TokenResponse = decode(&reply.body)?;
        let lifetime = token.expires_in.map(Duration::from_secs);
        self.inner.metrics.token_issued(
            &credentials.source(),
            lifetime.unwrap_or(super::token::DEFAULT_LIFETIME),
        );
        Ok((token.access_token, lifetime))
    }

    /// One call with a bearer token; on 401 the token is refreshed once and the call retried once.
    pub(super) async fn call<B: Serialize>(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Reply, ApiError> {
        let account = credentials.fingerprint();
        if let Some(wait) = self.inner.pauses.remaining(&account) {
            return Err(ApiError::RateLimited {
                retry_after: Some(wait),
            });
        }
        let token = self.token(credentials).await?;
        let reply = self
            .send(endpoint, method.clone(), path, query, body, Some(&token))
            .await?;
        // A Retry-After, on a 429 or any other status, holds every call of this account.
        if let Some(wait) = reply.retry_after {
            self.inner.pauses.pause(account, wait);
        }
        if reply.status != StatusCode::UNAUTHORIZED {
            return check(reply);
        }
        self.inner.tokens.invalidate(credentials, &token).await;
        let token = self.token(credentials).await?;
        check(
            self.send(endpoint, method, path, query, body, Some(&token))
                .await?,
        )
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
        if self
            .inner
            .fence
            .as_ref()
            .is_some_and(|fence| !fence.is_open())
        {
            return Err(ApiError::Fenced);
        }
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::Internal {
                invariant: "the base URL, checked when the client was built, cannot take a path",
            })?
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
        // Held for the exchange only: a pass writing to Kubernetes holds no Admin API slot.
        let _slot = match &self.inner.in_flight {
            Some(slots) => Some(slots.acquire().await.map_err(|_| ApiError::Internal {
                invariant: "the call slots are never closed",
            })?),
            None => None,
        };
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after = parse_retry_after(
                response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Reply {
                status,
                retry_after,
                body,
            })
        }
        .await;
        let elapsed = started.elapsed();
        match result {
            Ok(reply) => {
                tracing::debug!(
                    ?endpoint,
                    status = reply.status.as_u16(),
                    ?elapsed,
                    "admin api call"
                );
                self.inner
                    .metrics
                    .api_call(endpoint, reply.status.as_str(), elapsed);
                Ok(reply)
            }
            Err(error) => {
                let error = ApiError::from_transport(error);
                let status = if matches!(error, ApiError::Timeout) {
                    "timeout"
                } else {
                    "network"
                };
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
        Err(ApiError::from_status(
            reply.status.as_u16(),
            reply.retry_after,
            &reply.body,
        ))
    }
}

pub(super) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode {
        what: "the response body",
        source: std::sync::Arc::new(e),
    })
}
