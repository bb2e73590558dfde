//! Request handlers: plain async functions over typed extractors. Auth,
//! limits, timeouts and telemetry are layers (see [`crate::routes`]).

pub(crate) mod evaluate;
pub(crate) mod info;
pub(crate) mod ndjson;
pub(crate) mod playground;
pub(crate) mod validate;
pub(crate) mod workbench;

use axum::http::StatusCode;
use chrono::NaiveDate;
use dci_eligibility::{Beneficiary, BeneficiaryError, Compiler, EvaluationOptions, Rule};
use serde_json::json;

use crate::access::Caller;
use crate::api::{EvaluateOptions, RuleSet};
use crate::audit::{Audited, asked_identifiers, reads_registries};

use crate::config::ServerLimits;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Who asks, read before the body: the key's [`Caller`] (put there by the auth layer; a request
/// without one may do nothing), the request's id and the route, for the lookup bound and the audit.
#[derive(Clone)]
pub(crate) struct Asker {
    pub(crate) caller: Caller,
    request_id: Option<String>,
    route: &'static str,
}

impl Asker {
    pub(crate) fn of(request: &axum::extract::Request, route: &'static str) -> Self {
        let caller = request.extensions().get::<Caller>().cloned().unwrap_or_else(Caller::nobody);
        let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Asker { caller, request_id, route }
    }

    /// Before `rules` read registries about `beneficiaries` at `as_of`: counts their
    /// identifiers against the key's bound (429 `too_many_lookups` past it, counted per key),
    /// then writes the audit record (503 `audit_unavailable` when it cannot be written). Both
    /// come before any lookup, so that none goes unrecorded, whatever ends the request later.
    /// Nothing is counted or recorded when the rules read no registry.
    pub(crate) async fn admit<'a>(
        &self,
        state: &AppState,
        rules: &'a [Rule],
        as_of: NaiveDate,
        beneficiaries: impl Iterator<Item = &'a Beneficiary> + Clone + 'a,
    ) -> Result<(), ApiError> {
        if !reads_registries(rules) {
            return Ok(());
        }
        let asked: Vec<(&str, &str)> = asked_identifiers(rules, beneficiaries.clone()).collect();
        if let Err(error) = state.lookups().admit(state.engine().store(), &self.caller, &asked).await {
            state.telemetry().lookups_refused(&self.caller.name);
            return Err(error);
        }
        let pending = state.audit().pending(
            Audited {
                caller: &self.caller,
                route: self.route,
                request_id: self.request_id.as_deref(),
                rules,
                as_of,
                beneficiaries,
            },
            &asked,
        );
        // Hashing every identifier and writing the file are blocking work: on the pool.
        let Some(pending) = pending else { return Ok(()) };
        let state = state.clone();
        crate::pool::on_pool(crate::pool::Lane::for_items(asked.len()), move || state.audit().write_pending(pending))
            .await
    }
}

/// The name of the rule given as `rule`.
const SINGLE_RULE: &str = "rule";

/// The rules of a request, `(name, expression)` in order: `rules` or `rule`, not both, not none,
/// at most `max_rules`.
pub(crate) fn rule_sources(
    rules: Option<RuleSet>,
    rule: Option<String>,
    limits: &ServerLimits,
) -> Result<Vec<(String, String)>, ApiError> {
    let sources = match (rules, rule) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("rules", "give `rules` or `rule`, not both")),
        (Some(RuleSet(rules)), None) => rules,
        (None, Some(rule)) => vec![(SINGLE_RULE.to_owned(), rule)],
        (None, None) => {
            return Err(ApiError::invalid(
                "rules",
                "no rules: give `rules` ({\"name\": \"expression\", ...}) or `rule` (\"expression\")",
            ));
        }
    };
    if sources.is_empty() {
        return Err(ApiError::invalid("rules", "`rules` is empty: give at least one rule"));
    }
    if sources.len() > limits.max_rules {
        return Err(ApiError::invalid(
            "rules",
            format!("{} rules given; at most {} per request", sources.len(), limits.max_rules),
        )
        .with_details(json!({"field": "rules", "limit": limits.max_rules})));
    }
    if let Some((name, _)) = sources.iter().find(|(name, _)| name.trim().is_empty()) {
        return Err(ApiError::invalid("rules", format!("rule name {name:?} is blank")));
    }
    if let Some((name, _)) = sources.iter().find(|(name, _)| name.len() > dci_eligibility::MAX_RULE_NAME_BYTES) {
        // Every result names its rule: a long name would multiply the response.
        return Err(ApiError::invalid(
            "rules",
            format!(
                "the rule name {:?} is {} bytes long; at most {} (MAX_RULE_NAME_BYTES)",
                dci_eligibility::preview(name),
                name.len(),
                dci_eligibility::MAX_RULE_NAME_BYTES
            ),
        ));
    }
    Ok(sources)
}

/// A request body read as `T`, which must be written as a JSON object (checked first, with one
/// message whatever the body is): serde would also take
/// a struct written as a list of its fields in order, which no caller means.
pub(crate) fn read_object<'a, T: serde::Deserialize<'a>>(body: &'a [u8], line_offset: usize) -> Result<T, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Told before serde would read a list as a struct's fields, or name the struct.
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| ApiError::from_json(&e, line_offset))?;
        return Err(ApiError::invalid("body", "the request must be a JSON object: {\"field\": value, ...}"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let request = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| ApiError::from_json_at(e.inner(), line_offset, &crate::error::field_path(e.path())))?;
    deserializer.end().map_err(|e| ApiError::from_json(&e, line_offset))?;
    Ok(request)
}

/// The evaluation date: `as_of` (`YYYY-MM-DD`), or `today`.
pub(crate) fn as_of(text: Option<&str>, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    match text {
        None => Ok(today),
        Some(text) => {
            // Exactly the documented form: chrono alone would also take `2026-1-1` or `+12026-01-01`.
            let shaped = text.len() == 10
                && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
            shaped.then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()).flatten().ok_or_else(|| {
                ApiError::invalid("as_of", format!("as_of must be a date YYYY-MM-DD (e.g. 2026-01-01), not {text:?}"))
            })
        }
    }
}

/// Compiles every rule; any invalid → 422 `invalid_rule` with every diagnostic.
pub(crate) fn compile(compiler: &Compiler, sources: &[(String, String)]) -> Result<Vec<Rule>, ApiError> {
    let mut rules = Vec::with_capacity(sources.len());
    let mut invalid = Vec::new();
    for (name, source) in sources {
        match compiler.compile(name, source) {
            Ok(rule) => rules.push(rule),
            Err(error) => invalid.push(error),
        }
    }
    let Some(first) = invalid.first() else { return Ok(rules) };
    let message = if invalid.len() == 1 {
        first.to_string()
    } else {
        format!("{} rules are invalid; first: {first}", invalid.len())
    };
    let details: Vec<_> =
        invalid.iter().map(|error| json!({"rule": error.name, "diagnostics": error.diagnostics})).collect();
    Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRule, message)
        .with_details(json!({"rules": details})))
}

/// Rules and options, checked and compiled (CPU: call on the pool).
pub(crate) fn prepare(
    compiler: &Compiler,
    options: EvaluateOptions,
    limits: &ServerLimits,
    today: NaiveDate,
) -> Result<(Vec<Rule>, EvaluationOptions), ApiError> {
    let sources = rule_sources(options.rules, options.rule, limits)?;
    let as_of = as_of(options.as_of.as_deref(), today)?;
    let rules = compile(compiler, &sources)?;
    let options = EvaluationOptions { explain: options.explain.unwrap_or(false), ..EvaluationOptions::new(as_of) };
    Ok((rules, options))
}

/// Bytes allowed in an explanation per decision: the outcome, the missing values' names and
/// causes, JSON punctuation.
const DECISION_OVERHEAD: usize = 64;

/// Bytes allowed per clause besides its text: its value (at most
/// `dci_eligibility::MAX_SHOWN_VALUE_BYTES` of JSON), its words and the values it used (at most
/// `dci_eligibility::CLAUSE_WORDS_BYTES`) and JSON punctuation.
const CLAUSE_OVERHEAD: usize = 64 + dci_eligibility::MAX_SHOWN_VALUE_BYTES + dci_eligibility::CLAUSE_WORDS_BYTES;

/// About how many bytes the explanations of `rules` take per beneficiary: each clause's text (as
/// JSON writes it) and value, per rule.
fn explanation_bytes(rules: &[Rule]) -> usize {
    let clause = |text: &str| serde_json::to_string(text).map_or(text.len(), |json| json.len()) + CLAUSE_OVERHEAD;
    rules.iter().map(|rule| DECISION_OVERHEAD + rule.clauses().iter().map(|c| clause(&c.text)).sum::<usize>()).sum()
}

/// Refuses to explain `rules` for `beneficiaries` when the explanations would take more than
/// `max_explanation_bytes` (413 `too_many_beneficiaries`): a JSON response holds them all.
pub(crate) fn check_explained(beneficiaries: usize, rules: &[Rule], limits: &ServerLimits) -> Result<(), ApiError> {
    let each = explanation_bytes(rules).max(1);
    let explained = beneficiaries.saturating_mul(each);
    if explained <= limits.max_explanation_bytes {
        return Ok(());
    }
    let most = limits.max_explanation_bytes / each;
    Err(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooManyBeneficiaries,
        format!(
            "explaining the rules for {beneficiaries} beneficiaries takes about {explained} bytes ({each} each: \
             the clauses' text and values); at most {} in one response (max_explanation_bytes): send at most \
             {most} beneficiaries per request, or without explanations, or as NDJSON",
            limits.max_explanation_bytes
        ),
    )
    .with_details(json!({"limit": most, "received": beneficiaries})))
}

/// The NDJSON lines evaluated together when `rules` are explained: as many as `ndjson_chunk`,
/// but no more than `max_explanation_bytes` of explanations (at least one line).
pub(crate) fn explained_chunk(rules: &[Rule], limits: &ServerLimits) -> usize {
    let each = explanation_bytes(rules).max(1);
    limits.ndjson_chunk.min(limits.max_explanation_bytes / each).max(1)
}

/// A beneficiary with more than `max_members` household members becomes an item error.
pub(crate) fn check_members(
    item: Result<Beneficiary, BeneficiaryError>,
    max_members: usize,
    path: impl FnOnce() -> String,
) -> Result<Beneficiary, BeneficiaryError> {
    let beneficiary = item?;
    if beneficiary.member_count() > max_members {
        return Err(BeneficiaryError {
            line: None,
            path: path(),
            problem: format!(
                "{} household members; at most {max_members} are accepted per beneficiary",
                beneficiary.member_count()
            ),
        });
    }
    Ok(beneficiary)
}

/// Today in UTC: the default evaluation date, read once per request.
pub(crate) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Cancels an evaluation when the request that started it is dropped.
pub(crate) struct CancelOnDrop(pub(crate) dci_eligibility::Cancellation);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
