//! The committed fixture's documentation, read back: `fixtures/README.md`
//! states each person's registry facts in a table, and tests of the clients
//! and the engine check what they see against it.

use std::path::PathBuf;

/// The repository's committed registry fixture (`fixtures/registries`), as an absolute path.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/registries")
}

/// The repository's committed beneficiary list (`fixtures/beneficiaries.ndjson`), as an absolute path.
pub fn fixture_beneficiaries() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/beneficiaries.ndjson")
}

/// The cells of the rows of the markdown table under `heading` in `readme`
/// (header and separator rows skipped).
pub fn markdown_table(readme: &str, heading: &str) -> Vec<Vec<String>> {
    let Some(section) = readme.split(heading).nth(1) else { return Vec::new() };
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| line.trim_matches('|').split(" | ").map(|cell| cell.trim().to_owned()).collect())
        .collect()
}

/// One person of the fixture, as `fixtures/README.md` states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixturePerson {
    /// Beneficiary or member id (`HH-0002-M1`).
    pub id: String,
    /// `(type, value)` pairs.
    pub identifiers: Vec<(String, String)>,
    /// `alive`, `dead <date>` or `absent`.
    pub crvs: String,
    /// Programme ids with an active enrolment.
    pub active_programmes: Vec<String>,
    /// `absent`, or `WG true`, `PWD false`, ...
    pub dr: String,
    /// Disability level, when in the DR.
    pub level: Option<u8>,
    /// Disability types (normalised names), when in the DR.
    pub types: Vec<String>,
}

/// Every person of the fixture, from `fixtures/README.md`.
pub fn fixture_persons() -> std::io::Result<Vec<FixturePerson>> {
    let readme = std::fs::read_to_string(fixture_dir().join("../README.md"))?;
    let dash = |cell: &str| cell == "—";
    Ok(markdown_table(&readme, "## Persons")
        .into_iter()
        .filter(|row| row.len() == 13)
        .map(|row| FixturePerson {
            id: row[0].clone(),
            identifiers: if dash(&row[3]) {
                Vec::new()
            } else {
                row[3]
                    .split(", ")
                    .filter_map(|pair| pair.split_once(' ').map(|(t, v)| (t.to_owned(), v.to_owned())))
                    .collect()
            },
            crvs: row[7].clone(),
            active_programmes: if dash(&row[8]) {
                Vec::new()
            } else {
                row[8].split(", ").map(|p| p.split(' ').next().unwrap_or_default().to_owned()).collect()
            },
            dr: row[10].clone(),
            level: row[11].parse().ok(),
            types: if dash(&row[12]) { Vec::new() } else { row[12].split(' ').map(str::to_owned).collect() },
        })
        .collect())
}
