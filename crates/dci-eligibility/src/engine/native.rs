//! Clauses the engine evaluates without the CEL interpreter.
//!
//! Most clauses of programme rules compare one value with a constant:
//! `dci.crvs.is_alive == true`, `age_years(r.birthdate) >= 60`,
//! `poverty_score >= 0.7`, or ask it of the members:
//! `members.exists(m, m.dci.dr.has_disability == true)`. For such a clause
//! the engine reads the values and compares them directly, a fraction of the
//! cost of interpreting it (no boxed values, no function dispatch, no error
//! value that `cel` builds before each ordering comparison).
//!
//! It answers only when the answer is plain: the value is present and of the
//! constant's type (int with int, double with double, and for `==` and `!=`
//! also bool with bool and string with string), and a date is written
//! `YYYY-MM-DD`. Anything else (an absent field, an unknown registry value,
//! `null`, mixed number types, escaped strings, other date spellings) is left
//! to CEL, so outcomes, unknowns and error messages stay CEL's; a property test
//! checks that both agree wherever this module answers.

use std::cmp::Ordering;

use chrono::NaiveDate;
use dci_metrics::{MetricRead, MetricValue};

use crate::engine::bind::Household;
use crate::engine::functions::{plain_date, whole_months, whole_years};
use crate::rules::native_form::{AgeUnit, Comparison, Constant, MemberTest, NativeClause, Operand, Subject};

impl NativeClause {
    /// The clause's value for `household` (at its as-of date), or `None` when CEL must say.
    pub(crate) fn evaluate(&self, household: &Household<'_>) -> Option<bool> {
        match self {
            NativeClause::Comparison(comparison) => comparison.evaluate(household, 0),
            NativeClause::Members(test) => test.evaluate(household),
        }
    }
}

impl AgeUnit {
    /// The age of someone born on `birth` at `as_of`, as the function computes it.
    fn measure(self, birth: NaiveDate, as_of: NaiveDate) -> i64 {
        match self {
            AgeUnit::Years => whole_years(birth, as_of),
            AgeUnit::Months => whole_months(birth, as_of),
            AgeUnit::Days => (as_of - birth).num_days(),
        }
    }
}

impl Comparison {
    /// The comparison's value for `household` (at its as-of date), with
    /// person `member` as [`Subject::Member`]; `None` when CEL must say.
    fn evaluate(&self, household: &Household<'_>, member: usize) -> Option<bool> {
        let person = |subject| if subject == Subject::Member { member } else { 0 };
        let field = |subject, name: &str| household.beneficiary.person(person(subject))?.field(name);
        let ordering = match &self.value {
            Operand::Field(subject, name) => compare_json(field(*subject, name)?, &self.constant)?,
            Operand::Age(unit, subject, name) => {
                let raw = field(*subject, name)?;
                let birth = plain_date(raw.strip_prefix('"')?.strip_suffix('"')?)?;
                let Constant::Int(constant) = self.constant else { return None };
                unit.measure(birth, household.as_of).cmp(&constant)
            }
            Operand::Metric(subject, id) => {
                match household.resolution(person(*subject), id.registry).read(household.catalog, *id, household.as_of)
                {
                    MetricRead::Value(value) => compare_metric(value, &self.constant)?,
                    MetricRead::Unknown(_) => return None,
                }
            }
        };
        Some(self.operator.holds(ordering))
    }
}

impl MemberTest {
    /// The test's value for `household`, or `None` when CEL must say.
    fn evaluate(&self, household: &Household<'_>) -> Option<bool> {
        if !household.beneficiary.members_known {
            return None; // an unknown household: CEL says `missing_field`
        }
        let mut all_answered = true;
        for member in 1..household.beneficiary.persons() {
            match self.comparison.evaluate(household, member) {
                Some(answer) if answer == self.deciding => return Some(answer),
                Some(_) => {}
                None => all_answered = false,
            }
        }
        all_answered.then_some(!self.deciding)
    }
}

/// A field's JSON text against a constant of its own type, read as the
/// evaluator reads it (an integer without `.`, `e` or `E` is an int).
fn compare_json(raw: &str, constant: &Constant) -> Option<Ordering> {
    let bytes = raw.as_bytes();
    let number = matches!(bytes.first(), Some(b'-' | b'0'..=b'9'));
    let integral = number && !raw.contains(['.', 'e', 'E']);
    match constant {
        Constant::Int(c) if integral => Some(raw.parse::<i64>().ok()?.cmp(c)),
        Constant::Double(c) if number && !integral => raw.parse::<f64>().ok()?.partial_cmp(c),
        Constant::Bool(c) => match raw {
            "true" => Some(true.cmp(c)),
            "false" => Some(false.cmp(c)),
            _ => None,
        },
        Constant::Text(c) => {
            let text = raw.strip_prefix('"')?.strip_suffix('"')?;
            (!text.contains('\\')).then(|| text.cmp(c))
        }
        _ => None,
    }
}

/// A registry value against a constant of its own type.
fn compare_metric(value: &MetricValue, constant: &Constant) -> Option<Ordering> {
    match (value, constant) {
        (MetricValue::Int(v), Constant::Int(c)) => Some(v.cmp(c)),
        (MetricValue::Double(v), Constant::Double(c)) => v.partial_cmp(c),
        (MetricValue::Bool(v), Constant::Bool(c)) => Some(v.cmp(c)),
        (MetricValue::String(v), Constant::Text(c)) => Some((**v).cmp(&**c)),
        _ => None,
    }
}
