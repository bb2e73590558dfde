//! The metered library: what CEL's functions and operators cost when their
//! operands come from the data, charged before the work is done.
//!
//! The compiler ([`crate::rules::cost`]) knows the size of every value a rule builds
//! from literals, but not of what the data holds: a field may be a 1 MB
//! string, a loop variable an element of a 100,000-item list. Where a call's
//! work or result depends on such a value, the compiler rewrites it to a
//! function of this module (names start with `@`, which no rule can write):
//!
//! * the functions whose result can be much larger than their operands, or
//!   whose work is superlinear, are implemented here and charge their exact
//!   cost first: `+` on strings, bytes and lists ([`ADD_FN`]), `split`,
//!   `replace`, `join`, `indexOf`, `lastIndexOf` (linear searches, where the
//!   library's are quadratic) and `matches` (a regex of bounded size, its
//!   cost the haystack times the pattern's automaton);
//! * the comparisons `==`, `!=`, `<`, `<=`, `>`, `>=` and `in` between values
//!   of unknown size charge the operands they walk ([`EQ_FN`], ...); an
//!   ordering with a NaN is `false`, as CEL says;
//! * every other function keeps CEL's implementation: its operands are
//!   charged as they are walked ([`WALK_FN`], with the work of `sort` and
//!   `distinct` counted as `n log n` and `n²` comparisons) and what it builds
//!   once it is built ([`BUILT_FN`]); a value that a list or map literal (or a
//!   `map` loop) copies is charged as it is copied ([`COPY_FN`]).
//!
//! So an evaluation never builds much more than `max_bytes` (at most one
//! operation's result past it, which the operands already paid for) and no
//! single operation does more work than the budget left to it: the meter is
//! checked, and the cancellation noticed, before each one.

use std::cmp::Ordering as Order;

use cel::common::types::{CelBytes, CelDouble, CelInt, CelList, CelString, CelUInt};
use cel::common::value::{BuiltinRef, CowVal, Val};
use cel::{Context, DeclarationError, ExecutionError, FunctionContext};

use crate::engine::meter::{Allowance, boolean, weigh};
use crate::names::Work;
use crate::names::{
    ADD_FN, BUILT_FN, COPY_FN, EQ_FN, GE_FN, GT_FN, IN_FN, INDEX_OF_FN, JOIN_FN, LAST_INDEX_OF_FN, LE_FN, LT_FN,
    MATCHES_FN, NE_FN, REPLACE_FN, SPLIT_FN, WALK_FN,
};
use crate::names::{BYTES_PER_STEP, ITEM_BYTES};
use crate::rules::patterns::{compiled, match_steps};

/// The top-level length of a list or map, or of a string in bytes.
fn length(value: &dyn Val) -> u64 {
    match value.as_builtin() {
        BuiltinRef::String(text) => text.inner().len() as u64,
        BuiltinRef::Bytes(bytes) => bytes.inner().len() as u64,
        _ => value.as_sizer().map_or(0, |sizer| u64::try_from(*sizer.size().inner()).unwrap_or(0)),
    }
}

type Call<'c, 'v> = FunctionContext<'c, 'v>;
type Answer<'c, 'v> = Result<CowVal<'c, 'v>, ExecutionError>;

/// A function of the metered library, with the allowance it charges.
type Metered = for<'c, 'v> fn(&Allowance, &mut Call<'c, 'v>) -> Answer<'c, 'v>;

const LIBRARY: &[(&str, Metered)] = &[
    (WALK_FN, walk),
    (BUILT_FN, built),
    (COPY_FN, copy),
    (ADD_FN, add),
    (EQ_FN, |meter, call| equality(meter, call, true)),
    (NE_FN, |meter, call| equality(meter, call, false)),
    (LT_FN, |meter, call| ordering(meter, call, "_<_", |o| o == Order::Less)),
    (LE_FN, |meter, call| ordering(meter, call, "_<=_", |o| o != Order::Greater)),
    (GT_FN, |meter, call| ordering(meter, call, "_>_", |o| o == Order::Greater)),
    (GE_FN, |meter, call| ordering(meter, call, "_>=_", |o| o != Order::Less)),
    (IN_FN, contains),
    (SPLIT_FN, split),
    (REPLACE_FN, replace),
    (JOIN_FN, join),
    (INDEX_OF_FN, |meter, call| index_of(meter, call, false)),
    (LAST_INDEX_OF_FN, |meter, call| index_of(meter, call, true)),
    (MATCHES_FN, matches),
];

/// Adds the metered library to `context`, charging `allowance`.
pub(crate) fn install(context: &mut Context<'_, '_>, allowance: &Allowance) -> Result<(), DeclarationError> {
    type Raw = Box<dyn for<'c, 'v> Fn(&mut Call<'c, 'v>) -> Answer<'c, 'v> + Send + Sync>;
    for &(name, function) in LIBRARY {
        let meter = allowance.clone();
        let raw: Raw = Box::new(move |call: &mut Call<'_, '_>| function(&meter, call));
        context.add_function(name, raw)?;
    }
    Ok(())
}

/// The `n` arguments of a call, moved out.
fn arguments<'c, 'v, const N: usize>(
    call: &mut Call<'c, 'v>,
    name: &str,
) -> Result<[CowVal<'c, 'v>; N], ExecutionError> {
    std::mem::take(&mut call.args).try_into().map_err(|args: Vec<_>| {
        ExecutionError::function_error(name, format!("takes {N} arguments, not {}", args.len()))
    })
}

/// The error of a function given arguments of types it does not take.
fn no_overload(function: &str, member: bool, args: &[&dyn Val]) -> ExecutionError {
    let types = args.iter().map(|arg| arg.get_type().name().to_owned()).collect();
    if member {
        ExecutionError::no_such_member_overload(function, types)
    } else {
        ExecutionError::no_such_overload(function, types)
    }
}

fn walk<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let [value, work] = arguments(call, WALK_FN)?;
    let work = work.downcast_ref::<CelInt>().map_or(0, |w| *w.inner());
    if work == Work::Count as i64 {
        let n = value.downcast_ref::<CelInt>().map_or(0, |n| u64::try_from(*n.inner()).unwrap_or(0));
        meter.spend(n, n.saturating_mul(ITEM_BYTES))?;
        return Ok(value);
    }
    let weight = weigh(value.as_ref());
    let n = length(value.as_ref());
    // One comparison of two elements walks their bytes: on average this many steps.
    let per_comparison = 1 + weight.bytes / n.max(1) / BYTES_PER_STEP;
    let comparisons = match work {
        1 => n.saturating_mul(u64::from(n.max(1).ilog2() + 1)),
        2 => n.saturating_mul(n.saturating_sub(1)) / 2,
        _ => 0,
    };
    meter.spend(weight.walk_steps().saturating_add(comparisons.saturating_mul(per_comparison)), 0)?;
    Ok(value)
}

fn built<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let [value] = arguments(call, BUILT_FN)?;
    let weight = weigh(value.as_ref());
    meter.spend(weight.items, weight.copy_bytes())?;
    Ok(value)
}

fn copy<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let [value] = arguments(call, COPY_FN)?;
    let weight = weigh(value.as_ref());
    meter.spend(weight.items.saturating_add(weight.owned_bytes / BYTES_PER_STEP), weight.copy_bytes())?;
    Ok(value)
}

/// `a + b`: strings, bytes and lists charge what they build; anything else is CEL's. Operands
/// that cannot be added are refused before CEL would copy them into its error.
fn add<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let [a, b] = arguments(call, ADD_FN)?;
    let refused = || no_overload("_+_", false, &[a.as_ref(), b.as_ref()]);
    match (a.as_builtin(), b.as_builtin()) {
        (BuiltinRef::String(x), BuiltinRef::String(y)) => {
            let bytes = (x.inner().len() + y.inner().len()) as u64;
            meter.spend(1 + bytes / BYTES_PER_STEP, bytes)?;
            let mut joined = String::with_capacity(bytes as usize);
            joined.push_str(x.inner());
            joined.push_str(y.inner());
            return Ok(CowVal::owned(CelString::from(joined)));
        }
        (BuiltinRef::Bytes(x), BuiltinRef::Bytes(y)) => {
            let bytes = (x.inner().len() + y.inner().len()) as u64;
            meter.spend(1 + bytes / BYTES_PER_STEP, bytes)?;
            return Ok(CowVal::owned(CelBytes::from([x.inner(), y.inner()].concat())));
        }
        (BuiltinRef::String(_) | BuiltinRef::Bytes(_), _) | (_, BuiltinRef::String(_) | BuiltinRef::Bytes(_)) => {
            return Err(refused());
        }
        // A list takes the elements of any list-like operand (CEL's own rule): both are copied.
        (BuiltinRef::List(_), _) if b.as_iterable().is_some() => {
            let (x, y) = (weigh(a.as_ref()), weigh(b.as_ref()));
            let copied = x.copy_bytes().saturating_add(y.copy_bytes());
            let items = length(b.as_ref());
            meter.spend(x.walk_steps().saturating_add(y.walk_steps()).saturating_add(items), copied)?;
        }
        (BuiltinRef::List(_) | BuiltinRef::Map(_), _) | (_, BuiltinRef::List(_) | BuiltinRef::Map(_)) => {
            return Err(refused());
        }
        _ => meter.spend(1, 0)?,
    }
    let adder = a.as_adder().ok_or_else(refused)?;
    let sum = adder.add(b.as_ref()).map_err(|error| bounded(error, "_+_", &[a.as_ref(), b.as_ref()]))?;
    Ok(CowVal::Owned(sum.into_owned()))
}

/// An error of CEL's that may hold copies of the operands (a 1 MB string in
/// a message) becomes the overload error, which names their types only.
fn bounded(error: ExecutionError, function: &str, args: &[&dyn Val]) -> ExecutionError {
    match error {
        ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnexpectedType { .. } => no_overload(function, false, args),
        other => other,
    }
}

/// `a == b` (or `a != b`): charges both operands' walks (weighing them walks both; the
/// comparison walks at most the smaller).
fn equality<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>, equal: bool) -> Answer<'c, 'v> {
    let [a, b] = arguments(call, EQ_FN)?;
    let walked = weigh(a.as_ref()).walk_steps().saturating_add(weigh(b.as_ref()).walk_steps());
    meter.spend(1 + walked, 0)?;
    Ok(boolean((a == b) == equal))
}

/// A double that is NaN.
fn is_nan(value: &dyn Val) -> bool {
    value.downcast_ref::<CelDouble>().is_some_and(|x| x.inner().is_nan())
}

fn is_number(value: &dyn Val) -> bool {
    value.downcast_ref::<CelDouble>().is_some()
        || value.downcast_ref::<CelInt>().is_some()
        || value.downcast_ref::<CelUInt>().is_some()
}

/// `a < b` and its kin: a NaN against a number is `false`, as CEL says;
/// strings and bytes charge the shorter one's walk.
fn ordering<'c, 'v>(
    meter: &Allowance,
    call: &mut Call<'c, 'v>,
    operator: &str,
    holds: fn(Order) -> bool,
) -> Answer<'c, 'v> {
    let [a, b] = arguments(call, operator)?;
    let (a, b) = (a.as_ref(), b.as_ref());
    meter.spend(1 + length(a).min(length(b)) / BYTES_PER_STEP, 0)?;
    if (is_nan(a) && is_number(b)) || (is_nan(b) && is_number(a)) {
        return Ok(boolean(false));
    }
    // Strings, bytes and lists compare only with their own kind: refused before CEL would copy
    // them into its error.
    let kind = |v: &dyn Val| match v.as_builtin() {
        BuiltinRef::String(_) => 1,
        BuiltinRef::Bytes(_) => 2,
        BuiltinRef::List(_) | BuiltinRef::Map(_) => 3,
        _ => 0,
    };
    if (kind(a) != 0 || kind(b) != 0) && kind(a) != kind(b) {
        return Err(no_overload(operator, false, &[a, b]));
    }
    let order = a
        .as_comparer()
        .ok_or_else(|| no_overload(operator, false, &[a, b]))?
        .compare(b)
        .map_err(|error| bounded(error, operator, &[a, b]))?;
    Ok(boolean(holds(order)))
}

/// `x in container`: a list is walked (each element compared with `x`), a map looked up.
fn contains<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let [x, container] = arguments(call, IN_FN)?;
    let walked = match container.as_builtin() {
        BuiltinRef::Map(_) => weigh(x.as_ref()).walk_steps(),
        _ => weigh(container.as_ref()).walk_steps(),
    };
    meter.spend(1 + walked, 0)?;
    let found = container
        .as_container()
        .ok_or_else(|| no_overload("@in", false, &[x.as_ref(), container.as_ref()]))?
        .contains(x.as_ref())
        .map_err(|error| bounded(error, "@in", &[x.as_ref(), container.as_ref()]))?;
    Ok(boolean(found))
}

/// A string argument, or the overload error naming `function`'s argument types.
fn text<'a, 'v>(value: &'a CowVal<'_, 'v>, function: &str, all: &[&dyn Val]) -> Result<&'a str, ExecutionError> {
    value.downcast_ref::<CelString>().map(|s| s.inner()).ok_or_else(|| no_overload(function, true, all))
}

/// An int argument.
fn count(value: &CowVal<'_, '_>, function: &str, all: &[&dyn Val]) -> Result<i64, ExecutionError> {
    value.downcast_ref::<CelInt>().map(|n| *n.inner()).ok_or_else(|| no_overload(function, true, all))
}

/// The arguments of a member function rewritten as `@f(args..., target)` (the target last, as
/// CEL evaluates a method's arguments before its target): `min`..=`max` of them in all; the
/// target first in what is returned.
fn member<'c, 'v>(
    call: &mut Call<'c, 'v>,
    name: &str,
    min: usize,
    max: usize,
) -> Result<Vec<CowVal<'c, 'v>>, ExecutionError> {
    let mut args = std::mem::take(&mut call.args);
    if !(min..=max).contains(&args.len()) {
        let given = args.len().saturating_sub(1);
        return Err(ExecutionError::function_error(
            name,
            format!("takes {} to {} arguments, not {given}", min - 1, max - 1),
        ));
    }
    args.rotate_right(1);
    Ok(args)
}

/// `s.split(separator)`, `s.split(separator, n)`: at most `n` parts (none for
/// 0, all for a negative `n`), the last holding the rest; an empty separator
/// splits between characters. Charges the walk and every part.
fn split<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let args = member(call, "split", 2, 3)?;
    let all: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
    let s = text(&args[0], "split", &all)?;
    let separator = text(&args[1], "split", &all)?;
    let limit = match args.get(2) {
        Some(n) => count(n, "split", &all)?,
        None => -1,
    };
    // Walk first, to know how many parts there are.
    let found = if separator.is_empty() { s.chars().count() } else { s.matches(separator).count() + 1 };
    let parts = match usize::try_from(limit) {
        Ok(limit) => found.min(limit),
        Err(_) => found,
    } as u64;
    meter.spend(1 + parts + s.len() as u64 / BYTES_PER_STEP, s.len() as u64 + parts * ITEM_BYTES)?;
    let owned = |part: &str| Box::new(CelString::from(part.to_owned())) as Box<dyn Val>;
    let items: Vec<Box<dyn Val>> = match (usize::try_from(limit), separator.is_empty()) {
        (Ok(0), _) => Vec::new(),
        (Ok(limit), true) => {
            let mut items = Vec::with_capacity(parts as usize);
            let mut rest = s;
            while let Some(first) = rest.chars().next() {
                if items.len() + 1 == limit {
                    break;
                }
                let (head, tail) = rest.split_at(first.len_utf8());
                items.push(owned(head));
                rest = tail;
            }
            if !rest.is_empty() {
                items.push(owned(rest));
            }
            items
        }
        (Ok(limit), false) => s.splitn(limit, separator).map(owned).collect(),
        (Err(_), true) => s.char_indices().map(|(i, c)| owned(&s[i..i + c.len_utf8()])).collect(),
        (Err(_), false) => s.split(separator).map(owned).collect(),
    };
    Ok(CowVal::owned(CelList::from(items)))
}

/// `s.replace(old, new)`, `s.replace(old, new, n)`: the first `n` occurrences
/// (all for a negative `n`). Charges the walk and the result.
fn replace<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let args = member(call, "replace", 3, 4)?;
    let all: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
    let s = text(&args[0], "replace", &all)?;
    let (old, new) = (text(&args[1], "replace", &all)?, text(&args[2], "replace", &all)?);
    let limit = match args.get(3) {
        Some(n) => usize::try_from(count(n, "replace", &all)?).ok(),
        None => None,
    };
    let occurrences = if old.is_empty() { s.chars().count() + 1 } else { s.matches(old).count() };
    let replaced = limit.map_or(occurrences, |limit| occurrences.min(limit)) as u64;
    let length = (s.len() as u64).saturating_add(replaced.saturating_mul(new.len() as u64));
    meter.spend(1 + (s.len() as u64).saturating_add(length) / BYTES_PER_STEP, length)?;
    let result = match limit {
        Some(limit) => s.replacen(old, new, limit),
        None => s.replace(old, new),
    };
    Ok(CowVal::owned(CelString::from(result)))
}

/// `list.join()`, `list.join(separator)`: the strings of the list, the separator between them.
fn join<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    let args = member(call, "join", 1, 2)?;
    let all: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
    let separator = match args.get(1) {
        Some(separator) => text(separator, "join", &all)?,
        None => "",
    };
    // A list only (CEL's `join` is declared on lists; a map would give its keys).
    let items = match args[0].as_builtin() {
        BuiltinRef::List(list) => list.as_iterable(),
        _ => None,
    }
    .ok_or_else(|| no_overload("join", true, &all))?;
    let mut parts: Vec<&str> = Vec::new();
    let mut walking = items.iter();
    while let Some(item) = walking.next() {
        parts.push(item.downcast_ref::<CelString>().map(|s| s.inner()).ok_or_else(|| {
            ExecutionError::function_error("join", format!("cannot join a {}", item.get_type().name()))
        })?);
    }
    let glue = (separator.len() as u64).saturating_mul(parts.len().saturating_sub(1) as u64);
    let length = parts.iter().map(|p| p.len() as u64).sum::<u64>().saturating_add(glue);
    meter.spend(1 + parts.len() as u64 + length / BYTES_PER_STEP, length)?;
    Ok(CowVal::owned(CelString::from(parts.join(separator))))
}

/// `s.indexOf(needle[, offset])` and `s.lastIndexOf(needle[, offset])`, in
/// characters, with CEL's rules for offsets; searched in linear time.
fn index_of<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>, last: bool) -> Answer<'c, 'v> {
    let function = if last { "lastIndexOf" } else { "indexOf" };
    let args = member(call, function, 2, 3)?;
    let all: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
    let (s, needle) = (text(&args[0], function, &all)?, text(&args[1], function, &all)?);
    let offset = args.get(2).map(|n| count(n, function, &all)).transpose()?;
    meter.spend(1 + (s.len() + needle.len()) as u64 / BYTES_PER_STEP, 0)?;
    let chars = s.chars().count();
    let out_of_range = |at: i64| ExecutionError::function_error(function, format!("index out of range: {at}"));
    // The byte position of character `index` (or the end).
    let byte_at = |index: usize| s.char_indices().nth(index).map_or(s.len(), |(at, _)| at);
    let found = match offset {
        Some(at) if at < 0 => return Err(out_of_range(at)),
        Some(at) if needle.is_empty() => Some(usize::try_from(at).unwrap_or(usize::MAX).min(chars)),
        Some(at) if usize::try_from(at).map_or(true, |at| at >= chars) => return Err(out_of_range(at)),
        Some(at) => {
            let at = usize::try_from(at).unwrap_or(0);
            if last {
                // The last occurrence starting at or before character `at` ends at most
                // `needle.len()` bytes past it (a match ends on a character boundary).
                let limit = (byte_at(at) + needle.len()).min(s.len());
                let limit = (0..=limit).rev().find(|&end| s.is_char_boundary(end)).unwrap_or(0);
                s[..limit].rfind(needle).map(|byte| s[..byte].chars().count())
            } else {
                let start = byte_at(at);
                s[start..].find(needle).map(|byte| s[..start + byte].chars().count())
            }
        }
        None if last => s.rfind(needle).map(|byte| s[..byte].chars().count()),
        None => s.find(needle).map(|byte| s[..byte].chars().count()),
    };
    Ok(CowVal::owned(CelInt::from(found.map_or(-1, |i| i as i64))))
}

/// `s.matches(pattern)`: whether the pattern (RE2 syntax) matches somewhere
/// in `s`. A pattern is compiled once for the process (the last
/// [`PATTERNS_KEPT`] are kept, failures too); compiling one costs its
/// automaton's size, and a match the haystack's bytes times its states.
fn matches<'c, 'v>(meter: &Allowance, call: &mut Call<'c, 'v>) -> Answer<'c, 'v> {
    // `s.matches(p)` is rewritten `@matches(p, s)`, and `matches(s, p)` too.
    let [pattern, s] = arguments(call, MATCHES_FN)?;
    let all = [s.as_ref(), pattern.as_ref()];
    let (s, pattern) = (text(&s, "matches", &all)?, text(&pattern, "matches", &all)?);
    meter.spend(1 + pattern.len() as u64 / BYTES_PER_STEP, 0)?;
    let (compiled, fresh) = compiled(pattern);
    let compiled = compiled.map_err(|why| ExecutionError::function_error("matches", why))?;
    if fresh {
        meter.spend(compiled.compile_steps, 0)?;
    }
    meter.spend(match_steps(s.len(), compiled.states), 0)?;
    Ok(boolean(compiled.regex.is_match(s)))
}
