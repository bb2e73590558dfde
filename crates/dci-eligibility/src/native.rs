//! Comparisons the engine evaluates without the CEL interpreter.
//!
//! Most clauses of programme rules compare one value with a constant:
//! `dci.crvs.is_alive == true`, `age_years(r.birthdate) >= 60`,
//! `poverty_score >= 0.7`. For such a clause the engine reads the value and
//! compares it directly, a fraction of the cost of interpreting it (no boxed
//! values, no function dispatch, no error value that `cel` builds before each
//! ordering comparison).
//!
//! It answers only when the answer is plain: the value is present and of the
//! constant's type (int with int, double with double, and for `==` and `!=`
//! also bool with bool and string with string), and a date is written
//! `YYYY-MM-DD`. Anything else (an absent field, an unknown registry value,
//! `null`, mixed number types, escaped strings, other date spellings) is left
//! to CEL, so outcomes, unknowns and error messages stay CEL's; a property test
//! checks that both agree wherever this module answers.

use std::cmp::Ordering;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use chrono::NaiveDate;
use dci_metrics::{Catalog, MetricId, MetricRead, MetricValue};

use crate::bind::Household;
use crate::compile::{DCI, MEMBERS, REGISTRANT};
use crate::functions::{plain_date, whole_months, whole_years};

/// `<value> <operator> <constant>`, or the same with the constant first.
#[derive(Clone, Debug)]
pub(crate) struct Comparison {
    value: Operand,
    operator: Operator,
    constant: Constant,
}

/// The value a comparison reads.
#[derive(Clone, Debug)]
enum Operand {
    /// `r.<field>` (or the bare field).
    Field(Box<str>),
    /// `age_years(r.<field>)`, `age_months(...)` or `age_days(...)`.
    Age(AgeUnit, Box<str>),
    /// `dci.<registry>.<metric>` of the registrant.
    Metric(MetricId),
}

#[derive(Clone, Copy, Debug)]
enum AgeUnit {
    Years,
    Months,
    Days,
}

impl AgeUnit {
    fn of(function: &str) -> Option<AgeUnit> {
        match function {
            "age_years" => Some(AgeUnit::Years),
            "age_months" => Some(AgeUnit::Months),
            "age_days" => Some(AgeUnit::Days),
            _ => None,
        }
    }

    /// The age of someone born on `birth` at `as_of`, as the function computes it.
    fn measure(self, birth: NaiveDate, as_of: NaiveDate) -> i64 {
        match self {
            AgeUnit::Years => whole_years(birth, as_of),
            AgeUnit::Months => whole_months(birth, as_of),
            AgeUnit::Days => (as_of - birth).num_days(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Operator {
    fn of(function: &str) -> Option<Operator> {
        match function {
            operators::EQUALS => Some(Operator::Equal),
            operators::NOT_EQUALS => Some(Operator::NotEqual),
            operators::LESS => Some(Operator::Less),
            operators::LESS_EQUALS => Some(Operator::LessOrEqual),
            operators::GREATER => Some(Operator::Greater),
            operators::GREATER_EQUALS => Some(Operator::GreaterOrEqual),
            _ => None,
        }
    }

    /// The operator that says the same with the operands swapped (`3 < x` is `x > 3`).
    fn swapped(self) -> Operator {
        match self {
            Operator::Less => Operator::Greater,
            Operator::LessOrEqual => Operator::GreaterOrEqual,
            Operator::Greater => Operator::Less,
            Operator::GreaterOrEqual => Operator::LessOrEqual,
            same => same,
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, Operator::Equal | Operator::NotEqual)
    }

    /// Whether `value <operator> constant` holds when `value` compares to the constant as `ordering`.
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Operator::Equal => ordering.is_eq(),
            Operator::NotEqual => ordering.is_ne(),
            Operator::Less => ordering.is_lt(),
            Operator::LessOrEqual => ordering.is_le(),
            Operator::Greater => ordering.is_gt(),
            Operator::GreaterOrEqual => ordering.is_ge(),
        }
    }
}

#[derive(Clone, Debug)]
enum Constant {
    Int(i64),
    Double(f64),
    Bool(bool),
    Text(Box<str>),
}

impl Constant {
    fn of(expr: &IdedExpr) -> Option<Constant> {
        match &expr.expr {
            Expr::Literal(LiteralValue::Int(n)) => Some(Constant::Int(**n)),
            Expr::Literal(LiteralValue::Double(x)) if !x.is_nan() => Some(Constant::Double(**x)),
            Expr::Literal(LiteralValue::Boolean(b)) => Some(Constant::Bool(**b)),
            Expr::Literal(LiteralValue::String(text)) => Some(Constant::Text(text.inner().into())),
            _ => None,
        }
    }
}

/// The registrant field `expr` reads: `r.<field>`, as written or as the one
/// name the local screen's rewrite makes of it.
fn registrant_field(expr: &IdedExpr) -> Option<&str> {
    let field = match &expr.expr {
        Expr::Ident(name) => name.strip_prefix(REGISTRANT)?.strip_prefix('.')?,
        Expr::Select(select) if !select.test && matches!(&select.operand.expr, Expr::Ident(r) if r == REGISTRANT) => {
            &select.field
        }
        _ => return None,
    };
    (!field.is_empty() && !field.contains('.') && field != DCI && field != MEMBERS).then_some(field)
}

impl Operand {
    fn of(expr: &IdedExpr, catalog: &Catalog) -> Option<Operand> {
        if let Some(field) = registrant_field(expr) {
            return Some(Operand::Field(field.into()));
        }
        match &expr.expr {
            Expr::Call(call) if call.target.is_none() && call.args.len() == 1 => {
                let unit = AgeUnit::of(&call.func_name)?;
                Some(Operand::Age(unit, registrant_field(&call.args[0])?.into()))
            }
            Expr::Select(metric) if !metric.test => {
                let Expr::Select(registry) = &metric.operand.expr else { return None };
                let is_dci = !registry.test && matches!(&registry.operand.expr, Expr::Ident(dci) if dci == DCI);
                is_dci.then(|| catalog.field(&registry.field, &metric.field)).flatten().map(Operand::Metric)
            }
            _ => None,
        }
    }
}

impl Comparison {
    /// The comparison `clause` is, if it is one this module evaluates: a
    /// top-level clause (never inside a comprehension, where `r` or `dci`
    /// could name something else).
    pub(crate) fn recognise(clause: &IdedExpr, catalog: &Catalog) -> Option<Comparison> {
        let Expr::Call(call) = &clause.expr else { return None };
        if call.target.is_some() || call.args.len() != 2 {
            return None;
        }
        let operator = Operator::of(&call.func_name)?;
        let (left, right) = (&call.args[0], &call.args[1]);
        let (value, operator, constant) = match (Operand::of(left, catalog), Constant::of(right)) {
            (Some(value), Some(constant)) => (value, operator, constant),
            _ => (Operand::of(right, catalog)?, operator.swapped(), Constant::of(left)?),
        };
        let comparable = match (&value, &constant) {
            (Operand::Age(..), Constant::Int(_)) => true,
            (Operand::Age(..), _) => false,
            (_, Constant::Int(_) | Constant::Double(_)) => true,
            (_, Constant::Bool(_) | Constant::Text(_)) => operator.is_equality(),
        };
        comparable.then_some(Comparison { value, operator, constant })
    }

    /// The clause's value for `household` (at its as-of date), or `None` when CEL must say.
    pub(crate) fn evaluate(&self, household: &Household<'_>) -> Option<bool> {
        let ordering = match &self.value {
            Operand::Field(name) => compare_json(household.beneficiary.field(name)?, &self.constant)?,
            Operand::Age(unit, name) => {
                let raw = household.beneficiary.field(name)?;
                let birth = plain_date(raw.strip_prefix('"')?.strip_suffix('"')?)?;
                let Constant::Int(constant) = self.constant else { return None };
                unit.measure(birth, household.as_of).cmp(&constant)
            }
            Operand::Metric(id) => match household.resolution(0, id.registry).read(household.catalog, *id) {
                MetricRead::Value(value) => compare_metric(value, &self.constant)?,
                MetricRead::Unknown(_) => return None,
            },
        };
        Some(self.operator.holds(ordering))
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
