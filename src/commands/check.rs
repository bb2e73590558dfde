//! `elig check`: validate rules and show what they need.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use dci_eligibility::{Compiler, Validation};
use dci_metrics::Catalog;

use crate::commands::Output;
use crate::{EXIT_INVALID_RULE, files};

/// Validate rules: errors with line:column and a caret, warnings, and the metrics and registries needed.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig check 'dci.crvs.is_alive == true and age_years(r.birthdate) >= 60'\n  elig check --file rules.toml --format json"
)]
pub struct CheckArgs {
    /// The rule (a CEL expression).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    rule: Option<String>,
    /// A rules file (TOML or YAML: `name = "expression"`).
    #[arg(long)]
    file: Option<PathBuf>,
    /// The deployment configuration (for its catalog: TTLs, disabled metrics).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    format: Output,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let catalog = match &args.config {
        Some(path) => Catalog::default().configure(&files::config(path)?.metrics)?,
        None => Catalog::default(),
    };
    let compiler = Compiler::new(Arc::new(catalog));
    let rules = match (&args.rule, &args.file) {
        (Some(rule), _) => vec![("rule".to_owned(), rule.clone())],
        (None, Some(path)) => files::rules(path)?,
        (None, None) => unreachable!("clap requires one"),
    };
    let validations: Vec<Validation> =
        rules.iter().map(|(name, source)| Validation::of(&compiler, name, source)).collect();
    if args.format == Output::Json {
        println!("{}", serde_json::to_string_pretty(&validations)?);
    } else {
        for validation in &validations {
            print_text(validation, rules.len() > 1);
        }
    }
    Ok(if validations.iter().all(|v| v.valid) { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INVALID_RULE) })
}

fn print_text(validation: &Validation, named: bool) {
    let who = if named { format!("rule {:?}", validation.name) } else { "rule".to_owned() };
    if validation.valid {
        println!("{who}: valid");
    } else {
        println!("{who}: invalid");
    }
    for diagnostic in &validation.diagnostics {
        for line in diagnostic.render().lines() {
            println!("  {line}");
        }
    }
    if !validation.valid {
        return;
    }
    if validation.metrics.is_empty() {
        println!("  metrics: none (decided from the beneficiary's data alone)");
    } else {
        println!("  metrics:");
        for metric in &validation.metrics {
            let level = match metric.level {
                dci_eligibility::Level::Registrant => "registrant",
                dci_eligibility::Level::Member => "each member",
            };
            println!(
                "    {} ({level}; {}; registry {}; cached {} s)",
                metric.name, metric.cel_type, metric.registry, metric.ttl_secs
            );
        }
    }
    let list = |items: &[String]| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
    println!(
        "  registries: registrant {}; members {}",
        list(&validation.registries.registrant),
        list(&validation.registries.members)
    );
    println!("  fields: {}", list(&validation.fields));
    if let Some(cost) = &validation.cost {
        println!("  cost: at most {} steps and {} bytes built per beneficiary", cost.steps, cost.bytes);
    }
}
