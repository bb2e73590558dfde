//! Compiling a rule: dialect normalisation (tokens), CEL parse (with our
//! macros), AST rewrites (`me` → `r`, bare fields → `r.<field>`), static
//! checks, demand analysis and clause split. A [`Rule`] is immutable,
//! `Send + Sync` and cheap to clone.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use cel::Env;
use cel::common::ast::{EntryExpr, Expr, IdedExpr, SelectExpr, operators};
use dci_metrics::{Catalog, MetricId, RegistryIndex};
use serde::Serialize;

use crate::names::NAMESPACES;
use crate::names::{DCI, Limits, MEMBERS, REGISTRANT};
use crate::rules::callable::{TYPE_NAMES, global_arities, member_arities, suggest_function};
use crate::rules::cost::{self, Estimate};
use crate::rules::diagnostic::preview;
use crate::rules::diagnostic::{RuleDiagnostic, Severity, offset_of};
use crate::rules::native_form::NativeClause;
use crate::rules::{cel_macros, dialect, registry_path, syntax};

/// The most diagnostics a rule is reported with: the first ones, which are the ones to fix first.
pub const MAX_DIAGNOSTICS: usize = 10;

/// The longest name a rule may have, in bytes: every result names its rule.
pub const MAX_RULE_NAME_BYTES: usize = 256;

/// The deepest nesting of brackets (open ones included) a rule may have,
/// whatever `max_depth` says: the parser's prediction recurses once per open
/// bracket, deeper than its own nesting limit (96) guards.
pub const MAX_BRACKET_NESTING: usize = 48;

/// Rules nesting brackets at most this deep (and short: [`INLINE_PARSE_BYTES`])
/// are parsed on the caller's thread.
const INLINE_NESTING: usize = 8;

/// Rules up to this many bytes are parsed on the caller's thread; longer ones
/// on a thread with a stack of [`parse_stack_bytes`]. A rule this short
/// cannot nest deeper than its length, which any thread's stack takes (see
/// `examples/stack_depth.rs` for the stack each level of each shape costs).
pub const INLINE_PARSE_BYTES: usize = 256;

/// The stack given to the thread that parses a rule of `length` bytes: the
/// parser's worst case per byte (a chain of one-character operators, one
/// level of recursion per operator) with a margin, and at least 64 MiB. The
/// stack is reserved address space; only what the parse touches is used.
fn parse_stack_bytes(length: usize) -> usize {
    const PER_BYTE: usize = 16 * 1024;
    length.saturating_mul(PER_BYTE).max(64 << 20)
}

/// A rule whose loops over data may cost more than this share of the
/// budget (1 / this) at the assumed bounds gets a `cost_depends_on_data` warning.
const DATA_COST_SHARE: u64 = 10;

/// `1234567` as `1.2e6`, small numbers as they are.
fn shown(n: u64) -> String {
    if n < 100_000 { n.to_string() } else { format!("{:.1e}", n as f64) }
}

const REGISTRANT_ALIAS: &str = "me";

/// Whose metric: the registrant's, or a household member's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `dci.*`, `r.dci.*`
    Registrant,
    /// `m.dci.*` inside a macro over `members`
    Member,
}

/// A metric a rule reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetricUse {
    /// Full name, `dci.dr.has_disability`.
    pub name: String,
    /// Whose.
    pub level: Level,
    #[serde(skip)]
    pub(crate) id: MetricId,
}

/// The registries a rule may need, in the order the rule mentions them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Demand {
    /// Registries asked about the registrant.
    pub registrant: Vec<String>,
    /// Registries asked about household members.
    pub members: Vec<String>,
    /// Every registry, first mention first.
    #[serde(skip)]
    pub(crate) order: Vec<RegistryIndex>,
}

/// A top-level clause of a rule (split at the top-level `&&` or `||`).
#[derive(Clone, Debug)]
pub struct Clause {
    /// The clause's text.
    pub text: String,
    /// Its byte range in the rule.
    pub span: Range<usize>,
    pub(crate) expr: IdedExpr,
}

#[derive(Debug)]
struct RuleInner {
    name: String,
    source: Arc<str>,
    expr: IdedExpr,
    clauses: Vec<Clause>,
    connective: Option<&'static str>,
    /// Per clause, its native form when the engine can evaluate it without
    /// the interpreter (see [`NativeClause`]).
    native_clauses: Vec<Option<NativeClause>>,
    /// Clauses that read no registry, when the rule is an `&&` chain whose
    /// other clauses do: one of them false decides the rule. Written for
    /// speed (see [`direct_field_reads`]), each with its clause's index.
    local_screen: Vec<(IdedExpr, usize)>,
    /// The other clauses, when `local_screen` is not empty.
    registry_clauses: Vec<usize>,
    demand: Demand,
    metrics: Vec<MetricUse>,
    fields: Vec<String>,
    warnings: Vec<RuleDiagnostic>,
    estimate: Estimate,
    /// The runtime budget of one evaluation: steps and bytes.
    budget: Estimate,
    /// The steps the costly evaluations of a batch may take together.
    batch_budget: u64,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    inner: Arc<RuleInner>,
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    /// The author's text.
    pub fn source(&self) -> &str {
        &self.inner.source
    }
    /// Registries the rule may need.
    pub fn demand(&self) -> &Demand {
        &self.inner.demand
    }
    /// Metrics the rule reads.
    pub fn metrics(&self) -> &[MetricUse] {
        &self.inner.metrics
    }
    /// Registrant fields the rule reads (`r.<field>` or bare).
    pub fn fields(&self) -> &[String] {
        &self.inner.fields
    }
    /// Warnings found while compiling.
    pub fn warnings(&self) -> &[RuleDiagnostic] {
        &self.inner.warnings
    }
    /// The top-level clauses.
    pub fn clauses(&self) -> &[Clause] {
        &self.inner.clauses
    }
    /// `&&` or `||` when the rule has several top-level clauses.
    pub fn connective(&self) -> Option<&'static str> {
        self.inner.connective
    }
    /// The worst-case cost of one evaluation, as estimated.
    pub fn estimate(&self) -> Estimate {
        self.inner.estimate
    }
    /// The budget one evaluation runs under: steps and bytes.
    pub(crate) fn budget(&self) -> Estimate {
        self.inner.budget
    }
    /// The steps the costly evaluations of a batch may take together ([`Limits::max_batch_steps`]).
    pub(crate) fn batch_budget(&self) -> u64 {
        self.inner.batch_budget
    }
    pub(crate) fn expr(&self) -> &IdedExpr {
        &self.inner.expr
    }
    /// The clauses the engine tries first, before any registry or cache:
    /// top-level `&&` operands that read no registry, when other operands
    /// do (one of them false decides the rule). Empty otherwise.
    /// Each with its native form, if any (see [`Rule::native_clauses`]).
    pub(crate) fn local_screen(&self) -> impl ExactSizeIterator<Item = (&IdedExpr, Option<&NativeClause>)> {
        self.inner.local_screen.iter().map(|(expr, index)| (expr, self.inner.native_clauses[*index].as_ref()))
    }
    /// The clauses of an `&&` chain with a local screen that read registries,
    /// each with its native form, if any.
    pub(crate) fn registry_clauses(&self) -> impl ExactSizeIterator<Item = (&IdedExpr, Option<&NativeClause>)> {
        self.inner
            .registry_clauses
            .iter()
            .map(|&index| (&self.inner.clauses[index].expr, self.inner.native_clauses[index].as_ref()))
    }
    /// Per top-level clause, its native form (evaluated without the
    /// interpreter), if it has one.
    pub(crate) fn native_clauses(&self) -> &[Option<NativeClause>] {
        &self.inner.native_clauses
    }
}

/// Why a rule does not compile: every diagnostic found (errors and warnings).
#[derive(Clone, Debug, thiserror::Error)]
#[error("rule {name:?} is invalid: {}", summary(.diagnostics))]
pub struct RuleError {
    /// The rule's name.
    pub name: String,
    /// The diagnostics, errors first.
    pub diagnostics: Vec<RuleDiagnostic>,
}

fn summary(diagnostics: &[RuleDiagnostic]) -> String {
    diagnostics.iter().find(|d| d.severity == Severity::Error).map(ToString::to_string).unwrap_or_default()
}

/// Compiles rules against a catalog. Build one per process and share it: it
/// holds the CEL environment (standard library, extensions, our macros).
#[derive(Clone)]
pub struct Compiler {
    env: Arc<Env>,
    catalog: Arc<Catalog>,
    limits: Limits,
}

impl std::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Compiler {
    /// A compiler for rules over `catalog`'s metrics.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        let mut env = Env::stdlib();
        let installed = env
            .add_extension(cel::extensions::strings)
            .and_then(|_| env.add_extension(cel::extensions::math))
            .and_then(|_| env.add_extension(cel::extensions::lists))
            .and_then(|_| cel_macros::install(&mut env));
        if let Err(error) = installed {
            // Only a clash between our macros and the crate's own can cause this: a bug, not input.
            panic!("cannot build the CEL environment: {error}");
        }
        Compiler { env: Arc::new(env), catalog, limits: Limits::default() }
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits rules are checked against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub(crate) fn env(&self) -> &Arc<Env> {
        &self.env
    }

    /// Compiles `source` as the rule `name`.
    ///
    /// A rule longer than [`INLINE_PARSE_BYTES`] is parsed on a thread of its
    /// own with a stack sized for the longest rule the limits allow: the CEL
    /// parser recurses once per operator of a chain, so a long rule would
    /// overflow a small stack before its depth could be measured. Only rules
    /// within [`Limits::max_depth`] leave this function, so every later walk
    /// (checks, evaluation, explanation, drop) is bounded by that depth.
    pub fn compile(&self, name: &str, source: &str) -> Result<Rule, RuleError> {
        if name.len() > MAX_RULE_NAME_BYTES {
            // The name is echoed in every result: a long one would multiply a request's size.
            return Err(RuleError {
                name: preview(name),
                diagnostics: vec![RuleDiagnostic::new(
                    Severity::Error,
                    "invalid_name",
                    format!("the rule's name is {} bytes long; at most {MAX_RULE_NAME_BYTES}", name.len()),
                    &Arc::from(source),
                    0..0,
                )],
            });
        }
        // A rule over the length limit is refused here, without a thread for it; a short
        // and shallow one is parsed here too. The parser's prediction recurses with the
        // brackets open, so a short rule of many brackets gets a thread of its own.
        let shallow = || dialect::nesting_depth(source) <= INLINE_NESTING;
        if source.len() > self.limits.max_length || (source.len() <= INLINE_PARSE_BYTES && shallow()) {
            return self.compile_here(name, source);
        }
        let stack = parse_stack_bytes(source.len());
        std::thread::scope(|scope| {
            let spawned = std::thread::Builder::new()
                .name("elig-compile".into())
                .stack_size(stack)
                .spawn_scoped(scope, || self.compile_here(name, source));
            match spawned {
                Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(error) => Err(RuleError {
                    name: name.to_owned(),
                    diagnostics: vec![RuleDiagnostic::new(
                        Severity::Error,
                        "too_deep",
                        format!("no thread could be started to parse a rule this long: {error}"),
                        &Arc::from(source),
                        0..source.len(),
                    )],
                }),
            }
        })
    }

    fn compile_here(&self, name: &str, source: &str) -> Result<Rule, RuleError> {
        let text: Arc<str> = Arc::from(source);
        let fail = |mut diagnostics: Vec<RuleDiagnostic>| {
            // A garbled rule can make the parser report an error at nearly every character.
            diagnostics.truncate(MAX_DIAGNOSTICS);
            RuleError { name: name.to_owned(), diagnostics }
        };
        if source.len() > self.limits.max_length {
            return Err(fail(vec![RuleDiagnostic::new(
                Severity::Error,
                "too_long",
                format!("the rule is {} bytes long; the limit is {}", source.len(), self.limits.max_length),
                &text,
                self.limits.max_length..source.len(),
            )]));
        }
        let depth = dialect::nesting_depth(source);
        let bracket_limit = self.limits.max_depth.min(MAX_BRACKET_NESTING);
        if depth > bracket_limit {
            return Err(fail(vec![RuleDiagnostic::new(
                Severity::Error,
                "too_deep",
                format!("brackets nest {depth} deep; the limit is {bracket_limit}"),
                &text,
                0..source.len(),
            )]));
        }
        if source.trim().is_empty() {
            return Err(fail(vec![RuleDiagnostic::new(Severity::Error, "syntax", "the rule is empty", &text, 0..0)]));
        }
        let normalised = dialect::normalise(source);
        let mut warnings: Vec<RuleDiagnostic> = normalised
            .warnings
            .iter()
            .map(|w| {
                RuleDiagnostic::new(Severity::Warning, "not_precedence", w.message.clone(), &text, w.span.clone())
                    .with_help(w.help.clone())
            })
            .collect();
        let program = match self.env.compile(&normalised.text) {
            Ok(program) => program,
            Err(errors) => {
                let mut diagnostics: Vec<RuleDiagnostic> = errors
                    .errors
                    .iter()
                    .map(|error| {
                        let (line, column) = (error.pos.0.max(1) as usize, error.pos.1.max(1) as usize);
                        let start = offset_of(source, line, column);
                        let end = source[start..].chars().next().map_or(start, |c| start + c.len_utf8());
                        let plain = syntax::plain(&error.msg);
                        let diagnostic =
                            RuleDiagnostic::new(Severity::Error, plain.code, plain.message, &text, start..end);
                        match plain.help {
                            Some(help) => diagnostic.with_help(help),
                            None => diagnostic,
                        }
                    })
                    .collect();
                diagnostics.append(&mut warnings);
                return Err(fail(diagnostics));
            }
        };
        let (depth, deepest) = expression_depth(program.expression(), |id| program.source_info().offset_for(id));
        if depth > self.limits.max_depth {
            let span =
                deepest.map_or(0..source.len(), |(start, stop)| start as usize..(stop as usize + 1).min(source.len()));
            return Err(fail(vec![
                RuleDiagnostic::new(
                    Severity::Error,
                    "too_deep",
                    format!(
                        "the rule nests {depth} levels deep (operators, calls, brackets and comprehensions count); \
                     the limit is {}",
                        self.limits.max_depth
                    ),
                    &text,
                    span,
                )
                .with_help(
                    "split long chains into named parts, or write them with fewer operators (e.g. `x in [...]`)",
                ),
            ]));
        }
        let mut spans: HashMap<u64, Range<usize>> = HashMap::new();
        collect_spans(program.expression(), &mut |id| {
            if let Some((start, stop)) = program.source_info().offset_for(id) {
                spans.insert(id, start as usize..(stop as usize + 1).min(source.len()));
            }
        });
        let mut next_id = spans.keys().copied().max().unwrap_or(0) + 1_000_000;
        let mut expr = program.expression().clone();
        rewrite(&mut expr, &mut Vec::new(), &mut next_id, &mut spans);
        registry_path::resolve_index_forms(&mut expr, &mut Vec::new());

        let mut checker = Checker {
            catalog: &self.catalog,
            source: &text,
            spans: &spans,
            errors: Vec::new(),
            uses: Vec::new(),
            fields: Vec::new(),
        };
        checker.check(&expr, &mut Vec::new());
        let mut misplaced = Vec::new();
        registry_path::misplaced(&expr, &mut Vec::new(), &mut misplaced);
        let mut findings = Vec::new();
        for found in misplaced {
            let span = node_span(&expr, found.id, &spans, source).unwrap_or(0..source.len());
            let written = source.get(span.clone()).unwrap_or(source).trim().to_owned();
            let message =
                format!("`{}` reads a registry value another way than by its name: {}", preview(&written), found.why);
            let help = match &found.instead {
                Some(instead) => format!("write `{instead}`"),
                None => "write the value's name: `dci.<registry>.<metric>`, e.g. `dci.dr.disability_level`".to_owned(),
            };
            findings.push(RuleDiagnostic::new(Severity::Error, "misplaced_dci", message, &text, span).with_help(help));
        }
        // One error per mistake: what the checker says inside a misplaced read is about the same one.
        checker
            .errors
            .retain(|error| !findings.iter().any(|f| f.span.start <= error.span.start && error.span.end <= f.span.end));
        findings.append(&mut checker.errors);
        checker.errors = findings;
        if !checker.errors.is_empty() {
            let mut diagnostics = std::mem::take(&mut checker.errors);
            diagnostics.extend(warnings);
            return Err(fail(diagnostics));
        }
        let mut uses = std::mem::take(&mut checker.uses);
        let fields = std::mem::take(&mut checker.fields);
        uses.sort_by_key(|(_, _, position)| *position);
        let mut demand = Demand::default();
        let mut metrics: Vec<MetricUse> = Vec::new();
        for (id, level, _) in &uses {
            let registry = self.catalog.registry(id.registry).id.to_owned();
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
            let name = self.catalog.name(*id);
            if !metrics.iter().any(|m| m.name == name && m.level == *level) {
                metrics.push(MetricUse { name, level: *level, id: *id });
            }
        }
        let (connective, parts) = split_clauses(&expr);
        // A clause's text is the source between its top-level connectives, when they split the
        // source into as many parts as the expression has clauses; otherwise (a chain nested in
        // brackets, say) the extent of its parsed subtree.
        let written = match connective {
            Some(operator) => dialect::top_level_parts(&normalised.text, operator),
            None => std::iter::once(0..source.len()).collect(),
        };
        let written = (written.len() == parts.len()).then_some(written);
        let clauses: Vec<Clause> = parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| {
                let span = match &written {
                    Some(written) => written[index].clone(),
                    None => subtree_span_in(part, &spans, source).unwrap_or(0..source.len()),
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
        let local_screen: Vec<(IdedExpr, usize)> = local_clauses
            .into_iter()
            .map(|index| {
                let mut clause = clauses[index].expr.clone();
                direct_field_reads(&mut clause, &mut Vec::new());
                (clause, index)
            })
            .collect();
        let native_clauses: Vec<Option<NativeClause>> =
            clauses.iter().map(|clause| NativeClause::recognise(&clause.expr, &self.catalog)).collect();
        let place = |node: &IdedExpr| subtree_span_in(node, &spans, source).unwrap_or(0..source.len());
        let estimated = cost::estimate(&mut expr, &self.limits, &self.catalog, &place);
        if !estimated.bad_patterns.is_empty() {
            let mut diagnostics: Vec<RuleDiagnostic> = estimated
                .bad_patterns
                .iter()
                .map(|bad| {
                    RuleDiagnostic::new(Severity::Error, "invalid_pattern", bad.why.clone(), &text, bad.span.clone())
                        .with_help("`matches` takes a regular expression in RE2 syntax, e.g. '^[0-9]{10}$'")
                })
                .collect();
            diagnostics.extend(warnings);
            return Err(fail(diagnostics));
        }
        if let Some((span, culprit)) = estimated.culprit {
            let (what, amount, limit) = if culprit.steps > self.limits.max_steps {
                ("steps", culprit.steps, format!("{} (max_steps)", self.limits.max_steps))
            } else {
                ("bytes built", culprit.bytes, format!("{} (max_bytes)", self.limits.max_bytes))
            };
            let part = source.get(span.clone()).unwrap_or(source).trim();
            let mut diagnostics = vec![
                RuleDiagnostic::new(
                    Severity::Error,
                    "cost_too_high",
                    format!("`{part}` may take {} {what} for one beneficiary; the budget is {limit}", shown(amount)),
                    &text,
                    span,
                )
                .with_help(format!(
                    "comprehensions multiply: a loop over a list of n items repeats its body n times (lists from \
                     the data count as their bounds: {} members, {} items)",
                    self.limits.max_members, self.limits.max_list_items
                )),
            ];
            diagnostics.extend(warnings);
            return Err(fail(diagnostics));
        }
        if estimated.total.steps.saturating_mul(DATA_COST_SHARE) > self.limits.max_steps
            || estimated.total.bytes.saturating_mul(DATA_COST_SHARE) > self.limits.max_bytes
        {
            for (span, estimate) in &estimated.data_loops {
                warnings.push(RuleDiagnostic::new(
                    Severity::Warning,
                    "cost_depends_on_data",
                    format!(
                        "`{}` loops over a list from the data: at the assumed bounds ({} members, {} items) it may \
                         take {} steps; a longer list costs more, and an evaluation past the budget is an error",
                        source.get(span.clone()).unwrap_or(source).trim(),
                        self.limits.max_members,
                        self.limits.max_list_items,
                        shown(estimate.steps)
                    ),
                    &text,
                    span.clone(),
                ));
            }
        }
        // The clauses are evaluated alone too (explanations, the local screen): meter them alike.
        let mut clauses = clauses;
        for clause in &mut clauses {
            cost::estimate(&mut clause.expr, &self.limits, &self.catalog, &place);
        }
        let local_screen = local_screen
            .into_iter()
            .map(|(mut clause, index): (IdedExpr, usize)| {
                cost::estimate(&mut clause, &self.limits, &self.catalog, &place);
                (clause, index)
            })
            .collect();
        Ok(Rule {
            inner: Arc::new(RuleInner {
                name: name.to_owned(),
                source: text,
                expr,
                clauses,
                connective,
                native_clauses,
                local_screen,
                registry_clauses,
                demand,
                metrics,
                fields,
                warnings,
                estimate: estimated.total,
                budget: Estimate { steps: self.limits.max_steps, bytes: self.limits.max_bytes },
                batch_budget: self.limits.max_batch_steps,
            }),
        })
    }
}

/// Rewrites `r.<field>` as one name, `r.<field>`, which the evaluator's
/// resolver answers at once, without the qualified-name search `cel` does
/// for a selection (two allocations per read). Only for the local screen:
/// a field that is absent then gives an undeclared-reference error rather
/// than a missing-field unknown, and the screen treats any error as "not
/// decided here" (the whole rule is evaluated), so results do not change.
fn direct_field_reads(expr: &mut IdedExpr, bound: &mut Vec<String>) {
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

fn children(expr: &IdedExpr) -> Vec<&IdedExpr> {
    match &expr.expr {
        Expr::Call(call) => call.target.iter().map(|t| t.as_ref()).chain(call.args.iter()).collect(),
        Expr::Select(select) => vec![select.operand.as_ref()],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Struct(s) => s
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// The depth of `expr`'s tree (a lone literal is 1) and the source offsets
/// of its deepest node (or of the nearest node above it that has some),
/// measured without recursion: the tree may be deeper than the stack allows.
fn expression_depth(expr: &IdedExpr, offsets: impl Fn(u64) -> Option<(u32, u32)>) -> (usize, Option<(u32, u32)>) {
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

fn collect_spans(expr: &IdedExpr, add: &mut impl FnMut(u64)) {
    add(expr.id);
    for child in children(expr) {
        collect_spans(child, add);
    }
}

/// The byte range covered by every node of a subtree. A field selection's
/// own position is its dot, so the field name is added; unclosed brackets
/// are extended to their closing bracket.
fn subtree_span_in(expr: &IdedExpr, spans: &HashMap<u64, Range<usize>>, source: &str) -> Option<Range<usize>> {
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
fn rewrite(expr: &mut IdedExpr, bound: &mut Vec<String>, next_id: &mut u64, spans: &mut HashMap<u64, Range<usize>>) {
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

/// The place in `source` of the node `id` of `expr` (its subtree's extent).
fn node_span(expr: &IdedExpr, id: u64, spans: &HashMap<u64, Range<usize>>, source: &str) -> Option<Range<usize>> {
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
fn name_chain(expr: &IdedExpr) -> Option<Vec<&str>> {
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

struct Checker<'a> {
    catalog: &'a Catalog,
    source: &'a Arc<str>,
    spans: &'a HashMap<u64, Range<usize>>,
    errors: Vec<RuleDiagnostic>,
    uses: Vec<(MetricId, Level, usize)>,
    fields: Vec<String>,
}

impl Checker<'_> {
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

    fn check(&mut self, expr: &IdedExpr, bound: &mut Vec<String>) {
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

/// The top-level clauses: operands of the top `&&` (or `||`) chain.
fn split_clauses(expr: &IdedExpr) -> (Option<&'static str>, Vec<&IdedExpr>) {
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
