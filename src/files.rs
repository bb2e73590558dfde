//! Reading the files `elig` is given: configuration, rules files, rule test files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dci_eligibility::EngineConfig;
use dci_eligibility::testing::RuleTestFile;

/// Reads `elig.toml`.
pub fn config(path: &Path) -> Result<EngineConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))
}

/// Reads a rules file: TOML or YAML (by extension), either a `[rules]` table
/// or top-level `name = "expression"` pairs. Order is kept.
pub fn rules(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = if is_yaml(path) {
        serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    } else {
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        serde_json::to_value(table)?
    };
    let table = value.get("rules").cloned().unwrap_or(value);
    let Some(table) = table.as_object() else { bail!("{}: expected `name = \"expression\"` pairs", path.display()) };
    let mut rules = Vec::new();
    for (name, expression) in table {
        match expression.as_str() {
            Some(expression) => rules.push((name.clone(), expression.to_owned())),
            None => bail!("{}: rule {name:?} must be a string (a CEL expression)", path.display()),
        }
    }
    if rules.is_empty() {
        bail!("{}: no rules", path.display());
    }
    Ok(rules)
}

fn is_yaml(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// Reads a rule test file (YAML or TOML).
pub fn rule_test(path: &Path) -> Result<RuleTestFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if is_yaml(path) {
        serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    } else {
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))
    }
}

/// Rule test files under `paths` (files as given; directories searched for `.yaml`, `.yml`, `.toml`).
pub fn rule_test_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                if entry.is_dir() {
                    found.extend(rule_test_paths(&[entry])?);
                } else if matches!(entry.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "toml")) {
                    found.push(entry);
                }
            }
        } else if path.exists() {
            found.push(path.clone());
        } else {
            bail!("{}: no such file or directory", path.display());
        }
    }
    Ok(found)
}
