//! Synthetic populations: a beneficiary list and registry files that agree with it.
//!
//! [`generate`] writes, for `households` households of 1–6 persons each:
//!
//! * `beneficiaries.ndjson`: one household per line (the engine's input);
//! * `crvs.ndjson`, `ibr.ndjson`, `dr.ndjson`: registry records in the newest
//!   DCI form (IBR: one record per person and programme; DR: Washington Group
//!   and PWD shapes, half each);
//! * `summary.json`: what was generated.
//!
//! Everything comes from one ChaCha8 RNG seeded with [`GenConfig::seed`] and is
//! written in household order, so the same configuration always gives
//! byte-identical files. Households are streamed: memory does not grow with
//! the population.
//!
//! Registries agree with the beneficiaries: a person's registry records carry
//! exactly the beneficiary's identifiers, and the CRVS `birth_date` is the
//! beneficiary's `birthdate`. Persons without identifiers appear in no registry.
//! A share of persons ([`GenConfig::two_identifier_rate`], none by default)
//! hold a second identifier (a national ID beside a UIN, or the reverse), and
//! each registry knows them under one of the two only, as households in
//! OpenSPP often are.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What to generate. `GenConfig { households: 1000, seed: 7, ..GenConfig::default() }`.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Number of households (≈ 3 persons each).
    pub households: u64,
    /// RNG seed: the same seed gives the same files.
    pub seed: u64,
    /// The date ages are counted to; no event is later. Default 2026-01-01.
    pub as_of: NaiveDate,
    /// Share of persons in the CRVS who are dead (default 0.03).
    pub deceased_rate: f64,
    /// Share of persons with an identifier but no CRVS record (default 0.02).
    pub not_in_crvs_rate: f64,
    /// Share of persons with at least one IBR enrolment (default 0.25).
    pub enrolled_rate: f64,
    /// Share of persons with a DR record (default 0.09).
    pub disability_rate: f64,
    /// Share of persons without a usable identifier (default 0.01): half carry
    /// only a `PASSPORT`, half no identifier at all.
    pub no_identifier_rate: f64,
    /// Share of persons with an identifier who hold a second one, each
    /// registry knowing them under one of the two (default 0; at 0 the files
    /// are those of earlier versions, byte for byte).
    pub two_identifier_rate: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            households: 1000,
            seed: 0,
            as_of: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            deceased_rate: 0.03,
            not_in_crvs_rate: 0.02,
            enrolled_rate: 0.25,
            disability_rate: 0.09,
            no_identifier_rate: 0.01,
            two_identifier_rate: 0.0,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenSummary {
    /// The seed used.
    pub seed: u64,
    /// The as-of date ages are counted to.
    pub as_of: String,
    /// Households (lines of `beneficiaries.ndjson`).
    pub households: u64,
    /// Persons: registrants and members.
    pub persons: u64,
    /// Lines of `crvs.ndjson`.
    pub crvs_records: u64,
    /// Lines of `ibr.ndjson` (one per person and programme).
    pub ibr_records: u64,
    /// Lines of `dr.ndjson`.
    pub dr_records: u64,
    /// Persons with a CRVS death date.
    pub deceased: u64,
    /// Persons with an identifier but no CRVS record.
    pub not_in_crvs: u64,
    /// Persons with at least one IBR record.
    pub enrolled_persons: u64,
    /// Persons with at least one active enrolment.
    pub actively_enrolled_persons: u64,
    /// Persons whose DR record states a disability (severity ≥ 2 or an approved PWD registration).
    pub disabled_persons: u64,
    /// Persons without a usable identifier (only a passport, or none).
    pub no_usable_identifier: u64,
    /// Persons holding two identifiers, each registry knowing them by one.
    #[serde(default)]
    pub two_identifiers: u64,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is impossible.
    #[error("invalid generator configuration: {0}")]
    Config(String),
}

const GIVEN_FEMALE: &[&str] = &[
    "Amina", "Grace", "Fatima", "Mary", "Wanjiru", "Aisha", "Joy", "Esther", "Halima", "Ruth", "Njeri", "Zawadi",
    "Mercy", "Achieng", "Leila", "Sara", "Neema", "Imani", "Maria", "Ana", "Rosa", "Lucia", "Siti", "Nur", "Dewi",
    "Maya", "Priya", "Anjali", "Mei", "Lan",
];
const GIVEN_MALE: &[&str] = &[
    "John", "Peter", "Juma", "Ali", "Samuel", "David", "Omar", "Joseph", "Baraka", "Hassan", "Kamau", "Otieno", "Musa",
    "Daniel", "Ibrahim", "Paul", "Carlos", "Jose", "Luis", "Miguel", "Budi", "Agus", "Rahul", "Arjun", "Wei", "Minh",
    "Tomas", "Yusuf", "Emmanuel", "Kofi",
];
const SURNAMES: &[&str] = &[
    "Okafor",
    "Mwangi",
    "Otieno",
    "Hassan",
    "Kariuki",
    "Achieng",
    "Mensah",
    "Banda",
    "Phiri",
    "Moyo",
    "Dlamini",
    "Nkosi",
    "Abdi",
    "Mohamed",
    "Yusuf",
    "Santos",
    "Garcia",
    "Reyes",
    "Cruz",
    "Lopez",
    "Silva",
    "Pereira",
    "Santoso",
    "Wijaya",
    "Kumar",
    "Sharma",
    "Nguyen",
    "Tran",
    "Chen",
    "Wang",
    "Diallo",
    "Traore",
    "Keita",
    "Ouedraogo",
    "Tesfaye",
    "Bekele",
];
const PLACES: &[&str] = &[
    "Kisumu", "Mombasa", "Nakuru", "Eldoret", "Garissa", "Kitale", "Machakos", "Nyeri", "Malindi", "Lamu", "Thika",
    "Kakamega", "Kericho", "Embu", "Meru", "Isiolo",
];

/// A programme: id, name, institution, benefit type.
struct ProgrammeDef {
    id: &'static str,
    name: &'static str,
    institution: &'static str,
    benefit_type: &'static str,
}

const CHILD_GRANT: ProgrammeDef =
    ProgrammeDef { id: "CG", name: "Child Grant", institution: "Ministry of Social Protection", benefit_type: "1" };
const OLD_AGE_PENSION: ProgrammeDef =
    ProgrammeDef { id: "OAP", name: "Old Age Pension", institution: "National Pension Fund", benefit_type: "1" };
const CASH_TRANSFER: ProgrammeDef = ProgrammeDef {
    id: "CCT",
    name: "Conditional Cash Transfer",
    institution: "Ministry of Social Protection",
    benefit_type: "1",
};
const DISABILITY_GRANT: ProgrammeDef = ProgrammeDef {
    id: "DSG",
    name: "Disability Support Grant",
    institution: "National Council for Persons with Disabilities",
    benefit_type: "4",
};
const FOOD_SUPPORT: ProgrammeDef =
    ProgrammeDef { id: "FSP", name: "Food Support Programme", institution: "World Food Agency", benefit_type: "2" };

const WG_DOMAINS: &[&str] = &["VIS_SS", "HEAR_SS", "MOB_SS", "COG_SS", "SC_SS", "COM_SS"];

// ---- output records (the newest DCI forms) ----

#[derive(Serialize)]
struct IdOut<'a> {
    identifier_type: &'a str,
    identifier_value: &'a str,
}

#[derive(Serialize)]
struct NameOut<'a> {
    given_name: &'a str,
    surname: &'a str,
}

#[derive(Serialize)]
struct PlaceOut<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct CrvsOut<'a> {
    identifier: Vec<IdOut<'a>>,
    name: NameOut<'a>,
    sex: &'a str,
    birth_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    death_date: Option<String>,
    birth_place: PlaceOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent1_identifier: Option<IdOut<'a>>,
    registration_date: String,
}

#[derive(Serialize)]
struct MemberOut<'a> {
    member_identifier: Vec<IdOut<'a>>,
}

#[derive(Serialize)]
struct ProgrammeOut<'a> {
    programme_name: &'a str,
    programme_identifier: &'a str,
    implementing_institution: &'a str,
}

#[derive(Serialize)]
struct BenefitOut<'a> {
    benefit_type: &'a str,
    benefit_date: String,
    benefit_value: String,
}

#[derive(Serialize)]
struct IbrOut<'a> {
    assistance_unit: &'a str,
    member: MemberOut<'a>,
    programme_identifier: Vec<ProgrammeOut<'a>>,
    enrollment_date: String,
    enrollment_status: &'a str,
    /// When an enrolment that is no longer active took its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_change_date: Option<String>,
    benefits: Vec<BenefitOut<'a>>,
}

#[derive(Serialize)]
struct LimitationOut<'a> {
    disability_limitation_type: &'a str,
    functional_severity: String,
}

#[derive(Serialize)]
struct WgOut<'a> {
    member_identifier: Vec<IdOut<'a>>,
    disability_info: Vec<LimitationOut<'a>>,
}

#[derive(Serialize)]
struct PersonalDetailsOut<'a> {
    member_identifier: Vec<IdOut<'a>>,
    name: NameOut<'a>,
    birth_date: String,
    sex: &'a str,
}

#[derive(Serialize)]
struct ImpairmentOut {
    impairment_type: String,
    impairment_level: String,
}

#[derive(Serialize)]
struct PwdOut<'a> {
    personal_details: PersonalDetailsOut<'a>,
    disability_status: &'a str,
    disability_status_level: String,
    disability_details: Vec<ImpairmentOut>,
}

#[derive(Serialize)]
struct BeneficiaryIdOut<'a> {
    #[serde(rename = "type")]
    id_type: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct MemberLineOut<'a> {
    id: &'a str,
    identifiers: Vec<BeneficiaryIdOut<'a>>,
    name: String,
    birthdate: String,
    sex: &'a str,
    relationship: &'a str,
}

#[derive(Serialize)]
struct HouseholdOut<'a> {
    id: &'a str,
    identifiers: Vec<BeneficiaryIdOut<'a>>,
    name: String,
    birthdate: String,
    sex: &'a str,
    poverty_score: f64,
    members: Vec<MemberLineOut<'a>>,
}

// ---- generation ----

struct Person {
    id: String,
    sex: &'static str,
    given: &'static str,
    surname: &'static str,
    birth: NaiveDate,
    age: i64,
    relationship: &'static str,
    identifiers: Vec<(&'static str, String)>,
    /// For a person with two identifiers: which of them each registry knows.
    known_by: Option<u64>,
}

impl Person {
    fn ids(&self) -> Vec<IdOut<'_>> {
        self.identifiers.iter().map(|(t, v)| IdOut { identifier_type: t, identifier_value: v }).collect()
    }

    /// The identifiers registry number `registry` (0 CRVS, 1 IBR, 2 DR) holds:
    /// all of them, or for a person with two, one chosen per registry.
    fn ids_in(&self, registry: u64) -> Vec<IdOut<'_>> {
        match self.known_by {
            Some(salt) => {
                let (t, v) = &self.identifiers[((salt + registry) % 2) as usize];
                vec![IdOut { identifier_type: t, identifier_value: v }]
            }
            None => self.ids(),
        }
    }

    fn beneficiary_ids(&self) -> Vec<BeneficiaryIdOut<'_>> {
        self.identifiers.iter().map(|(t, v)| BeneficiaryIdOut { id_type: t, value: v }).collect()
    }

    fn name(&self) -> NameOut<'_> {
        NameOut { given_name: self.given, surname: self.surname }
    }
}

struct Writers {
    beneficiaries: Output,
    crvs: Output,
    ibr: Output,
    dr: Output,
}

struct Output {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl Output {
    fn create(dir: &Path, name: &str) -> Result<Output, GenError> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| GenError::Io { path: path.clone(), source })?;
        Ok(Output { path, writer: BufWriter::with_capacity(1 << 20, file) })
    }

    fn line<T: Serialize>(&mut self, value: &T) -> Result<(), GenError> {
        let io = |source| GenError::Io { path: self.path.clone(), source };
        serde_json::to_writer(&mut self.writer, value).map_err(|e| io(std::io::Error::other(e)))?;
        self.writer.write_all(b"\n").map_err(io)
    }

    fn finish(mut self) -> Result<(), GenError> {
        self.writer.flush().map_err(|source| GenError::Io { path: self.path, source })
    }
}

/// Writes a population of `config.households` households into `out_dir`
/// (created if needed); see the [module documentation](self).
pub fn generate(config: &GenConfig, out_dir: &Path) -> Result<GenSummary, GenError> {
    for (name, rate) in [
        ("deceased_rate", config.deceased_rate),
        ("not_in_crvs_rate", config.not_in_crvs_rate),
        ("enrolled_rate", config.enrolled_rate),
        ("disability_rate", config.disability_rate),
        ("no_identifier_rate", config.no_identifier_rate),
        ("two_identifier_rate", config.two_identifier_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(GenError::Config(format!("{name} {rate} is not within 0..=1")));
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|source| GenError::Io { path: out_dir.to_owned(), source })?;
    let mut out = Writers {
        beneficiaries: Output::create(out_dir, "beneficiaries.ndjson")?,
        crvs: Output::create(out_dir, "crvs.ndjson")?,
        ibr: Output::create(out_dir, "ibr.ndjson")?,
        dr: Output::create(out_dir, "dr.ndjson")?,
    };
    let mut generator = Generator {
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        config: config.clone(),
        next_person: 0,
        width: config.households.max(1).to_string().len().max(4),
        summary: GenSummary {
            seed: config.seed,
            as_of: config.as_of.format("%Y-%m-%d").to_string(),
            ..GenSummary::default()
        },
    };
    for household in 1..=config.households {
        generator.household(household, &mut out)?;
    }
    let Writers { beneficiaries, crvs, ibr, dr } = out;
    for output in [beneficiaries, crvs, ibr, dr] {
        output.finish()?;
    }
    let summary_path = out_dir.join("summary.json");
    let text = serde_json::to_string_pretty(&generator.summary).unwrap_or_default() + "\n";
    std::fs::write(&summary_path, text).map_err(|source| GenError::Io { path: summary_path, source })?;
    Ok(generator.summary)
}

struct Generator {
    rng: ChaCha8Rng,
    config: GenConfig,
    next_person: u64,
    width: usize,
    summary: GenSummary,
}

/// `base + (index · multiplier + offset) mod modulus`: distinct for distinct
/// indices below `modulus` (the multiplier is coprime with it).
fn scramble(index: u64, multiplier: u128, offset: u64, modulus: u128) -> u128 {
    (u128::from(index) * multiplier + u128::from(offset)) % modulus
}

/// The same day `years` years earlier (29 February becomes 28 February).
fn years_before(day: NaiveDate, years: i64) -> NaiveDate {
    let year = day.year() - years as i32;
    day.with_year(year).or_else(|| (day - Days::new(1)).with_year(year)).unwrap_or(day)
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

impl Generator {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// A day in `from..=to` (or `from` when the range is empty).
    fn day_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days();
        if span <= 0 {
            return from;
        }
        from + Days::new(self.rng.random_range(0..=span) as u64)
    }

    fn person(&mut self, id: String, age: i64, relationship: &'static str, surname: &'static str) -> Person {
        let index = self.next_person;
        self.next_person += 1;
        let sex = if self.chance(0.5) { "female" } else { "male" };
        let given = if sex == "female" { self.pick(GIVEN_FEMALE) } else { self.pick(GIVEN_MALE) };
        let as_of = self.config.as_of;
        // `age` on the as-of date: born after (age + 1) years before it, at most age years before it
        let latest = years_before(as_of, age);
        let earliest = years_before(as_of, age + 1) + Days::new(1);
        let birth = self.day_between(earliest, latest);
        let offset = self.config.seed % 1_000_000_007;
        let uin = format!("{}", 1_000_000_000 + scramble(index, 2_654_435_761, offset, 9_000_000_000));
        let mut identifiers: Vec<(&'static str, String)> = Vec::with_capacity(2);
        if self.chance(self.config.no_identifier_rate) {
            if self.chance(0.5) {
                identifiers.push(("PASSPORT", format!("P{:08}", scramble(index, 69_621, offset, 100_000_000))));
            }
        } else {
            let kind = self.rng.random_range(0..100);
            if kind < 84 {
                identifiers.push(("UIN", uin));
                if age < 5 && self.chance(0.3) {
                    identifiers.push(("BRN", format!("BRN-{}-{index:08}", birth.year())));
                }
            } else if kind < 92 {
                identifiers.push(("NATIONAL_ID", format!("NID{:09}", scramble(index, 48_271, offset, 1_000_000_000))));
            } else {
                identifiers.push(("BRN", format!("BRN-{}-{index:08}", birth.year())));
            }
        }
        // Drawn only when asked for, so that the default configuration draws as before.
        let mut known_by = None;
        if self.config.two_identifier_rate > 0.0
            && identifiers.len() == 1
            && identifiers[0].0 != "PASSPORT"
            && self.chance(self.config.two_identifier_rate)
        {
            let second = if identifiers[0].0 == "UIN" {
                ("NATIONAL_ID", format!("NID{:09}", scramble(index, 48_271, offset, 1_000_000_000)))
            } else {
                ("UIN", format!("{}", 1_000_000_000 + scramble(index, 2_654_435_761, offset, 9_000_000_000)))
            };
            identifiers.push(second);
            known_by = Some(u64::from(scramble(index, 16_807, offset, 2) == 1));
            self.summary.two_identifiers += 1;
        }
        Person { id, sex, given, surname, birth, age, relationship, identifiers, known_by }
    }

    fn household(&mut self, number: u64, out: &mut Writers) -> Result<(), GenError> {
        let id = format!("HH-{number:0width$}", width = self.width);
        let size = match self.rng.random_range(0..100) {
            0..20 => 1,
            20..42 => 2,
            42..64 => 3,
            64..82 => 4,
            82..92 => 5,
            _ => 6,
        };
        let surname = self.pick(SURNAMES);
        let registrant_age = self.rng.random_range(18..=95);
        let registrant = self.person(id.clone(), registrant_age, "self", surname);
        let mut members: Vec<Person> = Vec::with_capacity(size - 1);
        for slot in 1..size {
            let (relationship, age) = self.relative(slot, registrant_age);
            let member_surname = if relationship == "other" { self.pick(SURNAMES) } else { surname };
            members.push(self.person(format!("{id}-M{slot}"), age, relationship, member_surname));
        }
        let poverty_score = f64::from(self.rng.random_range(0..=1000u32)) / 1000.0;
        let line = HouseholdOut {
            id: &registrant.id,
            identifiers: registrant.beneficiary_ids(),
            name: format!("{} {}", registrant.given, registrant.surname),
            birthdate: date(registrant.birth),
            sex: registrant.sex,
            poverty_score,
            members: members
                .iter()
                .map(|m| MemberLineOut {
                    id: &m.id,
                    identifiers: m.beneficiary_ids(),
                    name: format!("{} {}", m.given, m.surname),
                    birthdate: date(m.birth),
                    sex: m.sex,
                    relationship: m.relationship,
                })
                .collect(),
        };
        out.beneficiaries.line(&line)?;
        self.summary.households += 1;
        self.registries(&registrant, None, out)?;
        for member in &members {
            let parent = (member.relationship == "child").then_some(&registrant);
            self.registries(member, parent, out)?;
        }
        Ok(())
    }

    /// The relationship and age of the member in `slot` (1-based).
    fn relative(&mut self, slot: usize, registrant_age: i64) -> (&'static str, i64) {
        if slot == 1 && self.chance(0.6) {
            let age = (registrant_age + self.rng.random_range(-8..=8)).clamp(18, 95);
            return ("spouse", age);
        }
        let draw = self.rng.random_range(0..100);
        if draw < 70 && registrant_age >= 18 {
            let oldest = (registrant_age - 16).min(40);
            ("child", self.rng.random_range(0..=oldest.max(0)))
        } else if draw < 80 && registrant_age <= 70 {
            ("parent", self.rng.random_range((registrant_age + 18).min(95)..=95))
        } else if draw < 85 && registrant_age >= 50 {
            ("grandchild", self.rng.random_range(0..=(registrant_age - 40).min(20)))
        } else if draw < 95 {
            ("sibling", (registrant_age + self.rng.random_range(-10..=10)).clamp(0, 95))
        } else {
            ("other", self.rng.random_range(0..=95))
        }
    }

    /// Writes the person's CRVS, IBR and DR records, as drawn.
    fn registries(&mut self, person: &Person, parent: Option<&Person>, out: &mut Writers) -> Result<(), GenError> {
        self.summary.persons += 1;
        let usable = person.identifiers.iter().any(|(t, _)| *t != "PASSPORT");
        if !usable {
            self.summary.no_usable_identifier += 1;
        }
        if person.identifiers.is_empty() {
            return Ok(());
        }
        let as_of = self.config.as_of;
        let mut dead = false;
        if self.chance(self.config.not_in_crvs_rate) {
            self.summary.not_in_crvs += 1;
        } else {
            let place = self.pick(PLACES);
            let registration = self.day_between(person.birth, (person.birth + Days::new(60)).min(as_of));
            dead = self.chance(self.config.deceased_rate);
            let death_date = if dead {
                let earliest = (as_of - Days::new(3650)).max(person.birth);
                Some(date(self.day_between(earliest, as_of - Days::new(1))))
            } else {
                None
            };
            if dead {
                self.summary.deceased += 1;
            }
            let record = CrvsOut {
                identifier: person.ids_in(0),
                name: person.name(),
                sex: person.sex,
                birth_date: date(person.birth),
                death_date,
                birth_place: PlaceOut { name: place },
                parent1_identifier: parent
                    .and_then(|p| p.identifiers.first())
                    .map(|(t, v)| IdOut { identifier_type: t, identifier_value: v }),
                registration_date: date(registration),
            };
            out.crvs.line(&record)?;
            self.summary.crvs_records += 1;
        }
        let disabled_record = self.chance(self.config.disability_rate);
        if self.chance(self.config.enrolled_rate) {
            self.enrolments(person, dead, disabled_record, out)?;
        }
        if disabled_record {
            self.disability(person, out)?;
        }
        Ok(())
    }

    fn enrolments(&mut self, person: &Person, dead: bool, disabled: bool, out: &mut Writers) -> Result<(), GenError> {
        let mut eligible: Vec<&'static ProgrammeDef> = vec![&CASH_TRANSFER, &FOOD_SUPPORT];
        if person.age < 18 {
            eligible.push(&CHILD_GRANT);
        }
        if person.age >= 60 {
            eligible.push(&OLD_AGE_PENSION);
        }
        if disabled {
            eligible.push(&DISABILITY_GRANT);
        }
        let count = match self.rng.random_range(0..100) {
            0..80 => 1,
            80..95 => 2,
            _ => 3,
        }
        .min(eligible.len());
        let as_of = self.config.as_of;
        let mut active = false;
        for _ in 0..count {
            let programme = eligible.remove(self.rng.random_range(0..eligible.len()));
            let status = if dead && self.chance(0.7) {
                "2"
            } else {
                match self.rng.random_range(0..100) {
                    0..80 => "1",
                    80..90 => "4",
                    _ => "3",
                }
            };
            active |= status == "1";
            let earliest = (as_of - Days::new(3650)).max(person.birth);
            let enrolled_on = self.day_between(earliest, as_of - Days::new(30));
            let benefits = (0..self.rng.random_range(1..=3))
                .map(|_| BenefitOut {
                    benefit_type: programme.benefit_type,
                    benefit_date: date(self.day_between(enrolled_on, as_of - Days::new(1))),
                    benefit_value: format!("USD {}", self.rng.random_range(2..=30) * 5),
                })
                .collect();
            let record = IbrOut {
                assistance_unit: "1",
                member: MemberOut { member_identifier: person.ids_in(1) },
                programme_identifier: vec![ProgrammeOut {
                    programme_name: programme.name,
                    programme_identifier: programme.id,
                    implementing_institution: programme.institution,
                }],
                enrollment_date: date(enrolled_on),
                enrollment_status: status,
                // Halfway to the as-of date, drawn from nothing: the rest of the population stays as it was.
                status_change_date: (status != "1")
                    .then(|| date(enrolled_on + Days::new(((as_of - enrolled_on).num_days() / 2).max(0) as u64))),
                benefits,
            };
            out.ibr.line(&record)?;
            self.summary.ibr_records += 1;
        }
        if count > 0 {
            self.summary.enrolled_persons += 1;
        }
        if active {
            self.summary.actively_enrolled_persons += 1;
        }
        Ok(())
    }

    fn disability(&mut self, person: &Person, out: &mut Writers) -> Result<(), GenError> {
        let disabled = if self.chance(0.5) {
            let mut domains: Vec<&'static str> = WG_DOMAINS.to_vec();
            let count = self.rng.random_range(1..=3);
            let mut disabled = false;
            let disability_info = (0..count)
                .map(|_| {
                    let domain = domains.remove(self.rng.random_range(0..domains.len()));
                    let severity = match self.rng.random_range(0..100) {
                        0..15 => 1,
                        15..50 => 2,
                        50..85 => 3,
                        _ => 4,
                    };
                    disabled |= severity >= 2;
                    LimitationOut { disability_limitation_type: domain, functional_severity: severity.to_string() }
                })
                .collect();
            out.dr.line(&WgOut { member_identifier: person.ids_in(2), disability_info })?;
            disabled
        } else {
            let status = match self.rng.random_range(0..100) {
                0..75 => "0",
                75..87 => "1",
                _ => "2",
            };
            let disability_details = (0..self.rng.random_range(1..=2))
                .map(|_| ImpairmentOut {
                    impairment_type: self.rng.random_range(1..=6).to_string(),
                    impairment_level: self.rng.random_range(1..=4).to_string(),
                })
                .collect();
            let record = PwdOut {
                personal_details: PersonalDetailsOut {
                    member_identifier: person.ids_in(2),
                    name: person.name(),
                    birth_date: date(person.birth),
                    sex: person.sex,
                },
                disability_status: status,
                disability_status_level: self.rng.random_range(1..=4).to_string(),
                disability_details,
            };
            out.dr.line(&record)?;
            status == "0"
        };
        self.summary.dr_records += 1;
        if disabled {
            self.summary.disabled_persons += 1;
        }
        Ok(())
    }
}
