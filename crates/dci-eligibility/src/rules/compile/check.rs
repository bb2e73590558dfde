//! The static checks: every name a rule reads is a metric of the catalog,
//! a field, a bound variable or a function one may call, with the right
//! number of arguments; the metrics and fields read are noted.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use cel::common::ast::{Expr, IdedExpr};
use dci_metrics::{Catalog, MetricId};

use super::Level;
use super::tree::{children, name_chain, subtree_span_in};
use crate::names::{DCI, NAMESPACES, REGISTRANT};
use crate::rules::callable::{global_arities, member_arities, suggest_function};
use crate::rules::diagnostic::{RuleDiagnostic, Severity};

pub(super) struct Checker<'a> {
    catalog: &'a Catalog,
    source: &'a Arc<str>,
    spans: &'a HashMap<u64, Range<usize>>,
    pub(super) errors: Vec<RuleDiagnostic>,
    pub(super) uses: Vec<(MetricId, Level, usize)>,
    pub(super) fields: Vec<String>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(catalog: &'a Catalog, source: &'a Arc<str>, spans: &'a HashMap<u64, Range<usize>>) -> Self {
        Checker { catalog, source, spans, errors: Vec::new(), uses: Vec::new(), fields: Vec::new() }
    }

    fn span(&self, expr: &IdedExpr) -> Range<usize> {
        subtree_span_in(expr, self.spans, self.source).unwrap_or(0..self.source.len())
    }

    fn error(&mut self, code: &'static str, message: String, span: Range<usize>, help: Option<String>) {
        let mut diagnostic = RuleDiagnostic::new(Severity::Error, code, message, self.source, span);
        if let Some(help) = help {
            diagnostic = diagnostic.with_help(help);
        }
        if !self.errors.iter().any(|e| e.span == diagnostic.span && e.code == diagnostic.code) {
            self.errors.push(diagnostic);
        }
    }

    /// Checks a `dci.<registry>.<metric>` path (the segments after `dci`).
    fn check_metric(&mut self, expr: &IdedExpr, path: &[&str], level: Level, written: &str) {
        let span = self.span(expr);
        let Some(registry) = path.first() else {
            self.error(
                "misplaced_dci",
                format!("`{written}` is not a value: name a registry and a metric, e.g. dci.crvs.is_alive"),
                span,
                None,
            );
            return;
        };
        let registries: Vec<&str> = self.catalog.registries().iter().map(|r| r.id).collect();
        if self.catalog.registry_index(registry).is_none() {
            let full = format!("dci.{}", path.join("."));
            self.error(
                "unknown_registry",
                format!("unknown registry `{registry}` in `{written}`"),
                span,
                Some(match self.catalog.suggest(&full) {
                    Some(near) => format!("did you mean `{near}`? Registries: {}", registries.join(", ")),
                    None => format!("registries: {}", registries.join(", ")),
                }),
            );
            return;
        }
        let Some(field) = path.get(1) else {
            self.error(
                "misplaced_dci",
                format!("`{written}` is a registry, not a value: name one of its metrics"),
                span,
                None,
            );
            return;
        };
        let name = format!("dci.{registry}.{field}");
        match self.catalog.field(registry, field) {
            None => {
                let help = self.catalog.suggest(&name).map(|near| format!("did you mean `{near}`?"));
                self.error("unknown_metric", format!("unknown metric `{name}`"), span, help);
            }
            Some(id) if !self.catalog.is_enabled(id) => {
                self.error("disabled_metric", format!("metric `{name}` is disabled in this deployment"), span, None);
            }
            Some(id) if path.len() > 2 => {
                let _ = id;
                self.error("unknown_metric", format!("`{name}` has no field `{}`", path[2]), span, None);
            }
            Some(id) => self.uses.push((id, level, span.start)),
        }
    }

    /// Checks a chain of names (`dci.crvs.is_alive`, `r.poverty_score`, `m.dci.dr.x`).
    fn check_chain(&mut self, expr: &IdedExpr, chain: &[&str], bound: &[String]) {
        let written = chain.join(".");
        let root = chain[0];
        let is_variable = bound.iter().any(|name| name == root);
        if is_variable {
            if chain.get(1) == Some(&DCI) {
                self.check_metric(expr, &chain[2..], Level::Member, &written);
            }
            return;
        }
        match root {
            DCI => self.check_metric(expr, &chain[1..], Level::Registrant, &written),
            REGISTRANT if chain.get(1) == Some(&DCI) => {
                self.check_metric(expr, &chain[2..], Level::Registrant, &written)
            }
            REGISTRANT => {
                if let Some(field) = chain.get(1)
                    && !self.fields.iter().any(|f| f == field)
                {
                    self.fields.push((*field).to_owned());
                }
            }
            _ => {}
        }
    }

    pub(super) fn check(&mut self, expr: &IdedExpr, bound: &mut Vec<String>) {
        match &expr.expr {
            Expr::Ident(_) | Expr::Select(_) => {
                let chain = match &expr.expr {
                    Expr::Select(select) if select.test => name_chain(&select.operand).map(|mut chain| {
                        chain.push(select.field.as_str());
                        chain
                    }),
                    _ => name_chain(expr),
                };
                match chain {
                    Some(chain) => self.check_chain(expr, &chain, bound),
                    None => {
                        for child in children(expr) {
                            self.check(child, bound);
                        }
                    }
                }
            }
            Expr::Call(call) => {
                let name = call.func_name.as_str();
                let is_operator =
                    name.starts_with('_') || name.contains('@') || name.starts_with("!_") || name.starts_with("-_");
                if !is_operator {
                    self.check_call(expr, call, bound);
                }
                if let Some(target) = &call.target {
                    let namespace_call = matches!(&target.expr, Expr::Ident(n) if NAMESPACES.contains(&n.as_str()));
                    if !namespace_call {
                        self.check(target, bound);
                    }
                }
                for arg in &call.args {
                    self.check(arg, bound);
                }
            }
            Expr::Comprehension(c) => {
                self.check(&c.iter_range, bound);
                self.check(&c.accu_init, bound);
                bound.push(c.iter_var.clone());
                bound.push(c.accu_var.clone());
                self.check(&c.loop_cond, bound);
                self.check(&c.loop_step, bound);
                self.check(&c.result, bound);
                bound.truncate(bound.len() - 2);
            }
            _ => {
                for child in children(expr) {
                    self.check(child, bound);
                }
            }
        }
    }

    fn check_call(&mut self, expr: &IdedExpr, call: &cel::common::ast::CallExpr, bound: &[String]) {
        let span = self.spans.get(&expr.id).cloned().unwrap_or_else(|| self.span(expr));
        let arity = call.args.len();
        let namespace = call.target.as_deref().and_then(|t| match &t.expr {
            Expr::Ident(n) if NAMESPACES.contains(&n.as_str()) && !bound.iter().any(|b| b == n) => Some(n.clone()),
            _ => None,
        });
        let (qualified, arities, member) = match (&call.target, namespace) {
            (Some(_), Some(namespace)) => {
                let qualified = format!("{namespace}.{}", call.func_name);
                let arities = global_arities(&qualified);
                (qualified, arities, false)
            }
            (Some(_), None) => (call.func_name.clone(), member_arities(&call.func_name), true),
            (None, _) => (call.func_name.clone(), global_arities(&call.func_name), false),
        };
        match arities {
            None => {
                let span = name_before(self.source, span, &call.func_name);
                let help = suggest_function(&call.func_name, member).map(|near| format!("did you mean `{near}`?"));
                let what = if member { "method" } else { "function" };
                self.error("unknown_function", format!("unknown {what} `{qualified}`"), span, help);
            }
            Some(arities) if !arities.contains(&arity) => {
                let expected = arities.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or ");
                self.error("arity", format!("`{qualified}` takes {expected} argument(s), not {arity}"), span, None);
            }
            Some(_) => {}
        }
    }
}

/// The span of a call's function name: the parser places a call at its
/// opening bracket, and the name is written just before it (spaces allowed).
fn name_before(source: &str, call: Range<usize>, name: &str) -> Range<usize> {
    let before = source.get(..call.start).map(str::trim_end);
    match before {
        Some(before)
            if source.get(call.start..).is_some_and(|rest| rest.starts_with('(')) && before.ends_with(name) =>
        {
            before.len() - name.len()..before.len()
        }
        _ => call,
    }
}
