//! One path to a registry value: `dci.<registry>.<metric>` (also `r.dci...`,
//! and `m.dci...` for a member), which the compiler analyses, so that the
//! engine fetches the value where it can change a decision, caches it, and
//! never lets an unknown one pass for a default.
//!
//! The other spellings CEL allows either resolve to that path or are
//! refused (`misplaced_dci`), naming the spelling to use:
//!
//! * an index with a written key, `r['dci']['dr']['disability_level']`, is
//!   the same path and is rewritten to it ([`resolve_index_forms`]);
//! * an optional select or index (`r.?dci...`, `dci.dr.?x`, `r[?'dci']`) and
//!   `has(dci...)` are refused: a registry value is never absent, and a
//!   value the registry did not give is unknown, which `orValue` or `has`
//!   would turn into a default;
//! * an index with a computed key on the path (`dci.dr[k]`), and `.dci` on
//!   anything but a person's name, are refused: the compiler could not tell
//!   which value is read.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, SelectExpr, operators};

use crate::names::{DCI, REGISTRANT};

/// A registry value read another way than by its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Misplaced {
    /// The node: its place in the rule.
    pub(crate) id: u64,
    /// The path to write instead, when it can be told (`dci.dr.disability_level`).
    pub(crate) instead: Option<String>,
    /// What is wrong with the spelling.
    pub(crate) why: &'static str,
}

/// A written string key: `'dci'`.
fn literal_key(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(text)) => Some(text.inner()),
        _ => None,
    }
}

/// The names of a path, root first, where each step is a select, an
/// optional select or an index with a written key (`r.?dci['dr'].x` →
/// `[r, dci, dr, x]`).
fn segments(expr: &IdedExpr) -> Option<Vec<&str>> {
    let mut names = Vec::new();
    let mut current = expr;
    loop {
        match &current.expr {
            Expr::Ident(name) => {
                names.push(name.as_str());
                names.reverse();
                return Some(names);
            }
            Expr::Select(select) => {
                names.push(select.field.as_str());
                current = &select.operand;
            }
            Expr::Call(call)
                if call.target.is_none()
                    && call.args.len() == 2
                    && matches!(
                        call.func_name.as_str(),
                        operators::INDEX | operators::OPT_INDEX | operators::OPT_SELECT
                    ) =>
            {
                names.push(literal_key(&call.args[1])?);
                current = &call.args[0];
            }
            _ => return None,
        }
    }
}

/// Whether `names` (a path, root first) reaches into a registry: it starts
/// at `dci`, or at a person's name (`r`, a loop variable) followed by `dci`.
fn reaches_registry(names: &[&str], bound: &[String]) -> bool {
    match names {
        [first, ..] if *first == DCI && !bound.iter().any(|b| b == DCI) => true,
        [root, second, ..] if *second == DCI => *root == REGISTRANT || bound.iter().any(|b| b == root),
        _ => false,
    }
}

/// Rewrites an index with a written key on a registry path to a select:
/// `r['dci']['dr']['x']` → `r.dci.dr.x`. `bound` holds the loop variables in scope.
pub(crate) fn resolve_index_forms(expr: &mut IdedExpr, bound: &mut Vec<String>) {
    each_child(expr, bound, resolve_index_forms);
    let Expr::Call(call) = &expr.expr else { return };
    if call.func_name != operators::INDEX || call.target.is_some() || call.args.len() != 2 {
        return;
    }
    let Some(key) = literal_key(&call.args[1]) else { return };
    let mut names = segments(&call.args[0]).unwrap_or_default();
    names.push(key);
    if !reaches_registry(&names, bound) {
        return;
    }
    let field = key.to_owned();
    let Expr::Call(call) = std::mem::replace(&mut expr.expr, Expr::Unspecified) else { return };
    let operand = call.args.into_iter().next().unwrap_or_default();
    expr.expr = Expr::Select(SelectExpr { operand: Box::new(operand), field, test: false });
}

/// One step of a path: a select, an optional select or an index.
struct Link<'a> {
    /// The field or written key; `None` when the key is computed.
    key: Option<&'a str>,
    /// `.?f` or `[?k]`.
    optional: bool,
}

/// What a path starts from.
enum Root<'a> {
    /// A name: `dci`, `r`, a loop variable.
    Name(&'a str),
    /// A map literal: its fields are its own, never a person's.
    MapLiteral,
    /// Anything else (a list, a call, a condition), which may hold a person.
    Other,
}

/// The path `expr` is the last link of, root first, if `expr` is a select or an index.
fn chain(expr: &IdedExpr) -> Option<(Root<'_>, Vec<Link<'_>>)> {
    let link = |e: &IdedExpr| match &e.expr {
        Expr::Select(_) => true,
        Expr::Call(call) => {
            call.target.is_none()
                && call.args.len() == 2
                && matches!(call.func_name.as_str(), operators::INDEX | operators::OPT_INDEX | operators::OPT_SELECT)
        }
        _ => false,
    };
    if !link(expr) {
        return None;
    }
    let mut links = Vec::new();
    let mut current = expr;
    loop {
        match &current.expr {
            Expr::Select(select) => {
                links.push(Link { key: Some(select.field.as_str()), optional: false });
                current = &select.operand;
            }
            Expr::Call(call) if link(current) => {
                links.push(Link { key: literal_key(&call.args[1]), optional: call.func_name != operators::INDEX });
                current = &call.args[0];
            }
            Expr::Ident(name) => {
                links.reverse();
                return Some((Root::Name(name.as_str()), links));
            }
            Expr::Map(_) => {
                links.reverse();
                return Some((Root::MapLiteral, links));
            }
            _ => {
                links.reverse();
                return Some((Root::Other, links));
            }
        }
    }
}

/// Every registry value of `expr` read another way than by its path (one
/// finding per path, at its last link).
pub(crate) fn misplaced(expr: &IdedExpr, bound: &mut Vec<String>, found: &mut Vec<Misplaced>) {
    if let Some((root, links)) = chain(expr) {
        let test = matches!(&expr.expr, Expr::Select(select) if select.test);
        // The links that name a registry value (`dci.<registry>.<metric>` after the root), and
        // what the canonical path starts with.
        let region = match root {
            Root::Name(name) if name == DCI && !bound.iter().any(|b| b == DCI) => Some((0..links.len().min(2), None)),
            Root::Name(name)
                if (name == REGISTRANT || bound.iter().any(|b| b == name))
                    && links.first().is_some_and(|l| l.key == Some(DCI)) =>
            {
                let member = (name != REGISTRANT).then_some(name);
                Some((1..links.len().min(3), member))
            }
            _ => None,
        };
        let why = match &region {
            Some((range, _))
                if links[range.clone()].iter().any(|l| l.optional)
                    || links.first().is_some_and(|l| l.optional && l.key == Some(DCI)) =>
            {
                Some(
                    "a registry value is never absent: one the registry did not give is unknown (the decision \
                 undetermined), and `?` with `orValue` would turn it into a default",
                )
            }
            Some((range, _)) if links[range.clone()].iter().any(|l| l.key.is_none()) => {
                Some("a registry value is read by its name, written out: a key here is computed")
            }
            Some(_) if test => {
                Some("`has()` cannot test a registry value: it is there, or unknown (and the decision undetermined)")
            }
            // A map literal's own fields are its keys; past them it may hold a person.
            None if match root {
                Root::Other => links.iter().any(|l| l.key == Some(DCI)),
                Root::MapLiteral => links.iter().skip(1).any(|l| l.key == Some(DCI)),
                Root::Name(_) => false,
            } =>
            {
                Some(
                    "`.dci` is read only from a person's name: `dci.<registry>.<metric>` for the beneficiary, \
                     `m.dci.<registry>.<metric>` for a member in a loop over `members`",
                )
            }
            _ => None,
        };
        if let Some(why) = why {
            let instead = region.filter(|(range, _)| !range.is_empty()).and_then(|(range, member)| {
                let names: Option<Vec<&str>> = links[range].iter().map(|l| l.key).collect();
                let path = format!("dci.{}", names?.join("."));
                let path = match member {
                    Some(member) => format!("{member}.{path}"),
                    None => path,
                };
                Some(if test { format!("{path} != null") } else { path })
            });
            found.push(Misplaced { id: expr.id, instead, why });
            return;
        }
    }
    each_child_ref(expr, bound, |child, bound| misplaced(child, bound, found));
}

/// Calls `visit` on each child of `expr`, with a comprehension's variables bound in its body.
fn each_child(expr: &mut IdedExpr, bound: &mut Vec<String>, visit: fn(&mut IdedExpr, &mut Vec<String>)) {
    match &mut expr.expr {
        Expr::Call(call) => {
            if let Some(target) = call.target.as_deref_mut() {
                visit(target, bound);
            }
            call.args.iter_mut().for_each(|arg| visit(arg, bound));
        }
        Expr::Select(select) => visit(&mut select.operand, bound),
        Expr::List(list) => list.elements.iter_mut().for_each(|e| visit(e, bound)),
        Expr::Map(map) => {
            for entry in &mut map.entries {
                if let EntryExpr::MapEntry(e) = &mut entry.expr {
                    visit(&mut e.key, bound);
                    visit(&mut e.value, bound);
                }
            }
        }
        Expr::Comprehension(c) => {
            visit(&mut c.iter_range, bound);
            visit(&mut c.accu_init, bound);
            bound.push(c.iter_var.clone());
            bound.push(c.accu_var.clone());
            visit(&mut c.loop_cond, bound);
            visit(&mut c.loop_step, bound);
            visit(&mut c.result, bound);
            bound.truncate(bound.len() - 2);
        }
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn each_child_ref(expr: &IdedExpr, bound: &mut Vec<String>, mut visit: impl FnMut(&IdedExpr, &mut Vec<String>)) {
    match &expr.expr {
        Expr::Call(call) => {
            if let Some(target) = call.target.as_deref() {
                visit(target, bound);
            }
            call.args.iter().for_each(|arg| visit(arg, bound));
        }
        Expr::Select(select) => visit(&select.operand, bound),
        Expr::List(list) => list.elements.iter().for_each(|e| visit(e, bound)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    visit(&e.key, bound);
                    visit(&e.value, bound);
                }
            }
        }
        Expr::Comprehension(c) => {
            visit(&c.iter_range, bound);
            visit(&c.accu_init, bound);
            bound.push(c.iter_var.clone());
            bound.push(c.accu_var.clone());
            visit(&c.loop_cond, bound);
            visit(&c.loop_step, bound);
            visit(&c.result, bound);
            bound.truncate(bound.len() - 2);
        }
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}
