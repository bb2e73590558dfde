//! The connection check: the steps a registry must pass before decisions can
//! rest on it, each with what it saw, and for a failure the registry's words
//! and a hint.

use std::time::{Duration, Instant};

use dci_protocol::records::Identifier;
use dci_protocol::{Query, SearchCriteria};
use serde::Serialize;
use serde_json::Value;

use crate::client::{DciClient, PROBE_IDENTIFIER};
use crate::error::{ClientError, ErrorKind};
use crate::token::TOKEN_REQUEST;

/// A step of the check, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Step {
    /// The data source's configuration is usable (its secrets can be read).
    Config,
    /// The base URL answers at all (DNS, TCP, TLS).
    Reach,
    /// The token endpoint issues a token to our client.
    Token,
    /// The registry's JWKS holds keys we can verify with (when `verify_responses`).
    Jwks,
    /// A probe search is answered.
    Search,
    /// The probe's answer carries a signature that verifies (when `verify_responses`).
    Signature,
    /// The token is accepted for searching (a 401 or 403 on search fails here).
    Permission,
}

impl Step {
    /// The step's name, as the report writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Config => "config",
            Step::Reach => "reach",
            Step::Token => "token",
            Step::Jwks => "jwks",
            Step::Search => "search",
            Step::Signature => "signature",
            Step::Permission => "permission",
        }
    }
}

/// One step's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckStep {
    /// The step.
    pub step: Step,
    /// Whether it passed.
    pub passed: bool,
    /// How long it took, in milliseconds.
    pub ms: u64,
    /// What it saw: on a failure, the registry's own words where it gave any.
    pub detail: String,
    /// What to look at, on a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What checking one registry found: its steps up to the first that failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryCheck {
    /// The registry (`crvs`, `ibr`, `dr`).
    pub registry: String,
    /// Who answers: the data source's label and identity (never a secret).
    pub answered_by: String,
    /// The steps run, in order.
    pub steps: Vec<CheckStep>,
}

impl RegistryCheck {
    /// Whether every step run passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|step| step.passed)
    }

    fn pass(&mut self, step: Step, started: Instant, detail: String) {
        self.steps.push(CheckStep { step, passed: true, ms: ms(started), detail, hint: None });
    }

    fn fail(&mut self, step: Step, started: Instant, detail: String, hint: &str) {
        self.steps.push(CheckStep { step, passed: false, ms: ms(started), detail, hint: Some(hint.to_owned()) });
    }
}

fn ms(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

/// Where to look when a search fails for `error`.
fn search_hint(error: &ClientError) -> &'static str {
    match error.kind() {
        ErrorKind::Timeout => "the registry answered too slowly: raise timeouts.request_ms, or ask its operator",
        ErrorKind::Rejected => "the registry refused the probe: check id_type_priority and probe_identifier",
        ErrorKind::Transport => "the registry dropped the connection: check base_url and paths.search",
        _ => "check base_url and paths.search, and what the registry said",
    }
}

/// How often [`DciClient::ready`] searches at most: readiness is polled
/// every few seconds, and a registry is not to be hammered for it.
pub const PERMISSION_PROBE_INTERVAL: Duration = Duration::from_secs(60);

impl DciClient {
    /// Whether the registry can be used now, for readiness probes: a token
    /// is issued, and a probe search (at most once per
    /// [`PERMISSION_PROBE_INTERVAL`]; the last answer counts between) is not
    /// refused with 401 or 403. Other search failures are left to the
    /// caller's own account of failed lookups.
    pub async fn ready(&self) -> Result<(), String> {
        self.check_token().await.map_err(|e| e.to_string())?;
        let inner = self.inner();
        // The probe's start is recorded before it searches: polls meanwhile (or after a
        // probe the caller's timeout cut short) answer with the last result, not a new search.
        if let Ok(mut last) = inner.permission.lock() {
            match last.as_ref() {
                Some((at, result)) if at.elapsed() < PERMISSION_PROBE_INTERVAL => return result.clone(),
                _ => {
                    let previous = last.as_ref().map_or(Ok(()), |(_, result)| result.clone());
                    *last = Some((Instant::now(), previous));
                }
            }
        }
        let mut report = RegistryCheck { registry: String::new(), answered_by: String::new(), steps: Vec::new() };
        self.probe_search(&mut report).await;
        let result = match report.steps.iter().find(|step| !step.passed) {
            Some(step) if step.step == Step::Permission => Err(step.detail.clone()),
            _ => Ok(()),
        };
        if let Ok(mut last) = inner.permission.lock() {
            *last = Some((Instant::now(), result.clone()));
        }
        result
    }

    /// Checks the data source, step by step: reach, token, JWKS (when
    /// verifying), a probe search (`probe_identifier`, else an identifier no
    /// person has), its signature (when verifying), and permission. Stops at
    /// the first step that fails. Never reports a secret.
    pub async fn check(&self) -> RegistryCheck {
        let inner = self.inner();
        let source = &inner.source;
        let answered_by = match &source.label {
            Some(label) => format!("{label}: {}", source.identity()),
            None => source.identity(),
        };
        let mut report = RegistryCheck { registry: source.registry.to_string(), answered_by, steps: Vec::new() };
        let request = "connection check";
        let started = Instant::now();
        let timeout = Duration::from_millis(source.timeouts.request_ms);
        match inner.http.get(&source.base_url).timeout(timeout).send().await {
            Ok(answer) => {
                report.pass(Step::Reach, started, format!("HTTP {} from the base URL", answer.status().as_u16()))
            }
            Err(error) => {
                let error = crate::wire::transport_error(source, request, error);
                let hint = "check base_url: the host's name (DNS), that its port is open to this machine, and TLS";
                report.fail(Step::Reach, started, error.to_string(), hint);
                return report;
            }
        }
        let started = Instant::now();
        // A fresh token: one still cached proves nothing about the secret configured now.
        if let Err(error) = inner.tokens.refresh(&inner.http, source).await {
            let hint = "check client_id and client_secret, and token_url and token_encoding";
            report.fail(Step::Token, started, error.to_string(), hint);
            return report;
        }
        let (lifetime, granted) = inner.tokens.issued().unwrap_or((Duration::ZERO, None));
        let mut detail = format!("issued to client {:?}, used for {} s", source.client_id, lifetime.as_secs());
        if let Some(granted) = &granted {
            detail.push_str(&format!(", scope {granted:?} granted"));
        }
        // An endpoint that leaves `scope` out granted what was asked (RFC 6749, 5.1).
        let missing: Vec<&str> = match (&source.scope, &granted) {
            (Some(asked), Some(granted)) => {
                asked.split_whitespace().filter(|wanted| !granted.split_whitespace().any(|g| g == *wanted)).collect()
            }
            _ => Vec::new(),
        };
        if !missing.is_empty() {
            let detail = format!("{detail}; scope {:?} was asked for and not granted", missing.join(" "));
            let hint = "ask the registry's operator to grant the client that scope, or correct `scope`";
            report.fail(Step::Token, started, detail, hint);
            return report;
        }
        report.pass(Step::Token, started, detail);
        if source.verify_responses {
            let started = Instant::now();
            match inner.verifier(request, false).await {
                Ok(verifier) => {
                    let keys = verifier.describe().join(", ");
                    report.pass(Step::Jwks, started, format!("signing keys: {keys}"));
                }
                Err(error) => {
                    let hint = "check paths.jwks; a registry that does not sign needs verify_responses = false";
                    report.fail(Step::Jwks, started, error.to_string(), hint);
                    return report;
                }
            }
        }
        self.probe_search(&mut report).await;
        report
    }

    /// The probe search, its signature and the permission to search.
    async fn probe_search(&self, report: &mut RegistryCheck) {
        let source = &self.inner().source;
        let synthetic = source.probe_identifier.is_none();
        let probe = source.probe_identifier.clone().unwrap_or_else(|| {
            let id_type = source.id_type_priority.first().map_or("UIN", String::as_str);
            Identifier::new(id_type, PROBE_IDENTIFIER)
        });
        let criteria = SearchCriteria::new(Query::id(probe.identifier_type.as_str(), probe.identifier_value.as_str()))
            .for_registry(source.search_reg_type(), source.registry.record_type());
        let started = Instant::now();
        match self.search::<Value>(criteria).await {
            Ok(found) => {
                let expected = if synthetic && !found.records.is_empty() { " (none expected)" } else { "" };
                let detail = format!(
                    "{} {}: {} record(s){expected}",
                    probe.identifier_type,
                    probe.identifier_value,
                    found.records.len()
                );
                report.pass(Step::Search, started, detail);
                if source.verify_responses {
                    report.pass(
                        Step::Signature,
                        Instant::now(),
                        "the answer's signature verifies against the JWKS".into(),
                    );
                }
                report.pass(Step::Permission, Instant::now(), "the token is accepted for searching".into());
            }
            Err(error @ (ClientError::Signature { .. } | ClientError::Unverifiable { .. })) => {
                report.pass(Step::Search, started, "answered".into());
                let hint = "the answer is not signed by a key of the registry's JWKS: check paths.jwks and the registry's keys";
                report.fail(Step::Signature, Instant::now(), error.to_string(), hint);
            }
            Err(ClientError::Http { status: status @ (401 | 403), said, .. }) => {
                report.pass(Step::Search, started, format!("answered HTTP {status}"));
                let words = said.unwrap_or_else(|| format!("HTTP {status}"));
                let detail = format!("credentials accepted but not permitted to search: {words}");
                let hint = "ask the registry's operator to let this client search (its role or scope)";
                report.fail(Step::Permission, Instant::now(), detail, hint);
            }
            // The token endpoint refused a new token while searching: a token failure.
            Err(error @ ClientError::Auth { .. }) if matches!(&error, ClientError::Auth { request, .. } if request == TOKEN_REQUEST) =>
            {
                let hint = "check client_id and client_secret, and token_url and token_encoding";
                report.fail(Step::Token, started, error.to_string(), hint);
            }
            Err(error @ ClientError::Auth { .. }) => {
                report.pass(Step::Search, started, "answered HTTP 401".into());
                let detail = format!("credentials accepted but not permitted to search: {error}");
                let hint = "the token endpoint issues tokens the search endpoint refuses: ask the registry's operator";
                report.fail(Step::Permission, Instant::now(), detail, hint);
            }
            Err(error) => {
                let hint = search_hint(&error);
                report.fail(Step::Search, started, error.to_string(), hint);
            }
        }
    }
}
