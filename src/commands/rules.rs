//! Compiling the rules a command is given, reporting invalid ones like `elig check`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dci_eligibility::{Compiler, Rule};

use crate::files;

/// Where the rules come from.
#[derive(Args, Debug, Clone)]
pub struct RuleSource {
    /// The rule (a CEL expression).
    #[arg(long, conflicts_with = "rules", required_unless_present = "rules")]
    pub rule: Option<String>,
    /// A rules file (TOML or YAML: `name = "expression"`).
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

impl RuleSource {
    /// The named rule sources.
    pub fn load(&self) -> Result<Vec<(String, String)>> {
        match (&self.rule, &self.rules) {
            (Some(rule), _) => Ok(vec![("rule".to_owned(), rule.clone())]),
            (None, Some(path)) => files::rules(path),
            (None, None) => anyhow::bail!("give --rule or --rules"),
        }
    }
}

/// Compiles rules; `None` (after printing the diagnostics) when one is invalid.
pub fn compile(compiler: &Compiler, sources: &[(String, String)]) -> Option<Vec<Rule>> {
    let mut rules = Vec::new();
    let mut invalid = false;
    for (name, source) in sources {
        match compiler.compile(name, source) {
            Ok(rule) => {
                for warning in rule.warnings() {
                    eprintln!("rule {name:?}: {}", warning.render());
                }
                rules.push(rule);
            }
            Err(error) => {
                invalid = true;
                eprintln!("rule {name:?} is invalid:");
                for diagnostic in &error.diagnostics {
                    for line in diagnostic.render().lines() {
                        eprintln!("  {line}");
                    }
                }
            }
        }
    }
    if invalid { None } else { Some(rules) }
}
