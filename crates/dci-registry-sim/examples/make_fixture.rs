//! Writes the committed fixture: `fixtures/beneficiaries.ndjson`,
//! `fixtures/registries/{crvs,ibr,dr}.ndjson` and `fixtures/README.md`.
//!
//! ```text
//! cargo run -p dci-registry-sim --example make_fixture            # writes <repo>/fixtures
//! cargo run -p dci-registry-sim --example make_fixture -- /tmp/fx # writes elsewhere
//! ```
//!
//! Every household below exists for a case the rules care about; its facts
//! (alive or dead, enrolments, disability) are declared here, written into the
//! registry files and stated in the README's tables. The crate's tests read the
//! README's person table back and check each stated fact against what
//! `dci-protocol` reads from the registry files. Edit this file, not the outputs.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

const AS_OF: (i32, u32, u32) = (2026, 1, 1);

#[derive(Clone, Copy)]
enum Ids {
    Uin,
    NationalId,
    Brn,
    UinBrn,
    Passport,
    Unidentified,
}

#[derive(Clone, Copy)]
enum Crvs {
    Alive,
    Dead(&'static str),
    Absent,
}

/// A DR record and the facts `DisabilityRecord::facts` must give for it.
#[derive(Clone, Copy)]
enum Dr {
    Absent,
    /// Washington Group answers `(domain, severity)`.
    Wg(&'static [(&'static str, u8)], Facts),
    /// PWD: status, support level, impairments `(type, level)`.
    Pwd(&'static str, &'static str, &'static [(&'static str, &'static str)], Facts),
}

/// has_disability, level, types.
#[derive(Clone, Copy)]
struct Facts(bool, u8, &'static [&'static str]);

#[derive(Clone, Copy)]
struct Person {
    given: &'static str,
    surname: &'static str,
    sex: &'static str,
    birth: &'static str,
    relationship: &'static str,
    ids: Ids,
    crvs: Crvs,
    /// `(programme id, status code)`.
    ibr: &'static [(&'static str, &'static str)],
    dr: Dr,
}

#[derive(Clone, Copy)]
enum Poverty {
    Score(f64),
    Missing,
    Text(&'static str),
}

struct Household {
    poverty: Poverty,
    case: &'static str,
    people: Vec<Person>,
}

#[allow(clippy::too_many_arguments)]
fn p(
    given: &'static str,
    surname: &'static str,
    sex: &'static str,
    birth: &'static str,
    relationship: &'static str,
    ids: Ids,
    crvs: Crvs,
    ibr: &'static [(&'static str, &'static str)],
    dr: Dr,
) -> Person {
    Person { given, surname, sex, birth, relationship, ids, crvs, ibr, dr }
}

use Crvs::{Absent, Alive, Dead};
use Ids::{Brn, NationalId, Passport, Uin, UinBrn, Unidentified};

const F: &str = "female";
const M: &str = "male";
const NONE: &[(&str, &str)] = &[];

fn households() -> Vec<Household> {
    let h = |poverty, case, people| Household { poverty, case, people };
    let s = Poverty::Score;
    vec![
        h(
            s(0.82),
            "Alive, 75, in no programme, no disability record, poor; no members",
            vec![p("Amina", "Okafor", F, "1950-03-02", "self", Uin, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.91),
            "Registrant dead (CRVS death_date 2025-06-10), IBR status deceased; spouse alive and enrolled",
            vec![
                p("John", "Mwangi", M, "1945-07-14", "self", Uin, Dead("2025-06-10"), &[("OAP", "2")], Dr::Absent),
                p("Grace", "Mwangi", F, "1948-11-20", "spouse", Uin, Alive, &[("OAP", "1")], Dr::Absent),
            ],
        ),
        h(
            s(0.75),
            "Registrant (67) not in the CRVS: alive unknown",
            vec![
                p("Juma", "Hassan", M, "1958-04-05", "self", Uin, Absent, NONE, Dr::Absent),
                p("Halima", "Hassan", F, "2010-09-12", "child", Uin, Alive, NONE, Dr::Absent),
            ],
        ),
        h(
            s(0.85),
            "Under 60, actively enrolled (CCT), child enrolled in the Child Grant",
            vec![
                p("Mary", "Otieno", F, "1981-02-17", "self", Uin, Alive, &[("CCT", "1")], Dr::Absent),
                p("Peter", "Otieno", M, "1979-08-30", "spouse", Uin, Alive, NONE, Dr::Absent),
                p("Joy", "Otieno", F, "2015-05-01", "child", UinBrn, Alive, &[("CG", "1")], Dr::Absent),
            ],
        ),
        h(
            s(0.65),
            "Turns 60 exactly on the as-of date (born 1966-01-01)",
            vec![p("Samuel", "Banda", M, "1966-01-01", "self", Uin, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.7),
            "Turns 60 the day after the as-of date (59); poverty_score exactly 0.7",
            vec![p("Esther", "Phiri", F, "1966-01-02", "self", Uin, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.55),
            "Disabled (WG mobility 3, vision 2), not enrolled",
            vec![p(
                "Omar",
                "Abdi",
                M,
                "1972-10-10",
                "self",
                Uin,
                Alive,
                NONE,
                Dr::Wg(&[("MOB_SS", 3), ("VIS_SS", 2)], Facts(true, 3, &["VISION", "MOBILITY"])),
            )],
        ),
        h(
            s(0.6),
            "Disabled (WG cognition 4) and actively enrolled in the disability grant",
            vec![p(
                "Ruth",
                "Moyo",
                F,
                "1990-06-21",
                "self",
                Uin,
                Alive,
                &[("DSG", "1")],
                Dr::Wg(&[("COG_SS", 4)], Facts(true, 4, &["COGNITION"])),
            )],
        ),
        h(
            s(0.8),
            "Disability of severity exactly 2 (WG hearing 2)",
            vec![p(
                "Daniel",
                "Nkosi",
                M,
                "1985-12-03",
                "self",
                Uin,
                Alive,
                NONE,
                Dr::Wg(&[("HEAR_SS", 2)], Facts(true, 2, &["HEARING"])),
            )],
        ),
        h(
            s(0.5),
            "DR record with severity 1 answers only: no disability",
            vec![p(
                "Siti",
                "Santoso",
                F,
                "1977-03-14",
                "self",
                Uin,
                Alive,
                NONE,
                Dr::Wg(&[("SC_SS", 1), ("COM_SS", 1)], Facts(false, 1, &[])),
            )],
        ),
        h(
            s(0.77),
            "PWD approved, severe mobility impairment, 65, not enrolled",
            vec![p(
                "Ibrahim",
                "Diallo",
                M,
                "1960-07-07",
                "self",
                Uin,
                Alive,
                NONE,
                Dr::Pwd("0", "2", &[("3", "3")], Facts(true, 3, &["MOBILITY"])),
            )],
        ),
        h(
            s(0.69),
            "PWD registration expired: its extreme impairment does not count",
            vec![p(
                "Lucia",
                "Reyes",
                F,
                "1970-01-25",
                "self",
                Uin,
                Alive,
                NONE,
                Dr::Pwd("2", "1", &[("1", "4")], Facts(false, 0, &[])),
            )],
        ),
        h(
            s(0.3),
            "PWD registration pending: no disability",
            vec![p(
                "Kamau",
                "Kariuki",
                M,
                "1995-09-09",
                "self",
                Uin,
                Alive,
                NONE,
                Dr::Pwd("1", "2", &[("2", "3")], Facts(false, 0, &[])),
            )],
        ),
        h(
            s(0.9),
            "PWD approved, extreme communication + mild vision; only enrolment suspended",
            vec![p(
                "Neema",
                "Keita",
                F,
                "1988-04-18",
                "self",
                Uin,
                Alive,
                &[("DSG", "4")],
                Dr::Pwd("0", "1", &[("1", "1"), ("5", "4")], Facts(true, 4, &["VISION", "COMMUNICATION"])),
            )],
        ),
        h(
            s(0.88),
            "Only enrolment suspended (not enrolled); born 29 February",
            vec![p("Musa", "Traore", M, "1968-02-29", "self", Uin, Alive, &[("CCT", "4")], Dr::Absent)],
        ),
        h(
            s(0.72),
            "Only enrolment graduated (not enrolled)",
            vec![p("Rosa", "Cruz", F, "1975-11-11", "self", Uin, Alive, &[("CCT", "3")], Dr::Absent)],
        ),
        h(
            s(0.9),
            "Three programmes: two active (OAP, FSP), one graduated (CCT)",
            vec![p(
                "Paul",
                "Mensah",
                M,
                "1955-05-05",
                "self",
                Uin,
                Alive,
                &[("OAP", "1"), ("FSP", "1"), ("CCT", "3")],
                Dr::Absent,
            )],
        ),
        h(
            s(0.81),
            "Identified by NATIONAL_ID only, enrolled under it",
            vec![p("Fatima", "Yusuf", F, "1963-08-08", "self", NationalId, Alive, &[("FSP", "1")], Dr::Absent)],
        ),
        h(
            s(0.4),
            "Identified by BRN only (young registrant)",
            vec![p("Baraka", "Otieno", M, "2006-03-03", "self", Brn, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.95),
            "Registrant has only a PASSPORT (no usable identifier; the CRVS knows the passport)",
            vec![p("Maria", "Santos", F, "1958-12-12", "self", Passport, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.3),
            "Registrant without any identifier; spouse disabled (WG vision 3)",
            vec![
                p("Ali", "Mohamed", M, "1950-01-01", "self", Unidentified, Absent, NONE, Dr::Absent),
                p(
                    "Aisha",
                    "Mohamed",
                    F,
                    "1952-06-06",
                    "spouse",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Wg(&[("VIS_SS", 3)], Facts(true, 3, &["VISION"])),
                ),
            ],
        ),
        h(
            Poverty::Missing,
            "poverty_score missing; alive, 66, not enrolled",
            vec![p("Joseph", "Silva", M, "1959-10-10", "self", Uin, Alive, NONE, Dr::Absent)],
        ),
        h(
            Poverty::Text("high"),
            "poverty_score is the string \"high\" (a type error in `poverty_score >= 0.7`)",
            vec![p("Leila", "Wang", F, "1976-07-19", "self", Uin, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.74),
            "Disabled child (WG mobility 3); registrant not disabled",
            vec![
                p("David", "Tesfaye", M, "1983-01-30", "self", Uin, Alive, NONE, Dr::Absent),
                p("Sara", "Tesfaye", F, "1986-05-25", "spouse", Uin, Alive, NONE, Dr::Absent),
                p(
                    "Imani",
                    "Tesfaye",
                    F,
                    "2014-02-14",
                    "child",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Wg(&[("MOB_SS", 3)], Facts(true, 3, &["MOBILITY"])),
                ),
                p("Yusuf", "Tesfaye", M, "2018-08-08", "child", Brn, Alive, NONE, Dr::Absent),
            ],
        ),
        h(
            s(0.68),
            "Spouse disabled (PWD approved, moderate cognition); a parent died in 2024",
            vec![
                p("Kofi", "Dlamini", M, "1965-12-31", "self", Uin, Alive, NONE, Dr::Absent),
                p(
                    "Mercy",
                    "Dlamini",
                    F,
                    "1967-03-03",
                    "spouse",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Pwd("0", "3", &[("4", "2")], Facts(true, 2, &["COGNITION"])),
                ),
                p("Nur", "Dlamini", F, "1935-04-04", "parent", Uin, Dead("2024-12-24"), NONE, Dr::Absent),
            ],
        ),
        h(
            s(0.71),
            "Members in the DR but none disabled (WG severity 1; PWD expired)",
            vec![
                p("Agus", "Wijaya", M, "1974-06-06", "self", Uin, Alive, NONE, Dr::Absent),
                p(
                    "Dewi",
                    "Wijaya",
                    F,
                    "1976-09-09",
                    "spouse",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Wg(&[("VIS_SS", 1)], Facts(false, 1, &[])),
                ),
                p(
                    "Budi",
                    "Wijaya",
                    M,
                    "2004-10-10",
                    "child",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Pwd("2", "1", &[("3", "4")], Facts(false, 0, &[])),
                ),
            ],
        ),
        h(
            s(0.66),
            "A member with only a PASSPORT (unknown disability); the others not in the DR",
            vec![
                p("Tomas", "Garcia", M, "1969-07-20", "self", Uin, Alive, NONE, Dr::Absent),
                p("Ana", "Garcia", F, "1971-01-15", "spouse", Uin, Alive, NONE, Dr::Absent),
                p("Luis", "Lopez", M, "1999-03-30", "other", Passport, Absent, NONE, Dr::Absent),
            ],
        ),
        h(
            s(0.93),
            "Member disabled (WG hearing 2); another member not in the CRVS",
            vec![
                p("Hassan", "Bekele", M, "1957-02-02", "self", Uin, Alive, NONE, Dr::Absent),
                p(
                    "Zawadi",
                    "Bekele",
                    F,
                    "1990-12-12",
                    "child",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Wg(&[("HEAR_SS", 2)], Facts(true, 2, &["HEARING"])),
                ),
                p("Ibrahim", "Bekele", M, "1993-03-03", "child", Uin, Absent, NONE, Dr::Absent),
            ],
        ),
        h(
            s(0.99),
            "Oldest registrant (95), enrolled; spouse dead; grandchild enrolled",
            vec![
                p("Grace", "Achieng", F, "1930-06-15", "self", Uin, Alive, &[("OAP", "1")], Dr::Absent),
                p("Samuel", "Achieng", M, "1931-02-02", "spouse", Uin, Dead("2023-03-03"), NONE, Dr::Absent),
                p("Njeri", "Achieng", F, "2016-07-07", "grandchild", Uin, Alive, &[("CG", "1")], Dr::Absent),
            ],
        ),
        h(
            s(0.99),
            "Registrant with a UIN found in no registry",
            vec![p("Carlos", "Pereira", M, "1996-05-05", "self", Uin, Absent, NONE, Dr::Absent)],
        ),
        h(
            s(0.45),
            "Registrant with two identifiers (UIN and BRN), 61",
            vec![p("Wei", "Chen", M, "1964-11-11", "self", UinBrn, Alive, NONE, Dr::Absent)],
        ),
        h(
            s(0.62),
            "Disabled (WG self-care 3, communication 2) with only a graduated enrolment",
            vec![p(
                "Priya",
                "Kumar",
                F,
                "1980-01-01",
                "self",
                Uin,
                Alive,
                &[("DSG", "3")],
                Dr::Wg(&[("SC_SS", 3), ("COM_SS", 2)], Facts(true, 3, &["SELF_CARE", "COMMUNICATION"])),
            )],
        ),
        h(
            s(0.97),
            "Dead registrant (died 2025-12-31), over 60, disabled (WG mobility 4), IBR status deceased",
            vec![p(
                "Minh",
                "Nguyen",
                M,
                "1940-09-09",
                "self",
                Uin,
                Dead("2025-12-31"),
                &[("OAP", "2")],
                Dr::Wg(&[("MOB_SS", 4)], Facts(true, 4, &["MOBILITY"])),
            )],
        ),
        h(
            s(0.58),
            "Six persons: NATIONAL_ID spouse, enrolled child, disabled child, dead parent, BRN grandchild",
            vec![
                p("Rahul", "Sharma", M, "1961-04-04", "self", Uin, Alive, &[("FSP", "1")], Dr::Absent),
                p("Anjali", "Sharma", F, "1963-05-05", "spouse", NationalId, Alive, NONE, Dr::Absent),
                p("Arjun", "Sharma", M, "2001-06-06", "child", Uin, Alive, &[("CCT", "1")], Dr::Absent),
                p(
                    "Maya",
                    "Sharma",
                    F,
                    "2008-07-07",
                    "child",
                    Uin,
                    Alive,
                    NONE,
                    Dr::Wg(&[("COG_SS", 2), ("VIS_SS", 1)], Facts(true, 2, &["COGNITION"])),
                ),
                p("Lan", "Sharma", F, "1938-08-08", "parent", Uin, Dead("2025-01-01"), NONE, Dr::Absent),
                p("Miguel", "Sharma", M, "2024-02-02", "grandchild", Brn, Alive, NONE, Dr::Absent),
            ],
        ),
        h(
            s(0.2),
            "Young, alive, not poor, in no programme; born 29 February",
            vec![p("Imani", "Moyo", F, "2000-02-29", "self", Uin, Alive, NONE, Dr::Absent)],
        ),
    ]
}

struct Programme {
    id: &'static str,
    name: &'static str,
    institution: &'static str,
    benefit_type: &'static str,
}

const PROGRAMMES: &[Programme] = &[
    Programme { id: "CG", name: "Child Grant", institution: "Ministry of Social Protection", benefit_type: "1" },
    Programme { id: "OAP", name: "Old Age Pension", institution: "National Pension Fund", benefit_type: "1" },
    Programme {
        id: "CCT",
        name: "Conditional Cash Transfer",
        institution: "Ministry of Social Protection",
        benefit_type: "1",
    },
    Programme {
        id: "DSG",
        name: "Disability Support Grant",
        institution: "National Council for Persons with Disabilities",
        benefit_type: "4",
    },
    Programme { id: "FSP", name: "Food Support Programme", institution: "World Food Agency", benefit_type: "2" },
];

fn programme(id: &str) -> &'static Programme {
    PROGRAMMES.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("unknown programme {id}"))
}

fn status_label(code: &str) -> &'static str {
    match code {
        "1" => "active",
        "2" => "deceased",
        "3" => "graduated",
        "4" => "suspended",
        other => panic!("unknown status {other}"),
    }
}

/// `(type, value)` identifiers of person `k` (0 = registrant) of household `n`.
fn identifiers(ids: Ids, n: usize, k: usize, birth: &str) -> Vec<(&'static str, String)> {
    let uin = || ("UIN", format!("8{n:04}{k:04}"));
    let brn = || ("BRN", format!("BRN-{}-{n:04}{k}", &birth[..4]));
    match ids {
        Uin => vec![uin()],
        NationalId => vec![("NATIONAL_ID", format!("NID-{n:04}-{k}"))],
        Brn => vec![brn()],
        UinBrn => vec![uin(), brn()],
        Passport => vec![("PASSPORT", format!("P{n:04}{k}X"))],
        Unidentified => vec![],
    }
}

fn age(birth: &str, as_of: NaiveDate) -> i32 {
    let birth = NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap_or_else(|_| panic!("bad date {birth}"));
    let mut years = as_of.year() - birth.year();
    if (as_of.month(), as_of.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// Three-valued (plus error) logic of the seed rules, as CEL's commutative `&&` applies it.
#[derive(Clone, Copy, PartialEq)]
enum V {
    T,
    F,
    U,
    E,
}

fn and(values: &[V]) -> V {
    if values.contains(&V::F) {
        V::F
    } else if values.contains(&V::E) {
        V::E
    } else if values.contains(&V::U) {
        V::U
    } else {
        V::T
    }
}

fn exists(values: &[V]) -> V {
    if values.contains(&V::T) {
        V::T
    } else if values.contains(&V::E) {
        V::E
    } else if values.contains(&V::U) {
        V::U
    } else {
        V::F
    }
}

fn bool_v(b: bool) -> V {
    if b { V::T } else { V::F }
}

fn outcome(v: V) -> &'static str {
    match v {
        V::T => "eligible",
        V::F => "ineligible",
        V::U => "undetermined",
        V::E => "error",
    }
}

fn usable(ids: Ids) -> bool {
    !matches!(ids, Passport | Unidentified)
}

fn has_disability(person: &Person) -> V {
    if !usable(person.ids) {
        return V::U;
    }
    match person.dr {
        Dr::Absent => V::F,
        Dr::Wg(_, facts) | Dr::Pwd(_, _, _, facts) => bool_v(facts.0),
    }
}

fn disability_level(person: &Person) -> Option<u8> {
    if !usable(person.ids) {
        return None;
    }
    Some(match person.dr {
        Dr::Absent => 0,
        Dr::Wg(_, facts) | Dr::Pwd(_, _, _, facts) => facts.1,
    })
}

fn active_programmes(person: &Person) -> Vec<&'static str> {
    person.ibr.iter().filter(|(_, status)| *status == "1").map(|(id, _)| programme(id).name).collect()
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"));
    let as_of = NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).expect("as-of date");
    let households = households();

    let mut beneficiaries = String::new();
    let mut crvs = String::new();
    let mut ibr = String::new();
    let mut dr = String::new();
    let mut household_rows = String::new();
    let mut person_rows = String::new();

    for (index, household) in households.iter().enumerate() {
        let n = index + 1;
        let household_id = format!("HH-{n:04}");
        let registrant = &household.people[0];
        assert_eq!(registrant.relationship, "self");
        let mut members = Vec::new();
        for (k, person) in household.people.iter().enumerate() {
            let person_id = if k == 0 { household_id.clone() } else { format!("{household_id}-M{k}") };
            let ids = identifiers(person.ids, n, k, person.birth);
            let id_json: Vec<Value> = ids.iter().map(|(t, v)| json!({"type": t, "value": v})).collect();
            let record_ids: Vec<Value> =
                ids.iter().map(|(t, v)| json!({"identifier_type": t, "identifier_value": v})).collect();
            if k > 0 {
                members.push(json!({
                    "id": person_id, "identifiers": id_json, "name": format!("{} {}", person.given, person.surname),
                    "birthdate": person.birth, "sex": person.sex, "relationship": person.relationship,
                }));
            }
            // CRVS
            if !matches!(person.crvs, Absent) {
                assert!(!ids.is_empty(), "{person_id}: a CRVS record needs an identifier");
                let mut record = json!({
                    "identifier": record_ids, "name": {"given_name": person.given, "surname": person.surname},
                    "sex": person.sex, "birth_date": person.birth, "birth_place": {"name": "Kisumu"},
                    "registration_date": format!("{}-12-31", &person.birth[..4]),
                });
                if let Dead(day) = person.crvs {
                    record["death_date"] = json!(day);
                }
                if person.relationship == "child"
                    && let Some((t, v)) = identifiers(registrant.ids, n, 0, registrant.birth).first()
                {
                    record["parent1_identifier"] = json!({"identifier_type": t, "identifier_value": v});
                }
                crvs += &(record.to_string() + "\n");
            }
            // IBR: one record per programme
            for (programme_id, status) in person.ibr {
                let programme = programme(programme_id);
                let record = json!({
                    "assistance_unit": "1",
                    "member": {"member_identifier": record_ids},
                    "programme_identifier": [{"programme_name": programme.name, "programme_identifier": programme.id,
                                              "implementing_institution": programme.institution}],
                    "enrollment_date": "2023-03-01", "enrollment_status": status,
                    "benefits": [{"benefit_type": programme.benefit_type, "benefit_date": "2025-11-01", "benefit_value": "USD 40"},
                                 {"benefit_type": programme.benefit_type, "benefit_date": "2025-12-01", "benefit_value": "USD 40"}],
                });
                // An enrolment that ended says when, as the IBR samples do (`graduation_date`,
                // `suspension_date`, `status_change_date`), so that it reads at any as-of date.
                let mut record = record;
                match *status {
                    "2" => {
                        record["status_change_date"] = json!(match person.crvs {
                            Dead(day) => day,
                            _ => "2025-06-01",
                        })
                    }
                    "3" => record["graduation_date"] = json!("2025-03-31"),
                    "4" => record["suspension_date"] = json!("2025-09-30"),
                    _ => {}
                }
                ibr += &(record.to_string() + "\n");
            }
            // DR
            match person.dr {
                Dr::Absent => {}
                Dr::Wg(answers, _) => {
                    let info: Vec<Value> = answers
                        .iter()
                        .map(|(t, s)| json!({"disability_limitation_type": t, "functional_severity": s.to_string()}))
                        .collect();
                    dr += &(json!({"member_identifier": record_ids, "disability_info": info}).to_string() + "\n");
                }
                Dr::Pwd(status, level, details, _) => {
                    let details: Vec<Value> =
                        details.iter().map(|(t, l)| json!({"impairment_type": t, "impairment_level": l})).collect();
                    let record = json!({
                        "personal_details": {"member_identifier": record_ids,
                                             "name": {"given_name": person.given, "surname": person.surname},
                                             "birth_date": person.birth, "sex": person.sex},
                        "disability_status": status, "disability_status_level": level, "disability_details": details,
                    });
                    dr += &(record.to_string() + "\n");
                }
            }
            // the person table
            let id_text = if ids.is_empty() {
                "—".to_owned()
            } else {
                ids.iter().map(|(t, v)| format!("{t} {v}")).collect::<Vec<_>>().join(", ")
            };
            let crvs_text = match person.crvs {
                Alive => "alive".to_owned(),
                Dead(day) => format!("dead {day}"),
                Absent => "absent".to_owned(),
            };
            let others: Vec<String> = person
                .ibr
                .iter()
                .filter(|(_, s)| *s != "1")
                .map(|(id, s)| format!("{id} {}", status_label(s)))
                .collect();
            let (dr_has, dr_level, dr_types) = match person.dr {
                Dr::Absent => ("absent".to_owned(), "—".to_owned(), "—".to_owned()),
                Dr::Wg(_, Facts(has, level, types)) | Dr::Pwd(_, _, _, Facts(has, level, types)) => {
                    let shape = if matches!(person.dr, Dr::Wg(..)) { "WG" } else { "PWD" };
                    (
                        format!("{shape} {has}"),
                        level.to_string(),
                        if types.is_empty() { "—".to_owned() } else { types.join(" ") },
                    )
                }
            };
            let ibr_text = |list: &[String]| if list.is_empty() { "—".to_owned() } else { list.join(", ") };
            let active_ids: Vec<String> = person
                .ibr
                .iter()
                .filter(|(_, s)| *s == "1")
                .map(|(id, _)| format!("{id} ({})", programme(id).name))
                .collect();
            writeln!(
                person_rows,
                "| {person_id} | {} | {} | {id_text} | {} | {} | {} | {crvs_text} | {} | {} | {dr_has} | {dr_level} | {dr_types} |",
                person.relationship,
                format_args!("{} {}", person.given, person.surname),
                person.birth,
                age(person.birth, as_of),
                person.sex,
                ibr_text(&active_ids),
                ibr_text(&others),
            )
            .expect("write");
        }
        let poverty = match household.poverty {
            Poverty::Score(score) => json!(score),
            Poverty::Missing => Value::Null,
            Poverty::Text(text) => json!(text),
        };
        let mut line = json!({
            "id": household_id,
            "identifiers": identifiers(registrant.ids, n, 0, registrant.birth).iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
            "name": format!("{} {}", registrant.given, registrant.surname),
            "birthdate": registrant.birth, "sex": registrant.sex, "members": members,
        });
        if !poverty.is_null() {
            line["poverty_score"] = poverty.clone();
        }
        beneficiaries += &(line.to_string() + "\n");

        // expected outcomes of the four seed rules
        let r = registrant;
        let is_enrolled = if usable(r.ids) { bool_v(!active_programmes(r).is_empty()) } else { V::U };
        let level_ge_3 = disability_level(r).map(|l| bool_v(l >= 3)).unwrap_or(V::U);
        let rule1 =
            and(&[has_disability(r), level_ge_3, if is_enrolled == V::U { V::U } else { bool_v(is_enrolled == V::F) }]);
        let alive = match (usable(r.ids), r.crvs) {
            (false, _) | (true, Absent) => V::U,
            (true, Alive) => V::T,
            (true, Dead(_)) => V::F,
        };
        let rule2 = and(&[alive, bool_v(age(r.birth, as_of) >= 60)]);
        let poverty_ok = match household.poverty {
            Poverty::Score(score) => bool_v(score >= 0.7),
            Poverty::Missing => V::U,
            Poverty::Text(_) => V::E,
        };
        let no_programme = if usable(r.ids) { bool_v(active_programmes(r).is_empty()) } else { V::U };
        let rule3 = and(&[poverty_ok, no_programme]);
        let rule4 = exists(&household.people[1..].iter().map(has_disability).collect::<Vec<_>>());
        let poverty_text = match household.poverty {
            Poverty::Score(score) => format!("{score}"),
            Poverty::Missing => "missing".into(),
            Poverty::Text(text) => format!("\"{text}\""),
        };
        writeln!(
            household_rows,
            "| {household_id} | {} | {} | {poverty_text} | {} | {} | {} | {} | {} |",
            household.people.len(),
            age(r.birth, as_of),
            household.case,
            outcome(rule1),
            outcome(rule2),
            outcome(rule3),
            outcome(rule4),
        )
        .expect("write");
    }

    let registries = root.join("registries");
    std::fs::create_dir_all(&registries).expect("create fixtures/registries");
    std::fs::write(root.join("beneficiaries.ndjson"), beneficiaries).expect("write beneficiaries");
    std::fs::write(registries.join("crvs.ndjson"), crvs).expect("write crvs");
    std::fs::write(registries.join("ibr.ndjson"), ibr).expect("write ibr");
    std::fs::write(registries.join("dr.ndjson"), dr).expect("write dr");
    let readme =
        README.replace("{{HOUSEHOLDS}}", household_rows.trim_end()).replace("{{PERSONS}}", person_rows.trim_end());
    std::fs::write(root.join("README.md"), readme).expect("write README");
    println!("wrote the fixture into {}", root.display());
}

const README: &str = r#"# Fixtures

Small, hand-readable data for tests, the demo and examples. **As-of date: 2026-01-01** (ages and
"turns 60" below are counted to it).

* `beneficiaries.ndjson`: 35 households, one per line (`id`, `identifiers` `[{type, value}]`, `name`,
  `birthdate`, `sex`, `poverty_score`, `members[]`; members have `relationship` and no members).
  Every household gives `members`, `[]` when it has none: a household without `members` (or with
  `"members": null`) is unknown, and a rule that reads `members` is undetermined (`missing_field`).
* `registries/crvs.ndjson`, `registries/ibr.ndjson`, `registries/dr.ndjson`: the records the
  registry simulator (`crates/dci-registry-sim`) serves, in the newest DCI form: CRVS `Person`;
  IBR `Beneficiary`, one record per person and programme; DR records in both shapes (Washington
  Group `disability_info[]`, marked WG; `PWD_Person` with `personal_details`, marked PWD).

These files are **generated** by `crates/dci-registry-sim/examples/make_fixture.rs`
(`cargo run -p dci-registry-sim --example make_fixture`): edit the script, not the files. The
registry simulator's tests read the person table below back and check every stated fact against
what `dci-protocol` reads from the registry files (`CrvsPerson::is_alive`,
`IbrBeneficiary::enrolments`, `DisabilityRecord::facts`).

Conventions: identifiers are `UIN 8nnnnkkkk` (household `nnnn`, person `kkkk`, 0 = registrant),
`NATIONAL_ID NID-nnnn-k`, `BRN BRN-<birth year>-nnnnk`, `PASSPORT PnnnnkX`. A person's registry
records carry exactly the beneficiary's identifiers, and the CRVS `birth_date` equals the
beneficiary's `birthdate`. `PASSPORT` is not a usable identifier type (the default priority is
`UIN, DRN, NATIONAL_ID, NID, BRN`). Programmes: `CG` Child Grant, `OAP` Old Age Pension, `CCT`
Conditional Cash Transfer, `DSG` Disability Support Grant, `FSP` Food Support Programme.

## Households

Expected outcomes of the four seed rules for the **registrant** (rule 4: over the members), as
the project's metric catalog defines them (absent from a registry: `is_alive` unknown, `has_disability`
false, `disability_level` 0, `is_enrolled` false, `program_count` 0; no usable identifier: every
metric unknown; CEL's commutative `&&`, so `false && unknown` is `false`):

1. `dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false`
2. `dci.crvs.is_alive == true and age_years(r.birthdate) >= 60`
3. `poverty_score >= 0.7 and dci.ibr.program_count == 0`
4. `members.exists(m, m.dci.dr.has_disability == true)`

| Household | Persons | Registrant age | poverty_score | Intended case | Rule 1 | Rule 2 | Rule 3 | Rule 4 |
|---|---|---|---|---|---|---|---|---|
{{HOUSEHOLDS}}

## Persons

`CRVS`: `alive`, `dead <death_date>` or `absent`. `IBR active`: programmes with an active enrolment
(`dci.ibr.programmes`; their number is `dci.ibr.program_count`); `IBR other`: enrolments in another
status (not counted). `DR`: `absent`, or the record's shape and `has_disability`; `Level` is
`dci.dr.disability_level` (0–4) and `Types` `dci.dr.disability_types`.

| Person | Relationship | Name | Identifiers | Birthdate | Age | Sex | CRVS | IBR active | IBR other | DR | Level | Types |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{{PERSONS}}
"#;
