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

use cel::common::ast::{ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators};
use chrono::NaiveDate;
use dci_metrics::{Catalog, MetricId, MetricRead, MetricValue};

use crate::engine::bind::Household;
use crate::engine::functions::{plain_date, whole_months, whole_years};
use crate::rules::compile::{DCI, MEMBERS, REGISTRANT};

/// A top-level clause of a rule that the engine can evaluate natively.
#[derive(Clone, Debug)]
pub(crate) enum NativeClause {
    /// A comparison about the registrant.
    Comparison(Comparison),
    /// `members.exists(m, <comparison>)` or `members.all(m, <comparison>)`.
    Members(MemberTest),
}

impl NativeClause {
    /// The native form of `clause`, a top-level clause of a rule, if it has one.
    pub(crate) fn recognise(clause: &IdedExpr, catalog: &Catalog) -> Option<NativeClause> {
        match &clause.expr {
            Expr::Comprehension(comprehension) => {
                MemberTest::recognise(comprehension, catalog).map(NativeClause::Members)
            }
            _ => Comparison::recognise(clause, None, catalog).map(NativeClause::Comparison),
        }
    }

    /// The clause's value for `household` (at its as-of date), or `None` when CEL must say.
    pub(crate) fn evaluate(&self, household: &Household<'_>) -> Option<bool> {
        match self {
            NativeClause::Comparison(comparison) => comparison.evaluate(household, 0),
            NativeClause::Members(test) => test.evaluate(household),
        }
    }
}

/// Whose value a comparison reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subject {
    Registrant,
    /// The member a `members.exists`/`members.all` is at.
    Member,
}

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
    /// `r.<field>` (or the bare field), `m.<field>`.
    Field(Subject, Box<str>),
    /// `age_years(r.<field>)`, `age_months(...)` or `age_days(...)`.
    Age(AgeUnit, Subject, Box<str>),
    /// `dci.<registry>.<metric>` (or `r.dci...`), `m.dci.<registry>.<metric>`.
    Metric(Subject, MetricId),
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

/// Whose `name` is, inside the comprehension over `member` (if any): the
/// comprehension's variable shadows `r`.
fn subject_named(name: &str, member: Option<&str>) -> Option<Subject> {
    if Some(name) == member {
        Some(Subject::Member)
    } else if name == REGISTRANT {
        Some(Subject::Registrant)
    } else {
        None
    }
}

/// `<person>.<field>`: whose field, and its name.
fn person_field<'e>(expr: &'e IdedExpr, member: Option<&str>) -> Option<(Subject, &'e str)> {
    let Expr::Select(select) = &expr.expr else { return None };
    let Expr::Ident(person) = &select.operand.expr else { return None };
    let subject = subject_named(person, member)?;
    let field = select.field.as_str();
    (!select.test && field != DCI && field != MEMBERS).then_some((subject, field))
}

/// `dci.<registry>.<metric>`, `r.dci.<registry>.<metric>` or `m.dci.<registry>.<metric>`.
fn person_metric(expr: &IdedExpr, member: Option<&str>, catalog: &Catalog) -> Option<(Subject, MetricId)> {
    let Expr::Select(metric) = &expr.expr else { return None };
    let Expr::Select(registry) = &metric.operand.expr else { return None };
    if metric.test || registry.test {
        return None;
    }
    let subject = match &registry.operand.expr {
        Expr::Ident(dci) if dci == DCI && member != Some(DCI) => Subject::Registrant,
        Expr::Select(dci) if !dci.test && dci.field == DCI => match &dci.operand.expr {
            Expr::Ident(person) => subject_named(person, member)?,
            _ => return None,
        },
        _ => return None,
    };
    Some((subject, catalog.field(&registry.field, &metric.field)?))
}

impl Operand {
    fn of(expr: &IdedExpr, member: Option<&str>, catalog: &Catalog) -> Option<Operand> {
        if let Some((subject, field)) = person_field(expr, member) {
            return Some(Operand::Field(subject, field.into()));
        }
        if let Some((subject, metric)) = person_metric(expr, member, catalog) {
            return Some(Operand::Metric(subject, metric));
        }
        let Expr::Call(call) = &expr.expr else { return None };
        if call.target.is_some() || call.args.len() != 1 {
            return None;
        }
        let unit = AgeUnit::of(&call.func_name)?;
        let (subject, field) = person_field(&call.args[0], member)?;
        Some(Operand::Age(unit, subject, field.into()))
    }
}

impl Comparison {
    /// The comparison `clause` is, if it is one this module evaluates: a
    /// top-level clause, or the test of a comprehension over the members
    /// whose variable is `member`.
    fn recognise(clause: &IdedExpr, member: Option<&str>, catalog: &Catalog) -> Option<Comparison> {
        let Expr::Call(call) = &clause.expr else { return None };
        if call.target.is_some() || call.args.len() != 2 {
            return None;
        }
        let operator = Operator::of(&call.func_name)?;
        let (left, right) = (&call.args[0], &call.args[1]);
        let (value, operator, constant) = match (Operand::of(left, member, catalog), Constant::of(right)) {
            (Some(value), Some(constant)) => (value, operator, constant),
            _ => (Operand::of(right, member, catalog)?, operator.swapped(), Constant::of(left)?),
        };
        let comparable = match (&value, &constant) {
            (Operand::Age(..), Constant::Int(_)) => true,
            (Operand::Age(..), _) => false,
            (_, Constant::Int(_) | Constant::Double(_)) => true,
            (_, Constant::Bool(_) | Constant::Text(_)) => operator.is_equality(),
        };
        comparable.then_some(Comparison { value, operator, constant })
    }

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

/// `members.exists(m, <comparison>)` (CEL: true when it holds of one
/// member, whatever the others give) or `members.all(m, <comparison>)`
/// (false when it fails for one).
#[derive(Clone, Debug)]
pub(crate) struct MemberTest {
    /// `true` for `exists`, `false` for `all`: the answer one member decides.
    deciding: bool,
    comparison: Comparison,
}

impl MemberTest {
    /// Recognises the expansion of `exists` and `all` (standard or with the
    /// implicit `m`) over the registrant's members.
    fn recognise(comprehension: &ComprehensionExpr, catalog: &Catalog) -> Option<MemberTest> {
        const RESULT: &str = "@result";
        let c = comprehension;
        let over_members = match &c.iter_range.expr {
            Expr::Ident(name) => name == MEMBERS,
            Expr::Select(select) => {
                !select.test
                    && select.field == MEMBERS
                    && matches!(&select.operand.expr, Expr::Ident(r) if r == REGISTRANT)
            }
            _ => false,
        };
        let is_result = |expr: &IdedExpr| matches!(&expr.expr, Expr::Ident(name) if name == RESULT);
        if !over_members || c.iter_var2.is_some() || c.accu_var != RESULT || !is_result(&c.result) {
            return None;
        }
        let Expr::Literal(LiteralValue::Boolean(initial)) = &c.accu_init.expr else { return None };
        let deciding = !**initial;
        let Expr::Call(step) = &c.loop_step.expr else { return None };
        let joins = if deciding { operators::LOGICAL_OR } else { operators::LOGICAL_AND };
        let stops = matches!(&c.loop_cond.expr, Expr::Call(call) if call.func_name == operators::NOT_STRICTLY_FALSE);
        if !stops
            || step.func_name != joins
            || step.target.is_some()
            || step.args.len() != 2
            || !is_result(&step.args[0])
        {
            return None;
        }
        let comparison = Comparison::recognise(&step.args[1], Some(&c.iter_var), catalog)?;
        Some(MemberTest { deciding, comparison })
    }

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
