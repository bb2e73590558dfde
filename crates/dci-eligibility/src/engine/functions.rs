//! The function library rules may use beyond standard CEL, bound to the
//! evaluation's as-of date (nothing reads the clock):
//!
//! | function | result |
//! |---|---|
//! | `age_years(d)`, `age_months(d)`, `age_days(d)` | whole years / months / days from `d` to the as-of date; one less before the anniversary |
//! | `today()` | the as-of date (midnight UTC) as a timestamp |
//! | `days_ago(n)`, `months_ago(n)`, `years_ago(n)` | the as-of date moved back; a day past the end of the month is clamped (Feb 29 − 1 year = Feb 28) |
//! | `between(x, lo, hi)` | `lo <= x && x <= hi` for numbers, strings or timestamps |
//! | `date(s)` | a `YYYY-MM-DD` (or RFC 3339) string as a timestamp |
//!
//! `d` may be a `YYYY-MM-DD` string, an RFC 3339 string or a timestamp; `null`
//! makes the result unknown (the outcome is undetermined, not an error).
//! A person born on 29 February has their birthday on 1 March in other years.

use cel::common::types::CelString;
use cel::common::value::CowVal;
use cel::{Context, DeclarationError, ExecutionError, FunctionContext, Value};
use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, NaiveTime};
use dci_metrics::UnknownCause;
use std::cmp::Ordering;

use crate::engine::meter::Allowance;
use crate::engine::unknown::unknown_error;
use crate::names::{AVG_FN, MAX_FN, MIN_FN, SUM_FN};
use crate::names::{BUDGET_FN, HALTED_FN, TICK_FN};

fn midnight(date: NaiveDate) -> DateTime<FixedOffset> {
    date.and_time(NaiveTime::MIN).and_utc().fixed_offset()
}

/// `YYYY-MM-DD` exactly (the common case, read without chrono's format
/// machinery, which costs more than the rest of an evaluation); `None` for
/// anything else, which the general parsers then read.
pub(crate) fn plain_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

/// Reads a date argument: a `YYYY-MM-DD` or RFC 3339 string, or a timestamp.
/// `Ok(None)` for null.
fn date_of(function: &str, value: &Value) -> Result<Option<NaiveDate>, ExecutionError> {
    match value {
        Value::Null => Ok(None),
        Value::Timestamp(instant) => Ok(Some(instant.date_naive())),
        Value::String(text) => {
            let text = text.trim();
            plain_date(text)
                .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.date_naive()))
                .map(Some)
                .ok_or_else(|| {
                    let shown = crate::rules::diagnostic::preview(text);
                    ExecutionError::function_error(
                        function,
                        format!("{shown:?} is not a date (YYYY-MM-DD or RFC 3339)"),
                    )
                })
        }
        other => Err(ExecutionError::function_error(function, format!("expects a date, got {}", type_name(other)))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Function(..) => "a function",
        Value::Int(_) => "an int",
        Value::UInt(_) => "a uint",
        Value::Float(_) => "a double",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Bool(_) => "a bool",
        Value::Duration(_) => "a duration",
        Value::Timestamp(_) => "a timestamp",
        Value::Opaque(_) => "an opaque value",
        Value::Struct(_) => "a struct",
        Value::Null => "null",
    }
}

/// Reads the date argument of a one-argument function: a plain `YYYY-MM-DD`
/// string is read where it lies (no conversion to a [`Value`], which would
/// copy it), anything else as [`date_of`] does.
fn date_argument(function: &str, call: &FunctionContext<'_, '_>) -> Result<Option<NaiveDate>, ExecutionError> {
    let Some(argument) = call.args.first() else {
        return Err(ExecutionError::invalid_argument_count(1, 0));
    };
    if let Some(date) = argument.downcast_ref::<CelString>().and_then(|text| plain_date(text.inner())) {
        return Ok(Some(date));
    }
    date_of(function, &Value::try_from(argument.as_ref())?)
}

/// Whole years from `from` to `to`, one less before the anniversary.
pub fn whole_years(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut years = i64::from(to.year() - from.year());
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    years
}

/// Whole months from `from` to `to`, one less before the day of the month is reached.
pub fn whole_months(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut months = i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    if to.day() < from.day() {
        months -= 1;
    }
    months
}

fn shift_months(date: NaiveDate, months: i64) -> Result<NaiveDate, String> {
    let magnitude = u32::try_from(months.unsigned_abs()).map_err(|_| format!("{months} months is out of range"))?;
    let moved = if months >= 0 {
        date.checked_sub_months(Months::new(magnitude))
    } else {
        date.checked_add_months(Months::new(magnitude))
    };
    moved.ok_or_else(|| format!("{months} months before {date} is out of range"))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(n) => Some(*n as f64),
        Value::UInt(n) => Some(*n as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

fn compare(function: &str, a: &Value, b: &Value) -> Result<Ordering, ExecutionError> {
    let incomparable =
        || ExecutionError::function_error(function, format!("cannot compare {} with {}", type_name(a), type_name(b)));
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Ok(x.cmp(y)),
        (Value::Timestamp(x), Value::String(_)) => {
            let y = date_of(function, b)?.ok_or_else(incomparable)?;
            Ok(x.cmp(&midnight(y)))
        }
        (Value::String(_), Value::Timestamp(y)) => {
            let x = date_of(function, a)?.ok_or_else(incomparable)?;
            Ok(midnight(x).cmp(y))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).ok_or_else(incomparable),
            _ => Err(incomparable()),
        },
    }
}

fn elements(function: &str, list: &Value) -> Result<Vec<Value>, ExecutionError> {
    match list {
        Value::List(items) => Ok(items.iter().filter(|v| !matches!(v, Value::Null)).cloned().collect()),
        other => Err(ExecutionError::function_error(function, format!("expects a list, got {}", type_name(other)))),
    }
}

fn sum(function: &str, items: &[Value]) -> Result<Value, ExecutionError> {
    if items.iter().all(|v| matches!(v, Value::Int(_))) {
        let mut total: i64 = 0;
        for item in items {
            if let Value::Int(n) = item {
                total = total
                    .checked_add(*n)
                    .ok_or_else(|| ExecutionError::function_error(function, "integer overflow"))?;
            }
        }
        return Ok(Value::Int(total));
    }
    let mut total = 0.0;
    for item in items {
        total += number(item)
            .ok_or_else(|| ExecutionError::function_error(function, format!("cannot add {}", type_name(item))))?;
    }
    Ok(Value::Float(total))
}

fn extreme(function: &str, items: Vec<Value>, wanted: Ordering) -> Result<Value, ExecutionError> {
    let mut best: Option<Value> = None;
    for item in items {
        best = Some(match best {
            None => item,
            Some(current) => {
                if compare(function, &item, &current)? == wanted {
                    item
                } else {
                    current
                }
            }
        });
    }
    Ok(best.unwrap_or(Value::Null))
}

/// Adds the library to `context`, bound to `as_of`.
pub(crate) fn install(
    context: &mut Context<'_, '_>,
    as_of: NaiveDate,
    allowance: &Allowance,
) -> Result<(), DeclarationError> {
    install_meter(context, allowance)?;
    install_dates(context, as_of)?;
    install_values(context)
}

/// The meter's own functions (`@budget`, `@tick`, `@halted`) and the metered
/// implementations of the functions that build from the data.
fn install_meter(context: &mut Context<'_, '_>, allowance: &Allowance) -> Result<(), DeclarationError> {
    let meter = allowance.clone();
    type Raw =
        Box<dyn for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError> + Send + Sync>;
    let charge: Raw = Box::new(move |call: &mut FunctionContext<'_, '_>| meter.charge_loop(call));
    context.add_function(BUDGET_FN, charge)?;
    let meter = allowance.clone();
    let tick: Raw = Box::new(move |call: &mut FunctionContext<'_, '_>| meter.tick(call));
    context.add_function(TICK_FN, tick)?;
    context.add_function(HALTED_FN, || Value::Bool(crate::engine::meter::stopped().is_some()))?;
    crate::engine::metered::install(context, allowance)?;
    Ok(())
}

/// The date functions, all read at `as_of`: ages, `today`, `days_ago`…`years_ago`.
fn install_dates(context: &mut Context<'_, '_>, as_of: NaiveDate) -> Result<(), DeclarationError> {
    let age = |name: &'static str, measure: fn(NaiveDate, NaiveDate) -> i64| {
        move |call: &FunctionContext<'_, '_>| -> Result<Value, ExecutionError> {
            match date_argument(name, call)? {
                Some(date) => Ok(Value::Int(measure(date, as_of))),
                None => Err(unknown_error(UnknownCause::NullValue, &format!("{name}(null)"))),
            }
        }
    };
    context.add_function("age_years", age("age_years", whole_years))?;
    context.add_function("age_months", age("age_months", whole_months))?;
    context.add_function("age_days", age("age_days", |from, to| (to - from).num_days()))?;
    context.add_function("today", move || Value::Timestamp(midnight(as_of)))?;
    context.add_function("days_ago", move |n: i64| -> Result<Value, ExecutionError> {
        let date = chrono::Duration::try_days(n)
            .and_then(|days| as_of.checked_sub_signed(days))
            .ok_or_else(|| ExecutionError::function_error("days_ago", format!("{n} days is out of range")))?;
        Ok(Value::Timestamp(midnight(date)))
    })?;
    context.add_function("months_ago", move |n: i64| -> Result<Value, ExecutionError> {
        shift_months(as_of, n)
            .map(|d| Value::Timestamp(midnight(d)))
            .map_err(|e| ExecutionError::function_error("months_ago", e))
    })?;
    context.add_function("years_ago", move |n: i64| -> Result<Value, ExecutionError> {
        let months = n.checked_mul(12).ok_or_else(|| ExecutionError::function_error("years_ago", "out of range"))?;
        shift_months(as_of, months)
            .map(|d| Value::Timestamp(midnight(d)))
            .map_err(|e| ExecutionError::function_error("years_ago", e))
    })?;
    Ok(())
}

/// `between`, `date` and the list aggregates (`sum`, `avg`, `min`, `max`).
fn install_values(context: &mut Context<'_, '_>) -> Result<(), DeclarationError> {
    context.add_function("between", |x: Value, lo: Value, hi: Value| -> Result<Value, ExecutionError> {
        if [&x, &lo, &hi].iter().any(|v| matches!(v, Value::Null)) {
            return Err(unknown_error(UnknownCause::NullValue, "between(null)"));
        }
        Ok(Value::Bool(
            compare("between", &lo, &x)? != Ordering::Greater && compare("between", &x, &hi)? != Ordering::Greater,
        ))
    })?;
    context.add_function("date", |s: Value| -> Result<Value, ExecutionError> {
        match date_of("date", &s)? {
            Some(date) => Ok(Value::Timestamp(midnight(date))),
            None => Err(unknown_error(UnknownCause::NullValue, "date(null)")),
        }
    })?;
    context.add_function(SUM_FN, |list: Value| -> Result<Value, ExecutionError> {
        sum("sum", &elements("sum", &list)?)
    })?;
    context.add_function(AVG_FN, |list: Value| -> Result<Value, ExecutionError> {
        let items = elements("avg", &list)?;
        if items.is_empty() {
            return Ok(Value::Null);
        }
        let total = match sum("avg", &items)? {
            Value::Int(n) => n as f64,
            Value::Float(x) => x,
            _ => 0.0,
        };
        Ok(Value::Float(total / items.len() as f64))
    })?;
    context.add_function(MIN_FN, |list: Value| -> Result<Value, ExecutionError> {
        extreme("min", elements("min", &list)?, Ordering::Less)
    })?;
    context.add_function(MAX_FN, |list: Value| -> Result<Value, ExecutionError> {
        extreme("max", elements("max", &list)?, Ordering::Greater)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn plain_dates_read_as_chrono_reads_them() {
        for text in ["2001-11-01", "2000-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-01-32", "0000-01-01"] {
            assert_eq!(plain_date(text), NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(), "{text}");
        }
        for other in ["2001-1-01", "2001/11/01", "20011-01-01", "2001-11-01T00:00:00Z", "+001-11-01", "2001-1a-01"] {
            assert_eq!(plain_date(other), None, "{other}");
        }
    }

    proptest::proptest! {
        #[test]
        fn plain_dates_agree_with_chrono(year in 0u32..10_000, month in 0u32..14, day in 0u32..33) {
            let text = format!("{year:04}-{month:02}-{day:02}");
            proptest::prop_assert_eq!(plain_date(&text), NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok());
        }
    }

    #[test]
    fn ages_count_whole_units_before_the_anniversary() {
        assert_eq!(whole_years(d("1966-01-02"), d("2026-01-01")), 59);
        assert_eq!(whole_years(d("1966-01-01"), d("2026-01-01")), 60);
        assert_eq!(whole_years(d("2000-02-29"), d("2026-02-28")), 25);
        assert_eq!(whole_years(d("2000-02-29"), d("2026-03-01")), 26);
        assert_eq!(whole_months(d("2025-01-31"), d("2025-02-28")), 0);
        assert_eq!(whole_months(d("2025-01-15"), d("2026-01-15")), 12);
    }

    #[test]
    fn months_ago_clamps_to_the_end_of_the_month() {
        assert_eq!(shift_months(d("2024-02-29"), 12), Ok(d("2023-02-28")));
        assert_eq!(shift_months(d("2026-03-31"), 1), Ok(d("2026-02-28")));
    }
}
