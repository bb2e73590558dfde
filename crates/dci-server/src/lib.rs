//! The HTTP API OpenSPP calls to screen registrants for social-protection
//! programmes: batch evaluation of CEL eligibility rules over beneficiaries
//! (JSON, or NDJSON streamed both ways), rule validation, the metric catalog,
//! health and readiness, Prometheus metrics and an OpenAPI document.
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/evaluate` | rules × beneficiaries → decisions (JSON or NDJSON) |
//! | `POST /v1/rules/validate` | diagnostics and needs of rules |
//! | `GET /v1/metrics` | the metric catalog, function and method names |
//! | `GET /.well-known/jwks.json` | the public keys our signed requests verify with (no key needed) |
//! | `GET /v1/registries` | each registry's connection check, at most once per `registries_check_secs` |
//! | `POST /v1/explain` | one decision, clause by clause, with every metric's value and source |
//! | `POST /v1/diff` | an old and a new rule over beneficiaries: who gains, who loses |
//! | `POST /v1/rules/export-test` | decisions made into an `elig test` file |
//! | `GET /v1/samples` | the committed fixture's households, to try rules on |
//! | `GET /playground` | the rule authors' page (no API key; `/` redirects to it) |
//! | `GET /healthz` | process up (no API key) |
//! | `GET /readyz` | every configured registry ready |
//! | `GET /metrics` | Prometheus |
//! | `GET /openapi.json` | OpenAPI 3 |
//!
//! Evaluation, parsing and rendering are `dci-eligibility`'s; this crate adds HTTP: bearer API
//! keys, limits, evaluation slots with a bounded queue, timeouts, JSON errors with stable codes,
//! request ids, tracing and telemetry.
//!
//! ```no_run
//! # async fn run() -> Result<(), dci_server::ServerError> {
//! use dci_eligibility::{Engine, EngineConfig};
//! use dci_server::{Server, ServerConfig};
//!
//! let engine = Engine::from_config(&EngineConfig::default())?;
//! let config = ServerConfig { allow_unauthenticated: true, ..ServerConfig::default() };
//! let server = Server::start(engine, config).await?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod api;
pub mod audit;
mod body;
mod config;
mod error;
mod handlers;
mod layers;
mod openapi;
mod parse_errors;
mod pool;
mod routes;
mod server;
mod slots;
mod state;
mod telemetry;

pub use config::{Config, MAX_EXPORT_CASES, ServerConfig, ServerLimits};
pub use error::{ApiError, ErrorBody, ErrorCode, ErrorDetail, ServerError};
pub use handlers::workbench::SAMPLE_BENEFICIARIES;
pub use openapi::ApiDoc;
pub use routes::{open_paths, route_scopes, router, routes};
pub use server::{RunningServer, Server, serve};
pub use state::AppState;
