//! `elig diff`: the impact of a rule change on a beneficiary list — who gains
//! and who loses eligibility — with both rules decided in one pass.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use dci_eligibility::diff::{Change, ChangedBeneficiary, DiffCounts, DiffEntry, DiffReport, UnreadItem};
use dci_eligibility::io::csv_field;
use dci_eligibility::stream::member_reading;
use dci_eligibility::{BatchStats, Cancellation, EvaluationOptions};
use serde_json::Value;

use crate::commands::eval::{
    EXIT_INTERRUPTED, EXIT_REGISTRY_FAILED, a_registry_failed, cancel_on_ctrl_c, print_summary,
};
use crate::commands::rules::compile;
use crate::{EXIT_INVALID_RULE, files, setup};

/// Compare two rules over a beneficiary list: how many gain and lose eligibility, how many become
/// or stop being undetermined, and each beneficiary whose outcome changed, with the clause values
/// that differ. Both rules are decided in one pass: a registry fact fetched for one serves the other.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig diff --old 'age_years(r.birthdate) >= 65' --new 'age_years(r.birthdate) >= 60' --beneficiaries fixtures/beneficiaries.ndjson\n  elig diff --old-file rules.toml --old-name elderly --new-file draft.toml --new-name elderly --beneficiaries people.ndjson --format csv --out changes.csv\n\nExit status: 0, or 3 when a rule is invalid, 4 when a registry failed some lookups (the comparison is\nstill written; the decisions that depend on it are undetermined), 130 when interrupted (Ctrl-C: the\noutput covers whole chunks)."
)]
pub struct DiffArgs {
    /// The rule as it is (e.g. in force today).
    #[arg(long, conflicts_with = "old_file", required_unless_present = "old_file")]
    old: Option<String>,
    /// A rules file (TOML or YAML) holding the old rule (with --old-name, unless it holds one rule).
    #[arg(long)]
    old_file: Option<PathBuf>,
    /// The old rule's name in --old-file.
    #[arg(long, requires = "old_file")]
    old_name: Option<String>,
    /// The rule as it would be.
    #[arg(long, conflicts_with = "new_file", required_unless_present = "new_file")]
    new: Option<String>,
    /// A rules file holding the new rule (with --new-name, unless it holds one rule).
    #[arg(long)]
    new_file: Option<PathBuf>,
    /// The new rule's name in --new-file.
    #[arg(long, requires = "new_file")]
    new_name: Option<String>,
    /// Beneficiaries: NDJSON (streamed) or a JSON array; `-` for stdin.
    #[arg(long)]
    beneficiaries: PathBuf,
    /// Evaluation date (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    as_of: Option<chrono::NaiveDate>,
    /// Where the registries are: `--config` or `--simulator`.
    #[command(flatten)]
    registries: setup::RegistrySource,
    /// Output: a table for reading, or NDJSON / CSV (one line per changed beneficiary).
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    format: DiffFormat,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Beneficiaries decided together (memory grows with it).
    #[arg(long, default_value_t = 10_000)]
    chunk_size: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum DiffFormat {
    Table,
    Ndjson,
    Csv,
}

/// One rule of the comparison: given inline, or by name from a rules file.
fn rule_source(label: &str, inline: &Option<String>, file: &Option<PathBuf>, name: &Option<String>) -> Result<String> {
    if let Some(rule) = inline {
        return Ok(rule.clone());
    }
    let Some(path) = file else { bail!("give --{label} or --{label}-file") };
    let rules = files::rules(path)?;
    match name {
        Some(name) => rules
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, expression)| expression)
            .ok_or_else(|| anyhow::anyhow!("{}: no rule named {name:?}", path.display())),
        None if rules.len() == 1 => Ok(rules.into_iter().next().map(|(_, e)| e).unwrap_or_default()),
        None => {
            let names: Vec<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
            bail!("{} holds {} rules ({}): name one with --{label}-name", path.display(), rules.len(), names.join(", "))
        }
    }
}

pub async fn run(args: DiffArgs) -> Result<ExitCode> {
    let sources = [
        ("old".to_owned(), rule_source("old", &args.old, &args.old_file, &args.old_name)?),
        ("new".to_owned(), rule_source("new", &args.new, &args.new_file, &args.new_name)?),
    ];
    if args.chunk_size == 0 {
        bail!("--chunk-size must be at least 1");
    }
    let (engine, _simulator) = args.registries.engine().await?;
    let Some(rules) = compile(engine.compiler(), &sources) else {
        return Ok(ExitCode::from(EXIT_INVALID_RULE));
    };
    setup::require_registries(&engine, &rules)?;
    let options =
        EvaluationOptions { explain: true, ..EvaluationOptions::new(args.as_of.unwrap_or_else(setup::today)) };

    let mut input = files::read_in_chunks(&args.beneficiaries, args.chunk_size)?;
    let out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?),
        None => Box::new(std::io::stdout()),
    };
    let mut output = Output::new(BufWriter::new(out), args.format)?;

    // Ctrl-C stops the comparison after the chunk in progress: what is written covers whole
    // chunks. It is not the evaluation's own cancellation, which would decide the chunk in
    // progress as `error`s and so report changes that are none.
    let interrupted = Cancellation::new();
    cancel_on_ctrl_c(interrupted.clone());
    let started = std::time::Instant::now();
    let mut report = DiffReport::default();
    let mut stats = BatchStats::default();
    let mut offset = 0;
    let reading = member_reading(&rules);
    while let Some(chunk) = input.chunks.recv().await {
        if interrupted.is_cancelled() {
            break;
        }
        let items = chunk.read(reading).await;
        let count = items.len();
        let result = engine.evaluate_batch(&rules, items, &options).await;
        stats.absorb(&result.stats);
        for (index, item) in result.items.into_iter().enumerate() {
            if let Some(entry) = report.count(DiffEntry::of(offset + index, item)) {
                output.entry(&entry)?;
            }
        }
        offset += count;
    }
    drop(input.chunks);
    input.reading.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    output.finish(&report.counts, &stats)?;
    print_summary(&stats, started.elapsed(), args.out.as_ref());
    // A table on the terminal already ends with the counts.
    if args.format != DiffFormat::Table || args.out.is_some() {
        print_counts(&report.counts);
    }
    std::mem::forget(engine);
    if interrupted.is_cancelled() {
        eprintln!("interrupted: the comparison covers the first {} beneficiaries only", stats.items);
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if a_registry_failed(&stats) {
        return Ok(ExitCode::from(EXIT_REGISTRY_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// What each kind of change is called in a table.
fn described(change: Change) -> &'static str {
    match change {
        Change::Gained => "gain eligibility",
        Change::Lost => "lose eligibility",
        Change::ToUndetermined => "become undetermined",
        Change::FromUndetermined => "are no longer undetermined",
        Change::Other => "change between ineligible and error",
        Change::Unchanged => "unchanged",
    }
}

/// The counts, on stderr.
fn print_counts(counts: &DiffCounts) {
    eprintln!("\nfrom the old rule to the new one:");
    for change in Change::ALL {
        eprintln!("  {:>9}  {}", counts.of(change), described(change));
    }
    if counts.invalid > 0 {
        eprintln!("  {:>9}  could not be read", counts.invalid);
    }
}

fn value_text(value: Option<&Value>) -> String {
    match value {
        None => "—".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// The clauses that differ, as `clause: old → new; ...`.
fn clause_text(changed: &ChangedBeneficiary) -> String {
    changed
        .clauses
        .iter()
        .map(|c| match &c.was {
            Some(was) => {
                format!("{was} → {}: {} → {}", c.clause, value_text(c.old.as_ref()), value_text(c.new.as_ref()))
            }
            None => format!("{}: {} → {}", c.clause, value_text(c.old.as_ref()), value_text(c.new.as_ref())),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where changed beneficiaries go as they are found.
struct Output {
    out: BufWriter<Box<dyn Write>>,
    format: DiffFormat,
    rows: usize,
}

impl Output {
    fn new(mut out: BufWriter<Box<dyn Write>>, format: DiffFormat) -> Result<Self> {
        match format {
            DiffFormat::Csv => writeln!(out, "index,id,change,old,new,clauses")?,
            DiffFormat::Table => writeln!(
                out,
                "{:<16} {:<18} {:<27} clauses that differ (old → new)",
                "beneficiary", "change", "outcome"
            )?,
            DiffFormat::Ndjson => {}
        }
        Ok(Output { out, format, rows: 0 })
    }

    /// Writes a changed or unreadable beneficiary (an unchanged one is not written).
    fn entry(&mut self, entry: &DiffEntry) -> Result<()> {
        if matches!(entry, DiffEntry::Decided(_, None)) {
            return Ok(());
        }
        self.rows += 1;
        match (self.format, entry) {
            (DiffFormat::Ndjson, DiffEntry::Decided(_, Some(changed))) => {
                serde_json::to_writer(&mut self.out, changed)?;
                writeln!(self.out)?;
            }
            (DiffFormat::Ndjson, DiffEntry::Invalid(unread)) => {
                serde_json::to_writer(&mut self.out, unread)?;
                writeln!(self.out)?;
            }
            (DiffFormat::Csv, DiffEntry::Decided(_, Some(changed))) => writeln!(
                self.out,
                "{},{},{},{},{},{}",
                changed.index,
                csv_field(&changed.id),
                changed.change.as_str(),
                changed.old.outcome.as_str(),
                changed.new.outcome.as_str(),
                csv_field(&clause_text(changed))
            )?,
            (DiffFormat::Csv, DiffEntry::Invalid(unread)) => {
                writeln!(self.out, "{},,invalid,,,{}", unread.index, csv_field(&unread_text(unread)))?
            }
            (DiffFormat::Table, DiffEntry::Decided(_, Some(changed))) => writeln!(
                self.out,
                "{:<16} {:<18} {:<27} {}",
                changed.id,
                changed.change.as_str(),
                format!("{} → {}", changed.old.outcome.as_str(), changed.new.outcome.as_str()),
                clause_text(changed)
            )?,
            (DiffFormat::Table, DiffEntry::Invalid(unread)) => writeln!(
                self.out,
                "{:<16} {:<18} {:<27} {}",
                format!("#{}", unread.index + 1),
                "invalid",
                "",
                unread_text(unread)
            )?,
            (_, DiffEntry::Decided(_, None)) => {}
        }
        Ok(())
    }

    /// Ends the output: NDJSON with a line of counts and statistics, a table with the counts.
    fn finish(mut self, counts: &DiffCounts, stats: &BatchStats) -> Result<()> {
        match self.format {
            DiffFormat::Ndjson => {
                serde_json::to_writer(&mut self.out, &serde_json::json!({ "counts": counts, "summary": stats }))?;
                writeln!(self.out)?;
            }
            DiffFormat::Table => {
                if self.rows == 0 {
                    writeln!(self.out, "(no beneficiary's outcome changed)")?;
                }
                writeln!(self.out)?;
                for change in Change::ALL {
                    writeln!(self.out, "{:>9}  {}", counts.of(change), described(change))?;
                }
                if counts.invalid > 0 {
                    writeln!(self.out, "{:>9}  could not be read", counts.invalid)?;
                }
            }
            DiffFormat::Csv => {}
        }
        self.out.flush()?;
        Ok(())
    }
}

fn unread_text(unread: &UnreadItem) -> String {
    unread.item.error.message.clone()
}
