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
    let pairs: Vec<(String, Option<String>)> = if is_yaml(path) {
        let value: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let table = value.get("rules").cloned().unwrap_or(value);
        let Some(mapping) = table.as_mapping() else { bail!("{}: expected `name: expression` pairs", path.display()) };
        mapping
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.as_str().map(str::to_owned)))
            .collect()
    } else {
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        if let Some(toml::Value::Table(inner)) = table.remove("rules") {
            table = inner;
        }
        table.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned))).collect()
    };
    let mut rules = Vec::new();
    for (name, expression) in pairs {
        match expression {
            Some(expression) => rules.push((name, expression)),
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
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        serde_json::from_value(toml_to_json(toml::Value::Table(table)))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// TOML as JSON, TOML dates and times becoming their text (`2026-01-01`).
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        toml::Value::String(s) => Json::String(s),
        toml::Value::Integer(n) => Json::from(n),
        toml::Value::Float(x) => serde_json::Number::from_f64(x).map(Json::Number).unwrap_or(Json::Null),
        toml::Value::Boolean(b) => Json::Bool(b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
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
