//! `elig test`: run rule test files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Args;
use dci_eligibility::rule_tests::run_file;
use dci_metrics::Catalog;

use crate::files;

/// Run rule test files (YAML or TOML): each case's beneficiary → expected outcome, with a diff on failure.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig test fixtures/rule-tests\n  elig test my-rule.test.yaml\n\nA test file gives `rule` (or `rule_file` + `rule_name`), `as_of`, registry data under\n`registries`, and `cases` of {name, beneficiary, expect, missing?, clauses?, error_contains?}.\nSee fixtures/rule-tests/ for examples."
)]
pub struct TestArgs {
    /// Test files, or directories to search for *.yaml, *.yml, *.toml.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub async fn run(args: TestArgs) -> Result<ExitCode> {
    let paths = files::rule_test_paths(&args.paths)?;
    if paths.is_empty() {
        bail!(
            "no test files found in {}",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for path in &paths {
        let report = async {
            let file = files::rule_test(path)?;
            let source = match (&file.rule, &file.rule_file, &file.rule_name) {
                (Some(rule), None, _) => rule.clone(),
                (None, Some(rule_file), Some(name)) => {
                    let rules_path = path.parent().unwrap_or(std::path::Path::new(".")).join(rule_file);
                    let rules = files::rules(&rules_path)?;
                    match rules.into_iter().find(|(n, _)| n == name) {
                        Some((_, source)) => source,
                        None => bail!("{}: rule_name {name:?} is not in {}", path.display(), rules_path.display()),
                    }
                }
                _ => bail!("{}: give `rule`, or `rule_file` with `rule_name`", path.display()),
            };
            run_file(&file, &source, Arc::new(Catalog::default()))
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        .await;
        match report {
            Err(error) => {
                broken += 1;
                println!("{}\n  ERROR {error:#}", path.display());
            }
            Ok(report) => {
                println!("{}: {}", path.display(), report.name);
                for case in &report.cases {
                    if case.passed {
                        passed += 1;
                        println!("  ok    {}", case.name);
                    } else {
                        failed += 1;
                        println!("  FAIL  {}", case.name);
                        for difference in &case.differences {
                            println!("        {difference}");
                        }
                    }
                }
            }
        }
    }
    println!(
        "\n{passed} passed, {failed} failed{}",
        if broken > 0 { format!(", {broken} files could not run") } else { String::new() }
    );
    Ok(if failed == 0 && broken == 0 { ExitCode::SUCCESS } else { ExitCode::from(crate::EXIT_FAILURE) })
}
