//! Patterns (`matches`): compiled within a size limit, their cost counted,
//! the recent ones kept for the whole process. The compiler checks a
//! pattern written in a rule here, and the evaluator matches with it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use crate::names::REGEX_STATE_BYTES_PER_STEP;

/// The largest compiled pattern, in bytes of its automaton: compiling one
/// takes at most about 20 ms (`\w{20}`, 350 KiB, 13 ms), and the patterns
/// kept ([`PATTERNS_KEPT`]) hold at most about 100 MiB.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled pattern, the number of states of its automaton, and what compiling it cost.
#[derive(Debug)]
pub(crate) struct Pattern {
    pub(crate) regex: regex::Regex,
    pub(crate) states: usize,
    /// Steps compiling it took: a step per [`COMPILED_BYTES_PER_STEP`] of its automata.
    pub(crate) compile_steps: u64,
}

/// Bytes of compiled automata a step pays for (compiling is about that fast).
const COMPILED_BYTES_PER_STEP: u64 = 8;

/// Steps a match over `haystack` bytes costs with an automaton of `states` states.
pub(crate) fn match_steps(haystack: usize, states: usize) -> u64 {
    1 + (haystack as u64).saturating_mul(states as u64) / REGEX_STATE_BYTES_PER_STEP
}

/// Patterns kept compiled, for the whole process.
const PATTERNS_KEPT: usize = 32;

/// A compiled pattern, or why it does not compile.
type Compiled = Result<Arc<Pattern>, String>;

/// The patterns compiled lately, by their text, with the turn each was last used at.
static PATTERNS: LazyLock<Mutex<HashMap<String, (Compiled, u64)>>> = LazyLock::new(Mutex::default);
static TURN: AtomicU64 = AtomicU64::new(0);

/// `pattern` compiled (or why it cannot be), and whether it was compiled now rather than found
/// among the recent ones. At most [`PATTERNS_KEPT`] are kept; the least recently used goes.
pub(crate) fn compiled(pattern: &str) -> (Compiled, bool) {
    let turn = TURN.fetch_add(1, Ordering::Relaxed);
    let lock = || PATTERNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((compiled, used)) = lock().get_mut(pattern) {
        *used = turn;
        return (compiled.clone(), false);
    }
    let compiled = compile_pattern(pattern).map(Arc::new);
    let mut kept = lock();
    if kept.len() >= PATTERNS_KEPT
        && let Some(oldest) = kept.iter().min_by_key(|(_, (_, used))| *used).map(|(text, _)| text.clone())
    {
        kept.remove(&oldest);
    }
    kept.insert(pattern.to_owned(), (compiled.clone(), turn));
    (compiled, true)
}

/// Compiles `pattern` within the size limit, counting its automaton's states.
///
/// The states counted are those of the pattern read as ASCII when it can be
/// (its repetitions and alternatives): a Unicode class such as `\w` compiles
/// to hundreds of byte-level states of which a match visits a few at each
/// byte, while `(?:[a-z]{0,9}){800}` keeps thousands alive at once.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Pattern, String> {
    use regex_automata::nfa::thompson::{Config, NFA};
    use regex_automata::util::syntax;
    let shown = crate::rules::diagnostic::preview(pattern);
    let invalid =
        |error: &dyn std::fmt::Display| format!("`{shown}` is not a valid pattern: {}", one_line(&error.to_string()));
    let limited = Config::new().nfa_size_limit(Some(REGEX_SIZE_LIMIT));
    // The Unicode automaton first: within its limit, the `regex` crate's is too.
    let unicode = NFA::compiler().configure(limited.clone()).build(pattern).map_err(|e| invalid(&e))?;
    let regex = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| invalid(&e))?;
    let ascii = NFA::compiler()
        .configure(limited)
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(pattern)
        .map_or(unicode.states().len(), |nfa| nfa.states().len());
    // The regex crate builds a forward and a reverse automaton of about this size.
    let compile_steps = 1 + 3 * unicode.memory_usage() as u64 / COMPILED_BYTES_PER_STEP;
    Ok(Pattern { regex, states: ascii, compile_steps })
}

/// The last line of a multi-line error (the `regex` crate draws the pattern above it).
fn one_line(message: &str) -> String {
    message.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or(message).trim().to_owned()
}
