//! Reasons in words: each clause of an explained decision said from the
//! values it used (a metric's words come from the catalog's [`Wording`]),
//! and the decision's reason built from the clauses that decided it.
//!
//! The clauses read here are the compiled ones, so the metering wrappers
//! (`@walk(x, …)`, `@built(x)`, `@copy(x)`, a loop's `@budget` and `@tick`)
//! are looked through, and the metered comparisons (`@ge`, …) read as the
//! operators they stand for.

use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators};
use cel::{Context, Value};
use dci_metrics::{UnknownCause, Wording};

use crate::engine::bind::{Household, Tracker};
use crate::engine::evaluate::{run, shown_value, value_json};
use crate::names::{
    BUDGET_FN, BUILT_FN, COPY_FN, DCI, EQ_FN, GE_FN, GT_FN, LE_FN, LT_FN, MEMBERS, NE_FN, REGISTRANT, TICK_FN, WALK_FN,
};
use crate::report::results::{ClauseResult, Missing, Outcome, UsedValue};
use crate::rules::callable::LIBRARY;

/// The value of a clause the decision did not need: it read a registry
/// that was not asked, because the other clauses had decided.
pub(crate) const NOT_NEEDED: &str = "not_needed";

/// The most bytes (about) a clause's words take; a longer text (a value the
/// data made long) is cut, so that an explanation's size follows from the rule's.
const MAX_SAYS_BYTES: usize = 256;

/// The most values a clause lists as used.
const MAX_USED_VALUES: usize = 4;

/// The most bytes (about) a used value's expression, and its JSON, take.
const MAX_USED_BYTES: usize = 64;

/// The most bytes one explained clause's words add to a decision: its `says`,
/// its share of the decision's `reason`, and its `used` values (each an
/// expression and a value, with JSON punctuation).
pub const CLAUSE_WORDS_BYTES: usize = 2 * MAX_SAYS_BYTES + MAX_USED_VALUES * (2 * MAX_USED_BYTES + 32);

/// A sub-expression a clause used, as written, with its value (`None`: unknown).
struct Used {
    text: String,
    value: Option<Value>,
}

/// What a clause used, and the clause in words.
pub(crate) struct ClauseWords {
    pub(crate) used: Vec<UsedValue>,
    pub(crate) says: String,
}

/// The words of one clause whose value is `value`, from the values its
/// operands had for `household` (each evaluated again, under the same budget).
pub(crate) fn clause_words(
    root: &Context<'_, '_>,
    expr: &IdedExpr,
    household: &Household<'_>,
    value: &serde_json::Value,
    missing: &[Missing],
) -> ClauseWords {
    let mut found = Vec::new();
    collect(expr, &mut found);
    found.truncate(MAX_USED_VALUES);
    let used: Vec<Used> = found
        .into_iter()
        .map(|(expr, text)| {
            let value = run(root, expr, household, &Tracker::detailed()).ok();
            Used { text, value }
        })
        .filter(|used| used.value.as_ref().is_none_or(is_shown))
        .collect();
    let says = match value {
        serde_json::Value::Bool(holds) => said(expr, *holds, &used, household)
            .unwrap_or_else(|| format!("`{}` is {holds}", render(expr).unwrap_or_else(|| "the clause".into()))),
        _ if !missing.is_empty() => missing.iter().map(|m| missing_words(m, household)).collect::<Vec<_>>().join("; "),
        serde_json::Value::String(text) if text == "error" => "the clause could not be applied".to_owned(),
        other => format!("the clause gives {other}"),
    };
    let says = cut(says, MAX_SAYS_BYTES);
    let unknown = if value.as_str() == Some(NOT_NEEDED) { NOT_NEEDED } else { "unknown" };
    let used = used
        .into_iter()
        .map(|u| UsedValue {
            expr: cut(u.text, MAX_USED_BYTES),
            value: match &u.value {
                None => serde_json::Value::String(unknown.into()),
                Some(value) => value_json(value, &mut { MAX_USED_BYTES })
                    .unwrap_or_else(|| serde_json::Value::String(cut(value_text(value), MAX_USED_BYTES))),
            },
        })
        .collect();
    ClauseWords { used, says }
}

/// The decision in words: its outcome, and the words of the clauses that
/// decided it.
pub(crate) fn decision_reason(outcome: Outcome, clauses: &[ClauseResult], error: Option<&str>) -> String {
    // Eligible under `&&` needs every clause true, under `||` one: the true
    // clauses said either way; ineligible, the false ones; undetermined, the
    // unknown ones (what is missing, and why).
    let valued = |wanted: serde_json::Value| -> Vec<&str> {
        clauses.iter().filter(|c| c.value == wanted).map(|c| c.says.as_str()).collect()
    };
    let (label, parts, joiner) = match outcome {
        Outcome::Eligible => ("Eligible", valued(serde_json::Value::Bool(true)), ", "),
        Outcome::Ineligible => ("Ineligible", valued(serde_json::Value::Bool(false)), "; "),
        Outcome::Undetermined => ("Undetermined", valued(serde_json::Value::String("unknown".into())), "; "),
        Outcome::Error => return format!("Error: {}.", error.unwrap_or("the rule could not be applied")),
    };
    if parts.is_empty() {
        return format!("{label}.");
    }
    format!("{label}: {}.", parts.join(joiner))
}

/// Whether a value is worth showing as used: not a map (a person, a
/// registry's namespace) nor a list of maps (the members).
fn is_shown(value: &Value) -> bool {
    match value {
        Value::Map(_) => false,
        Value::List(items) => !items.iter().any(|item| matches!(item, Value::Map(_))),
        _ => true,
    }
}

/// The sub-expressions whose values a reason says: names read from the
/// data or registries, and our library's functions (the age from a
/// birthdate); not inside a loop, whose variables have no single value.
fn collect<'e>(expr: &'e IdedExpr, found: &mut Vec<(&'e IdedExpr, String)>) {
    let expr = plain(expr);
    match &expr.expr {
        Expr::Ident(_) | Expr::Select(_) => {
            if let Some(text) = render(expr)
                && !found.iter().any(|(_, seen)| *seen == text)
                && text != DCI
                && text != REGISTRANT
            {
                found.push((expr, text));
            }
        }
        Expr::Call(call) => {
            let ours = LIBRARY.iter().any(|(name, _)| *name == call.func_name) || call.func_name == "size";
            if ours
                && let Some(text) = render(expr)
                && !found.iter().any(|(_, seen)| *seen == text)
            {
                found.push((expr, text));
            }
            call.target.iter().map(|t| &**t).chain(&call.args).for_each(|arg| collect(arg, found));
        }
        _ => {}
    }
}

/// `expr` without the metering wrappers around it.
fn plain(expr: &IdedExpr) -> &IdedExpr {
    match &expr.expr {
        Expr::Call(call)
            if call.target.is_none()
                && matches!(call.func_name.as_str(), WALK_FN | BUILT_FN | COPY_FN | BUDGET_FN)
                && !call.args.is_empty() =>
        {
            plain(&call.args[0])
        }
        _ => expr,
    }
}

/// The operator a (metered) comparison stands for.
fn comparison(name: &str) -> Option<&'static str> {
    Some(match name {
        operators::EQUALS | EQ_FN => "==",
        operators::NOT_EQUALS | NE_FN => "!=",
        operators::GREATER_EQUALS | GE_FN => ">=",
        operators::GREATER | GT_FN => ">",
        operators::LESS_EQUALS | LE_FN => "<=",
        operators::LESS | LT_FN => "<",
        _ => return None,
    })
}

/// The comparison read from the other side: `60 <= x` is `x >= 60`.
fn flipped(op: &'static str) -> &'static str {
    match op {
        ">=" => "<=",
        "<=" => ">=",
        ">" => "<",
        "<" => ">",
        same => same,
    }
}

/// What a comparison asks of the value, in words.
fn needs(op: &str) -> &'static str {
    match op {
        ">=" => "at least",
        ">" => "more than",
        "<=" => "at most",
        "<" => "less than",
        "!=" => "anything but",
        _ => "exactly",
    }
}

/// The expression as it would be written (names, literals, calls); `None`
/// for what has no short form.
fn render(expr: &IdedExpr) -> Option<String> {
    let expr = plain(expr);
    Some(match &expr.expr {
        Expr::Ident(name) => name.clone(),
        Expr::Select(select) if !select.test => format!("{}.{}", render(&select.operand)?, select.field),
        Expr::Literal(literal) => literal_text(literal)?,
        Expr::Call(call) if comparison(&call.func_name).is_some() && call.args.len() == 2 => {
            let op = comparison(&call.func_name)?;
            format!("{} {op} {}", render(&call.args[0])?, render(&call.args[1])?)
        }
        Expr::Call(call) if !call.func_name.starts_with(['@', '_', '!', '-']) => {
            let args: Option<Vec<String>> = call.args.iter().map(render).collect();
            let args = args?.join(", ");
            match &call.target {
                Some(target) => format!("{}.{}({args})", render(target)?, call.func_name),
                None => format!("{}({args})", call.func_name),
            }
        }
        _ => return None,
    })
}

fn literal_text(literal: &LiteralValue) -> Option<String> {
    Some(match literal {
        LiteralValue::Boolean(b) => b.inner().to_string(),
        LiteralValue::Int(n) => n.inner().to_string(),
        LiteralValue::UInt(n) => format!("{}u", n.inner()),
        LiteralValue::Double(x) => x.inner().to_string(),
        LiteralValue::String(s) => format!("\"{}\"", s.inner()),
        LiteralValue::Null => "null".to_owned(),
        LiteralValue::Bytes(_) => return None,
    })
}

/// The clause in words, when its shape is one a reason can say.
fn said(expr: &IdedExpr, holds: bool, used: &[Used], household: &Household<'_>) -> Option<String> {
    let expr = plain(expr);
    match &expr.expr {
        Expr::Call(call) if call.func_name == operators::LOGICAL_NOT && call.args.len() == 1 => {
            said(&call.args[0], !holds, used, household)
        }
        Expr::Call(call) if call.args.len() == 2 && comparison(&call.func_name).is_some() => {
            compared(call, holds, used, household)
        }
        Expr::Comprehension(loop_) => over_members(loop_, holds, household),
        Expr::Ident(_) | Expr::Select(_) => {
            let value = value_of(used, expr)?;
            Some(value_words(expr, value, used, household))
        }
        _ => None,
    }
}

/// The value `expr` had, when it was used and known.
fn value_of<'u>(used: &'u [Used], expr: &IdedExpr) -> Option<&'u Value> {
    let text = render(expr)?;
    used.iter().find(|u| u.text == text)?.value.as_ref()
}

/// `x op literal` (or `literal op x`) in words: what `x` was and, when the
/// clause does not hold, what the rule needs of it.
fn compared(call: &CallExpr, holds: bool, used: &[Used], household: &Household<'_>) -> Option<String> {
    let op = comparison(&call.func_name)?;
    let (left, right) = (plain(&call.args[0]), plain(&call.args[1]));
    let (subject, literal, op) = match (&left.expr, &right.expr) {
        (_, Expr::Literal(literal)) => (left, literal, op),
        (Expr::Literal(literal), _) => (right, literal, flipped(op)),
        _ => return None,
    };
    let value = value_of(used, subject)?;
    let words = value_words(subject, value, used, household);
    if matches!(value, Value::Bool(_)) || holds {
        return Some(words);
    }
    Some(format!("{words}, where the rule needs {} {}", needs(op), literal_text(literal)?))
}

/// `x` with `value` in words: a metric by its catalog wording, an age with
/// the birthdate it came from, a field by its name.
fn value_words(subject: &IdedExpr, value: &Value, used: &[Used], household: &Household<'_>) -> String {
    let text = value_text(value);
    if let Some(wording) = metric_wording(subject, household) {
        return wording.say(&text);
    }
    if let Expr::Call(call) = &subject.expr
        && call.target.is_none()
        && call.args.len() == 1
    {
        let unit = match call.func_name.as_str() {
            "age_years" => Some(""),
            "age_months" => Some(" months"),
            "age_days" => Some(" days"),
            _ => None,
        };
        if let Some(unit) = unit {
            let born = value_of(used, &call.args[0]);
            return match born {
                Some(born) => format!("aged {text}{unit} (born {})", value_text(born)),
                None => format!("aged {text}{unit}"),
            };
        }
    }
    let name = render(subject).unwrap_or_default();
    let name = name.strip_prefix("r.").unwrap_or(&name);
    if !name.contains(['(', '.']) {
        return format!("{} {text}", name.replace('_', " "));
    }
    format!("{name} is {text}")
}

/// The catalog's wording of `dci.<registry>.<metric>` (or `r.dci…`).
fn metric_wording(expr: &IdedExpr, household: &Household<'_>) -> Option<Wording> {
    let text = render(expr)?;
    let text = text.strip_prefix("r.").unwrap_or(&text);
    let id = household.catalog.metric(text)?;
    Some(household.catalog.spec(id).wording)
}

/// A loop over the members (`members.exists(m, …)`, `members.all(m, …)`)
/// whose test is a yes/no metric of the member, in words.
fn over_members(loop_: &ComprehensionExpr, holds: bool, household: &Household<'_>) -> Option<String> {
    let range = range_of(&loop_.iter_range)?;
    if render(range).as_deref().map(|r| r.strip_prefix("r.").unwrap_or(r)) != Some(MEMBERS) {
        return None;
    }
    let Expr::Call(step) = &loop_.loop_step.expr else { return None };
    let exists = match step.func_name.as_str() {
        operators::LOGICAL_OR => true,
        operators::LOGICAL_AND => false,
        _ => return None,
    };
    let test = ticked(step.args.get(1)?);
    let (metric, wanted) = yes_no_test(test, &loop_.iter_var)?;
    let id = household.catalog.metric(&metric)?;
    let Wording::YesNo(yes, no) = household.catalog.spec(id).wording else { return None };
    let words = if wanted { yes } else { no };
    Some(match (exists, holds) {
        (true, true) => format!("at least one household member: {words}"),
        (true, false) => format!("no household member: {words}"),
        (false, true) => format!("every household member: {words}"),
        (false, false) => format!("not every household member: {words}"),
    })
}

/// A loop's range without `@halted() ? [] : @budget(range, …)`.
fn range_of(range: &IdedExpr) -> Option<&IdedExpr> {
    match &range.expr {
        Expr::Call(call) if call.func_name == operators::CONDITIONAL && call.args.len() == 3 => {
            Some(plain(&call.args[2]))
        }
        _ => Some(plain(range)),
    }
}

/// A loop's work without `@tick(n) ? work : false`.
fn ticked(work: &IdedExpr) -> &IdedExpr {
    match &work.expr {
        Expr::Call(call)
            if call.func_name == operators::CONDITIONAL
                && call.args.len() == 3
                && matches!(&call.args[0].expr, Expr::Call(tick) if tick.func_name == TICK_FN) =>
        {
            plain(&call.args[1])
        }
        _ => plain(work),
    }
}

/// `v.dci.<registry>.<metric>` tested for yes (`== true`, bare) or no
/// (`== false`, `!`): the metric's name, and whether yes is wanted.
fn yes_no_test(test: &IdedExpr, variable: &str) -> Option<(String, bool)> {
    let test = plain(test);
    match &test.expr {
        Expr::Call(call) if call.func_name == operators::LOGICAL_NOT && call.args.len() == 1 => {
            yes_no_test(&call.args[0], variable).map(|(metric, wanted)| (metric, !wanted))
        }
        Expr::Call(call) if call.args.len() == 2 && matches!(comparison(&call.func_name), Some("==" | "!=")) => {
            let equal = comparison(&call.func_name) == Some("==");
            let (name, literal) = match (&plain(&call.args[0]).expr, &plain(&call.args[1]).expr) {
                (_, Expr::Literal(LiteralValue::Boolean(b))) => (&call.args[0], *b.inner()),
                (Expr::Literal(LiteralValue::Boolean(b)), _) => (&call.args[1], *b.inner()),
                _ => return None,
            };
            yes_no_test(name, variable).map(|(metric, wanted)| (metric, wanted == (literal == equal)))
        }
        _ => {
            let text = render(test)?;
            let metric = text.strip_prefix(variable)?.strip_prefix('.')?;
            metric.starts_with(DCI).then(|| (metric.to_owned(), true))
        }
    }
}

/// A value as a sentence writes it: a date without its time, a list
/// comma-separated ("none" when empty), text without quotes; cut after
/// [`MAX_SAYS_BYTES`] (a long list is not walked further).
fn value_text(value: &Value) -> String {
    match value {
        Value::Timestamp(t) => t.format("%Y-%m-%d").to_string(),
        Value::String(s) => cut(s.to_string(), MAX_SAYS_BYTES),
        Value::List(items) if items.is_empty() => "none".to_owned(),
        Value::List(items) => {
            let mut text = String::new();
            for item in items.iter() {
                if text.len() > MAX_SAYS_BYTES {
                    break;
                }
                if !text.is_empty() {
                    text.push_str(", ");
                }
                text.push_str(&value_text(item));
            }
            cut(text, MAX_SAYS_BYTES)
        }
        Value::Null => "none".to_owned(),
        other => shown_value(other).to_string(),
    }
}

/// `text`, cut to at most `most` bytes (on a character) and marked when cut.
fn cut(text: String, most: usize) -> String {
    if text.len() <= most {
        return text;
    }
    let mut end = most.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Why a value is missing, in a sentence: the registry by its spoken name,
/// the person (this person, or household member k), and the identifier
/// types a "not found" was asked under.
fn missing_words(missing: &Missing, household: &Household<'_>) -> String {
    let (person, rest) = match missing.name.strip_prefix("members[").and_then(|m| m.split_once("].")) {
        Some((index, rest)) => (index.parse::<usize>().ok().map(|i| i + 1), rest),
        None => (Some(0), missing.name.as_str()),
    };
    let rest = rest.strip_prefix("r.").unwrap_or(rest);
    let who = match person {
        Some(0) | None => "this person".to_owned(),
        Some(k) => format!("household member {k}"),
    };
    let registry = rest
        .strip_prefix("dci.")
        .and_then(|r| r.split('.').next())
        .and_then(|id| household.catalog.registry_index(id))
        .map(|index| household.catalog.registry(index));
    let Some(registry) = registry else {
        return match missing.cause {
            UnknownCause::MissingField => format!("{who}'s data has no {rest}"),
            UnknownCause::NullValue => format!("{rest} is empty (null) in {who}'s data"),
            cause => format!("{rest}: {}", cause.label()),
        };
    };
    let spoken = registry.spoken;
    match missing.cause {
        UnknownCause::NotFound => {
            let types = person.map(|p| household.id_types(p, registry.id)).unwrap_or_default();
            if types.is_empty() {
                format!("{spoken} has no record of {who}")
            } else {
                let whose = if who == "this person" { "this person's".to_owned() } else { format!("{who}'s") };
                format!("{spoken} has no record for {whose} {}", types.join(" or "))
            }
        }
        UnknownCause::NoIdentifier => format!("{who} has no identifier of a type {spoken} accepts"),
        UnknownCause::NotFetched => "not needed".to_owned(),
        cause => {
            let said = cause.label().replacen("the registry", spoken, 1).replace("this person", &who);
            if said.contains(spoken) { said } else { format!("{spoken}: {said}") }
        }
    }
}
