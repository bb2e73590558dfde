//! One evaluation: a rule's expression over one household, classified into
//! a verdict; and the detailed re-evaluation that lists what is missing and,
//! on request, the value of each top-level clause.

use cel::common::ast::IdedExpr;
use cel::{Context, ExecutionError, Value};
use dci_metrics::UnknownCause;

use crate::engine::bind::{Details, Household, MISPLACED_FN, Needs, Resolver, Scope, Tracker};
use crate::engine::logic;
use crate::engine::meter::{self, Stop};
use crate::engine::reason::{ClauseWords, NOT_NEEDED, clause_words, decision_reason};
use crate::engine::unknown::as_unknown;
use crate::report::results::{ClauseResult, Decision, Missing, Outcome};
use crate::rules::compile::Rule;
use crate::rules::diagnostic::{preview, preview_debug};
use crate::rules::native_form::NativeClause;

/// What a fast evaluation concluded.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verdict {
    Decided(bool),
    /// Undecided, and fetching these registries may decide it.
    Pending(Needs),
    Undetermined,
    Error,
    /// Stopped by its budget or a cancellation: its detail is not evaluated again.
    Stopped(Stop),
}

impl Verdict {
    /// The outcome this verdict gives when no detail is asked for.
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            Verdict::Decided(true) => Outcome::Eligible,
            Verdict::Decided(false) => Outcome::Ineligible,
            Verdict::Error | Verdict::Stopped(_) => Outcome::Error,
            Verdict::Undetermined | Verdict::Pending(_) => Outcome::Undetermined,
        }
    }
}

impl Decision {
    /// The decision of an evaluation that was stopped: an error naming the rule and why.
    pub(crate) fn stopped(rule: &Rule, stop: Stop) -> Self {
        let error = format!("rule `{}`: {}", rule.name(), stop.message());
        Decision {
            outcome: Outcome::Error,
            missing: Vec::new(),
            error: Some(error),
            code: Some(stop.code()),
            clauses: None,
            reason: None,
        }
    }

    /// A decision with its outcome only.
    pub(crate) fn plain(outcome: Outcome) -> Self {
        Decision { outcome, missing: Vec::new(), error: None, code: None, clauses: None, reason: None }
    }
}

/// Evaluates `expr` over `household`, noting unknowns in `tracker`.
pub(crate) fn run(
    root: &Context<'_, '_>,
    expr: &IdedExpr,
    household: &Household<'_>,
    tracker: &Tracker,
) -> Result<Value, ExecutionError> {
    let resolver = Resolver { scope: Scope { household, tracker } };
    let mut context = root.new_inner_scope();
    context.set_variable_resolver(&resolver);
    household.allowance.start(household.spent);
    let mut result = Value::resolve(expr, &context);
    // An error met beside an unknown may have hidden it: CEL's connectives give the unknown.
    if let Err(error) = &result
        && meter::stopped().is_none()
        && !is_unknown(error, tracker)
        && logic::applies(expr)
    {
        result = logic::evaluate(expr, &context, tracker);
    }
    household.allowance.record(household.spent);
    // A stopped evaluation is stopped whatever its value: `false && <stopped>` is still stopped;
    // and one that read a registry value by a way the compiler could not see decides nothing.
    match meter::stopped() {
        Some(stop) => Err(meter::stop_error(stop)),
        None if tracker.misplaced.load(std::sync::atomic::Ordering::Relaxed) => {
            Err(ExecutionError::function_error(MISPLACED_FN, MISPLACED_MESSAGE))
        }
        None => result,
    }
}

/// Why a decision that read a registry value by a computed key is an error.
const MISPLACED_MESSAGE: &str = "a registry value was read by a computed key, which the engine cannot fetch for: \
                                 write its name, `dci.<registry>.<metric>`";

/// Whether `error` is that of a misplaced registry read.
fn is_misplaced(error: &ExecutionError) -> bool {
    matches!(error, ExecutionError::FunctionError { function, .. } if function == MISPLACED_FN)
}

/// Whether an error stands for an unknown value (a registry value, a missing field, a null).
fn is_unknown(error: &ExecutionError, tracker: &Tracker) -> bool {
    as_unknown(error).is_some()
        || (matches!(error, ExecutionError::NoSuchKey(_) | ExecutionError::UndeclaredReference(_))
            && tracker.read_missing_field())
}

/// Fast evaluation: the verdict only.
pub(crate) fn verdict(root: &Context<'_, '_>, rule: &Rule, household: &Household<'_>) -> Verdict {
    if let Some(decided) = verdict_of_native_clauses(rule, household) {
        return Verdict::Decided(decided);
    }
    let tracker = Tracker::default();
    let result = run(root, rule.expr(), household, &tracker);
    match result {
        Ok(Value::Bool(b)) => Verdict::Decided(b),
        Ok(_) => Verdict::Error,
        Err(error) if let Some(stop) = meter::as_stop(&error) => Verdict::Stopped(stop),
        Err(error) => {
            let needs = tracker.needs();
            if !needs.is_empty() {
                Verdict::Pending(needs)
            } else if is_unknown(&error, &tracker) {
                Verdict::Undetermined
            } else {
                Verdict::Error
            }
        }
    }
}

/// The verdict the rule's native clauses decide alone (see [`NativeClause`]),
/// if they do: in an `&&` chain one false clause decides `false`, in an `||`
/// chain one true decides `true` (CEL's `&&` and `||` are commutative, errors
/// and unknowns included); when every clause is native, all of them
/// answering decide the rule too. `None`: CEL evaluates the rule.
fn verdict_of_native_clauses(rule: &Rule, household: &Household<'_>) -> Option<bool> {
    let deciding = rule.connective() == Some("||");
    let mut all_answered = true;
    for native in rule.native_clauses() {
        match native.as_ref().and_then(|n| n.evaluate(household)) {
            Some(answer) if answer == deciding => return Some(deciding),
            Some(_) => {}
            None => all_answered = false,
        }
    }
    all_answered.then_some(!deciding)
}

/// What some top-level `&&` clauses of a rule say together of a household.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Screen {
    /// One is false: so is the rule (CEL's `&&` is false when an operand is,
    /// whatever the others are, errors and unknowns included).
    False,
    /// All are true: the rule is the conjunction of its other clauses.
    True,
    /// Anything else (an error, an unknown).
    Open,
}

/// Evaluates `clauses` in order, as CEL evaluates an `&&` chain: the first
/// false decides; an error or unknown does not stop the others.
/// A clause with a native form ([`NativeClause`]) is evaluated natively when that answers.
fn conjunction<'e>(
    root: &Context<'_, '_>,
    clauses: impl Iterator<Item = (&'e IdedExpr, Option<&'e NativeClause>)>,
    household: &Household<'_>,
    tracker: &Tracker,
) -> Screen {
    let mut all_true = true;
    for (clause, native) in clauses {
        let answer = match native.and_then(|n| n.evaluate(household)) {
            Some(answer) => Some(answer),
            None => match run(root, clause, household, tracker) {
                Ok(Value::Bool(answer)) => Some(answer),
                _ => None,
            },
        };
        match answer {
            Some(false) => return Screen::False,
            Some(true) => {}
            None => all_true = false,
        }
    }
    if all_true { Screen::True } else { Screen::Open }
}

/// What the clauses of `rule` that read no registry ([`Rule::local_screen`])
/// say of `household`; [`Screen::Open`] for a rule without such clauses.
pub(crate) fn screen(root: &Context<'_, '_>, rule: &Rule, household: &Household<'_>) -> Screen {
    if rule.local_screen().len() == 0 {
        return Screen::Open;
    }
    conjunction(root, rule.local_screen(), household, &Tracker::default())
}

/// The verdict of a rule whose local clauses are all true ([`Screen::True`]),
/// from its other clauses only: one false decides `false`, all true decide
/// `true`; otherwise the registries noted are still needed, and failing that
/// the whole rule is evaluated, so the verdict is always the one [`verdict`]
/// gives.
pub(crate) fn verdict_of_rest(root: &Context<'_, '_>, rule: &Rule, household: &Household<'_>) -> Verdict {
    let tracker = Tracker::default();
    match conjunction(root, rule.registry_clauses(), household, &tracker) {
        Screen::False => Verdict::Decided(false),
        Screen::True => Verdict::Decided(true),
        Screen::Open => {
            let needs = tracker.needs();
            if needs.is_empty() { verdict(root, rule, household) } else { Verdict::Pending(needs) }
        }
    }
}

/// Detailed evaluation: the decision with missing values, error message and,
/// when `explain`, the clauses.
pub(crate) fn decide(root: &Context<'_, '_>, rule: &Rule, household: &Household<'_>, explain: bool) -> Decision {
    let tracker = Tracker::detailed();
    let result = run(root, rule.expr(), household, &tracker);
    let unknown = match &result {
        Err(error) => is_unknown(error, &tracker),
        Ok(_) => false,
    };
    let details = tracker.into_details();
    if let Some(stop) = result.as_ref().err().and_then(meter::as_stop) {
        return Decision::stopped(rule, stop);
    }
    if result.as_ref().err().is_some_and(is_misplaced) {
        return Decision {
            outcome: Outcome::Error,
            missing: Vec::new(),
            error: Some(format!("rule `{}`: {MISPLACED_MESSAGE}", rule.name())),
            code: Some("misplaced_dci"),
            clauses: None,
            reason: None,
        };
    }
    let (outcome, missing, error) = match result {
        Ok(Value::Bool(true)) => (Outcome::Eligible, Vec::new(), None),
        Ok(Value::Bool(false)) => (Outcome::Ineligible, Vec::new(), None),
        Ok(other) => {
            (Outcome::Error, Vec::new(), Some(format!("the rule gives {}, not true or false", value_kind(&other))))
        }
        Err(error) if unknown => (Outcome::Undetermined, missing_of(&error, details.missing), None),
        Err(error) => (Outcome::Error, Vec::new(), Some(describe_error(&error, &details))),
    };
    let clauses = explain.then(|| explain_clauses(root, rule, household));
    let reason = clauses.as_ref().map(|clauses| decision_reason(outcome, clauses, error.as_deref()));
    Decision { outcome, missing, error, code: None, clauses, reason }
}

fn missing_of(error: &ExecutionError, mut missing: Vec<Missing>) -> Vec<Missing> {
    if let Some((cause, Some(name))) = as_unknown(error)
        && !missing.iter().any(|m| m.name == name)
    {
        missing.push(Missing { name: name.to_owned(), cause });
    }
    missing
}

fn explain_clauses(root: &Context<'_, '_>, rule: &Rule, household: &Household<'_>) -> Vec<ClauseResult> {
    household.open_account();
    rule.clauses()
        .iter()
        .map(|clause| {
            let tracker = Tracker::detailed();
            let result = run(root, &clause.expr, household, &tracker);
            let unknown = matches!(&result, Err(e) if is_unknown(e, &tracker));
            let details = tracker.into_details();
            let (value, missing, error) = match result {
                Ok(value) => (shown_value(&value), Vec::new(), None),
                Err(error) if unknown => {
                    let missing = missing_of(&error, details.missing);
                    // Unknown only for want of a registry the decision did not need.
                    let needed = missing.is_empty() || missing.iter().any(|m| m.cause != UnknownCause::NotFetched);
                    let value = if needed { "unknown" } else { NOT_NEEDED };
                    (serde_json::Value::String(value.into()), missing, None)
                }
                Err(error) => {
                    (serde_json::Value::String("error".into()), Vec::new(), Some(describe_error(&error, &details)))
                }
            };
            let ClauseWords { used, says } = clause_words(root, &clause.expr, household, &value, &missing);
            ClauseResult { clause: clause.text.clone(), value, says, used, missing, error }
        })
        .collect()
}

/// The most bytes (about) of JSON a clause's value takes in an explanation: a
/// larger value (a long string or list built by the rule) is shown as a
/// preview of its text, so an explanation's size follows from the rule's.
pub const MAX_SHOWN_VALUE_BYTES: usize = 256;

/// A clause's value as an explanation shows it (see [`MAX_SHOWN_VALUE_BYTES`]).
pub(crate) fn shown_value(value: &Value) -> serde_json::Value {
    let mut left = MAX_SHOWN_VALUE_BYTES;
    value_json(value, &mut left).unwrap_or_else(|| serde_json::Value::String(preview_debug(value)))
}

/// `value` as JSON, or `None` once it takes more than `left` bytes.
pub(crate) fn value_json(value: &Value, left: &mut usize) -> Option<serde_json::Value> {
    let size = match value {
        Value::String(s) => s.len() + 2,
        Value::List(items) => items.len() + 2,
        _ => 8,
    };
    *left = left.checked_sub(size)?;
    Some(match value {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(n) => serde_json::Value::from(*n),
        Value::UInt(n) => serde_json::Value::from(*n),
        Value::Float(x) => {
            serde_json::Number::from_f64(*x).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
        }
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Null => serde_json::Value::Null,
        Value::Timestamp(t) => serde_json::Value::String(t.to_rfc3339()),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(|item| value_json(item, left)).collect::<Option<_>>()?)
        }
        other => serde_json::Value::String(preview_debug(other)),
    })
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::Null => "null",
        Value::Timestamp(_) => "a timestamp",
        Value::Duration(_) => "a duration",
        Value::Bytes(_) => "bytes",
        _ => "a value",
    }
}

/// CEL's type name → the JSON kind of a field holding such a value.
fn json_kind_of(cel_type: &str) -> &'static str {
    match cel_type {
        "string" => "a string",
        "int" | "uint" | "double" => "a number",
        "bool" => "a boolean",
        "null_type" => "null",
        "list" => "a list",
        "map" => "an object",
        _ => "",
    }
}

fn operator(name: &str) -> String {
    match name {
        "_[_]" => "[]".to_owned(),
        "_?_:_" => "?:".to_owned(),
        "_._" => "field selection".to_owned(),
        other => other.trim_matches('_').trim_end_matches('_').to_owned(),
    }
}

/// A message for a runtime error that names the operation and the fields involved.
fn describe_error(error: &ExecutionError, details: &Details) -> String {
    match error {
        ExecutionError::NoSuchOverload(overload) => {
            let types = overload.argument_types();
            let kinds: Vec<&str> = types.iter().map(|t| json_kind_of(t)).filter(|k| !k.is_empty()).collect();
            let culprits: Vec<String> = details
                .fields
                .iter()
                .filter(|field| kinds.contains(&field.kind))
                .map(|field| format!("{} is {} ({})", field.name, field.kind, field.preview))
                .collect();
            let mut message =
                format!("`{}` cannot be applied to ({})", operator(overload.function()), types.join(", "));
            if !culprits.is_empty() {
                message.push_str(": ");
                message.push_str(&dedup(culprits).join("; "));
            }
            message
        }
        ExecutionError::DivisionByZero(_) => "division by zero".to_owned(),
        ExecutionError::RemainderByZero(_) => "remainder by zero".to_owned(),
        ExecutionError::Overflow(op, _, _) => format!("integer overflow in `{op}`"),
        ExecutionError::FunctionError { function, message } => {
            format!("{}: {}", preview(function.trim_start_matches('@')), bounded(message))
        }
        ExecutionError::UndeclaredReference(name) => format!("unknown name `{}`", preview(name)),
        ExecutionError::NoSuchKey(key) => format!("no key `{}`", preview(key)),
        ExecutionError::ValuesNotComparable(a, b) => {
            format!("cannot compare {} with {}", preview_debug(a), preview_debug(b))
        }
        other => bounded(&other.to_string()),
    }
}

/// The most bytes of a runtime error's message a decision carries: its
/// values are cut to previews, and whatever else the message holds is cut here.
const MAX_ERROR_BYTES: usize = 512;

fn bounded(message: &str) -> String {
    if message.len() <= MAX_ERROR_BYTES {
        return message.to_owned();
    }
    let cut = (0..=MAX_ERROR_BYTES).rev().find(|&at| message.is_char_boundary(at)).unwrap_or(0);
    format!("{}...", &message[..cut])
}

fn dedup(mut items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
    items
}
