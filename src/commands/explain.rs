//! `elig explain`: one beneficiary, clause by clause, with every metric's value and source.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use dci_eligibility::io::{Line, is_json_array, parse_document, parse_line};
use dci_eligibility::{Beneficiary, Explanation, Rule};
use dci_metrics::UnknownCause;

use crate::commands::Output;
use crate::commands::rules::{RuleSource, compile};
use crate::{EXIT_INVALID_RULE, setup};

/// Explain one decision: the value of each clause, and each metric with where it came from.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig explain --rule 'dci.crvs.is_alive == true and age_years(r.birthdate) >= 60' --beneficiary HH-0001 --simulator\n  elig explain --rules rules.toml --name elderly --beneficiary person.json --config elig.toml"
)]
pub struct ExplainArgs {
    #[command(flatten)]
    rules: RuleSource,
    /// Which rule of --rules (default: each).
    #[arg(long)]
    name: Option<String>,
    /// A JSON file holding the beneficiary, or the id of one in --beneficiaries (or in the fixture).
    #[arg(long)]
    beneficiary: String,
    /// Where to look the id up (NDJSON or a JSON array); default: the committed fixture.
    #[arg(long)]
    beneficiaries: Option<PathBuf>,
    /// Evaluation date (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    as_of: Option<chrono::NaiveDate>,
    /// Where the registries are: `--config` or `--simulator`.
    #[command(flatten)]
    registries: setup::RegistrySource,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    format: Output,
}

fn find(id: &str, text: &str, origin: &str) -> Result<Beneficiary> {
    let items = if is_json_array(text.as_bytes()) {
        parse_document(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| parse_line(&Line::Text(i + 1, l.to_owned())))
            .collect()
    };
    items
        .into_iter()
        .filter_map(Result::ok)
        .find(|b| b.id == id)
        .ok_or_else(|| anyhow::anyhow!("no beneficiary with id {id:?} in {origin}"))
}

fn load_beneficiary(args: &ExplainArgs) -> Result<Beneficiary> {
    let path = std::path::Path::new(&args.beneficiary);
    if path.is_file() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        return Beneficiary::from_json_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    match &args.beneficiaries {
        Some(list) => {
            let text = std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
            find(&args.beneficiary, &text, &list.display().to_string())
        }
        None => find(
            &args.beneficiary,
            setup::fixture::BENEFICIARIES,
            "the committed fixture (fixtures/beneficiaries.ndjson)",
        ),
    }
}

pub async fn run(args: ExplainArgs) -> Result<ExitCode> {
    let beneficiary = load_beneficiary(&args)?;
    let mut sources = args.rules.load()?;
    if let Some(name) = &args.name {
        sources.retain(|(n, _)| n == name);
        if sources.is_empty() {
            bail!("no rule named {name:?}");
        }
    }
    let (engine, _simulator) = args.registries.engine().await?;
    let Some(rules) = compile(engine.compiler(), &sources) else {
        return Ok(ExitCode::from(EXIT_INVALID_RULE));
    };
    setup::require_registries(&engine, &rules)?;
    let as_of = args.as_of.unwrap_or_else(setup::today);
    let mut explanations = Vec::new();
    for rule in &rules {
        explanations.push(engine.explain(rule, beneficiary.clone(), as_of).await);
    }
    match args.format {
        Output::Json => println!("{}", serde_json::to_string_pretty(&explanations)?),
        Output::Text => {
            for (rule, explanation) in rules.iter().zip(&explanations) {
                print!("{}", render(rule, explanation));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An explanation as text.
pub fn render(rule: &Rule, explanation: &Explanation) -> String {
    let decision = &explanation.decision;
    let mut out =
        format!("{} — rule {:?}: {}\n", explanation.id, rule.name(), decision.outcome.as_str().to_uppercase());
    out.push_str(&format!("  rule: {}\n", rule.source().trim()));
    if let Some(reason) = &decision.reason {
        out.push_str(&format!("  reason: {reason}\n"));
    }
    if let Some(clauses) = &decision.clauses {
        out.push_str(&format!(
            "  clauses{}:\n",
            rule.connective().map(|c| format!(" (joined by {c})")).unwrap_or_default()
        ));
        let width = clauses.iter().map(|c| c.clause.chars().count()).max().unwrap_or(0).min(60);
        for clause in clauses {
            let value = match &clause.value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let why = match &clause.error {
                Some(error) => format!(" ({error})"),
                None => String::new(),
            };
            if clause.value.as_str() == Some("not_needed") {
                out.push_str(&format!("    {:<width$}  not needed\n", clause.clause));
                continue;
            }
            out.push_str(&format!("    {:<width$}  {value}: {}{why}\n", clause.clause, clause.says));
            let used: Vec<String> = clause
                .used
                .iter()
                .filter(|u| !matches!(u.value.as_str(), Some("unknown" | "not_needed")))
                .map(|u| format!("{} = {}", u.expr, u.value))
                .collect();
            if !used.is_empty() {
                out.push_str(&format!("    {:<width$}    used: {}\n", "", used.join(", ")));
            }
        }
    }
    if !explanation.metrics.is_empty() {
        out.push_str("  metrics:\n");
        for metric in &explanation.metrics {
            let value = metric.value.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "—".to_owned());
            let source = match (&metric.cause, &metric.source) {
                (Some(cause), _) => format!("unknown: {}", cause.label()),
                (None, source) => format!("{source:?}").to_lowercase(),
            };
            let detail = match (&metric.detail, metric.cause) {
                (Some(detail), cause) if cause != Some(UnknownCause::NotFetched) => format!(" — {detail}"),
                _ => String::new(),
            };
            out.push_str(&format!("    {:<11} {:<26} {:<12} {source}{detail}\n", metric.person, metric.metric, value));
        }
    }
    if !decision.missing.is_empty() {
        out.push_str(&format!(
            "  missing: {}\n",
            decision.missing.iter().map(|m| format!("{} ({})", m.name, m.cause)).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(error) = &decision.error {
        out.push_str(&format!("  error: {error}\n"));
    }
    out
}
