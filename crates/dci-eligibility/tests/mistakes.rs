//! The mistakes a programme officer makes, each refused before the rule runs,
//! at the place to change, with the fix in words: slips of writing (`AND`,
//! `True`, curly quotes, `=>`, a bracket never closed) are `syntax`; values of
//! kinds that do not go together are `type_mismatch`. Rules written right
//! (and every seed rule) are not refused.

use std::sync::Arc;

use dci_eligibility::Compiler;
use dci_metrics::Catalog;

fn compiler() -> Compiler {
    Compiler::new(Arc::new(Catalog::default()))
}

/// A mistaken rule: its code, where the caret goes (the text under it) and words the help must hold.
struct Mistake {
    code: &'static str,
    rule: &'static str,
    under: &'static str,
    help: &'static str,
}

const SLIPS: &[Mistake] = &[
    Mistake { code: "syntax", rule: "dci.crvs.is_alive == true AND r.age >= 60", under: "AND", help: "write `and`" },
    Mistake { code: "syntax", rule: "dci.crvs.is_alive OR r.age >= 60", under: "OR", help: "write `or`" },
    Mistake { code: "syntax", rule: "NOT dci.ibr.is_enrolled", under: "NOT", help: "write `not`" },
    Mistake { code: "syntax", rule: "dci.crvs.is_alive == True", under: "True", help: "write `true`" },
    Mistake { code: "syntax", rule: "dci.ibr.is_enrolled == FALSE", under: "FALSE", help: "write `false`" },
    Mistake { code: "syntax", rule: "dci.crvs.death_date == Null", under: "Null", help: "write `null`" },
    Mistake { code: "syntax", rule: "r.name == “Ann”", under: "“Ann”", help: "straight quotes: \"Ann\"" },
    Mistake { code: "syntax", rule: "r.name == ‘Ann’", under: "‘Ann’", help: "straight quotes: \"Ann\"" },
    Mistake { code: "syntax", rule: "age_years(r.birthdate) => 60", under: "=>", help: "write `>=`" },
    Mistake { code: "syntax", rule: "age_years(r.birthdate) =< 60", under: "=<", help: "write `<=`" },
    Mistake { code: "syntax", rule: "age_years(r.birthdate) ≥ 60", under: "≥", help: "write `>=`" },
    Mistake { code: "syntax", rule: "age_years(r.birthdate) ≤ 60", under: "≤", help: "write `<=`" },
    Mistake { code: "syntax", rule: "dci.dr.disability_level ≠ 0", under: "≠", help: "write `!=`" },
    Mistake { code: "syntax", rule: "dci.dr.disability_level <> 0", under: "<>", help: "write `!=`" },
    Mistake { code: "syntax", rule: "r.age = 60", under: "=", help: "write `==`" },
    Mistake {
        code: "syntax",
        rule: "dci.crvs.is_alive == true and age_years(r.birthdate >= 60",
        under: "(",
        help: "add `)` where the part it groups ends",
    },
    Mistake { code: "syntax", rule: "r.kind in ['a', 'b'", under: "[", help: "add `]`" },
];

const MISTAKES: &[Mistake] = &[
    Mistake {
        code: "type_mismatch",
        rule: "dci.crvs.death_date < date('2025-01-01')",
        under: "dci.crvs.death_date",
        help: "test it first: `dci.crvs.death_date != null && …`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.crvs.death_date.getFullYear() < 2020",
        under: "dci.crvs.death_date",
        help: "test it first",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.ibr.is_enrolled == \"false\"",
        under: "\"false\"",
        help: "compare it with `false`, not `\"false\"`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.ibr.is_enrolled == 'true'",
        under: "'true'",
        help: "compare it with `true`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "\"false\" == dci.ibr.is_enrolled",
        under: "\"false\"",
        help: "compare it with `false`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "age_years(r.birthdate) >= \"60\"",
        under: "\"60\"",
        help: "compare it with `60`, not `\"60\"`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.dr.disability_level >= '3'",
        under: "'3'",
        help: "compare it with `3`",
    },
    Mistake { code: "type_mismatch", rule: "dci.ibr.program_count == '0'", under: "'0'", help: "compare it with `0`" },
    Mistake {
        code: "type_mismatch",
        rule: "dci.crvs.is_alive == 1",
        under: "1",
        help: "compare `dci.crvs.is_alive` with true or false",
    },
    Mistake { code: "type_mismatch", rule: "dci.ibr.is_enrolled == null", under: "null", help: "never null" },
    Mistake {
        code: "type_mismatch",
        rule: "dci.ibr.program_count",
        under: "dci.ibr.program_count",
        help: "compare the value",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.dr.disability_types",
        under: "dci.dr.disability_types",
        help: "compare the value",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.dr.has_disability and dci.dr.disability_level",
        under: "dci.dr.disability_level",
        help: "`dci.dr.disability_level > 0`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.ibr.program_count or dci.crvs.is_alive",
        under: "dci.ibr.program_count",
        help: "compare it",
    },
    Mistake {
        code: "type_mismatch",
        rule: "not dci.ibr.program_count",
        under: "dci.ibr.program_count",
        help: "compare it",
    },
    Mistake {
        code: "type_mismatch",
        rule: "size(dci.crvs.is_alive) > 0",
        under: "dci.crvs.is_alive",
        help: "items of a list",
    },
    Mistake {
        code: "type_mismatch",
        rule: "size(dci.dr.disability_level) > 0",
        under: "dci.dr.disability_level",
        help: "items of a list",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.ibr.programmes.contains('Cash')",
        under: "dci.ibr.programmes",
        help: "write `value in dci.ibr.programmes`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.dr.disability_level.startsWith('3')",
        under: "dci.dr.disability_level",
        help: "a method of text",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.dr.disability_level.exists(x, x > 2)",
        under: "dci.dr.disability_level",
        help: "go over a list",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.crvs.is_alive.all(x, x)",
        under: "dci.crvs.is_alive",
        help: "go over a list",
    },
    Mistake { code: "type_mismatch", rule: "3 in dci.ibr.programmes", under: "3", help: "look for text" },
    Mistake {
        code: "type_mismatch",
        rule: "'x' in dci.dr.disability_level",
        under: "dci.dr.disability_level",
        help: "x in [a, b, c]",
    },
    Mistake {
        code: "type_mismatch",
        rule: "age_years(r.birthdate) + 0.5 > 60.0",
        under: "0.5",
        help: "write `double(age_years(r.birthdate))`",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.dr.disability_level * 1.5 > 4.0",
        under: "1.5",
        help: "double(dci.dr.disability_level)",
    },
    Mistake {
        code: "type_mismatch",
        rule: "age_years(r.birthdate) + 'years' == 'x'",
        under: "'years'",
        help: "two numbers of one kind",
    },
    Mistake {
        code: "type_mismatch",
        rule: "dci.crvs.birth_date > 1960",
        under: "1960",
        help: "compare `dci.crvs.birth_date` with a date",
    },
    Mistake {
        code: "type_mismatch",
        rule: "age_years(dci.crvs.is_alive) > 60",
        under: "dci.crvs.is_alive",
        help: "give a date",
    },
    Mistake { code: "type_mismatch", rule: "members.all(m, 5)", under: "5", help: "compare it" },
    Mistake {
        code: "type_mismatch",
        rule: "members.exists(m, m.dci.dr.disability_level)",
        under: "m.dci.dr.disability_level",
        help: "compare it",
    },
    Mistake {
        code: "type_mismatch",
        rule: "age_years(r.birthdate).years > 60",
        under: "age_years(r.birthdate).years",
        help: "only records",
    },
    Mistake { code: "type_mismatch", rule: "-dci.crvs.is_alive", under: "dci.crvs.is_alive", help: "only numbers" },
    Mistake {
        code: "type_mismatch",
        rule: "(dci.ibr.program_count ? 1 : 0) == 1",
        under: "dci.ibr.program_count",
        help: "condition ?",
    },
];

#[test]
fn each_mistake_is_refused_once_under_what_to_change_with_its_fix() {
    let compiler = compiler();
    for mistake in SLIPS.iter().chain(MISTAKES) {
        let error = compiler.compile("t", mistake.rule).expect_err(mistake.rule);
        let errors: Vec<_> =
            error.diagnostics.iter().filter(|d| d.severity == dci_eligibility::Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{}: one error per mistake: {errors:?}", mistake.rule);
        let diagnostic = errors[0];
        assert_eq!(diagnostic.code, mistake.code, "{}: {diagnostic:?}", mistake.rule);
        assert_eq!(&mistake.rule[diagnostic.span.clone()], mistake.under, "{}: {diagnostic:?}", mistake.rule);
        let column = mistake.rule[..diagnostic.span.start].chars().count() + 1;
        assert_eq!((diagnostic.line, diagnostic.column), (1, column), "{}", mistake.rule);
        let help = diagnostic.help.as_deref().unwrap_or_default();
        assert!(help.contains(mistake.help), "{}: help {help:?} lacks {:?}", mistake.rule, mistake.help);
    }
    assert!(SLIPS.len() + MISTAKES.len() >= 40);
}

/// Rules whose types go together, including every kind CEL compares across
/// (numbers of any kind, a date and a date-or-null, null and a date).
const WELL_TYPED: &[&str] = &[
    "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
    "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
    "r.poverty_score > 0.7 and dci.ibr.is_enrolled == false",
    "members.exists(m, m.dci.dr.has_disability == true)",
    "dci.dr.disability_level >= 2.5",
    "dci.dr.disability_level + 1 > 3",
    "dci.crvs.death_date == null",
    "dci.crvs.birth_date != null",
    "dci.crvs.death_date != null && dci.crvs.death_date < timestamp('2025-01-01T00:00:00Z')",
    "dci.crvs.death_date == null or dci.crvs.death_date > date('2020-01-01')",
    "dci.crvs.death_date != null ? dci.crvs.death_date.getFullYear() < 2020 : false",
    "dci.crvs.birth_date < date('1967-01-01')",
    "today() - dci.crvs.birth_date > duration('87600h')",
    "'Cash Transfer' in dci.ibr.programmes",
    "size(dci.ibr.programmes) >= 2 and dci.ibr.programmes.exists(p, p.startsWith('Cash'))",
    "between(age_years(r.birthdate), 18, 59)",
    "r.age >= '60'",
    "r.income + 0.5 > 100.0",
    "members.count(m, age_years(m.birthdate) < 5) >= 2",
    "members.sum(m, m.income) < 1000.0",
    "(dci.ibr.program_count > 0 ? 1 : 0) == 1",
    "dyn(dci.ibr.is_enrolled) == 'false' or true",
    "double(dci.dr.disability_level) * 1.5 > 4.0",
    "dci.ibr.programmes == []",
];

#[test]
fn rules_whose_types_go_together_are_not_refused() {
    let compiler = compiler();
    for rule in WELL_TYPED {
        if let Err(error) = compiler.compile("t", rule) {
            panic!("{rule}: {error}");
        }
    }
    // The seed rules, as `fixtures/rules.toml` writes them (`name = "rule"` under `[rules]`).
    let seeds = include_str!("../../../fixtures/rules.toml");
    let seeds: Vec<(&str, &str)> = seeds
        .lines()
        .filter_map(|line| line.split_once(" = \""))
        .map(|(name, rest)| (name, rest.trim_end().trim_end_matches('"')))
        .collect();
    assert_eq!(seeds.len(), 4, "the seed rules were read");
    for (name, text) in seeds {
        let rule = compiler.compile(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rule.warnings().is_empty(), "{name}: {:?}", rule.warnings());
    }
}

/// The README's "Common mistakes" table: each rule it shows is refused with the code it names.
#[test]
fn the_common_mistakes_in_the_docs_are_refused_as_they_say() {
    let readme = include_str!("../../../README.md");
    let section = readme.split("### Common mistakes").nth(1).expect("the section").split("\n#").next().unwrap_or("");
    let compiler = compiler();
    let mut rows = 0;
    for line in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let rule = cells[0].trim_start_matches("| `").trim_end_matches('`');
        let code = cells[1].trim_matches('`');
        let error = compiler.compile("t", rule).expect_err(rule);
        assert_eq!(error.diagnostics[0].code, code, "{rule}");
        rows += 1;
    }
    assert!(rows >= 10, "the table was read: {rows} rows");
}

/// With the fields' types known (from sample beneficiaries, as `elig check --data` reads
/// them), fields are checked as metrics are, and a field no sample has is a warning.
#[test]
fn fields_are_checked_against_the_types_the_data_gives_them() {
    let samples: Vec<serde_json::Value> = include_str!("../../../fixtures/beneficiaries.ndjson")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("sample"))
        .collect();
    let compiler = compiler().with_field_types(dci_eligibility::FieldTypes::from_samples(&samples));
    let warned = |rule: &str| {
        let compiled = compiler.compile("t", rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
        compiled
            .warnings()
            .iter()
            .map(|w| (w.code, &rule[w.span.clone()], w.help.clone().unwrap_or_default()))
            .map(|(c, u, h)| (c.to_owned(), u.to_owned(), h))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        warned("age >= 60"),
        [(
            "unknown_field".to_owned(),
            "age".to_owned(),
            "for the age from the date of birth, write `age_years(r.birthdate)`".to_owned()
        )]
    );
    assert_eq!(warned("poverty_scor >= 0.7")[0].2, "did you mean `poverty_score`?");
    assert_eq!(warned("members.exists(m, m.incom > 100)")[0].1, "m.incom");
    for rule in [
        "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
        "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
        "poverty_score >= 0.7 and dci.ibr.program_count == 0",
        "members.exists(m, m.dci.dr.has_disability == true)",
        "r.sex == 'female' and date(r.birthdate) < date('1960-01-01')",
        // A record that is not a person: its fields are not the data's.
        "[{'a': 1}].exists(x, x.a == 1)",
    ] {
        assert!(warned(rule).is_empty(), "{rule}");
    }
    let refused = |rule: &str| {
        let error = compiler.compile("t", rule).expect_err(rule);
        let diagnostic =
            error.diagnostics.into_iter().find(|d| d.severity == dci_eligibility::Severity::Error).expect("an error");
        (diagnostic.code, rule[diagnostic.span.clone()].to_owned(), diagnostic.help.unwrap_or_default())
    };
    assert_eq!(
        refused("birthdate < date('1960-01-01')"),
        (
            "type_mismatch",
            "birthdate".to_owned(),
            "to read text holding a date as a date, write `date(birthdate)`".to_owned()
        )
    );
    assert_eq!(refused("sex == true").0, "type_mismatch");
    assert_eq!(refused("sex == 1").1, "1");
    // One fixture household writes its poverty score as text: a field of several kinds is not checked.
    assert!(compiler.compile("t", "poverty_score == 'high'").is_ok());
}

/// A sample's field names are never echoed whole: a long one is not suggested, and a date
/// field's name in the `age` hint is cut to a preview.
#[test]
fn field_names_from_the_data_are_not_echoed_whole() {
    let long = "a".repeat(300);
    let date = format!("born{}", "_".repeat(300));
    let samples = [serde_json::json!({"id": "A", long.clone(): 1, date.clone(): "1950-01-01"})];
    let compiler = compiler().with_field_types(dci_eligibility::FieldTypes::from_samples(&samples));
    for rule in [format!("r.{} > 1", &long[1..]), "age > 1".to_owned()] {
        let compiled = compiler.compile("t", &rule).expect("compiles with a warning");
        let help = compiled.warnings()[0].help.clone().unwrap_or_default();
        assert!(help.len() < 120, "{help}");
    }
}
