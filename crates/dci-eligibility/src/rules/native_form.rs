//! The native form of a clause: a comparison of one value with a constant,
//! about the registrant or asked of the members, recognised when a rule is
//! compiled. The engine evaluates it without the CEL interpreter
//! (`crate::engine::native`); a clause without this form goes to CEL.

use std::cmp::Ordering;

use cel::common::ast::{ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators};
use dci_metrics::{Catalog, MetricId};

use crate::names::{DCI, MEMBERS, REGISTRANT};

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
}

/// Whose value a comparison reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    Registrant,
    /// The member a `members.exists`/`members.all` is at.
    Member,
}

/// `<value> <operator> <constant>`, or the same with the constant first.
#[derive(Clone, Debug)]
pub(crate) struct Comparison {
    pub(crate) value: Operand,
    pub(crate) operator: Operator,
    pub(crate) constant: Constant,
}

/// The value a comparison reads.
#[derive(Clone, Debug)]
pub(crate) enum Operand {
    /// `r.<field>` (or the bare field), `m.<field>`.
    Field(Subject, Box<str>),
    /// `age_years(r.<field>)`, `age_months(...)` or `age_days(...)`.
    Age(AgeUnit, Subject, Box<str>),
    /// `dci.<registry>.<metric>` (or `r.dci...`), `m.dci.<registry>.<metric>`.
    Metric(Subject, MetricId),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum AgeUnit {
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operator {
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
    pub(crate) fn holds(self, ordering: Ordering) -> bool {
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
pub(crate) enum Constant {
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
}

/// `members.exists(m, <comparison>)` (CEL: true when it holds of one
/// member, whatever the others give) or `members.all(m, <comparison>)`
/// (false when it fails for one).
#[derive(Clone, Debug)]
pub(crate) struct MemberTest {
    /// `true` for `exists`, `false` for `all`: the answer one member decides.
    pub(crate) deciding: bool,
    pub(crate) comparison: Comparison,
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
}
