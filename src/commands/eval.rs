//! `elig eval`: rules × a beneficiary file → decisions, streamed.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};
use clap::Args;
use dci_eligibility::io::{Format, Writer};
use dci_eligibility::stream::{Rendered, StreamStats, evaluate_lines_when};
use dci_eligibility::{BatchStats, Cancellation, EvaluationOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::rules::{RuleSource, compile};
use crate::files::{self, ChunkedInput};
use crate::{EXIT_INVALID_RULE, setup};

/// Evaluate rules over a beneficiary file (NDJSON, or a JSON array) and write the decisions.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig eval --rule 'poverty_score >= 0.7 and dci.ibr.program_count == 0' --beneficiaries fixtures/beneficiaries.ndjson\n  elig eval --rules rules.toml --beneficiaries people.ndjson --format csv --out decisions.csv --config elig.toml\n  elig eval --rule 'dci.crvs.is_alive == true' --beneficiaries fixtures/beneficiaries.ndjson --simulator\n\nRules reading registries (dci.*) need --config naming them, or --simulator for the built-in simulator with the committed fixture."
)]
pub struct EvalArgs {
    #[command(flatten)]
    rules: RuleSource,
    /// Beneficiaries: NDJSON (one JSON object per line, streamed) or a JSON array; `-` for stdin.
    #[arg(long)]
    beneficiaries: PathBuf,
    /// Evaluation date (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    as_of: Option<chrono::NaiveDate>,
    /// Add the value of each top-level clause to every decision.
    #[arg(long)]
    explain: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Ndjson)]
    format: OutputFormat,
    /// Write decisions here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the registries are: `--config` or `--simulator`.
    #[command(flatten)]
    registries: setup::RegistrySource,
    /// Beneficiaries evaluated together (memory grows with it).
    #[arg(long, default_value_t = 10_000)]
    chunk_size: usize,
    /// Fetch every registry a rule mentions for everyone, instead of only what can change a decision.
    #[arg(long)]
    no_demand_driven: bool,
    /// Show no progress bar (none is shown when stderr is not a terminal or CI is set).
    #[arg(long)]
    no_progress: bool,
    /// Keep registry facts between runs in this file: loaded at the start (what is still within its
    /// TTL), saved at the end. A second run over the same people asks the registries nothing.
    #[arg(long)]
    cache_file: Option<PathBuf>,
    /// Also write the run's statistics (outcomes, registry use, timings, peak memory) as JSON here.
    #[arg(long)]
    stats_json: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OutputFormat {
    Ndjson,
    Csv,
    Json,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Ndjson => Format::Ndjson,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
        }
    }
}

pub async fn run(args: EvalArgs) -> Result<ExitCode> {
    let sources = args.rules.load()?;
    let (engine, _simulator) = args.registries.engine().await?;
    let Some(rules) = compile(engine.compiler(), &sources) else {
        return Ok(ExitCode::from(EXIT_INVALID_RULE));
    };
    setup::require_registries(&engine, &rules)?;
    if args.chunk_size == 0 {
        bail!("--chunk-size must be at least 1");
    }
    // The cache file is restored while the first beneficiaries are read and parsed.
    let loading = match &args.cache_file {
        Some(path) if path.exists() => {
            let store = engine.store().clone();
            let path = path.clone();
            Some(tokio::task::spawn_blocking(move || store.load_snapshot(&path)))
        }
        _ => None,
    };
    let mut load_result = None;
    let ready = async {
        let Some(loading) = loading else { return true };
        let result = loading.await;
        let ok = matches!(result, Ok(Ok(_)));
        load_result = Some(result);
        ok
    };
    let options = EvaluationOptions {
        explain: args.explain,
        demand_driven: !args.no_demand_driven,
        ..EvaluationOptions::new(args.as_of.unwrap_or_else(setup::today))
    };
    // Ctrl-C stops the run: the chunks decided so far are written, the rest is not.
    cancel_on_ctrl_c(options.cancel.clone());
    let format = Format::from(args.format);

    let ChunkedInput { chunks: input, reading, total_bytes, read_bytes } =
        files::read_in_chunks(&args.beneficiaries, args.chunk_size)?;

    let out: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?),
        None => Box::new(std::io::stdout()),
    };
    let (output, mut rendered) = tokio::sync::mpsc::channel::<Rendered>(2);
    let writer_rules = rules.clone();
    let writing = std::thread::spawn(move || -> Result<()> {
        let mut writer = Writer::new(BufWriter::with_capacity(1 << 20, out), format, &writer_rules)?;
        while let Some(chunk) = rendered.blocking_recv() {
            writer.write_rendered(&chunk.bytes, chunk.items)?;
        }
        writer.finish()?;
        Ok(())
    });

    let show_progress = !args.no_progress && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let progress = show_progress.then(|| match total_bytes {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    });
    let started = std::time::Instant::now();
    let stats: StreamStats = evaluate_lines_when(ready, &engine, &rules, &options, format, input, output, |stats| {
        if let Some(bar) = &progress {
            bar.set_position(read_bytes.load(Ordering::Relaxed));
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} beneficiaries, {:.0}/s",
                stats.batch.items,
                stats.batch.items as f64 / seconds
            ));
        }
    })
    .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let (cache_loaded, cache_expired) = match load_result {
        None => (0, 0),
        Some(result) => {
            let path = args.cache_file.as_deref().unwrap_or(Path::new(""));
            let report = result
                .map_err(|_| anyhow::anyhow!("restoring the cache file panicked"))?
                .with_context(|| format!("{}", path.display()))?;
            eprintln!(
                "loaded {} cached registry facts from {} ({} expired{})",
                report.entries,
                path.display(),
                report.expired,
                if report.ignored > 0 {
                    format!(", {} of another endpoint ignored", report.ignored)
                } else {
                    String::new()
                }
            );
            for note in &report.notes {
                eprintln!("note: {}: {note}", path.display());
            }
            (report.entries, report.expired)
        }
    };
    reading.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    writing.join().map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    let elapsed = started.elapsed();
    print_summary(&stats.batch, elapsed, args.out.as_ref());
    let cache_saved = match &args.cache_file {
        Some(path) => {
            if engine.store().stats().inserts == 0 && cache_expired == 0 && path.exists() {
                // Nothing was fetched and nothing expired: the file already says it all.
                eprintln!("registry facts unchanged: {} kept as it is", path.display());
                cache_loaded
            } else {
                let report = engine.store().save_snapshot(path).with_context(|| format!("{}", path.display()))?;
                eprintln!("saved {} registry facts to {}", report.entries, path.display());
                report.entries
            }
        }
        None => 0,
    };
    if let Some(path) = &args.stats_json {
        engine.store().sweep(); // exact counts: facts that expired during the run are not held
        let report = serde_json::json!({
            "stats": stats,
            "wall_ms": elapsed.as_millis() as u64,
            "peak_rss_bytes": peak_rss_bytes(),
            "cache": {"loaded": cache_loaded, "saved": cache_saved, "store": engine.store().stats()},
        });
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // The process ends here: freeing a million cached facts one by one would only delay it.
    std::mem::forget(engine);
    if options.cancel.is_cancelled() {
        eprintln!(
            "interrupted: the output is partial, it holds the decisions of the first {} beneficiaries only",
            stats.batch.items
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if a_registry_failed(&stats.batch) {
        return Ok(ExitCode::from(EXIT_REGISTRY_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Sets `cancel` on Ctrl-C, saying what is kept; a second Ctrl-C ends the process at once
/// ([`EXIT_INTERRUPTED`]).
pub fn cancel_on_ctrl_c(cancel: Cancellation) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
            eprintln!(
                "\ninterrupted: the evaluations in progress stop at their next step; the decisions of the chunks \
                 already finished are written, the chunk in progress is dropped (Ctrl-C again to stop at once)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    });
}
/// Exit status of a run where a registry failed some lookups: every decision was
/// written, those that depend on the registry as `undetermined`.
pub const EXIT_REGISTRY_FAILED: u8 = 4;

/// The summary, on stderr.
pub fn print_summary(stats: &BatchStats, elapsed: std::time::Duration, out: Option<&PathBuf>) {
    let seconds = elapsed.as_secs_f64();
    eprintln!(
        "\n{} beneficiaries ({} unreadable) in {:.2} s ({:.0}/s){}",
        stats.items,
        stats.invalid,
        seconds,
        stats.items as f64 / seconds.max(1e-9),
        out.map(|p| format!(", decisions in {}", p.display())).unwrap_or_default()
    );
    eprintln!("{:<28} {:>10} {:>10} {:>12} {:>7}", "rule", "eligible", "ineligible", "undetermined", "error");
    for rule in &stats.rules {
        eprintln!(
            "{:<28} {:>10} {:>10} {:>12} {:>7}",
            rule.rule, rule.eligible, rule.ineligible, rule.undetermined, rule.error
        );
    }
    if !stats.registries.is_empty() {
        eprintln!(
            "{:<10} {:>11} {:>10} {:>10} {:>10} {:>10} {:>12}",
            "registry", "round trips", "asked", "cache hits", "fetched", "failures", "by other id"
        );
        for registry in &stats.registries {
            let failures: usize = registry.fetch.failures.values().sum();
            eprintln!(
                "{:<10} {:>11} {:>10} {:>10} {:>10} {:>10} {:>12}",
                registry.registry,
                registry.fetch.round_trips,
                registry.fetch.requested,
                registry.fetch.cache_hits,
                registry.fetch.fetched,
                failures,
                registry.other_identifiers
            );
        }
        eprintln!("(by other id: lookups by a person's identifiers after the first the registry accepts)");
        for registry in &stats.registries {
            if let Some(answered_by) = &registry.answered_by {
                eprintln!("{} answered by {answered_by}", registry.registry);
            }
        }
        for registry in stats.registries.iter().filter(|r| !r.fetch.failures.is_empty()) {
            let causes: Vec<String> =
                registry.fetch.failures.iter().map(|(cause, count)| format!("{count} {}", cause.as_str())).collect();
            eprintln!(
                "registry {} failed: {}; the decisions that depend on it are undetermined{}",
                registry.registry,
                causes.join(", "),
                registry
                    .fetch
                    .first_failure
                    .as_deref()
                    .map(|why| format!("\n  first failure: {why}"))
                    .unwrap_or_default()
            );
        }
    }
}

/// Whether a registry failed some lookup of the run.
pub fn a_registry_failed(stats: &BatchStats) -> bool {
    stats.registries.iter().any(|registry| !registry.fetch.failures.is_empty())
}

/// The process's peak resident memory (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
