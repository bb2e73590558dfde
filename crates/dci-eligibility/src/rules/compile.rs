//! Compiling a rule: [`Compiler`] and what it makes, a [`Rule`] (immutable,
//! `Send + Sync` and cheap to clone). The stages are in `stages` (admit,
//! dialect, parse, depth, lower, check, demand, split, cost), the walks and
//! rewrites of the expression in `tree`, the static checks in `check`.

use std::ops::Range;
use std::sync::Arc;

use cel::Env;
use cel::common::ast::IdedExpr;
use dci_metrics::{Catalog, MetricId, RegistryIndex};
use serde::Serialize;

use crate::names::Limits;
use crate::rules::cost::Estimate;
use crate::rules::diagnostic::preview;
use crate::rules::diagnostic::{RuleDiagnostic, Severity};
use crate::rules::field_types::FieldTypes;
use crate::rules::native_form::NativeClause;
use crate::rules::{cel_macros, dialect};

mod check;
mod stages;
mod tree;
mod types;

use stages::Compilation;

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

    /// Whether the rule reads the household's members (`members`, or a
    /// member's registry metric).
    pub fn reads_members(&self) -> bool {
        !self.inner.demand.members.is_empty() || self.inner.fields.iter().any(|field| field == "members")
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
    field_types: Option<Arc<FieldTypes>>,
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
        Compiler { env: Arc::new(env), catalog, limits: Limits::default(), field_types: None }
    }

    /// Sets the types of the beneficiaries' own fields (`[fields]`, or sample data): rules
    /// are then checked against them.
    pub fn with_field_types(mut self, field_types: FieldTypes) -> Self {
        self.field_types = (!field_types.is_empty()).then(|| Arc::new(field_types));
        self
    }

    /// The types of the beneficiaries' own fields, when they are known.
    pub fn field_types(&self) -> Option<&FieldTypes> {
        self.field_types.as_deref()
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
        Compilation::new(self, source).run(name).map_err(|mut diagnostics| {
            // A garbled rule can make the parser report an error at nearly every character.
            diagnostics.truncate(MAX_DIAGNOSTICS);
            RuleError { name: name.to_owned(), diagnostics }
        })
    }
}
