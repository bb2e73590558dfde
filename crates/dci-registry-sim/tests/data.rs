//! The committed fixture says what it means, and generated populations are
//! deterministic and consistent with their registries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use dci_protocol::records::{CrvsPerson, DisabilityRecord, IbrBeneficiary, Identifier, Reading};
use dci_registry_sim::population::{GenConfig, GenSummary, generate};
use dci_registry_sim::{RegistryData, RegistryKind, fixture_beneficiaries, fixture_dir, markdown_table};
use serde_json::Value;

/// A person of the beneficiary list.
#[derive(Debug)]
struct Person {
    identifiers: Vec<(String, String)>,
    birthdate: String,
    sex: String,
    name: String,
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display())))
        .collect()
}

fn person_of(value: &Value) -> Person {
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let identifiers = value["identifiers"]
        .as_array()
        .expect("identifiers")
        .iter()
        .map(|id| (id["type"].as_str().expect("type").to_owned(), id["value"].as_str().expect("value").to_owned()))
        .collect();
    Person { identifiers, birthdate: text("birthdate"), sex: text("sex"), name: text("name") }
}

/// Every person of a beneficiary list, by id, with the household lines.
fn persons(households: &[Value]) -> BTreeMap<String, Person> {
    let mut persons = BTreeMap::new();
    for household in households {
        persons.insert(household["id"].as_str().expect("id").to_owned(), person_of(household));
        for member in household["members"].as_array().expect("members") {
            assert!(member.get("members").is_none(), "members have no members");
            persons.insert(member["id"].as_str().expect("member id").to_owned(), person_of(member));
        }
    }
    persons
}

fn age_on(birth: &str, as_of: NaiveDate) -> i32 {
    let birth = NaiveDate::parse_from_str(birth, "%Y-%m-%d").expect("birthdate");
    as_of.year() - birth.year() - i32::from((as_of.month(), as_of.day()) < (birth.month(), birth.day()))
}

/// Record positions carrying any of the identifiers.
fn found(data: &RegistryData, identifiers: &[(String, String)]) -> Vec<u32> {
    let mut positions: BTreeSet<u32> = BTreeSet::new();
    for (id_type, value) in identifiers {
        positions.extend(data.lookup(id_type, value));
    }
    positions.into_iter().collect()
}

fn record<T: serde::de::DeserializeOwned>(data: &RegistryData, position: u32) -> T {
    serde_json::from_str(data.record_text(position as usize).expect("record")).expect("typed record")
}

fn table(readme: &str, heading: &str) -> Vec<Vec<String>> {
    let rows = markdown_table(readme, heading);
    assert!(!rows.is_empty(), "no {heading} table in the README");
    rows
}

#[test]
fn every_fact_the_fixture_readme_states_is_what_the_registries_say() {
    let as_of = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let readme = std::fs::read_to_string(fixture_dir().join("../README.md")).expect("fixtures/README.md");
    assert!(readme.contains("As-of date: 2026-01-01"));
    let households = read_lines(&fixture_beneficiaries());
    let persons = persons(&households);
    let crvs = RegistryData::from_dir(RegistryKind::Crvs, &fixture_dir()).expect("crvs loads");
    let ibr = RegistryData::from_dir(RegistryKind::Ibr, &fixture_dir()).expect("ibr loads");
    let dr = RegistryData::from_dir(RegistryKind::Dr, &fixture_dir()).expect("dr loads");

    let rows = table(&readme, "## Persons");
    assert_eq!(rows.len(), persons.len(), "one row per person");
    let mut cases: BTreeSet<String> = BTreeSet::new();
    for row in &rows {
        let [id, relationship, name, ids, birthdate, age, sex, crvs_cell, active, other, dr_cell, level, types] =
            row.as_slice()
        else {
            panic!("a person row has 13 cells: {row:?}")
        };
        let person = persons.get(id).unwrap_or_else(|| panic!("{id} is not in beneficiaries.ndjson"));
        let id_text = person.identifiers.iter().map(|(t, v)| format!("{t} {v}")).collect::<Vec<_>>().join(", ");
        assert_eq!(ids, if id_text.is_empty() { "—" } else { &id_text }, "{id}");
        assert_eq!((birthdate, sex, name), (&person.birthdate, &person.sex, &person.name), "{id}");
        assert_eq!(age.parse::<i32>().expect("age"), age_on(birthdate, as_of), "{id}");
        assert_eq!(relationship == "self", !id.contains("-M"), "{id}");

        // CRVS
        let at = found(&crvs, &person.identifiers);
        if crvs_cell == "absent" {
            assert!(at.is_empty(), "{id} must not be in the CRVS");
            cases.insert("crvs absent".into());
        } else {
            assert_eq!(at.len(), 1, "{id}: one CRVS record");
            let record: CrvsPerson = record(&crvs, at[0]);
            assert_eq!(record.birth_date.as_ref().map(|d| d.to_string()).as_deref(), Some(birthdate.as_str()), "{id}");
            match crvs_cell.strip_prefix("dead ") {
                Some(day) => {
                    assert!(!record.is_alive(), "{id} is dead");
                    assert_eq!(record.death_date.as_ref().map(|d| d.to_string()).as_deref(), Some(day));
                    cases.insert("crvs dead".into());
                }
                None => {
                    assert_eq!(crvs_cell, "alive");
                    assert!(record.is_alive(), "{id} is alive");
                    cases.insert("crvs alive".into());
                }
            }
            let expected: Vec<Identifier> =
                person.identifiers.iter().map(|(t, v)| Identifier::new(t.as_str(), v.as_str())).collect();
            assert_eq!(record.identifier, expected, "{id}: the beneficiary's identifiers");
        }

        // IBR
        let enrolments: Vec<_> = found(&ibr, &person.identifiers)
            .into_iter()
            .flat_map(|p| record::<IbrBeneficiary>(&ibr, p).enrolments())
            .collect();
        let active_now: Vec<String> = enrolments
            .iter()
            .filter(|e| e.is_active())
            .map(|e| {
                format!(
                    "{} ({})",
                    e.programme_id.clone().unwrap_or_default(),
                    e.programme_name.clone().unwrap_or_default()
                )
            })
            .collect();
        let others: Vec<String> = enrolments
            .iter()
            .filter(|e| !e.is_active())
            .map(|e| {
                let status = e.status.as_ref().map_or("(no status)".to_owned(), |s| s.label().to_lowercase());
                format!("{} {status}", e.programme_id.clone().unwrap_or_default())
            })
            .collect();
        let list = |items: &[String]| if items.is_empty() { "—".to_owned() } else { items.join(", ") };
        assert_eq!(active, &list(&active_now), "{id}: active enrolments");
        assert_eq!(other, &list(&others), "{id}: other enrolments");
        enrolments.iter().for_each(|e| {
            cases.insert(format!("ibr {}", e.status.as_ref().map_or("(no status)", |s| s.label())).to_lowercase());
        });
        if active_now.len() >= 2 {
            cases.insert("ibr several".into());
        }

        // DR
        let at = found(&dr, &person.identifiers);
        if dr_cell == "absent" {
            assert!(at.is_empty(), "{id} must not be in the DR");
            assert_eq!((level.as_str(), types.as_str()), ("—", "—"));
        } else {
            assert_eq!(at.len(), 1, "{id}: one DR record");
            let record: DisabilityRecord = record(&dr, at[0]);
            let shape = if record.disability_info.is_empty() { "PWD" } else { "WG" };
            let facts = record.facts();
            assert_eq!(dr_cell, &format!("{shape} {}", facts.has_disability), "{id}");
            assert_eq!(level, &facts.level.to_string(), "{id}: level");
            let names: Vec<&str> = facts.types.value().into_iter().flatten().map(|t| t.as_str()).collect();
            assert_eq!(types, &if names.is_empty() { "—".to_owned() } else { names.join(" ") }, "{id}: types");
            cases.insert(format!("dr {shape} {} level {}", facts.has_disability, facts.level));
            if let Some(status) = &record.disability_status {
                cases.insert(format!("pwd status {status}"));
            }
        }
        let usable =
            person.identifiers.iter().any(|(t, _)| ["UIN", "DRN", "NATIONAL_ID", "NID", "BRN"].contains(&t.as_str()));
        if !usable {
            cases.insert("no usable identifier".into());
        }
    }

    // Every registry record belongs to a person of the list.
    let known: BTreeSet<(String, String)> = persons.values().flat_map(|p| p.identifiers.iter().cloned()).collect();
    for data in [&crvs, &ibr, &dr] {
        for text in data.texts() {
            let identifiers = match data.kind() {
                RegistryKind::Crvs => serde_json::from_str::<CrvsPerson>(text).expect("crvs").identifier,
                RegistryKind::Ibr => serde_json::from_str::<IbrBeneficiary>(text).expect("ibr").identifiers(),
                RegistryKind::Dr => serde_json::from_str::<DisabilityRecord>(text).expect("dr").identifiers(),
            };
            assert!(!identifiers.is_empty());
            for identifier in identifiers {
                assert!(
                    known.contains(&(identifier.identifier_type.into(), identifier.identifier_value.into())),
                    "orphan: {text}"
                );
            }
        }
    }

    // The household table.
    let rows = table(&readme, "## Households");
    assert_eq!(rows.len(), households.len(), "one row per household");
    for (row, household) in rows.iter().zip(&households) {
        assert_eq!(row[0], household["id"].as_str().expect("id"));
        let size = 1 + household["members"].as_array().expect("members").len();
        assert_eq!(row[1], size.to_string(), "{}", row[0]);
        assert_eq!(row[2], age_on(household["birthdate"].as_str().expect("birthdate"), as_of).to_string());
        let poverty = match &household.get("poverty_score") {
            None => "missing".to_owned(),
            Some(Value::String(text)) => format!("\"{text}\""),
            Some(other) => other.to_string(),
        };
        assert_eq!(row[3], poverty, "{}", row[0]);
        for outcome in &row[5..9] {
            assert!(["eligible", "ineligible", "undetermined", "error"].contains(&outcome.as_str()), "{row:?}");
        }
        cases.insert(format!("poverty {}", classify_poverty(household.get("poverty_score"))));
        let age = age_on(household["birthdate"].as_str().expect("birthdate"), as_of);
        cases.insert(if age >= 60 { "registrant 60+" } else { "registrant under 60" }.into());
        let members = household["members"].as_array().expect("members");
        let disabled_member = members.iter().any(|m| {
            let id = m["id"].as_str().expect("id");
            rows_for(&readme, id).is_some_and(|dr_cell| dr_cell.ends_with("true"))
        });
        if !members.is_empty() {
            cases.insert(if disabled_member { "household with disabled member" } else { "household without" }.into());
        }
    }

    // Each case the rules care about is there on purpose.
    for case in [
        "crvs alive",
        "crvs dead",
        "crvs absent",
        "ibr active",
        "ibr suspended",
        "ibr graduated",
        "ibr deceased",
        "ibr several",
        "dr WG true level 4",
        "dr WG true level 3",
        "dr WG true level 2",
        "dr WG false level 1",
        "dr PWD true level 3",
        "dr PWD false level 0",
        "pwd status 0",
        "pwd status 1",
        "pwd status 2",
        "no usable identifier",
        "poverty above 0.7",
        "poverty below 0.7",
        "poverty missing",
        "poverty text",
        "registrant 60+",
        "registrant under 60",
        "household with disabled member",
        "household without",
    ] {
        assert!(cases.contains(case), "the fixture lacks the case {case:?}; it has {cases:?}");
    }
}

/// The DR cell of a person row.
fn rows_for(readme: &str, person: &str) -> Option<String> {
    table(readme, "## Persons").into_iter().find(|row| row[0] == person).map(|row| row[10].clone())
}

fn classify_poverty(value: Option<&Value>) -> &'static str {
    match value {
        None => "missing",
        Some(Value::String(_)) => "text",
        Some(v) if v.as_f64().is_some_and(|s| s > 0.7) => "above 0.7",
        Some(_) => "below 0.7",
    }
}

fn generated(households: u64, seed: u64) -> (tempfile::TempDir, GenSummary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = generate(&GenConfig { households, seed, ..GenConfig::default() }, dir.path()).expect("generates");
    (dir, summary)
}

const FILES: [&str; 5] = ["beneficiaries.ndjson", "crvs.ndjson", "ibr.ndjson", "dr.ndjson", "summary.json"];

#[test]
fn the_same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let (a, _) = generated(300, 7);
    let (b, _) = generated(300, 7);
    let (c, _) = generated(300, 8);
    for file in FILES {
        let read = |dir: &tempfile::TempDir| std::fs::read(dir.path().join(file)).expect("file");
        assert_eq!(read(&a), read(&b), "{file} differs between two runs with the same seed");
        assert!(!read(&a).is_empty(), "{file} is empty");
    }
    let read = |dir: &tempfile::TempDir, file| std::fs::read(dir.path().join(file)).expect("file");
    assert_ne!(read(&a, "beneficiaries.ndjson"), read(&c, "beneficiaries.ndjson"));
    assert_ne!(read(&a, "crvs.ndjson"), read(&c, "crvs.ndjson"));
}

#[test]
fn generated_registries_agree_with_the_beneficiaries() {
    let (dir, summary) = generated(3000, 3);
    let households = read_lines(&dir.path().join("beneficiaries.ndjson"));
    assert_eq!(households.len(), 3000);
    let persons = persons(&households);
    assert_eq!(persons.len() as u64, summary.persons);
    let crvs = RegistryData::from_dir(RegistryKind::Crvs, dir.path()).expect("crvs loads");
    let ibr = RegistryData::from_dir(RegistryKind::Ibr, dir.path()).expect("ibr loads");
    let dr = RegistryData::from_dir(RegistryKind::Dr, dir.path()).expect("dr loads");
    assert_eq!(
        (crvs.len() as u64, ibr.len() as u64, dr.len() as u64),
        (summary.crvs_records, summary.ibr_records, summary.dr_records)
    );
    let as_of = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    for household in &households {
        let size = 1 + household["members"].as_array().expect("members").len();
        assert!((1..=6).contains(&size));
        let score = household["poverty_score"].as_f64().expect("poverty_score");
        assert!((0.0..=1.0).contains(&score));
    }
    let mut in_crvs = 0;
    let mut deceased = 0;
    let mut with_disability = 0;
    for (id, person) in &persons {
        let age = age_on(&person.birthdate, as_of);
        assert!((0..=95).contains(&age), "{id} is {age}");
        let at = found(&crvs, &person.identifiers);
        assert!(at.len() <= 1, "{id}: at most one CRVS record");
        if let Some(&position) = at.first() {
            in_crvs += 1;
            let record: CrvsPerson = record(&crvs, position);
            assert_eq!(record.birth_date.map(|d| d.to_string()), Some(person.birthdate.clone()), "{id}");
            for (id_type, value) in &person.identifiers {
                assert_eq!(crvs.lookup(id_type, value), &[position], "{id}: {id_type} {value} finds the record");
            }
            if let Some(death) = record.death_date.and_then(|d| d.date()) {
                deceased += 1;
                assert!(death <= as_of && death.format("%Y-%m-%d").to_string() >= person.birthdate, "{id}");
            }
        }
        for position in found(&dr, &person.identifiers) {
            if record::<DisabilityRecord>(&dr, position).facts().has_disability == Reading::Value(true) {
                with_disability += 1;
            }
        }
    }
    assert_eq!(deceased, summary.deceased);
    assert_eq!(with_disability, summary.disabled_persons);
    // IBR and DR records only for persons of the list
    let known: BTreeSet<(String, String)> = persons.values().flat_map(|p| p.identifiers.iter().cloned()).collect();
    for text in ibr.texts() {
        for identifier in serde_json::from_str::<IbrBeneficiary>(text).expect("ibr").identifiers() {
            assert!(
                known.contains(&(identifier.identifier_type.into(), identifier.identifier_value.into())),
                "orphan: {text}"
            );
        }
    }
    for text in dr.texts() {
        for identifier in serde_json::from_str::<DisabilityRecord>(text).expect("dr").identifiers() {
            assert!(
                known.contains(&(identifier.identifier_type.into(), identifier.identifier_value.into())),
                "orphan: {text}"
            );
        }
    }
    // proportions (loose bounds: ~9,000 persons)
    let share = |n: u64| n as f64 / summary.persons as f64;
    assert!((2.5..3.5).contains(&(summary.persons as f64 / 3000.0)), "persons per household");
    assert!((0.02..0.045).contains(&(deceased as f64 / in_crvs as f64)), "deceased {deceased}/{in_crvs}");
    assert!((0.01..0.035).contains(&share(summary.not_in_crvs)), "not in CRVS {}", summary.not_in_crvs);
    assert!((0.2..0.3).contains(&share(summary.enrolled_persons)), "enrolled {}", summary.enrolled_persons);
    assert!(summary.actively_enrolled_persons * 10 > summary.enrolled_persons * 7, "mostly active");
    assert!((0.065..0.115).contains(&share(summary.dr_records)), "DR records {}", summary.dr_records);
    assert!(
        (0.003..0.02).contains(&share(summary.no_usable_identifier)),
        "no usable id {}",
        summary.no_usable_identifier
    );
    let statuses: BTreeSet<String> = ibr
        .texts()
        .flat_map(|t| serde_json::from_str::<IbrBeneficiary>(t).expect("ibr").enrolments())
        .map(|e| format!("{:?}", e.status))
        .collect();
    assert_eq!(statuses.len(), 4, "every enrolment status occurs: {statuses:?}");
    let shapes: BTreeSet<bool> = dr
        .texts()
        .map(|t| serde_json::from_str::<DisabilityRecord>(t).expect("dr").disability_info.is_empty())
        .collect();
    assert_eq!(shapes.len(), 2, "both DR shapes occur");
    let summary_file: GenSummary =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary_file, summary);
}

/// With `two_identifier_rate`, some persons hold two identifiers and each
/// registry finds their records under one of the two only; both halves occur.
#[test]
fn persons_with_two_identifiers_are_known_to_each_registry_by_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = GenConfig { households: 2000, seed: 5, two_identifier_rate: 0.2, ..GenConfig::default() };
    let summary = generate(&config, dir.path()).expect("generates");
    let households = read_lines(&dir.path().join("beneficiaries.ndjson"));
    let persons = persons(&households);
    // Young children holding a UIN and a BRN are known by both, as before.
    let two: Vec<&Person> = persons
        .values()
        .filter(|p| p.identifiers.len() == 2 && !(p.identifiers[0].0 == "UIN" && p.identifiers[1].0 == "BRN"))
        .collect();
    assert_eq!(two.len() as u64, summary.two_identifiers);
    assert!((0.15..0.25).contains(&(summary.two_identifiers as f64 / summary.persons as f64)));
    let crvs = RegistryData::from_dir(RegistryKind::Crvs, dir.path()).expect("crvs loads");
    let (mut by_first, mut by_second) = (0, 0);
    for person in two {
        let [(t1, v1), (t2, v2)] = [&person.identifiers[0], &person.identifiers[1]];
        match (crvs.lookup(t1, v1).is_empty(), crvs.lookup(t2, v2).is_empty()) {
            (false, true) => by_first += 1,
            (true, false) => by_second += 1,
            (true, true) => {} // not in the CRVS
            (false, false) => panic!("{person:?}: the CRVS knows both identifiers"),
        }
    }
    assert!(by_first > 50 && by_second > 50, "{by_first} by the first, {by_second} by the second");
}
