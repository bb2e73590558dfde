//! Names several stages share: the roots a rule reads (`dci`, `r`,
//! `members`), the rule limits, and the internal functions the compiler
//! writes into a rule and the evaluator provides (metering, macros). A leaf:
//! it imports nothing else of the crate, so that every stage can use it.

use serde::Serialize;

/// What a rule may be (`[rules]` in `elig.toml`): its length and depth,
/// checked when it is compiled, and its cost, estimated when it is compiled
/// and metered when it is evaluated (see the `cost` module for the units).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest rule, in bytes.
    pub max_length: usize,
    /// Deepest rule: the depth of its parsed expression, where every
    /// operator, call, field access, index, literal list or map and
    /// comprehension is a level (a chain `a + b + c` is two), and the
    /// deepest nesting of brackets.
    pub max_depth: usize,
    /// Most steps one evaluation may take, estimated (a rule whose worst
    /// case is higher does not compile: `cost_too_high`) and metered
    /// (an evaluation past it is an `error`, `budget_exceeded`).
    pub max_steps: u64,
    /// Most bytes of strings, lists and maps one evaluation may build,
    /// estimated and metered like `max_steps`.
    pub max_bytes: u64,
    /// Most steps the costly evaluations of one batch (a request, or a chunk
    /// of a file or stream) may take together: those of more than
    /// [`BATCH_COUNTED_FROM`](crate::engine::meter::BATCH_COUNTED_FROM) steps. Past it, each
    /// decision still to make that runs a costly evaluation is an `error`
    /// (`budget_exceeded`), so that many costly decisions cannot keep every
    /// core busy for long.
    pub max_batch_steps: u64,
    /// Household members the cost estimate assumes at most.
    pub max_members: u64,
    /// Items of a list field (or a registry's list) the estimate assumes at most.
    pub max_list_items: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_length: 10_000,
            max_depth: DEFAULT_MAX_DEPTH,
            max_steps: 1_000_000,
            max_bytes: 16 << 20,
            max_batch_steps: 1_000_000_000,
            max_members: 100,
            max_list_items: 100,
        }
    }
}

impl Limits {
    /// The stricter of `self` and `other`, limit by limit.
    pub fn stricter(&self, other: &Limits) -> Limits {
        Limits {
            max_length: self.max_length.min(other.max_length),
            max_depth: self.max_depth.min(other.max_depth),
            max_steps: self.max_steps.min(other.max_steps),
            max_bytes: self.max_bytes.min(other.max_bytes),
            max_batch_steps: self.max_batch_steps.min(other.max_batch_steps),
            max_members: self.max_members.max(other.max_members),
            max_list_items: self.max_list_items.max(other.max_list_items),
        }
    }
}

/// The default [`Limits::max_depth`]. Every thread that runs rules has at
/// least 2 MiB of stack (tokio's workers, rayon's pool, Rust's test threads;
/// the CLI's main thread has 8 MiB). The costliest shape, a long operator
/// chain, takes about 1.6 KB of stack per level to compile, evaluate,
/// explain and drop (`examples/stack_depth.rs`, release and debug builds
/// alike), so a 2 MiB thread holds about 1,300 levels: this default leaves
/// a fivefold margin.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// The registrant's root variable.
pub(crate) const REGISTRANT: &str = "r";

/// The metrics root.
pub(crate) const DCI: &str = "dci";

/// The household members.
pub(crate) const MEMBERS: &str = "members";

/// The function wrapped around every comprehension's range: `@budget(range,
/// bytes per item)`. Names starting with `@` cannot be written in a rule.
pub(crate) const BUDGET_FN: &str = "@budget";

/// The function that says whether the evaluation was stopped: `@halted()`.
pub(crate) const HALTED_FN: &str = "@halted";

/// The function charging each iteration before its work: `@tick(steps)`, which is `true`.
pub(crate) const TICK_FN: &str = "@tick";

/// Bytes a string or list function walks per step.
pub const BYTES_PER_STEP: u64 = 64;

/// Bytes counted per list or map item, beside its contents: the item's
/// pointer in its list, its boxed value and the allocator's rounding.
pub(crate) const ITEM_BYTES: u64 = 48;

/// `@walk(x, work)`: charges walking `x` ([`Work`]) and gives `x` back.
pub(crate) const WALK_FN: &str = "@walk";

/// `@built(x)`: charges `x`, a value just built, and gives it back.
pub(crate) const BUILT_FN: &str = "@built";

/// `@copy(x)`: charges the copy a list or map literal makes of `x`, and gives `x` back.
pub(crate) const COPY_FN: &str = "@copy";

/// `a + b`.
pub(crate) const ADD_FN: &str = "@add";

/// `a == b`.
pub(crate) const EQ_FN: &str = "@eq";

/// `a != b`.
pub(crate) const NE_FN: &str = "@ne";

/// `a < b`.
pub(crate) const LT_FN: &str = "@lt";

/// `a <= b`.
pub(crate) const LE_FN: &str = "@le";

/// `a > b`.
pub(crate) const GT_FN: &str = "@gt";

/// `a >= b`.
pub(crate) const GE_FN: &str = "@ge";

/// `x in container`.
pub(crate) const IN_FN: &str = "@contains";

/// `s.split(separator[, n])`.
pub(crate) const SPLIT_FN: &str = "@split";

/// `s.replace(old, new[, n])`.
pub(crate) const REPLACE_FN: &str = "@replace";

/// `list.join([separator])`.
pub(crate) const JOIN_FN: &str = "@join";

/// `s.indexOf(needle[, offset])`.
pub(crate) const INDEX_OF_FN: &str = "@indexOf";

/// `s.lastIndexOf(needle[, offset])`.
pub(crate) const LAST_INDEX_OF_FN: &str = "@lastIndexOf";

/// `s.matches(pattern)`, `matches(s, pattern)`.
pub(crate) const MATCHES_FN: &str = "@matches";

/// Haystack bytes × automaton states one step pays for, in the worst case
/// of the `regex` crate (its PikeVM visits every state at every byte).
pub(crate) const REGEX_STATE_BYTES_PER_STEP: u64 = 8;

/// Sums a list of numbers (nulls skipped); empty → 0.
pub(crate) const SUM_FN: &str = "elig.sum";

/// Mean of a list of numbers (nulls skipped); empty → null.
pub(crate) const AVG_FN: &str = "elig.avg";

/// Least of a list (nulls skipped); empty → null.
pub(crate) const MIN_FN: &str = "elig.min";

/// Greatest of a list (nulls skipped); empty → null.
pub(crate) const MAX_FN: &str = "elig.max";

/// Namespaces whose identifiers are function prefixes, not fields.
pub(crate) const NAMESPACES: &[&str] = &["optional", "math", "strings", "lists"];

/// What walking a value costs in comparisons, for [`WALK_FN`]'s second argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// Once through (`size`, `contains`, `format`, `flatten`, ...).
    Linear = 0,
    /// A sort: `n log₂ n` comparisons.
    Sort = 1,
    /// Every element against every other (`distinct`): `n (n − 1) / 2` comparisons.
    Pairs = 2,
    /// The int `n` of a list about to be built of `n` items (`lists.range(n)`).
    Count = 3,
}
