//! The compiler's stages, in order: admit the text, read the dialect,
//! parse, bound the depth, lower (spans, rewrites), check the names, find
//! the demand, split the clauses, cost, assemble. Each stage fails with the
//! diagnostics to show; [`Compilation::run`] chains them.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use cel::common::ast::IdedExpr;

use super::check::Checker;
use super::tree::{
    collect_spans, direct_field_reads, expression_depth, node_span, rewrite, split_clauses, subtree_span_in,
};
use super::types::TypeChecker;
use super::{Clause, Compiler, DATA_COST_SHARE, Demand, Level, MAX_BRACKET_NESTING, MetricUse, Rule, RuleInner, shown};
use crate::rules::cost::{self, Estimate};
use crate::rules::diagnostic::{RuleDiagnostic, Severity, offset_of, preview};
use crate::rules::dialect::{self, Normalised};
use crate::rules::native_form::NativeClause;
use crate::rules::{registry_path, slips, syntax};

/// What a stage gives, or the diagnostics that stop the compilation.
type Stage<T> = Result<T, Vec<RuleDiagnostic>>;

/// Where each node of the expression was written, by node id.
type Spans = HashMap<u64, Range<usize>>;

/// A metric read: which, at whose level, and where in the text.
type Use = (dci_metrics::MetricId, Level, usize);

/// One rule on its way through the stages.
pub(super) struct Compilation<'a> {
    compiler: &'a Compiler,
    source: &'a str,
    text: Arc<str>,
    /// Warnings gathered so far; shown with the errors of a later stage.
    warnings: Vec<RuleDiagnostic>,
}

/// The clauses of a rule and how the engine may take them apart.
struct Split {
    connective: Option<&'static str>,
    clauses: Vec<Clause>,
    native_clauses: Vec<Option<NativeClause>>,
    local_screen: Vec<(IdedExpr, usize)>,
    registry_clauses: Vec<usize>,
}

impl<'a> Compilation<'a> {
    pub(super) fn new(compiler: &'a Compiler, source: &'a str) -> Self {
        Compilation { compiler, source, text: Arc::from(source), warnings: Vec::new() }
    }

    /// Every stage in order.
    pub(super) fn run(mut self, name: &str) -> Stage<Rule> {
        self.admit()?;
        let normalised = dialect::normalise(self.source);
        self.warn_precedence(&normalised);
        let program = self.parse(&normalised.text)?;
        self.bound_depth(&program)?;
        let (mut expr, spans) = self.lower(&program);
        let (uses, fields) = self.check(&expr, &spans)?;
        self.check_types(&expr, &spans)?;
        let (demand, metrics) = self.demand(&uses);
        let split = self.split(&expr, &normalised.text, &spans, &uses);
        let estimate = self.cost(&mut expr, &spans)?;
        let split = self.meter_clauses(split, &spans);
        let limits = &self.compiler.limits;
        Ok(Rule {
            inner: Arc::new(RuleInner {
                name: name.to_owned(),
                source: self.text,
                expr,
                clauses: split.clauses,
                connective: split.connective,
                native_clauses: split.native_clauses,
                local_screen: split.local_screen,
                registry_clauses: split.registry_clauses,
                demand,
                metrics,
                fields,
                warnings: self.warnings,
                estimate,
                budget: Estimate { steps: limits.max_steps, bytes: limits.max_bytes },
                batch_budget: limits.max_batch_steps,
            }),
        })
    }

    fn diagnostic(
        &self,
        severity: Severity,
        code: &'static str,
        message: String,
        span: Range<usize>,
    ) -> RuleDiagnostic {
        RuleDiagnostic::new(severity, code, message, &self.text, span)
    }

    /// `diagnostics`, then the warnings gathered so far.
    fn with_warnings(&self, mut diagnostics: Vec<RuleDiagnostic>) -> Vec<RuleDiagnostic> {
        diagnostics.extend(self.warnings.iter().cloned());
        diagnostics
    }

    /// The text before it is parsed: not too long, brackets not too deep, not empty.
    fn admit(&self) -> Stage<()> {
        let (source, limits) = (self.source, &self.compiler.limits);
        if source.len() > limits.max_length {
            let message = format!("the rule is {} bytes long; the limit is {}", source.len(), limits.max_length);
            return Err(vec![self.diagnostic(Severity::Error, "too_long", message, limits.max_length..source.len())]);
        }
        let depth = dialect::nesting_depth(source);
        let bracket_limit = limits.max_depth.min(MAX_BRACKET_NESTING);
        if depth > bracket_limit {
            let message = format!("brackets nest {depth} deep; the limit is {bracket_limit}");
            return Err(vec![self.diagnostic(Severity::Error, "too_deep", message, 0..source.len())]);
        }
        if source.trim().is_empty() {
            return Err(vec![self.diagnostic(Severity::Error, "syntax", "the rule is empty".into(), 0..0)]);
        }
        Ok(())
    }

    /// The dialect's warnings (`and`/`or` mixed without brackets).
    fn warn_precedence(&mut self, normalised: &Normalised) {
        let warnings: Vec<RuleDiagnostic> = normalised
            .warnings
            .iter()
            .map(|w| {
                self.diagnostic(Severity::Warning, "not_precedence", w.message.clone(), w.span.clone())
                    .with_help(w.help.clone())
            })
            .collect();
        self.warnings.extend(warnings);
    }

    /// The CEL parse, its errors said in words, at the character they point to; the
    /// slips a programme officer makes (`AND`, `True`, `=>`, a bracket never closed) first,
    /// each with its fix.
    fn parse(&self, normalised: &str) -> Stage<cel::Program> {
        let source = self.source;
        let slips = slips::slips(source);
        if !slips.is_empty() {
            let diagnostics = slips
                .into_iter()
                .map(|slip| self.diagnostic(Severity::Error, "syntax", slip.message, slip.span).with_help(slip.help))
                .collect();
            return Err(self.with_warnings(diagnostics));
        }
        self.compiler.env.compile(normalised).map_err(|errors| {
            let diagnostics = errors
                .errors
                .iter()
                .map(|error| {
                    let (line, column) = (error.pos.0.max(1) as usize, error.pos.1.max(1) as usize);
                    let start = offset_of(source, line, column);
                    let end = source[start..].chars().next().map_or(start, |c| start + c.len_utf8());
                    let plain = syntax::plain(&error.msg);
                    let diagnostic = self.diagnostic(Severity::Error, plain.code, plain.message, start..end);
                    match plain.help {
                        Some(help) => diagnostic.with_help(help),
                        None => diagnostic,
                    }
                })
                .collect();
            self.with_warnings(diagnostics)
        })
    }

    /// The parsed expression no deeper than `max_depth`.
    fn bound_depth(&self, program: &cel::Program) -> Stage<()> {
        let (source, limit) = (self.source, self.compiler.limits.max_depth);
        let (depth, deepest) = expression_depth(program.expression(), |id| program.source_info().offset_for(id));
        if depth <= limit {
            return Ok(());
        }
        let span =
            deepest.map_or(0..source.len(), |(start, stop)| start as usize..(stop as usize + 1).min(source.len()));
        let message = format!(
            "the rule nests {depth} levels deep (operators, calls, brackets and comprehensions count); the limit is {limit}"
        );
        Err(vec![
            self.diagnostic(Severity::Error, "too_deep", message, span).with_help(
                "split long chains into named parts, or write them with fewer operators (e.g. `x in [...]`)",
            ),
        ])
    }

    /// The expression with its spans, `me` and bare fields rewritten, index
    /// forms of registry reads resolved.
    fn lower(&self, program: &cel::Program) -> (IdedExpr, Spans) {
        let source = self.source;
        let mut spans = Spans::new();
        collect_spans(program.expression(), &mut |id| {
            if let Some((start, stop)) = program.source_info().offset_for(id) {
                spans.insert(id, start as usize..(stop as usize + 1).min(source.len()));
            }
        });
        let mut next_id = spans.keys().copied().max().unwrap_or(0) + 1_000_000;
        let mut expr = program.expression().clone();
        rewrite(&mut expr, &mut Vec::new(), &mut next_id, &mut spans);
        registry_path::resolve_index_forms(&mut expr, &mut Vec::new());
        (expr, spans)
    }

    /// Names checked against the catalog and the callable functions; the
    /// metrics and fields read.
    fn check(&self, expr: &IdedExpr, spans: &Spans) -> Stage<(Vec<Use>, Vec<String>)> {
        let mut checker = Checker::new(&self.compiler.catalog, &self.text, spans);
        checker.check(expr, &mut Vec::new());
        let mut findings = self.misplaced_reads(expr, spans);
        // One error per mistake: what the checker says inside a misplaced read is about the same one.
        checker
            .errors
            .retain(|error| !findings.iter().any(|f| f.span.start <= error.span.start && error.span.end <= f.span.end));
        findings.append(&mut checker.errors);
        if !findings.is_empty() {
            return Err(self.with_warnings(findings));
        }
        let mut uses = checker.uses;
        uses.sort_by_key(|(_, _, position)| *position);
        Ok((uses, checker.fields))
    }

    /// Types: what does not go together is refused, with the fix in words.
    fn check_types(&mut self, expr: &IdedExpr, spans: &Spans) -> Stage<()> {
        let fields = self.compiler.field_types.as_deref();
        let mut checker = TypeChecker::new(&self.compiler.catalog, fields, &self.text, spans);
        checker.check_rule(expr);
        self.warnings.append(&mut checker.warnings);
        if checker.errors.is_empty() { Ok(()) } else { Err(self.with_warnings(checker.errors)) }
    }

    /// Registry values read another way than by their name (`dci["crvs"]…`).
    fn misplaced_reads(&self, expr: &IdedExpr, spans: &Spans) -> Vec<RuleDiagnostic> {
        let source = self.source;
        let mut misplaced = Vec::new();
        registry_path::misplaced(expr, &mut Vec::new(), &mut misplaced);
        misplaced
            .into_iter()
            .map(|found| {
                let span = node_span(expr, found.id, spans, source).unwrap_or(0..source.len());
                let written = source.get(span.clone()).unwrap_or(source).trim().to_owned();
                let message = format!(
                    "`{}` reads a registry value another way than by its name: {}",
                    preview(&written),
                    found.why
                );
                let help = match &found.instead {
                    Some(instead) => format!("write `{instead}`"),
                    None => "write the value's name: `dci.<registry>.<metric>`, e.g. `dci.dr.disability_level`".into(),
                };
                self.diagnostic(Severity::Error, "misplaced_dci", message, span).with_help(help)
            })
            .collect()
    }

    /// Which registries to ask, for whom, in the order the rule names them; the metrics read.
    fn demand(&self, uses: &[Use]) -> (Demand, Vec<MetricUse>) {
        let catalog = &self.compiler.catalog;
        let mut demand = Demand::default();
        let mut metrics: Vec<MetricUse> = Vec::new();
        for (id, level, _) in uses {
            let registry = catalog.registry(id.registry).id.to_owned();
            if !demand.order.contains(&id.registry) {
                demand.order.push(id.registry);
            }
            let list = match level {
                Level::Registrant => &mut demand.registrant,
                Level::Member => &mut demand.members,
            };
            if !list.contains(&registry) {
                list.push(registry);
            }
            let name = catalog.name(*id);
            if !metrics.iter().any(|m| m.name == name && m.level == *level) {
                metrics.push(MetricUse { name, level: *level, id: *id });
            }
        }
        (demand, metrics)
    }

    /// The top-level clauses with their text, their native forms, and, for an
    /// `&&` chain reading registries, the clauses that read none (the local screen).
    fn split(&self, expr: &IdedExpr, normalised: &str, spans: &Spans, uses: &[Use]) -> Split {
        let source = self.source;
        let (connective, parts) = split_clauses(expr);
        // A clause's text is the source between its top-level connectives, when they split the
        // source into as many parts as the expression has clauses; otherwise (a chain nested in
        // brackets, say) the extent of its parsed subtree.
        let written = match connective {
            Some(operator) => dialect::top_level_parts(normalised, operator),
            None => std::iter::once(0..source.len()).collect(),
        };
        let written = (written.len() == parts.len()).then_some(written);
        let clauses: Vec<Clause> = parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| {
                let span = match &written {
                    Some(written) => written[index].clone(),
                    None => subtree_span_in(part, spans, source).unwrap_or(0..source.len()),
                };
                Clause { text: source[span.clone()].trim().to_owned(), span, expr: part.clone() }
            })
            .collect();
        // A clause reads a registry when a metric is named inside its span (a
        // clause whose span is unknown counts as reading one).
        let reads_registry = |clause: &Clause| uses.iter().any(|(_, _, position)| clause.span.contains(position));
        let (registry_clauses, local_clauses): (Vec<usize>, Vec<usize>) =
            if connective == Some("&&") && clauses.iter().any(reads_registry) {
                (0..clauses.len()).partition(|&index| reads_registry(&clauses[index]))
            } else {
                (Vec::new(), Vec::new())
            };
        let local_screen = local_clauses
            .into_iter()
            .map(|index| {
                let mut clause = clauses[index].expr.clone();
                direct_field_reads(&mut clause, &mut Vec::new());
                (clause, index)
            })
            .collect();
        let native_clauses =
            clauses.iter().map(|clause| NativeClause::recognise(&clause.expr, &self.compiler.catalog)).collect();
        Split { connective, clauses, native_clauses, local_screen, registry_clauses }
    }

    /// The cost estimate, the expression rewritten to be metered: refused past
    /// the budget or with a pattern that does not compile; warned when loops
    /// over data may cost much.
    fn cost(&mut self, expr: &mut IdedExpr, spans: &Spans) -> Stage<Estimate> {
        let (source, limits) = (self.source, &self.compiler.limits);
        let place = |node: &IdedExpr| subtree_span_in(node, spans, source).unwrap_or(0..source.len());
        let estimated = cost::estimate(expr, limits, &self.compiler.catalog, &place);
        if !estimated.bad_patterns.is_empty() {
            let diagnostics = estimated
                .bad_patterns
                .iter()
                .map(|bad| {
                    self.diagnostic(Severity::Error, "invalid_pattern", bad.why.clone(), bad.span.clone())
                        .with_help("`matches` takes a regular expression in RE2 syntax, e.g. '^[0-9]{10}$'")
                })
                .collect();
            return Err(self.with_warnings(diagnostics));
        }
        if let Some((span, culprit)) = estimated.culprit {
            return Err(self.with_warnings(vec![self.too_costly(span, culprit)]));
        }
        if estimated.total.steps.saturating_mul(DATA_COST_SHARE) > limits.max_steps
            || estimated.total.bytes.saturating_mul(DATA_COST_SHARE) > limits.max_bytes
        {
            for (span, estimate) in &estimated.data_loops {
                let warning = self.depends_on_data(span.clone(), *estimate);
                self.warnings.push(warning);
            }
        }
        Ok(estimated.total)
    }

    fn too_costly(&self, span: Range<usize>, culprit: Estimate) -> RuleDiagnostic {
        let limits = &self.compiler.limits;
        let (what, amount, limit) = if culprit.steps > limits.max_steps {
            ("steps", culprit.steps, format!("{} (max_steps)", limits.max_steps))
        } else {
            ("bytes built", culprit.bytes, format!("{} (max_bytes)", limits.max_bytes))
        };
        let part = self.source.get(span.clone()).unwrap_or(self.source).trim();
        let message = format!("`{part}` may take {} {what} for one beneficiary; the budget is {limit}", shown(amount));
        self.diagnostic(Severity::Error, "cost_too_high", message, span).with_help(format!(
            "comprehensions multiply: a loop over a list of n items repeats its body n times (lists from \
             the data count as their bounds: {} members, {} items)",
            limits.max_members, limits.max_list_items
        ))
    }

    fn depends_on_data(&self, span: Range<usize>, estimate: Estimate) -> RuleDiagnostic {
        let limits = &self.compiler.limits;
        let message = format!(
            "`{}` loops over a list from the data: at the assumed bounds ({} members, {} items) it may \
             take {} steps; a longer list costs more, and an evaluation past the budget is an error",
            self.source.get(span.clone()).unwrap_or(self.source).trim(),
            limits.max_members,
            limits.max_list_items,
            shown(estimate.steps)
        );
        self.diagnostic(Severity::Warning, "cost_depends_on_data", message, span)
    }

    /// The clauses are evaluated alone too (explanations, the local screen): metered alike.
    fn meter_clauses(&self, mut split: Split, spans: &Spans) -> Split {
        let (source, limits, catalog) = (self.source, &self.compiler.limits, &self.compiler.catalog);
        let place = |node: &IdedExpr| subtree_span_in(node, spans, source).unwrap_or(0..source.len());
        for clause in &mut split.clauses {
            cost::estimate(&mut clause.expr, limits, catalog, &place);
        }
        for (clause, _) in &mut split.local_screen {
            cost::estimate(clause, limits, catalog, &place);
        }
        split
    }
}
