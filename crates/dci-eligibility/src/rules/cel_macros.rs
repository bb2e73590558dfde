//! Parse-time macros for the OpenSPP spellings over household members:
//! the implicit loop variable `m` (`members.exists(m.age > 5)`), and the
//! aggregates `count`, `sum`, `avg`, `min` and `max`.
//!
//! Each expands, like CEL's own macros, into a comprehension: no runtime
//! function walks the list, so member values stay lazy.

use crate::names::{AVG_FN, MAX_FN, MIN_FN, SUM_FN};
use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue, operators};
use cel::parser::{MacroExprHelper, ParseError};
use cel::{DeclarationError, Env};

/// Loop variable of the implicit forms.
pub(crate) const IMPLICIT_VAR: &str = "m";
const ACCUMULATOR: &str = "@result";

type Expansion = Result<Option<IdedExpr>, ParseError>;

fn ident(helper: &mut MacroExprHelper<'_>, name: &str) -> IdedExpr {
    helper.next_expr(Expr::Ident(name.to_owned()))
}

fn call(helper: &mut MacroExprHelper<'_>, function: &str, args: Vec<IdedExpr>) -> IdedExpr {
    helper.next_expr(Expr::Call(CallExpr { func_name: function.to_owned(), target: None, args }))
}

fn boolean(helper: &mut MacroExprHelper<'_>, value: bool) -> IdedExpr {
    helper.next_expr(Expr::Literal(LiteralValue::Boolean(value.into())))
}

fn variable_name(helper: &MacroExprHelper<'_>, expr: &IdedExpr) -> Result<String, ParseError> {
    match &expr.expr {
        Expr::Ident(name) => Ok(name.clone()),
        _ => Err(helper.new_error(expr.id, "the first argument must be the loop variable, a simple name (e.g. `m`)")),
    }
}

fn comprehension(
    helper: &mut MacroExprHelper<'_>,
    range: IdedExpr,
    var: String,
    init: IdedExpr,
    condition: IdedExpr,
    step: IdedExpr,
) -> IdedExpr {
    let result = ident(helper, ACCUMULATOR);
    helper.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: var,
        iter_var2: None,
        accu_var: ACCUMULATOR.to_owned(),
        accu_init: init,
        loop_cond: condition,
        loop_step: step,
        result,
    })))
}

/// `range.exists(var, pred)` / `all` / `exists_one` with an explicit variable, as CEL does them.
fn quantifier(
    helper: &mut MacroExprHelper<'_>,
    kind: &str,
    range: IdedExpr,
    var: String,
    predicate: IdedExpr,
) -> IdedExpr {
    match kind {
        "all" | "exists" => {
            let all = kind == "all";
            let init = boolean(helper, all);
            let accu = ident(helper, ACCUMULATOR);
            let keep_going = if all { accu } else { call(helper, operators::LOGICAL_NOT, vec![accu]) };
            let condition = call(helper, operators::NOT_STRICTLY_FALSE, vec![keep_going]);
            let accu = ident(helper, ACCUMULATOR);
            let op = if all { operators::LOGICAL_AND } else { operators::LOGICAL_OR };
            let step = call(helper, op, vec![accu, predicate]);
            comprehension(helper, range, var, init, condition, step)
        }
        _ => {
            // exists_one: count matches, then == 1
            let counted = counter(helper, range, var, predicate);
            let one = helper.next_expr(Expr::Literal(LiteralValue::Int(1.into())));
            call(helper, operators::EQUALS, vec![counted, one])
        }
    }
}

/// The number of elements of `range` satisfying `predicate`.
fn counter(helper: &mut MacroExprHelper<'_>, range: IdedExpr, var: String, predicate: IdedExpr) -> IdedExpr {
    let zero = helper.next_expr(Expr::Literal(LiteralValue::Int(0.into())));
    let condition = boolean(helper, true);
    let accu = ident(helper, ACCUMULATOR);
    let one = helper.next_expr(Expr::Literal(LiteralValue::Int(1.into())));
    let plus_one = call(helper, operators::ADD, vec![accu, one]);
    let unchanged = ident(helper, ACCUMULATOR);
    let step = call(helper, operators::CONDITIONAL, vec![predicate, plus_one, unchanged]);
    comprehension(helper, range, var, zero, condition, step)
}

/// The list of `value` for the elements of `range` satisfying `predicate` (all when `None`).
fn collect(
    helper: &mut MacroExprHelper<'_>,
    range: IdedExpr,
    var: String,
    value: IdedExpr,
    predicate: Option<IdedExpr>,
) -> IdedExpr {
    let empty = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let condition = boolean(helper, true);
    let accu = ident(helper, ACCUMULATOR);
    let single = helper.next_expr(Expr::List(ListExpr::new(vec![value])));
    let appended = call(helper, operators::ADD, vec![accu, single]);
    let step = match predicate {
        Some(predicate) => {
            let unchanged = ident(helper, ACCUMULATOR);
            call(helper, operators::CONDITIONAL, vec![predicate, appended, unchanged])
        }
        None => appended,
    };
    comprehension(helper, range, var, empty, condition, step)
}

fn take_target(target: &mut Option<IdedExpr>) -> IdedExpr {
    target.take().unwrap_or_default()
}

/// `range.exists(pred)`, `all`, `exists_one`, `existsOne`, `filter`, `map` with the implicit variable `m`.
fn implicit(
    kind: &'static str,
) -> impl Fn(&mut MacroExprHelper<'_>, &mut Option<IdedExpr>, &mut Vec<IdedExpr>) -> Expansion + Send + Sync {
    move |helper, target, args| {
        let Some(body) = args.pop() else { return Ok(None) };
        let range = take_target(target);
        let var = IMPLICIT_VAR.to_owned();
        Ok(Some(match kind {
            "filter" => {
                let element = ident(helper, IMPLICIT_VAR);
                collect(helper, range, var, element, Some(body))
            }
            "map" => collect(helper, range, var, body, None),
            "exists_one" => quantifier(helper, "exists_one", range, var, body),
            other => quantifier(helper, other, range, var, body),
        }))
    }
}

/// `range.count()`, `count(pred)`, `count(var, pred)`.
fn count(helper: &mut MacroExprHelper<'_>, target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    let range = take_target(target);
    Ok(Some(match args.len() {
        0 => call(helper, "size", vec![range]),
        1 => {
            let predicate = args.remove(0);
            counter(helper, range, IMPLICIT_VAR.to_owned(), predicate)
        }
        _ => {
            let var = variable_name(helper, &args[0])?;
            let predicate = args.remove(1);
            args.clear();
            counter(helper, range, var, predicate)
        }
    }))
}

/// `range.sum(value)`, `sum(var, value)`, `sum(var, value, pred)` (and `avg`, `min`, `max`).
fn aggregate(
    function: &'static str,
) -> impl Fn(&mut MacroExprHelper<'_>, &mut Option<IdedExpr>, &mut Vec<IdedExpr>) -> Expansion + Send + Sync {
    move |helper, target, args| {
        let (var, value, predicate) = match args.len() {
            1 => (IMPLICIT_VAR.to_owned(), args.remove(0), None),
            2 => {
                let var = variable_name(helper, &args[0])?;
                let value = args.remove(1);
                args.clear();
                (var, value, None)
            }
            3 => {
                let var = variable_name(helper, &args[0])?;
                let predicate = args.remove(2);
                let value = args.remove(1);
                args.clear();
                (var, value, Some(predicate))
            }
            _ => return Ok(None),
        };
        let range = take_target(target);
        let values = collect(helper, range, var, value, predicate);
        Ok(Some(call(helper, function, vec![values])))
    }
}

/// The comprehensions over a list: `list.exists(x, p)` and the like.
const QUANTIFIERS: [&str; 5] = ["exists", "all", "exists_one", "filter", "map"];
/// `existsOne`, cel-go's spelling of `exists_one`.
const EXISTS_ONE: &str = "existsOne";
/// `members.count(m, p)`: how many satisfy `p`.
const COUNT: &str = "count";
/// The aggregates over a list and the functions they become.
const AGGREGATES: [(&str, &str); 4] = [("sum", SUM_FN), ("avg", AVG_FN), ("min", MIN_FN), ("max", MAX_FN)];

/// Every macro written as a method: `members.exists(m, ...)`, `members.count(...)`, ...
pub(crate) fn receiver_macros() -> impl Iterator<Item = &'static str> {
    QUANTIFIERS.into_iter().chain([EXISTS_ONE, COUNT]).chain(AGGREGATES.into_iter().map(|(name, _)| name))
}

/// Adds the dialect's macros to `env`.
pub(crate) fn install(env: &mut Env) -> Result<(), DeclarationError> {
    use cel::parser::Macro;
    for kind in QUANTIFIERS {
        env.add_macro(Macro::receiver(kind, 1, implicit(kind)))?;
    }
    env.add_macro(Macro::receiver(EXISTS_ONE, 1, implicit("exists_one")))?;
    for arity in 0..=2 {
        env.add_macro(Macro::receiver(COUNT, arity, count))?;
    }
    for (name, function) in AGGREGATES {
        for arity in 1..=3 {
            env.add_macro(Macro::receiver(name, arity, aggregate(function)))?;
        }
    }
    Ok(())
}
