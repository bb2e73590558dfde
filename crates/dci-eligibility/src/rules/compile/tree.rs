//! Walking and rewriting the parsed expression: spans, depth, the
//! `me`/bare-field rewrites, the top-level clauses.

use std::collections::HashMap;
use std::ops::Range;

use cel::common::ast::{EntryExpr, Expr, IdedEntryExpr, IdedExpr, SelectExpr, operators};

use super::REGISTRANT_ALIAS;
use crate::names::{DCI, MEMBERS, NAMESPACES, REGISTRANT};
use crate::rules::callable::TYPE_NAMES;

/// Rewrites `r.<field>` as one name, `r.<field>`, which the evaluator's
/// resolver answers at once, without the qualified-name search `cel` does
/// for a selection (two allocations per read). Only for the local screen:
/// a field that is absent then gives an undeclared-reference error rather
/// than a missing-field unknown, and the screen treats any error as "not
/// decided here" (the whole rule is evaluated), so results do not change.
pub(super) fn direct_field_reads(expr: &mut IdedExpr, bound: &mut Vec<String>) {
    match &mut expr.expr {
        Expr::Select(select) => {
            let direct = !select.test
                && matches!(&select.operand.expr, Expr::Ident(name) if name == REGISTRANT)
                && !bound.iter().any(|name| name == REGISTRANT)
                && select.field != DCI
                && select.field != MEMBERS;
            if direct {
                expr.expr = Expr::Ident(format!("{REGISTRANT}.{}", select.field));
            } else {
                direct_field_reads(&mut select.operand, bound);
            }
        }
        Expr::Call(call) => {
            if let Some(target) = call.target.as_mut() {
                direct_field_reads(target, bound);
            }
            call.args.iter_mut().for_each(|arg| direct_field_reads(arg, bound));
        }
        Expr::List(list) => list.elements.iter_mut().for_each(|e| direct_field_reads(e, bound)),
        Expr::Map(map) => {
            for entry in &mut map.entries {
                match &mut entry.expr {
                    EntryExpr::MapEntry(e) => {
                        direct_field_reads(&mut e.key, bound);
                        direct_field_reads(&mut e.value, bound);
                    }
                    EntryExpr::StructField(f) => direct_field_reads(&mut f.value, bound),
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &mut s.entries {
                if let EntryExpr::StructField(f) = &mut entry.expr {
                    direct_field_reads(&mut f.value, bound);
                }
            }
        }
        Expr::Comprehension(c) => {
            direct_field_reads(&mut c.iter_range, bound);
            direct_field_reads(&mut c.accu_init, bound);
            let before = bound.len();
            bound.push(c.iter_var.clone());
            bound.push(c.accu_var.clone());
            bound.extend(c.iter_var2.clone());
            direct_field_reads(&mut c.loop_cond, bound);
            direct_field_reads(&mut c.loop_step, bound);
            direct_field_reads(&mut c.result, bound);
            bound.truncate(before);
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

pub(super) fn children(expr: &IdedExpr) -> Vec<&IdedExpr> {
    match &expr.expr {
        Expr::Call(call) => call.target.iter().map(|t| t.as_ref()).chain(call.args.iter()).collect(),
        Expr::Select(select) => vec![select.operand.as_ref()],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => entry_children(&map.entries),
        Expr::Struct(s) => entry_children(&s.entries),
        Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// The keys and values of a map's or a message's entries.
fn entry_children(entries: &[IdedEntryExpr]) -> Vec<&IdedExpr> {
    entries
        .iter()
        .flat_map(|entry| match &entry.expr {
            EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
            EntryExpr::StructField(f) => vec![&f.value],
        })
        .collect()
}

/// The depth of `expr`'s tree (a lone literal is 1) and the source offsets
/// of its deepest node (or of the nearest node above it that has some),
/// measured without recursion: the tree may be deeper than the stack allows.
pub(super) fn expression_depth(
    expr: &IdedExpr,
    offsets: impl Fn(u64) -> Option<(u32, u32)>,
) -> (usize, Option<(u32, u32)>) {
    let mut deepest = (0, None);
    let mut pending = vec![(expr, 1usize, None)];
    while let Some((node, level, above)) = pending.pop() {
        let located = offsets(node.id).or(above);
        if level > deepest.0 {
            deepest = (level, located);
        }
        pending.extend(children(node).into_iter().map(|child| (child, level + 1, located)));
    }
    deepest
}

pub(super) fn collect_spans(expr: &IdedExpr, add: &mut impl FnMut(u64)) {
    add(expr.id);
    for child in children(expr) {
        collect_spans(child, add);
    }
}

/// The byte range covered by every node of a subtree. A field selection's
/// own position is its dot, so the field name is added; unclosed brackets
/// are extended to their closing bracket.
pub(super) fn subtree_span_in(
    expr: &IdedExpr,
    spans: &HashMap<u64, Range<usize>>,
    source: &str,
) -> Option<Range<usize>> {
    let mut covered: Option<Range<usize>> = None;
    let mut visit = |id: u64, extra: usize| {
        if let Some(span) = spans.get(&id) {
            let end = span.end.max(span.start + extra).min(source.len());
            covered = Some(match &covered {
                None => span.start..end,
                Some(c) => c.start.min(span.start)..c.end.max(end),
            });
        }
    };
    let mut calls: Vec<(u64, usize)> = Vec::new();
    fn walk(expr: &IdedExpr, visit: &mut impl FnMut(u64, usize), calls: &mut Vec<(u64, usize)>) {
        let extra = match &expr.expr {
            Expr::Select(select) => 1 + select.field.len(),
            Expr::Call(call)
                if call.target.is_none() && !call.func_name.starts_with('_') && !call.func_name.contains('@') =>
            {
                calls.push((expr.id, call.func_name.len()));
                0
            }
            _ => 0,
        };
        visit(expr.id, extra);
        for child in children(expr) {
            walk(child, visit, calls);
        }
    }
    walk(expr, &mut visit, &mut calls);
    let mut span = covered?;
    // A global call's own position is its `(`: take in the function's name before it.
    for (id, name_length) in calls {
        if let Some(own) = spans.get(&id)
            && source.as_bytes().get(own.start) == Some(&b'(')
            && own.start >= name_length
            && own.start <= span.start + name_length
        {
            span.start = span.start.min(own.start - name_length);
        }
    }
    let bytes = source.as_bytes();
    loop {
        let text = &source[span.clone()];
        let open = text.matches(['(', '[']).count();
        let close = text.matches([')', ']']).count();
        if open <= close {
            break;
        }
        let mut next = span.end;
        while next < bytes.len() && bytes[next].is_ascii_whitespace() {
            next += 1;
        }
        if next < bytes.len() && matches!(bytes[next], b')' | b']') {
            span.end = next + 1;
        } else {
            break;
        }
    }
    Some(span)
}

/// `me` → `r`; a bare identifier that is not a variable, a type or a
/// namespace → `r.<identifier>`.
pub(super) fn rewrite(
    expr: &mut IdedExpr,
    bound: &mut Vec<String>,
    next_id: &mut u64,
    spans: &mut HashMap<u64, Range<usize>>,
) {
    match &mut expr.expr {
        Expr::Ident(name) => {
            if bound.iter().any(|b| b == name) {
                return;
            }
            if name == REGISTRANT_ALIAS {
                *name = REGISTRANT.to_owned();
                return;
            }
            if [REGISTRANT, DCI, MEMBERS].contains(&name.as_str())
                || TYPE_NAMES.contains(&name.as_str())
                || name.starts_with('@')
            {
                return;
            }
            as_registrant_field(expr, next_id, spans);
        }
        Expr::Call(call) => {
            if let Some(target) = call.target.as_mut() {
                let namespace_call =
                    matches!(&target.expr, Expr::Ident(n) if NAMESPACES.contains(&n.as_str()) && !bound.contains(n));
                if !namespace_call {
                    rewrite(target, bound, next_id, spans);
                }
            }
            for arg in &mut call.args {
                rewrite(arg, bound, next_id, spans);
            }
        }
        Expr::Select(select) => rewrite(&mut select.operand, bound, next_id, spans),
        Expr::List(list) => list.elements.iter_mut().for_each(|e| rewrite(e, bound, next_id, spans)),
        Expr::Map(map) => {
            for entry in &mut map.entries {
                match &mut entry.expr {
                    EntryExpr::MapEntry(e) => {
                        rewrite(&mut e.key, bound, next_id, spans);
                        rewrite(&mut e.value, bound, next_id, spans);
                    }
                    EntryExpr::StructField(f) => rewrite(&mut f.value, bound, next_id, spans),
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &mut s.entries {
                if let EntryExpr::StructField(f) = &mut entry.expr {
                    rewrite(&mut f.value, bound, next_id, spans);
                }
            }
        }
        Expr::Comprehension(c) => {
            rewrite(&mut c.iter_range, bound, next_id, spans);
            rewrite(&mut c.accu_init, bound, next_id, spans);
            bound.push(c.iter_var.clone());
            bound.push(c.accu_var.clone());
            if let Some(second) = &c.iter_var2 {
                bound.push(second.clone());
            }
            rewrite(&mut c.loop_cond, bound, next_id, spans);
            rewrite(&mut c.loop_step, bound, next_id, spans);
            rewrite(&mut c.result, bound, next_id, spans);
            bound.truncate(bound.len() - 2 - usize::from(c.iter_var2.is_some()));
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// A bare field name `x` as `r.x`, the new node `r` placed where `x` was written.
fn as_registrant_field(expr: &mut IdedExpr, next_id: &mut u64, spans: &mut HashMap<u64, Range<usize>>) {
    let Expr::Ident(name) = &mut expr.expr else { return };
    let field = std::mem::take(name);
    let operand_id = *next_id;
    *next_id += 1;
    if let Some(span) = spans.get(&expr.id).cloned() {
        spans.insert(operand_id, span);
    }
    expr.expr = Expr::Select(SelectExpr {
        operand: Box::new(IdedExpr { id: operand_id, expr: Expr::Ident(REGISTRANT.to_owned()) }),
        field,
        test: false,
    });
}

/// The place in `source` of the node `id` of `expr` (its subtree's extent).
pub(super) fn node_span(
    expr: &IdedExpr,
    id: u64,
    spans: &HashMap<u64, Range<usize>>,
    source: &str,
) -> Option<Range<usize>> {
    let mut pending = vec![expr];
    while let Some(node) = pending.pop() {
        if node.id == id {
            return subtree_span_in(node, spans, source);
        }
        pending.extend(children(node));
    }
    None
}

/// The segments of `a.b.c` (root first), when the chain is made of field selections on an identifier.
pub(super) fn name_chain(expr: &IdedExpr) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    let mut current = expr;
    loop {
        match &current.expr {
            Expr::Ident(name) => {
                segments.push(name.as_str());
                segments.reverse();
                return Some(segments);
            }
            Expr::Select(select) if !select.test => {
                segments.push(select.field.as_str());
                current = &select.operand;
            }
            _ => return None,
        }
    }
}

/// The top-level clauses: operands of the top `&&` (or `||`) chain.
pub(super) fn split_clauses(expr: &IdedExpr) -> (Option<&'static str>, Vec<&IdedExpr>) {
    fn flatten<'e>(expr: &'e IdedExpr, op: &str, out: &mut Vec<&'e IdedExpr>) {
        match &expr.expr {
            Expr::Call(call) if call.func_name == op && call.args.len() == 2 && call.target.is_none() => {
                flatten(&call.args[0], op, out);
                flatten(&call.args[1], op, out);
            }
            _ => out.push(expr),
        }
    }
    for (op, shown) in [(operators::LOGICAL_AND, "&&"), (operators::LOGICAL_OR, "||")] {
        if matches!(&expr.expr, Expr::Call(call) if call.func_name == op) {
            let mut parts = Vec::new();
            flatten(expr, op, &mut parts);
            return (Some(shown), parts);
        }
    }
    (None, vec![expr])
}
