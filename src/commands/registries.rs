//! `elig registries check`: checks each configured registry step by step.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use dci_client::{DataSource, DciClient, RegistryCheck};

use crate::commands::Output;
use crate::commands::eval::EXIT_REGISTRY_FAILED;
use crate::setup::{UsageError, fixture_simulator, simulator_sources};
use crate::{commands, files};

/// Work with the configured registries.
#[derive(Args, Debug)]
pub struct RegistriesArgs {
    #[command(subcommand)]
    command: RegistriesCommand,
}

#[derive(Subcommand, Debug)]
enum RegistriesCommand {
    Check(RegistriesCheckArgs),
}

/// Check each registry: reach, token, JWKS, a probe search, its signature, permission.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit code 0 when every registry passes every step, 4 otherwise.\n\nExamples:\n  elig registries check --config elig.toml\n  elig registries check --config elig.toml --registry crvs --format json\n  elig registries check --simulator"
)]
pub struct RegistriesCheckArgs {
    /// The deployment configuration naming the registries (`[[registry]]`).
    #[arg(long, required_unless_present = "simulator", conflicts_with = "simulator")]
    config: Option<PathBuf>,
    /// Check the built-in simulator's registries (with the committed fixture data).
    #[arg(long)]
    simulator: bool,
    /// Only this registry (`crvs`, `ibr`, `dr`, or a data source's label).
    #[arg(long)]
    registry: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    format: Output,
}

pub async fn run(args: RegistriesArgs) -> Result<ExitCode> {
    match args.command {
        RegistriesCommand::Check(args) => check(args).await,
    }
}

async fn check(args: RegistriesCheckArgs) -> Result<ExitCode> {
    let (sources, sim) = match &args.config {
        Some(path) => (files::config(path)?.data_sources(), None),
        None => {
            let sim = fixture_simulator(dci_registry_sim::SimConfig::default()).await?;
            (simulator_sources(&sim), Some(sim))
        }
    };
    let sources = chosen(sources, args.registry.as_deref())?;
    let mut reports = Vec::with_capacity(sources.len());
    for source in sources {
        reports.push(match DciClient::new(source.clone()) {
            Ok(client) => client.check().await,
            Err(error) => unusable(&source, &error),
        });
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    match args.format {
        Output::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        Output::Text => reports.iter().for_each(print_text),
    }
    Ok(if reports.iter().all(RegistryCheck::passed) { ExitCode::SUCCESS } else { ExitCode::from(EXIT_REGISTRY_FAILED) })
}

/// The data sources named by `wanted` (a registry kind or a label), or all.
fn chosen(sources: Vec<DataSource>, wanted: Option<&str>) -> Result<Vec<DataSource>> {
    if sources.is_empty() {
        return Err(UsageError("the configuration names no registry ([[registry]])".to_owned()).into());
    }
    let Some(wanted) = wanted else { return Ok(sources) };
    let names: Vec<String> =
        sources.iter().map(|s| s.label.clone().unwrap_or_else(|| s.registry.to_string())).collect();
    let matches = |s: &DataSource| s.registry.to_string() == wanted || s.label.as_deref() == Some(wanted);
    let picked: Vec<DataSource> = sources.into_iter().filter(matches).collect();
    if picked.is_empty() {
        return Err(
            UsageError(format!("no registry {wanted:?} is configured; configured: {}", names.join(", "))).into()
        );
    }
    Ok(picked)
}

/// A source whose client cannot be built (a secret's variable unset): one failed step.
fn unusable(source: &DataSource, error: &dci_client::ClientError) -> RegistryCheck {
    RegistryCheck {
        registry: source.registry.to_string(),
        answered_by: source.identity(),
        steps: vec![dci_client::CheckStep {
            step: dci_client::Step::Config,
            passed: false,
            ms: 0,
            detail: error.to_string(),
            hint: Some("the data source's configuration is unusable: fix it before the registry can be asked".into()),
        }],
    }
}

fn print_text(report: &RegistryCheck) {
    println!("{}  {}", report.registry, report.answered_by);
    for step in &report.steps {
        let mark = if step.passed { '✔' } else { '✘' };
        println!("  {mark} {:<10} {:>6} ms  {}", step.step.as_str(), step.ms, step.detail);
        if let Some(hint) = &step.hint {
            println!("    {:<10} {:>9}  hint: {hint}", "", "");
        }
    }
    if !report.passed() {
        commands::tell(format_args!(
            "{}: failed at {}",
            report.registry,
            report.steps.last().map_or("", |s| s.step.as_str())
        ));
    }
}
