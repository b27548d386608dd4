//! Simulator: the control endpoint under `/_sim`.
//!
//! Counters, faults, tokens, a state dump, and what happens to users outside the Admin API (an
//! invitation accepted, time passed), for tests and benchmarks. It has no authentication: the
//! simulator is meant for loopback use only. Calls to it are not counted and suffer no faults.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::faults::{Faults, FaultsError};
use super::handlers::error_response;
use super::persist::PersistError;
use super::simulator::Simulator;
use super::state::StateError;
use super::wire::{SimUser, UserFacts};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    // The parser's message names the field and what was expected; it carries no secret.
    #[error("invalid body: {0}")]
    Body(String),
    #[error(transparent)]
    Faults(#[from] FaultsError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the simulator could not save its state")]
    Persist(#[from] PersistError),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Body(_) | Self::Faults(_) => StatusCode::BAD_REQUEST,
            Self::State(
                StateError::ProjectNotFound
                | StateError::CustomerNotFound
                | StateError::UserNotFound,
            ) => StatusCode::NOT_FOUND,
            Self::State(_) => StatusCode::CONFLICT,
            Self::Persist(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        error_response(status, &self.to_string())
    }
}

/// The body of `GET|PUT /_sim/token-ttl`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenTtl {
    pub seconds: u64,
}

pub fn routes() -> Router<Simulator> {
    Router::new()
        .route("/_sim/healthz", get(healthz))
        .route("/_sim/calls", get(calls).delete(reset_calls))
        .route("/_sim/requests", get(requests))
        .route("/_sim/faults", get(faults).put(set_faults))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/token-ttl", get(token_ttl).put(set_token_ttl))
        .route("/_sim/state", get(state))
        .route(USER_FACTS, patch(set_user_facts))
}

/// Where a user's facts beyond the API are set: the user's own path, under `/_sim`.
const USER_FACTS: &str = "/_sim/projects/{projectId}/customers/{customerId}/users/{userId}";

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| ControlError::Body(e.to_string()))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn calls(State(sim): State<Simulator>) -> Json<serde_json::Value> {
    Json(json!({ "calls": sim.calls() }))
}

async fn requests(State(sim): State<Simulator>) -> Json<serde_json::Value> {
    Json(json!({ "requests": sim.requests() }))
}

async fn reset_calls(State(sim): State<Simulator>) -> StatusCode {
    sim.reset_calls();
    StatusCode::NO_CONTENT
}

async fn faults(State(sim): State<Simulator>) -> Json<Faults> {
    Json(sim.faults())
}

/// Replaces all faults; answers with what is now active.
async fn set_faults(
    State(sim): State<Simulator>,
    body: Bytes,
) -> Result<Json<Faults>, ControlError> {
    let faults: Faults = parse(&body)?;
    faults.validate()?;
    sim.set_faults(faults);
    Ok(Json(sim.faults()))
}

async fn expire_tokens(State(sim): State<Simulator>) -> StatusCode {
    sim.expire_tokens();
    StatusCode::NO_CONTENT
}

async fn token_ttl(State(sim): State<Simulator>) -> Json<TokenTtl> {
    Json(TokenTtl {
        seconds: sim.token_ttl().as_secs(),
    })
}

async fn set_token_ttl(
    State(sim): State<Simulator>,
    body: Bytes,
) -> Result<Json<TokenTtl>, ControlError> {
    let ttl: TokenTtl = parse(&body)?;
    sim.set_token_ttl(Duration::from_secs(ttl.seconds));
    Ok(Json(ttl))
}

/// Answers with the user as the Admin API now shows it.
async fn set_user_facts(
    State(sim): State<Simulator>,
    Path((project, customer, user)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<SimUser>, ControlError> {
    let facts: UserFacts = parse(&body)?;
    Ok(Json(sim.set_user_facts(&project, &customer, &user, facts)?))
}

async fn state(State(sim): State<Simulator>) -> Response {
    Json(sim.snapshot()).into_response()
}
