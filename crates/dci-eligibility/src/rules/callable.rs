//! Functions a rule may call: CEL's standard library, the strings, math and
//! lists extensions, and this crate's library. The static checks use these
//! lists; a unit test checks each name is really callable.

use crate::names::{AVG_FN, MAX_FN, MIN_FN, SUM_FN};

/// Our functions and their arities (for the static checks).
pub(crate) const LIBRARY: &[(&str, usize)] = &[
    ("age_years", 1),
    ("age_months", 1),
    ("age_days", 1),
    ("today", 0),
    ("days_ago", 1),
    ("months_ago", 1),
    ("years_ago", 1),
    ("between", 3),
    ("date", 1),
    (SUM_FN, 1),
    (AVG_FN, 1),
    (MIN_FN, 1),
    (MAX_FN, 1),
];

/// Global functions of CEL and its extensions, with their accepted arities.
pub(crate) const GLOBAL: &[(&str, &[usize])] = &[
    ("size", &[1]),
    ("int", &[1]),
    ("uint", &[1]),
    ("double", &[1]),
    ("string", &[1]),
    ("bool", &[1]),
    ("bytes", &[1]),
    ("timestamp", &[1]),
    ("duration", &[1]),
    ("dyn", &[1]),
    ("type", &[1]),
    ("matches", &[2]),
    ("optional.of", &[1]),
    ("optional.none", &[0]),
    ("optional.ofNonZeroValue", &[1]),
    ("math.greatest", &[1, 2, 3, 4, 5, 6, 7, 8]),
    ("math.least", &[1, 2, 3, 4, 5, 6, 7, 8]),
    ("math.abs", &[1]),
    ("math.ceil", &[1]),
    ("math.floor", &[1]),
    ("math.round", &[1]),
    ("math.trunc", &[1]),
    ("math.sign", &[1]),
    ("math.sqrt", &[1]),
    ("math.isNaN", &[1]),
    ("math.isInf", &[1]),
    ("math.isFinite", &[1]),
    ("strings.quote", &[1]),
    ("lists.range", &[1]),
];

/// Member functions (`x.f(...)`) of CEL and its extensions; arity excludes the target.
pub(crate) const MEMBER: &[(&str, &[usize])] = &[
    ("size", &[0]),
    ("contains", &[1]),
    ("startsWith", &[1]),
    ("endsWith", &[1]),
    ("matches", &[1]),
    ("getFullYear", &[0, 1]),
    ("getMonth", &[0, 1]),
    ("getDayOfYear", &[0, 1]),
    ("getDayOfMonth", &[0, 1]),
    ("getDate", &[0, 1]),
    ("getDayOfWeek", &[0, 1]),
    ("getHours", &[0, 1]),
    ("getMinutes", &[0, 1]),
    ("getSeconds", &[0, 1]),
    ("getMilliseconds", &[0, 1]),
    ("orValue", &[1]),
    ("or", &[1]),
    ("hasValue", &[0]),
    ("value", &[0]),
    ("charAt", &[1]),
    ("indexOf", &[1, 2]),
    ("lastIndexOf", &[1, 2]),
    ("lowerAscii", &[0]),
    ("upperAscii", &[0]),
    ("replace", &[2, 3]),
    ("split", &[1, 2]),
    ("substring", &[1, 2]),
    ("trim", &[0]),
    ("join", &[0, 1]),
    ("format", &[1]),
    ("reverse", &[0]),
    ("distinct", &[0]),
    ("flatten", &[0, 1]),
    ("slice", &[2]),
    ("sort", &[0]),
];

/// Identifiers naming CEL types.
pub(crate) const TYPE_NAMES: &[&str] =
    &["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"];

/// The accepted arities of a global function, if it is known.
pub(crate) fn global_arities(name: &str) -> Option<Vec<usize>> {
    GLOBAL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| a.to_vec())
        .or_else(|| LIBRARY.iter().find(|(n, _)| *n == name).map(|(_, a)| vec![*a]))
}

/// The accepted arities of a member function, if it is known.
pub(crate) fn member_arities(name: &str) -> Option<Vec<usize>> {
    MEMBER.iter().find(|(n, _)| *n == name).map(|(_, a)| a.to_vec())
}

/// The functions a rule can call as `f(...)`, in the order they are listed here.
pub fn function_names() -> Vec<&'static str> {
    GLOBAL.iter().map(|(n, _)| *n).chain(LIBRARY.iter().map(|(n, _)| *n).filter(|n| !n.starts_with("elig."))).collect()
}

/// The methods a rule can call as `x.f(...)`, the comprehension macros (`exists`, `all`, ...) first.
pub fn method_names() -> Vec<&'static str> {
    crate::rules::cel_macros::receiver_macros().chain(MEMBER.iter().map(|(n, _)| *n)).collect()
}

/// The known function names closest to `name`.
pub(crate) fn suggest_function(name: &str, member: bool) -> Option<&'static str> {
    let candidates = if member { method_names() } else { function_names() };
    candidates
        .into_iter()
        .map(|candidate| {
            (dci_metrics::edit_distance(&name.to_ascii_lowercase(), &candidate.to_ascii_lowercase()), candidate)
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cel::{Context, ExecutionError};
    use std::sync::Arc;

    /// Every listed function exists in the CEL environment: calling it never
    /// gives "undeclared reference" (other errors, about arguments, are fine).
    #[test]
    fn every_listed_function_is_callable() {
        let compiler = crate::Compiler::new(Arc::new(dci_metrics::Catalog::default()));
        let env = compiler.env().clone();
        let mut context = Context::with_env(env.clone());
        let allowance =
            crate::engine::meter::Allowance { steps: 1000, bytes: 1000, batch_steps: 1000, ..Default::default() };
        crate::engine::functions::install(
            &mut context,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            &allowance,
        )
        .expect("installs");
        let args = |n: usize| vec!["1"; n].join(", ");
        let mut sources: Vec<String> =
            GLOBAL.iter().map(|(name, arities)| format!("{name}({})", args(arities[0]))).collect();
        sources.extend(MEMBER.iter().map(|(name, arities)| format!("'x'.{name}({})", args(arities[0]))));
        sources.extend(
            LIBRARY
                .iter()
                .filter(|(n, _)| !n.starts_with("elig."))
                .map(|(name, arity)| format!("{name}({})", args(*arity))),
        );
        for source in sources {
            let program = env.compile(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
            if let Err(ExecutionError::UndeclaredReference(name)) = program.execute(&context) {
                panic!("{source}: `{name}` is not declared");
            }
        }
    }
}
