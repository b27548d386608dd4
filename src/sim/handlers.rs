//! Simulator: the Admin API over HTTP.
//!
//! Routes, the order of checks (token, project, role, body, then the state), the JSON error body,
//! and the layer that injects faults and counts calls.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;

use super::auth::AuthError;
use super::body::ValidationError;
use super::config::{DEFAULT_PAGE_SIZE, PaginationStyle, Role};
use super::endpoint::{self, SimEndpoint};
use super::faults::Injected;
use super::pagination::{PageRequest, Pagination};
use super::persist::PersistError;
use super::simulator::Simulator;
use super::state::{StateError, Store};
use super::validate;

#[derive(Debug, thiserror::Error)]
pub enum SimApiError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("this account may list but not create, update or delete (role member)")]
    ReadOnlyAccount,
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the simulator could not save its state")]
    Persist(#[from] PersistError),
}

impl SimApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Auth(_) => StatusCode::UNAUTHORIZED,
            Self::ReadOnlyAccount | Self::State(StateError::NoEmbeddedAssistant) => {
                StatusCode::FORBIDDEN
            }
            Self::State(
                StateError::ProjectNotFound
                | StateError::CustomerNotFound
                | StateError::UserNotFound,
            ) => StatusCode::NOT_FOUND,
            Self::State(StateError::CustomerExists | StateError::EmailExists) => {
                StatusCode::CONFLICT
            }
            Self::Persist(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for SimApiError {
    fn into_response(self) -> Response {
        if let Self::Persist(e) = &self {
            tracing::error!(error = %e, cause = ?std::error::Error::source(e), "state file not saved");
        }
        error_response(self.status(), &self.to_string())
    }
}

/// `{"error": "<code>", "message": "..."}`, the simulator's error body for every status.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let code = match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited",
        503 => "unavailable",
        500..=599 => "internal_error",
        _ => "error",
    };
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

pub fn routes() -> Router<Simulator> {
    Router::new()
        .route(endpoint::TOKEN, post(token))
        .route(
            endpoint::CUSTOMERS,
            axum::routing::get(list_customers).post(create_customer),
        )
        .route(
            endpoint::CUSTOMER,
            patch(update_customer).delete(delete_customer),
        )
        .route(
            endpoint::USERS,
            axum::routing::get(list_users).post(create_user),
        )
        .route(endpoint::USER, patch(update_user).delete(delete_user))
}

pub async fn no_such_endpoint() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such endpoint")
}

/// The label of the listener a call came through (see [`Simulator::serve`]).
#[derive(Debug, Clone)]
pub struct ClientLabel(pub std::sync::Arc<str>);

/// Wraps every Admin API route: latency (and spikes), then injected failures, then the call
/// itself (which a `failAfterApply` fault may turn into a 500 after the fact), then counting,
/// the request log and logging.
pub async fn faults_and_counters(
    State(sim): State<Simulator>,
    request: Request,
    next: Next,
) -> Response {
    let Some(endpoint) = SimEndpoint::classify(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let arrived = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let client = request.extensions().get::<ClientLabel>().cloned();
    let delay_ms = sim.with_faults(|f| f.delay_ms(rand::random()));
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    let roll: f64 = rand::random();
    let response = match sim.with_faults(|f| f.take_before(endpoint, roll)) {
        Some(injected) => injected_response(injected),
        None => {
            let response = next.run(request).await;
            let lost = response.status().is_success()
                && sim.with_faults(|f| f.take_after_apply(endpoint, rand::random()));
            if lost {
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "simulated failure after the change was applied (failAfterApply)",
                )
            } else {
                response
            }
        }
    };
    let status = response.status().as_u16();
    let client = client.as_ref().map(|c| &*c.0);
    sim.counters()
        .record_call(endpoint, status, arrived, client);
    tracing::debug!(
        method = endpoint.method,
        path = endpoint.template,
        status,
        client,
        "admin api call"
    );
    response
}

fn injected_response(injected: Injected) -> Response {
    match injected {
        Injected::Fail { status, fault } => error_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            &format!("simulated failure ({fault})"),
        ),
        Injected::RateLimited {
            retry_after_seconds,
        } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests (simulated rateLimit)",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            response
        }
    }
}

type ApiResult = Result<Response, SimApiError>;
type PageQuery = Result<Query<HashMap<String, String>>, QueryRejection>;

async fn token(State(sim): State<Simulator>, body: Bytes) -> ApiResult {
    let login = validate::login(&body)?;
    let issued = sim.login(&login.email, &login.password)?;
    Ok(Json(json!({
        "accessToken": issued.access_token.expose_secret(),
        "tokenType": "bearer",
        "expiresIn": issued.expires_in,
    }))
    .into_response())
}

/// Token, then project: what every `/customers` and `/users` call checks first.
fn caller(sim: &Simulator, headers: &HeaderMap, project: &str) -> Result<Role, SimApiError> {
    let role = sim.authorize(headers)?;
    sim.read(|store| store.check_project(project))?;
    Ok(role)
}

/// As [`caller`], and the account must be allowed to write.
fn writer(sim: &Simulator, headers: &HeaderMap, project: &str) -> Result<(), SimApiError> {
    if caller(sim, headers, project)?.can_write() {
        Ok(())
    } else {
        Err(SimApiError::ReadOnlyAccount)
    }
}

/// A list call, open to any account of the project: the requested page of what `read` lists,
/// under `items_key`, with the `pagination` object.
fn list<T: Serialize>(
    sim: &Simulator,
    headers: &HeaderMap,
    project: &str,
    query: PageQuery,
    items_key: &str,
    read: impl FnOnce(&Store, PageRequest, PaginationStyle) -> Result<(Vec<T>, Pagination), StateError>,
) -> ApiResult {
    caller(sim, headers, project)?;
    let Query(query) =
        query.map_err(|_| ValidationError::one("query", "malformed query string"))?;
    let (style, max) = sim.pagination();
    let request = validate::page_request(&query, DEFAULT_PAGE_SIZE, max)?;
    let (items, pagination) = sim.read(|store| read(store, request, style))?;
    Ok(Json(json!({ items_key: items, "pagination": pagination })).into_response())
}

/// A state change; saved to the state file before the caller hears of it.
fn write<T>(
    sim: &Simulator,
    op: impl FnOnce(&mut Store) -> Result<T, StateError>,
) -> Result<T, SimApiError> {
    sim.write(|store| op(store).map_err(SimApiError::from))
}

fn now() -> jiff::Timestamp {
    // Whole seconds: what the service's examples show.
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

async fn list_customers(
    State(sim): State<Simulator>,
    Path(project): Path<String>,
    headers: HeaderMap,
    query: PageQuery,
) -> ApiResult {
    list(
        &sim,
        &headers,
        &project,
        query,
        "customers",
        |store, request, style| store.list_customers(&project, request, style),
    )
}

async fn create_customer(
    State(sim): State<Simulator>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    writer(&sim, &headers, &project)?;
    let new = validate::new_customer(&body)?;
    let customer = write(&sim, |store| store.create_customer(&project, new, now()))?;
    Ok((StatusCode::CREATED, Json(customer)).into_response())
}

async fn update_customer(
    State(sim): State<Simulator>,
    Path((project, customer_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    writer(&sim, &headers, &project)?;
    let patch = validate::customer_patch(&body)?;
    let customer = write(&sim, |store| {
        store.update_customer(&project, &customer_id, patch)
    })?;
    Ok(Json(customer).into_response())
}

async fn delete_customer(
    State(sim): State<Simulator>,
    Path((project, customer_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    writer(&sim, &headers, &project)?;
    write(&sim, |store| store.delete_customer(&project, &customer_id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_users(
    State(sim): State<Simulator>,
    Path((project, customer_id)): Path<(String, String)>,
    headers: HeaderMap,
    query: PageQuery,
) -> ApiResult {
    list(
        &sim,
        &headers,
        &project,
        query,
        "users",
        |store, request, style| store.list_users(&project, &customer_id, request, style),
    )
}

async fn create_user(
    State(sim): State<Simulator>,
    Path((project, customer_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    writer(&sim, &headers, &project)?;
    let new = validate::new_user(&body)?;
    let id = uuid::Uuid::new_v4();
    let user = write(&sim, |store| {
        store.create_user(&project, &customer_id, new, id, now())
    })?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

async fn update_user(
    State(sim): State<Simulator>,
    Path((project, customer_id, user_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    writer(&sim, &headers, &project)?;
    let patch = validate::user_patch(&body)?;
    let user = write(&sim, |store| {
        store.update_user(&project, &customer_id, &user_id, patch)
    })?;
    Ok(Json(user).into_response())
}

async fn delete_user(
    State(sim): State<Simulator>,
    Path((project, customer_id, user_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    writer(&sim, &headers, &project)?;
    write(&sim, |store| {
        store.delete_user(&project, &customer_id, &user_id)
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
