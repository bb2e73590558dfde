//! `elig check`: validate rules and show what they need.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use dci_eligibility::{Compiler, FieldTypes, Validation};
use dci_metrics::Catalog;

use crate::commands::Output;
use crate::{EXIT_INVALID_RULE, files};

/// Validate rules: errors with line:column and a caret, warnings, and the metrics and registries needed.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig check 'dci.crvs.is_alive == true and age_years(r.birthdate) >= 60'\n  elig check --file rules.toml --format json\n  elig check --data fixtures/beneficiaries.ndjson 'age >= 60'"
)]
pub struct CheckArgs {
    /// The rule (a CEL expression).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    rule: Option<String>,
    /// A rules file (TOML or YAML: `name = "expression"`).
    #[arg(long)]
    file: Option<PathBuf>,
    /// The deployment configuration (for its catalog: TTLs, disabled metrics; and `[fields]`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Sample beneficiaries (NDJSON, or a JSON array): their fields' types are checked, and a
    /// field none of them has is a warning (`[fields]` in --config wins where both name one).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    format: Output,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let config = args.config.as_deref().map(files::config).transpose()?;
    let catalog = match &config {
        Some(config) => Catalog::default().configure(&config.metrics)?,
        None => Catalog::default(),
    };
    let sampled = match &args.data {
        Some(path) => FieldTypes::from_samples(&sample_beneficiaries(path)?),
        None => FieldTypes::default(),
    };
    let declared = config.map(|config| config.fields).unwrap_or_default();
    let compiler = Compiler::new(Arc::new(catalog)).with_field_types(sampled.overridden_by(&declared));
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

/// The beneficiaries of `path`: a JSON array, or one JSON object per line.
fn sample_beneficiaries(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON array of beneficiaries", path.display()));
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a JSON beneficiary", path.display(), index + 1))
        })
        .collect()
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
