//! CEL's `&&`, `||` and `!` over unknown values, whatever the order of the
//! operands: `false` (for `||`, `true`) decides, then an unknown, then an
//! error.
//!
//! The interpreter already lets `false && x` and `x && false` be `false`
//! whatever `x` is. But where no operand decides, it gives the error of its
//! right operand: `unknown && <type error>` is an error while
//! `<type error> && unknown` is unknown, and `all`/`exists` keep the last
//! error of their elements. CEL with unknown values (cel-go's partial
//! evaluation) gives the unknown in both orders: a fetched value could still
//! decide it. The engine keeps the interpreter's evaluation, which stops at
//! the first deciding operand, and only where an evaluation ends in an error
//! after meeting an unknown value evaluates the rule's connectives again
//! here, operand by operand, each operand (a comparison, a call) by the
//! interpreter.

use cel::common::ast::{ComprehensionExpr, Expr, IdedExpr, operators};
use cel::{Context, ExecutionError, Value};

use crate::engine::bind::Tracker;
use crate::engine::unknown::as_unknown;
use crate::names::TICK_FN;

/// What an operand is, as CEL's logic sees it.
enum Three {
    /// `true` or `false`.
    Bool(bool),
    /// Unknown: a registry value not known, a missing field, a null argument.
    Unknown(ExecutionError),
    /// An error, or a value that is not a bool.
    Error(ExecutionError),
}

impl Three {
    fn into_result(self) -> Result<Value, ExecutionError> {
        match self {
            Three::Bool(b) => Ok(Value::Bool(b)),
            Three::Unknown(error) | Three::Error(error) => Err(error),
        }
    }
}

/// Whether `expr` is a connective (`&&`, `||`, `!`, `?:`, `all`, `exists`)
/// that [`evaluate`] may answer otherwise than the interpreter.
pub(crate) fn applies(expr: &IdedExpr) -> bool {
    connective(expr).is_some()
}

/// Evaluates `expr` in `context` with CEL's three-valued connectives.
pub(crate) fn evaluate(expr: &IdedExpr, context: &Context<'_, '_>, tracker: &Tracker) -> Result<Value, ExecutionError> {
    three(expr, context, tracker).into_result()
}

/// The connective at the top of `expr`, if any.
fn connective(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Call(call) if call.target.is_none() => match (call.func_name.as_str(), call.args.len()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, 2) | (operators::LOGICAL_NOT, 1) => {
                Some(call.func_name.as_str())
            }
            (operators::CONDITIONAL, 3) => Some(operators::CONDITIONAL),
            _ => None,
        },
        Expr::Comprehension(comprehension) if fold(comprehension).is_some() => Some("fold"),
        _ => None,
    }
}

fn three(expr: &IdedExpr, context: &Context<'_, '_>, tracker: &Tracker) -> Three {
    match &expr.expr {
        Expr::Call(call) if connective(expr).is_some() => {
            let args = &call.args;
            match call.func_name.as_str() {
                operators::LOGICAL_AND | operators::LOGICAL_OR => {
                    let deciding = call.func_name == operators::LOGICAL_OR;
                    let left = three(&args[0], context, tracker);
                    if matches!(left, Three::Bool(b) if b == deciding) {
                        return left;
                    }
                    combine(left, three(&args[1], context, tracker), deciding)
                }
                operators::LOGICAL_NOT => match three(&args[0], context, tracker) {
                    Three::Bool(b) => Three::Bool(!b),
                    other => other,
                },
                _ => match three(&args[0], context, tracker) {
                    Three::Bool(true) => three(&args[1], context, tracker),
                    Three::Bool(false) => three(&args[2], context, tracker),
                    other => other,
                },
            }
        }
        Expr::Comprehension(comprehension) => match fold(comprehension) {
            Some((deciding, predicate)) => quantified(comprehension, predicate, deciding, context, tracker),
            None => leaf(expr, context, tracker),
        },
        _ => leaf(expr, context, tracker),
    }
}

/// `a && b` (`deciding` false) or `a || b` (`deciding` true), neither
/// operand deciding alone: both `!deciding` is `!deciding`; else the first
/// unknown; else the first error.
fn combine(left: Three, right: Three, deciding: bool) -> Three {
    match (left, right) {
        (_, right @ Three::Bool(b)) if b == deciding => right,
        (Three::Bool(_), Three::Bool(b)) => Three::Bool(b),
        (left @ Three::Unknown(_), _) => left,
        (_, right @ Three::Unknown(_)) => right,
        (left @ Three::Error(_), _) => left,
        (_, right) => right,
    }
}

/// An operand evaluated by the interpreter, classified.
fn leaf(expr: &IdedExpr, context: &Context<'_, '_>, tracker: &Tracker) -> Three {
    match evaluated(tracker, || Value::resolve(expr, context)) {
        Ok(Value::Bool(b)) => Three::Bool(b),
        Ok(other) => Three::Error(ExecutionError::no_such_overload("_&&_", vec![kind(&other), "bool".to_owned()])),
        Err(three) => three,
    }
}

/// What `evaluate` gives, its error classified: an unknown (a marker, or a missing field this
/// evaluation read) or an error.
fn evaluated<T>(tracker: &Tracker, evaluate: impl FnOnce() -> Result<T, ExecutionError>) -> Result<T, Three> {
    let earlier = tracker.take_missing_field();
    let result = evaluate();
    let missing = tracker.read_missing_field();
    tracker.restore_missing_field(earlier || missing);
    result.map_err(|error| match error {
        error if as_unknown(&error).is_some() => Three::Unknown(error),
        error @ (ExecutionError::NoSuchKey(_) | ExecutionError::UndeclaredReference(_)) if missing => {
            Three::Unknown(error)
        }
        error => Three::Error(error),
    })
}

fn kind(value: &Value) -> String {
    match value {
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "double",
        Value::String(_) => "string",
        Value::Null => "null_type",
        Value::List(_) => "list",
        Value::Map(_) => "map",
        _ => "dyn",
    }
    .to_owned()
}

/// An `all` (`deciding` false) or `exists` (`deciding` true) loop, as the
/// compiler leaves it: the step `@result && (@tick(n) ? predicate : false)`
/// (or `||`); its deciding value and the predicate.
fn fold(comprehension: &ComprehensionExpr) -> Option<(bool, &IdedExpr)> {
    let Expr::Call(step) = &comprehension.loop_step.expr else { return None };
    let deciding = match step.func_name.as_str() {
        operators::LOGICAL_AND => false,
        operators::LOGICAL_OR => true,
        _ => return None,
    };
    let [accumulator, work] = step.args.as_slice() else { return None };
    if !matches!(&accumulator.expr, Expr::Ident(name) if *name == comprehension.accu_var) {
        return None;
    }
    match &work.expr {
        Expr::Call(ticked) if ticked.func_name == operators::CONDITIONAL && ticked.args.len() == 3 => {
            let charges = matches!(&ticked.args[0].expr, Expr::Call(tick) if tick.func_name == TICK_FN);
            charges.then_some((deciding, work))
        }
        _ => None,
    }
}

/// An `all`/`exists` loop: its range by the interpreter (charged as the
/// loop would be), then each element's predicate (with its charge) in a
/// scope binding the loop variable, folded with [`combine`].
fn quantified(
    comprehension: &ComprehensionExpr,
    work: &IdedExpr,
    deciding: bool,
    context: &Context<'_, '_>,
    tracker: &Tracker,
) -> Three {
    let range = match evaluated(tracker, || Value::resolve_val(&comprehension.iter_range, context)) {
        Ok(range) => range,
        Err(three) => return three,
    };
    let Some(items) = range.as_iterable() else {
        let types = vec![range.get_type().name().to_owned()];
        return Three::Error(ExecutionError::no_such_overload(comprehension.iter_var.as_str(), types));
    };
    let mut folded = Three::Bool(!deciding);
    let mut items = items.iter();
    while let Some(item) = items.next() {
        if crate::engine::meter::stopped().is_some() {
            break;
        }
        let mut scope = context.new_inner_scope();
        scope.add_variable_as_val(comprehension.iter_var.clone(), item.clone_as_boxed());
        let value = three(work, &scope, tracker);
        if matches!(value, Three::Bool(b) if b == deciding) {
            return value;
        }
        folded = combine(folded, value, deciding);
    }
    folded
}
