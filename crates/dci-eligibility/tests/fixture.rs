//! The seed's four rules over the committed fixture, through the real
//! clients and the registry simulator over loopback HTTP.

use dci_client::Profile;
use dci_eligibility::io::parse_line;
use dci_eligibility::{
    BatchResult, Beneficiary, BeneficiaryError, Engine, EngineConfig, EvaluationOptions, ItemResult, Outcome, Rule,
};
use dci_metrics::{StoreConfig, UnknownCause};
use dci_registry_sim::{FaultConfig, Misbehaviour, RegistryKind, SimConfig, Simulator, fixture_beneficiaries};
use proptest::strategy::Strategy;

const RULES: [&str; 4] = [
    "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
    "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
    "poverty_score >= 0.7 and dci.ibr.program_count == 0",
    "members.exists(m, m.dci.dr.has_disability == true)",
];

use Outcome::{Eligible as E, Error as X, Ineligible as I, Undetermined as U};

/// Expected outcomes of rules 1–4 per household (fixtures/README.md lists each person's registry facts), as of 2026-01-01.
/// Why, briefly (DR = disability registry; "not in" a registry gives is_enrolled false, program_count 0,
/// has_disability false, and is_alive *unknown*):
const EXPECTED: [(&str, [Outcome; 4], &str); 35] = [
    ("HH-0001", [I, E, E, I], "no DR record → not disabled; alive, 75; poor 0.82, in no programme; no members"),
    (
        "HH-0002",
        [I, I, E, I],
        "dead (death_date) → not alive; poor 0.91 and the only enrolment has status deceased → 0 active",
    ),
    ("HH-0003", [I, U, E, I], "not in the CRVS → is_alive unknown, age 67 true → undetermined; poor, not enrolled"),
    ("HH-0004", [I, I, I, I], "44 → too young; actively enrolled (CCT) → program_count 1"),
    ("HH-0005", [I, E, I, I], "born 1966-01-01: exactly 60 on the as-of date; poverty 0.65 < 0.7"),
    ("HH-0006", [I, I, E, I], "born 1966-01-02: still 59; poverty exactly 0.7 ≥ 0.7 and not enrolled"),
    ("HH-0007", [E, I, I, I], "WG mobility 3 → disabled, level 3, not enrolled → rule 1; poverty 0.55"),
    ("HH-0008", [I, I, I, I], "WG cognition 4 but actively enrolled (DSG) → rule 1 false; poverty 0.6"),
    ("HH-0009", [I, I, E, I], "WG hearing 2 → disabled but level 2 < 3; poor 0.8, not enrolled"),
    ("HH-0010", [I, I, I, I], "DR record with severity 1 only → not disabled; poverty 0.5"),
    ("HH-0011", [E, E, E, I], "PWD approved, severe mobility → level 3; not enrolled; alive, 65; poor 0.77"),
    ("HH-0012", [I, I, I, I], "PWD expired → its impairment does not count; poverty 0.69"),
    ("HH-0013", [I, I, I, I], "PWD pending → not disabled; poverty 0.3"),
    ("HH-0014", [E, I, E, I], "PWD approved, extreme → level 4; DSG suspended → not enrolled; poor 0.9"),
    ("HH-0015", [I, I, E, I], "only enrolment suspended → 0 active; poor 0.88; 57"),
    ("HH-0016", [I, I, E, I], "only enrolment graduated → 0 active; poor 0.72"),
    ("HH-0017", [I, E, I, I], "alive, 70; two active programmes → program_count 2"),
    ("HH-0018", [I, E, I, I], "found by NATIONAL_ID (in the priority list); alive, 62; enrolled (FSP)"),
    ("HH-0019", [I, I, I, I], "found by BRN; 19; poverty 0.4"),
    (
        "HH-0020",
        [U, U, U, I],
        "only a PASSPORT: no usable identifier → every dci value unknown; poor 0.95 true && unknown",
    ),
    (
        "HH-0021",
        [U, U, I, E],
        "registrant has no identifier → unknown; poverty 0.3 false → rule 3 false; spouse WG vision 3",
    ),
    ("HH-0022", [I, E, U, I], "poverty_score missing → undetermined (missing_field); alive, 66"),
    ("HH-0023", [I, I, X, I], "poverty_score is the string \"high\" → `>=` on a string is an error"),
    ("HH-0024", [I, I, E, E], "registrant not disabled; poor 0.74, not enrolled; a child WG mobility 3"),
    ("HH-0025", [I, E, I, E], "born 1965-12-31: 60; poverty 0.68; spouse PWD approved (moderate → level 2, disabled)"),
    ("HH-0026", [I, I, E, I], "members in the DR but none disabled (WG severity 1; PWD expired); poor 0.71"),
    (
        "HH-0027",
        [I, I, I, U],
        "a member with only a PASSPORT → unknown; the others not disabled → exists gives unknown",
    ),
    ("HH-0028", [I, E, E, E], "alive, 68; poor 0.93; a child WG hearing 2 → has_disability true"),
    ("HH-0029", [I, E, I, I], "95 and alive; enrolled (OAP); no disabled member"),
    (
        "HH-0030",
        [I, I, E, I],
        "a UIN in no registry: not disabled, is_alive unknown but age 29 false; poor, not enrolled",
    ),
    ("HH-0031", [I, E, I, I], "UIN preferred over BRN; alive, 61; poverty 0.45"),
    ("HH-0032", [E, I, I, I], "WG self-care 3 → level 3; DSG graduated → not enrolled; poverty 0.62"),
    (
        "HH-0033",
        [E, I, E, I],
        "disability rules do not look at death: WG mobility 4, status deceased → 0 active; dead → not alive",
    ),
    ("HH-0034", [I, E, I, E], "alive, 64; enrolled (FSP); a child WG cognition 2 → disabled member"),
    ("HH-0035", [I, I, I, I], "25; poverty 0.2; born 29 February"),
];

fn beneficiaries() -> Vec<Result<Beneficiary, BeneficiaryError>> {
    let text = std::fs::read_to_string(fixture_beneficiaries()).expect("fixture");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(&dci_eligibility::io::Line::Text(i + 1, l.to_owned())))
        .collect()
}

fn engine(sim: &Simulator) -> Engine {
    engine_speaking(sim, Profile::Spdci)
}

/// An engine whose registries speak `profile`, verifying every answer's signature.
fn engine_speaking(sim: &Simulator, profile: Profile) -> Engine {
    let mut sources = dci_bench::simulator_sources(sim);
    for source in &mut sources {
        source.verify_responses = true;
        source.profile = profile;
        // The fixture's people hold the specification's identifier types.
        source.id_type_priority = Profile::Spdci.id_types().iter().map(|id| (*id).to_owned()).collect();
        source.retry.max_attempts = 1;
        source.timeouts.request_ms = 500;
    }
    let cache = StoreConfig::default();
    Engine::from_config(&EngineConfig { registries: sources, cache, ..Default::default() }).expect("engine")
}

/// The four seed rules, compiled as `rule1` … `rule4`.
fn seed_rules(engine: &Engine) -> Vec<Rule> {
    RULES
        .iter()
        .enumerate()
        .map(|(i, r)| engine.compiler().compile(&format!("rule{}", i + 1), r).expect("compiles"))
        .collect()
}

fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
}

/// Households whose outcomes are not the expected ones, in words.
fn wrong_outcomes(result: &dci_eligibility::BatchResult) -> Vec<String> {
    assert_eq!(result.items.len(), EXPECTED.len());
    let mut wrong = Vec::new();
    for (item, (id, expected, why)) in result.items.iter().zip(EXPECTED) {
        let ItemResult::Decided { id: actual_id, decisions } = item else { panic!("{id} is invalid") };
        assert_eq!(actual_id, id);
        let actual: Vec<Outcome> = decisions.iter().map(|d| d.outcome).collect();
        if actual != expected {
            wrong.push(format!("{id}: expected {expected:?}, got {actual:?} ({why})"));
        }
    }
    wrong
}

/// Registries speaking OpenCRVS's, OpenG2P's and OpenSPP's dialects, their
/// answers signed (compact RS256 JWS, detached RS256 JWS, Ed25519) and
/// verified, decide every household as the expected outcomes say.
#[tokio::test]
async fn registries_of_every_dialect_decide_as_expected() {
    for profile in [Profile::Opencrvs, Profile::Openg2p, Profile::Openspp] {
        let sim = Simulator::start(SimConfig::default().with_profile(profile)).await.expect("simulator");
        let engine = engine_speaking(&sim, profile);
        let rules = seed_rules(&engine);
        let result = engine.evaluate_batch(&rules, beneficiaries(), &EvaluationOptions::new(as_of())).await;
        let wrong = wrong_outcomes(&result);
        assert!(wrong.is_empty(), "{profile}:\n{}", wrong.join("\n"));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_seed_rules_decide_every_fixture_household_as_expected() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let engine = engine(&sim);
    let rules = seed_rules(&engine);
    let result = engine.evaluate_batch(&rules, beneficiaries(), &EvaluationOptions::new(as_of())).await;
    let wrong = wrong_outcomes(&result);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Reasons are given: the undetermined list what is missing and why, the error names the field.
    let decisions =
        |id: &str| match result.items.iter().find(|i| matches!(i, ItemResult::Decided { id: x, .. } if x == id)) {
            Some(ItemResult::Decided { decisions, .. }) => decisions.clone(),
            _ => panic!("{id}"),
        };
    let missing = |id: &str, rule: usize| {
        decisions(id)[rule].missing.iter().map(|m| format!("{}:{}", m.name, m.cause)).collect::<Vec<_>>()
    };
    assert_eq!(missing("HH-0003", 1), ["dci.crvs.is_alive:not_found"]);
    assert_eq!(
        missing("HH-0020", 0),
        [
            "dci.dr.has_disability:no_identifier",
            "dci.dr.disability_level:no_identifier",
            "dci.ibr.is_enrolled:no_identifier"
        ]
    );
    assert_eq!(missing("HH-0022", 2), ["poverty_score:missing_field"]);
    assert_eq!(missing("HH-0027", 3), ["members[1].dci.dr.has_disability:no_identifier"], "HH-0027-M2 is members[1]");
    assert!(decisions("HH-0023")[2].error.as_deref().unwrap_or_default().contains("poverty_score is a string"));
    sim.shutdown().await;
}

/// A second run over the same households, facts cached, decides exactly as the
/// first (outcomes, missing values and errors) and asks no registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_runs_decide_as_cold_runs() {
    {
        let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
        let engine = engine(&sim);
        let rules = seed_rules(&engine);
        let cold = engine.evaluate_batch(&rules, beneficiaries(), &EvaluationOptions::new(as_of())).await;
        let asked = sim.stats();
        assert!(asked.crvs.items + asked.ibr.items + asked.dr.items > 0, "the cold run asks");
        for (item, (id, expected, why)) in cold.items.iter().zip(EXPECTED) {
            let ItemResult::Decided { decisions, .. } = item else { panic!("{id} is invalid") };
            let actual: Vec<Outcome> = decisions.iter().map(|d| d.outcome).collect();
            assert_eq!(actual, expected, "{id} ({why})");
        }
        let warm = engine.evaluate_batch(&rules, beneficiaries(), &EvaluationOptions::new(as_of())).await;
        assert_eq!(warm.items, cold.items, "same decisions and reasons");
        let again = sim.stats();
        assert_eq!(
            (again.crvs.items, again.ibr.items, again.dr.items),
            (asked.crvs.items, asked.ibr.items, asked.dr.items),
            "the warm run asks no registry"
        );
        let hits: usize = warm.stats.registries.iter().map(|r| r.fetch.cache_hits).sum();
        let fetched: usize = warm.stats.registries.iter().map(|r| r.fetch.fetched).sum();
        assert!(hits > 0 && fetched == 0, "{hits} cache hits, {fetched} fetched");
        sim.shutdown().await;
    }
}

/// `poverty_score >= 0.7 and dci.ibr.program_count == 0`: the IBR is asked only
/// about people whose poverty score does not already rule them out: those
/// scoring ≥ 0.7, and those whose score is missing or not a number (for them
/// an active enrolment still decides: `unknown && false` is `false`). Nobody
/// scoring below 0.7 is asked.
#[tokio::test]
async fn the_ibr_is_asked_only_about_the_poor() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let engine = engine(&sim);
    let rule = engine.compiler().compile("poor", RULES[2]).expect("compiles");
    let items = beneficiaries();
    let poor_with_identifier = items
        .iter()
        .filter_map(|b| b.as_ref().ok())
        .filter(|b| b.field_value("poverty_score").and_then(|v| v.as_f64()).is_none_or(|score| score >= 0.7))
        .filter(|b| {
            engine
                .store()
                .choose_identifier(engine.compiler().catalog().registry_index("ibr").expect("ibr"), &b.identifiers)
                .is_some()
        })
        .count();
    engine.evaluate_batch(&[rule], items, &EvaluationOptions::new(as_of())).await;
    let stats = sim.stats();
    assert!(poor_with_identifier > 10);
    assert_eq!(stats.ibr.items as usize, poor_with_identifier);
    assert_eq!(stats.crvs.items + stats.dr.items, 0, "no other registry is asked");
    sim.shutdown().await;
}

/// A registry outage makes the decisions that depend on it undetermined, with the cause; never ineligible.
#[tokio::test]
async fn a_registry_outage_gives_undetermined_with_its_cause() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    sim.set_faults(RegistryKind::Ibr, FaultConfig { error_503_rate: 1.0, ..Default::default() });
    let engine = engine(&sim);
    let rule = engine.compiler().compile("poor", RULES[2]).expect("compiles");
    let result = engine.evaluate_batch(&[rule], beneficiaries(), &EvaluationOptions::new(as_of())).await;
    for (item, (id, expected, _)) in result.items.iter().zip(EXPECTED) {
        let ItemResult::Decided { decisions, .. } = item else { panic!() };
        let decision = &decisions[0];
        match expected[2] {
            // decided by poverty alone, or by the data's own error/absence: unchanged
            Outcome::Ineligible if decision.outcome == Outcome::Ineligible => {}
            X | U if decision.outcome == expected[2] => {}
            _ => {
                assert_eq!(decision.outcome, Outcome::Undetermined, "{id}");
                assert!(
                    decision.missing.iter().all(|m| m.name == "dci.ibr.program_count"),
                    "{id}: {:?}",
                    decision.missing
                );
                assert!(
                    decision.missing.iter().all(|m| matches!(
                        m.cause,
                        dci_metrics::UnknownCause::RegistryError | dci_metrics::UnknownCause::RegistryUnavailable
                    )),
                    "{id}"
                );
            }
        }
        assert_ne!(
            (expected[2], decision.outcome),
            (Outcome::Eligible, Outcome::Ineligible),
            "{id}: an outage never makes anyone ineligible"
        );
    }
    sim.shutdown().await;
}

fn outcomes(result: &dci_eligibility::BatchResult) -> Vec<Vec<Outcome>> {
    result
        .items
        .iter()
        .map(|item| match item {
            ItemResult::Decided { decisions, .. } => decisions.iter().map(|d| d.outcome).collect(),
            ItemResult::Invalid { error } => panic!("invalid: {error}"),
        })
        .collect()
}

/// Every way the simulator can lie in its answers (not in its transport).
fn lies() -> Vec<dci_registry_sim::Misbehaviour> {
    use dci_registry_sim::Misbehaviour::*;
    vec![
        ForeignRecords,
        SwappedReferences,
        DuplicateReferences,
        PendingItems,
        ReceivedItems,
        UnknownStatus,
        NullStatus,
        NullData,
        MissingData,
        MalformedRecord,
        HugeBody { bytes: 20_000_000 },
        RedirectSearch { location: "http://127.0.0.1:9/elsewhere".into() },
        RedirectToken { location: "http://127.0.0.1:9/elsewhere".into() },
        HugeTokenLifetime,
    ]
    .into_iter()
    .chain(answer_shapes())
    .collect()
}

/// The answer shapes the spec allows or real registries produce: pages,
/// values outside the code tables, keys given twice, deep records, token
/// lifetimes and error bodies of every kind.
fn answer_shapes() -> Vec<dci_registry_sim::Misbehaviour> {
    use dci_registry_sim::Misbehaviour::*;
    use serde_json::json;
    let mut shapes = vec![
        PagedAnswers { page_size: 1, blank_total: false },
        PagedAnswers { page_size: 1, blank_total: true },
        PagedAnswers { page_size: 2, blank_total: false },
        DeepRecord { depth: 200, value: None },
        DeepRecord { depth: 200, value: Some("800070000".into()) },
        SlowIdentifier { value: "800070000".into(), delay_ms: 1_500 },
        DataAnswer { status: 403, body: r#"{"detail": "Not authenticated"}"#.into(), retry_after: None },
        DataAnswer {
            status: 200,
            body: r#"{"message": {"ack_status": "ERR", "error": {"code": "err.sys", "message": "down"}}}"#.into(),
            retry_after: None,
        },
        DataAnswer { status: 503, body: String::new(), retry_after: Some("999999999".into()) },
        DataAnswer { status: 503, body: String::new(), retry_after: Some("Fri, 31 Dec 2100 23:59:59 GMT".into()) },
        TokenAnswer {
            status: 200,
            body: r#"{"error": "invalid_client", "error_description": "Client authentication failed"}"#.into(),
        },
    ];
    // `5` is in CD.IBR.02 (inactive): a registry writing it says "not enrolled", so it is no lie.
    for value in [json!("approved"), json!("paused"), json!("0"), json!(""), json!(" "), json!(null), json!(0)] {
        shapes.push(FieldValue { field: "enrollment_status".into(), value });
    }
    for (field, value) in [
        ("functional_severity", json!("9")),
        ("functional_severity", json!("")),
        ("disability_limitation_type", json!("WALKING")),
        ("impairment_type", json!("9")),
        ("impairment_level", json!("extreme")),
        ("disability_status", json!("in review")),
        ("death_date", json!("sometime")),
        ("birth_date", json!("2020-02-30")),
    ] {
        shapes.push(FieldValue { field: field.into(), value });
    }
    for (field, first) in [
        ("death_date", json!(null)),
        ("enrollment_status", json!("1")),
        ("functional_severity", json!("1")),
        ("disability_status", json!("1")),
    ] {
        shapes.push(DuplicateKey { field: field.into(), first });
    }
    for expires_in in [json!(-100), json!("-5"), json!(3599.5), json!("1h"), json!(0)] {
        shapes.push(TokenLifetime { expires_in });
    }
    shapes
}

/// Decides the seed rules honestly, then with `lie` at `kind`, then honestly
/// again with the engine that heard the lie. Asserts that each decision told
/// is the honest one or `undetermined`, and that nothing the lie said was
/// cached (the last run decides as the honest one).
async fn decide_through(kind: RegistryKind, lie: &Misbehaviour) -> (BatchResult, BatchResult) {
    let (honest, told, _) = decide_through_counting(kind, lie).await;
    (honest, told)
}

/// [`decide_through`], also giving the messages `kind` got in the honest run
/// and in the run lied to.
async fn decide_through_counting(kind: RegistryKind, lie: &Misbehaviour) -> (BatchResult, BatchResult, [u64; 2]) {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let options = EvaluationOptions::new(as_of());
    let honest_engine = engine(&sim);
    let rules = seed_rules(&honest_engine);
    let honest = honest_engine.evaluate_batch(&rules, beneficiaries(), &options).await;
    let honest_messages = sim.stats().registry(kind).messages;

    sim.set_faults(kind, FaultConfig { misbehaviour: Some(lie.clone()), ..FaultConfig::default() });
    let engine = engine(&sim);
    let told = engine.evaluate_batch(&rules, beneficiaries(), &options).await;
    let told_messages = sim.stats().registry(kind).messages - honest_messages;
    for (household, (said, truth)) in outcomes(&told).iter().zip(&outcomes(&honest)).enumerate() {
        for (rule, (said, truth)) in said.iter().zip(truth).enumerate() {
            assert!(
                said == truth || *said == Outcome::Undetermined,
                "{lie:?} at {kind:?}: household {household}, rule {}: {said:?} instead of {truth:?}",
                rule + 1
            );
        }
    }
    sim.set_faults(kind, FaultConfig::default());
    let afterwards = engine.evaluate_batch(&rules, beneficiaries(), &options).await;
    // Nothing unusable it said was cached; a record without a date it needs is what the
    // record says (`undated`), and is cached like any other answer.
    for (item, (now, truth)) in afterwards.items.iter().zip(outcomes(&afterwards).iter().zip(outcomes(&honest))) {
        let ItemResult::Decided { id, decisions } = item else { continue };
        for (decision, (now, truth)) in decisions.iter().zip(now.iter().zip(&truth)) {
            let undated =
                !decision.missing.is_empty() && decision.missing.iter().all(|m| m.cause == UnknownCause::Undated);
            assert!(
                now == truth || undated,
                "{lie:?} at {kind:?}: {id}: {now:?} instead of {truth:?}: nothing it said was cached"
            );
        }
    }
    sim.shutdown().await;
    (honest, told, [honest_messages, told_messages])
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

const KINDS: [RegistryKind; 3] = [RegistryKind::Crvs, RegistryKind::Ibr, RegistryKind::Dr];

/// The fields of the fixture's records that metrics read (and one they do not).
const FIELDS: [&str; 13] = [
    "enrollment_status",
    "programme_identifier",
    "functional_severity",
    "disability_limitation_type",
    "impairment_type",
    "impairment_level",
    "disability_status",
    "disability_status_level",
    "death_date",
    "birth_date",
    "registration_date",
    "enrollment_date",
    "identifier_value",
];

/// A JSON value no code table holds: text with a digit inside letters, blank
/// text, numbers outside every table, null, booleans, lists and objects.
fn unlisted_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    prop_oneof![
        "[a-z]{1,5}[0-9][a-z]{1,3}".prop_map(Value::from),
        Just(json!("")),
        Just(json!("  ")),
        prop_oneof![-1000i64..-1, 8i64..100_000].prop_map(Value::from),
        prop_oneof![-1000i64..-1, 8i64..100_000].prop_map(|n| Value::from(n.to_string())),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        Just(json!([])),
        Just(json!({"code": "x9"})),
    ]
}

/// Any JSON value: for what must read the same whatever it holds.
fn any_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::{Value, json};
    prop_oneof![
        unlisted_value(),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~]{0,12}".prop_map(Value::from),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Whatever one registry answers, a decision is the honest one or
    /// `undetermined`; and what it said is not cached: once it is honest
    /// again, the same engine decides as the honest run.
    #[test]
    fn a_lying_registry_makes_decisions_undetermined_never_wrong(
        lie in proptest::sample::select(lies()),
        kind in proptest::sample::select(KINDS.to_vec()),
    ) {
        block_on(decide_through(kind, &lie));
    }

    /// Random answer shapes: values outside the code tables, keys given
    /// twice, records nested deep, pages of any size: the honest decision or
    /// `undetermined`, never another definite one, and nothing of it cached.
    #[test]
    fn any_answer_shape_gives_the_honest_decision_or_undetermined(
        lie in proptest::prop_oneof![
            (proptest::sample::select(FIELDS.to_vec()), unlisted_value())
                // A blank or null death_date is how a registry says "no death": another answer, not a lie.
                .prop_filter("a blank death_date", |(field, value)| {
                    *field != "death_date" || !(value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()))
                })
                .prop_map(|(field, value)| Misbehaviour::FieldValue { field: field.into(), value }),
            (proptest::sample::select(FIELDS.to_vec()), any_value())
                .prop_map(|(field, first)| Misbehaviour::DuplicateKey { field: field.into(), first }),
            (129u32..600).prop_map(|depth| Misbehaviour::DeepRecord { depth, value: None }),
        ],
        kind in proptest::sample::select(KINDS.to_vec()),
    ) {
        block_on(decide_through(kind, &lie));
    }

    /// What must not change a decision at all: pages of any size (fetched to
    /// the last), and a token lifetime written in any way.
    #[test]
    fn pages_and_token_lifetimes_of_any_shape_decide_as_the_honest_registry(
        lie in proptest::prop_oneof![
            (1u32..5, proptest::prelude::any::<bool>())
                .prop_map(|(page_size, blank_total)| Misbehaviour::PagedAnswers { page_size, blank_total }),
            any_value().prop_map(|expires_in| Misbehaviour::TokenLifetime { expires_in }),
        ],
        kind in proptest::sample::select(KINDS.to_vec()),
    ) {
        let (honest, told) = block_on(decide_through(kind, &lie));
        proptest::prop_assert_eq!(outcomes(&told), outcomes(&honest), "{:?} at {:?}", lie, kind);
    }
}

/// The decisions of one household in a batch.
fn decisions_of(result: &BatchResult, household: &str) -> Vec<dci_eligibility::Decision> {
    result
        .items
        .iter()
        .find_map(|item| match item {
            ItemResult::Decided { id, decisions } if id == household => Some(decisions.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{household} not decided"))
}

/// The causes of one decision's unknown values, as `name:cause`.
fn missing(result: &BatchResult, household: &str, rule: usize) -> Vec<String> {
    decisions_of(result, household)[rule].missing.iter().map(|m| format!("{}:{}", m.name, m.cause)).collect()
}

/// Failed lookups of one registry in a batch, by cause.
fn failures(result: &BatchResult, registry: &str) -> std::collections::BTreeMap<UnknownCause, usize> {
    result
        .stats
        .registries
        .iter()
        .find(|r| r.registry == registry)
        .map(|r| r.fetch.failures.clone())
        .unwrap_or_default()
}

/// Households whose decisions differ between two batches.
fn changed(honest: &BatchResult, told: &BatchResult) -> Vec<String> {
    outcomes(honest)
        .iter()
        .zip(outcomes(told))
        .zip(EXPECTED)
        .filter(|((a, b), _)| **a != *b)
        .map(|(_, (id, _, _))| id.to_owned())
        .collect()
}

/// Each named shape, at each registry: the honest decision or undetermined.
#[test]
fn each_named_answer_shape_gives_the_honest_decision_or_undetermined() {
    for lie in answer_shapes() {
        for kind in KINDS {
            block_on(decide_through(kind, &lie));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_status_outside_the_code_list_is_unrecognised_and_counted() {
    use serde_json::json;
    for value in [json!("approved"), json!("paused"), json!("0"), json!("")] {
        let lie = Misbehaviour::FieldValue { field: "enrollment_status".into(), value: value.clone() };
        let (honest, told) = decide_through(RegistryKind::Ibr, &lie).await;
        // HH-0001 is in no programme (no record: still decided); HH-0015's only enrolment is suspended.
        assert_eq!(decisions_of(&told, "HH-0001")[2].outcome, Outcome::Eligible, "{value}");
        assert_eq!(decisions_of(&honest, "HH-0015")[2].outcome, Outcome::Eligible);
        assert_eq!(decisions_of(&told, "HH-0015")[2].outcome, Outcome::Undetermined, "{value}");
        assert_eq!(missing(&told, "HH-0015", 2), ["dci.ibr.program_count:unrecognised_value"], "{value}");
        assert!(failures(&told, "ibr").get(&UnknownCause::UnrecognisedValue).is_some_and(|&n| n > 0), "{value}");
    }
}

/// `"death_date": null, "death_date": "2025-06-10"`: read last-wins, HH-0002
/// (dead) would be alive; the record is ambiguous instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_given_twice_makes_the_record_ambiguous() {
    let lie = Misbehaviour::DuplicateKey { field: "death_date".into(), first: serde_json::Value::Null };
    let (honest, told) = decide_through(RegistryKind::Crvs, &lie).await;
    assert_eq!(decisions_of(&honest, "HH-0002")[1].outcome, Outcome::Ineligible);
    assert_eq!(decisions_of(&told, "HH-0002")[1].outcome, Outcome::Undetermined);
    assert_eq!(missing(&told, "HH-0002", 1), ["dci.crvs.is_alive:ambiguous_record"]);
    assert!(failures(&told, "crvs").get(&UnknownCause::AmbiguousRecord).is_some_and(|&n| n > 0));
    // The living have no death_date to give twice: decided as before.
    assert_eq!(decisions_of(&told, "HH-0001")[1].outcome, Outcome::Eligible);
}

/// An answer paged by the registry (one record per page, with and without a
/// total) is fetched to its last page: HH-0017's second programme is on page 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_in_pages_is_read_to_the_last_page() {
    for blank_total in [false, true] {
        let lie = Misbehaviour::PagedAnswers { page_size: 1, blank_total };
        let (honest, told, [honest_messages, told_messages]) = decide_through_counting(RegistryKind::Ibr, &lie).await;
        assert_eq!(outcomes(&told), outcomes(&honest), "blank total: {blank_total}");
        assert!(told_messages > honest_messages, "later pages asked for: {told_messages} messages");
    }
}

/// One identifier the registry is slow for (HH-0007's, at the DR) leaves only
/// its household's DR decisions undetermined, as a timeout; its message's
/// other persons are asked again in halves and decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_identifier_leaves_only_itself_undetermined() {
    let lie = Misbehaviour::SlowIdentifier { value: "800070000".into(), delay_ms: 2_000 };
    let (honest, told) = decide_through(RegistryKind::Dr, &lie).await;
    assert_eq!(changed(&honest, &told), ["HH-0007"]);
    assert_eq!(
        missing(&told, "HH-0007", 0),
        ["dci.dr.has_disability:timeout", "dci.dr.disability_level:timeout"],
        "{:?}",
        decisions_of(&told, "HH-0007")[0]
    );
    assert_eq!(failures(&told, "dr").get(&UnknownCause::Timeout), Some(&1));
}

/// A record nested too deep to read (or to check its signature) fails only
/// its person: the signed message is asked again in halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_too_deep_to_read_fails_only_its_person() {
    let lie = Misbehaviour::DeepRecord { depth: 200, value: Some("800070000".into()) };
    let (honest, told) = decide_through(RegistryKind::Dr, &lie).await;
    assert_eq!(changed(&honest, &told), ["HH-0007"]);
    assert_eq!(
        missing(&told, "HH-0007", 0),
        ["dci.dr.has_disability:registry_error", "dci.dr.disability_level:registry_error"]
    );
    assert_eq!(failures(&told, "dr").values().sum::<usize>(), 1, "{:?}", failures(&told, "dr"));
}

/// `Retry-After` beyond the call's deadline, in seconds or as a date: the
/// registry is unavailable at once (not a timeout), in its own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_beyond_the_deadline_is_registry_unavailable() {
    for retry_after in ["999999999", "Fri, 31 Dec 2100 23:59:59 GMT"] {
        let lie = Misbehaviour::DataAnswer {
            status: 503,
            body: r#"{"detail": "maintenance window"}"#.into(),
            retry_after: Some(retry_after.into()),
        };
        let (_, told) = decide_through(RegistryKind::Dr, &lie).await;
        assert_eq!(
            missing(&told, "HH-0007", 0),
            ["dci.dr.has_disability:registry_unavailable", "dci.dr.disability_level:registry_unavailable"]
        );
        let dr = told.stats.registries.iter().find(|r| r.registry == "dr").expect("dr");
        let said = dr.fetch.first_failure.clone().unwrap_or_default();
        assert!(said.contains("503") && said.contains("maintenance window"), "{said}");
        assert_eq!(dr.fetch.failures.keys().collect::<Vec<_>>(), [&UnknownCause::RegistryUnavailable]);
    }
}

/// The fixture's households, each changed by `change` (its JSON) before it is read.
fn beneficiaries_changed(change: impl Fn(usize, &mut serde_json::Value)) -> Vec<Result<Beneficiary, BeneficiaryError>> {
    let text = std::fs::read_to_string(fixture_beneficiaries()).expect("fixture");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let mut household: serde_json::Value = serde_json::from_str(l).expect("JSON");
            change(i, &mut household);
            parse_line(&dci_eligibility::io::Line::Text(i + 1, household.to_string()))
        })
        .collect()
}

/// `{"type": ..., "value": ...}` as the beneficiary data writes an identifier.
fn identifier(kind: &str, value: &str) -> serde_json::Value {
    serde_json::json!({"type": kind, "value": value})
}

/// A person the IBR and the CRVS know by their national ID (HH-0018), and one
/// the DR knows by one UIN (HH-0007), each also holding a UIN no registry
/// knows, asked first: "not found" under it is not the answer, cold or warm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_unknown_under_one_identifier_is_asked_by_the_others() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let engine = engine(&sim);
    let rules = seed_rules(&engine);
    let items = || {
        beneficiaries_changed(|_, household| {
            let unknown = match household["id"].as_str() {
                Some("HH-0018") => "800999999",
                Some("HH-0007") => "800999998",
                _ => return,
            };
            let ids = household["identifiers"].as_array_mut().expect("identifiers");
            ids.insert(0, identifier("UIN", unknown));
        })
    };
    for run in ["cold", "warm"] {
        let result = engine.evaluate_batch(&rules, items(), &EvaluationOptions::new(as_of())).await;
        for (household, expected) in [("HH-0018", [I, E, I, I]), ("HH-0007", [E, I, I, I])] {
            let outcomes: Vec<Outcome> = decisions_of(&result, household).iter().map(|d| d.outcome).collect();
            assert_eq!(outcomes, expected, "{run}: {household}");
        }
        let asked_again: usize = result.stats.registries.iter().map(|r| r.other_identifiers).sum();
        assert!(run == "warm" || asked_again >= 2, "{run}: {asked_again} lookups by another identifier");
    }
    // The explanation names the identifier the registry answered under.
    let hh18 = items().into_iter().filter_map(Result::ok).find(|b| b.id == "HH-0018").expect("HH-0018");
    let explanation = engine.explain(&rules[2], hh18, as_of()).await;
    let count = explanation.metrics.iter().find(|m| m.metric == "dci.ibr.program_count").expect("program_count");
    assert_eq!(count.identifier.as_deref(), Some("NATIONAL_ID:NID-0018-0"));
    assert_eq!(count.asked, ["UIN:800999999", "NATIONAL_ID:NID-0018-0"]);
    assert_eq!(count.value, Some(serde_json::json!(1)));
    sim.shutdown().await;
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

    /// A decision does not depend on the order of a person's identifiers, nor
    /// on their holding identifiers no registry knows.
    #[test]
    fn decisions_do_not_depend_on_identifier_order_or_unknown_identifiers(
        seed in proptest::prelude::any::<u64>(),
    ) {
        block_on(async {
            let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
            let engine = engine(&sim);
            let rules = seed_rules(&engine);
            let changed = beneficiaries_changed(|i, household| {
                let mut state = seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let mut next = move || {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state
                };
                scramble(household, &mut next);
                if let Some(members) = household.get_mut("members").and_then(|m| m.as_array_mut()) {
                    for member in members {
                        scramble(member, &mut next);
                    }
                }
            });
            let result = engine.evaluate_batch(&rules, changed, &EvaluationOptions::new(as_of())).await;
            for (item, (id, expected, why)) in result.items.iter().zip(EXPECTED) {
                let ItemResult::Decided { decisions, .. } = item else { panic!("{id} is invalid") };
                let actual: Vec<Outcome> = decisions.iter().map(|d| d.outcome).collect();
                assert_eq!(actual, expected, "{id} ({why}), seed {seed}");
            }
            sim.shutdown().await;
        });
    }
}

/// Adds a UIN no registry knows somewhere in `person`'s identifiers, then
/// shuffles them. A person without an identifier the registries accept is
/// left so: for them a new identifier is a new way to be looked up.
fn scramble(person: &mut serde_json::Value, next: &mut impl FnMut() -> u64) {
    let Some(ids) = person.get_mut("identifiers").and_then(|v| v.as_array_mut()) else { return };
    let accepted = |id: &serde_json::Value| {
        dci_metrics::DEFAULT_ID_TYPE_PRIORITY
            .iter()
            .any(|kind| id["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)))
    };
    if !ids.iter().any(accepted) {
        return;
    }
    let unknown = identifier("UIN", &format!("7{:08}", next() % 100_000_000));
    let at = (next() % (ids.len() as u64 + 1)) as usize;
    ids.insert(at, unknown);
    for k in (1..ids.len()).rev() {
        ids.swap(k, (next() % (k as u64 + 1)) as usize);
    }
}

/// The fixture's records of `kind`, each changed by `change`, and `extra` added.
fn registry_data(
    kind: RegistryKind,
    change: impl Fn(&mut serde_json::Value),
    extra: Vec<serde_json::Value>,
) -> dci_registry_sim::RegistryData {
    let file = dci_registry_sim::fixture_dir().join(format!("{}.ndjson", kind.as_str()));
    let text = std::fs::read_to_string(file).expect("fixture records");
    let mut records: Vec<serde_json::Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("record")).collect();
    records.iter_mut().for_each(change);
    records.extend(extra);
    dci_registry_sim::RegistryData::from_records(kind, records).expect("records load")
}

fn wire_identifier(kind: &str, value: &str) -> serde_json::Value {
    serde_json::json!({"identifier_type": kind, "identifier_value": value})
}

/// Registries that know some fixture persons under a second identifier too:
/// the CRVS a death of HH-0001 under NID-0001-9 and another birth date of
/// HH-0005 under NID-0005-9, and HH-0004's record carries NID-0004-9; the
/// IBR a third programme of HH-0017 under NID-0017-9; the DR a cognition
/// limitation of severity 4 of HH-0007 under NID-0007-9.
async fn two_identifier_registries() -> Simulator {
    let crvs = registry_data(
        RegistryKind::Crvs,
        |record| {
            if record["identifier"][0]["identifier_value"] == "800040000" {
                let ids = record["identifier"].as_array_mut().expect("identifiers");
                ids.push(wire_identifier("NATIONAL_ID", "NID-0004-9"));
            }
        },
        vec![
            serde_json::json!({"identifier": [wire_identifier("NATIONAL_ID", "NID-0001-9")],
                "birth_date": "1950-03-02", "death_date": "2025-06-01"}),
            serde_json::json!({"identifier": [wire_identifier("NATIONAL_ID", "NID-0005-9")], "birth_date": "1970-01-01"}),
            serde_json::json!({"identifier": [wire_identifier("NATIONAL_ID", "NID-0004-9")],
                "birth_date": "1981-02-17", "death_date": "2025-05-05"}),
        ],
    );
    let ibr = registry_data(
        RegistryKind::Ibr,
        |_| {},
        vec![
            serde_json::json!({"member": {"member_identifier": [wire_identifier("NATIONAL_ID", "NID-0017-9")]},
                "enrollment_status": "1", "enrollment_date": "2024-01-01",
                "programme_identifier": [{"programme_identifier": "CTP", "programme_name": "Cash Transfer Programme"}]}),
            // Another programme with the name of the one HH-0017 has under its UIN (OAP).
            serde_json::json!({"member": {"member_identifier": [wire_identifier("NATIONAL_ID", "NID-0017-9")]},
                "enrollment_status": "1", "enrollment_date": "2024-01-01",
                "programme_identifier": [{"programme_identifier": "OAP-REGIONAL", "programme_name": "Old Age Pension"}]}),
        ],
    );
    let dr = registry_data(
        RegistryKind::Dr,
        |_| {},
        vec![serde_json::json!({"member_identifier": [wire_identifier("NATIONAL_ID", "NID-0007-9")],
            "disability_info": [{"disability_limitation_type": "COG_SS", "functional_severity": "4"}]})],
    );
    let config = SimConfig::default().with_data(crvs).with_data(ibr).with_data(dr);
    Simulator::start(config).await.expect("simulator")
}

/// The fixture's households, with a second identifier (NID-00nn-9) for HH-0001, 04, 05, 07 and 17.
fn with_second_identifiers() -> Vec<Result<Beneficiary, BeneficiaryError>> {
    beneficiaries_changed(|_, household| {
        let Some(number) = household["id"].as_str().and_then(|id| id.strip_prefix("HH-00")).map(str::to_owned) else {
            return;
        };
        if ["01", "04", "05", "07", "17"].contains(&number.as_str()) {
            let ids = household["identifiers"].as_array_mut().expect("identifiers");
            ids.push(identifier("NATIONAL_ID", &format!("NID-00{number}-9")));
        }
    })
}

/// Records a registry keeps under two identifiers of one person are merged
/// by the metric's rule, cold and warm: a death recorded under either is
/// authoritative, programmes are a union by identity, the highest disability level
/// counts, and two birth dates are ambiguous, naming both identifiers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_under_two_identifiers_of_one_person_are_merged() {
    let sim = two_identifier_registries().await;
    let engine = engine(&sim);
    let rules: Vec<Rule> = [
        "dci.crvs.is_alive == true",
        "dci.ibr.program_count == 4 and 'Cash Transfer Programme' in dci.ibr.programmes \
         and 'OAP-REGIONAL' in dci.ibr.programme_ids",
        "dci.dr.disability_level == 4 and 'COGNITION' in dci.dr.disability_types",
        "dci.crvs.birth_date < timestamp('1967-01-01T00:00:00Z')",
    ]
    .iter()
    .enumerate()
    .map(|(i, text)| engine.compiler().compile(&format!("merge{i}"), text).expect("compiles"))
    .collect();
    for run in ["cold", "warm"] {
        let hits_before = engine.store().stats().cache_hits;
        let result = engine.evaluate_batch(&rules, with_second_identifiers(), &EvaluationOptions::new(as_of())).await;
        let batch_hits: usize = result.stats.registries.iter().map(|r| r.fetch.cache_hits).sum();
        assert_eq!(
            engine.store().stats().cache_hits - hits_before,
            batch_hits as u64,
            "{run}: the store counts each hit once, as the batch does"
        );
        let outcome = |household: &str, rule: usize| decisions_of(&result, household)[rule].outcome;
        assert_eq!(outcome("HH-0001", 0), I, "{run}: a death recorded under the second identifier");
        assert_eq!(
            outcome("HH-0017", 1),
            E,
            "{run}: the programmes under the second identifier count, one sharing a name with another under the first"
        );
        assert_eq!(outcome("HH-0007", 2), E, "{run}: the highest level under either identifier");
        assert_eq!(outcome("HH-0005", 3), U, "{run}: two birth dates");
        assert_eq!(missing(&result, "HH-0005", 3), ["dci.crvs.birth_date:ambiguous_record"], "{run}");
        assert_eq!(outcome("HH-0004", 0), I, "{run}: a death under the identifier its UIN record also carries");
        assert_eq!(outcome("HH-0018", 0), E, "{run}: one identifier, as before");
    }
    let hh5 =
        with_second_identifiers().into_iter().filter_map(Result::ok).find(|b| b.id == "HH-0005").expect("HH-0005");
    let explanation = engine.explain(&rules[3], hh5, as_of()).await;
    let birth = explanation.metrics.iter().find(|m| m.metric == "dci.crvs.birth_date").expect("birth_date");
    assert_eq!(birth.asked, ["UIN:800050000", "NATIONAL_ID:NID-0005-9"]);
    assert_eq!(birth.found_under, birth.asked);
    let said = birth.detail.clone().unwrap_or_default();
    assert!(said.contains("UIN 800050000") && said.contains("NATIONAL_ID NID-0005-9"), "{said}");
    sim.shutdown().await;
}

/// A record found under one identifier that carries the person's other
/// identifier does not answer for it: the registry may keep more records under
/// the other (HH-0004's birth record carries its NID; a death record only the NID).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_carrying_the_other_identifier_does_not_hide_records_under_it() {
    let sim = two_identifier_registries().await;
    let engine = engine(&sim);
    let rule = engine.compiler().compile("alive", "dci.crvs.is_alive == true").expect("compiles");
    let only =
        |id: &str| with_second_identifiers().into_iter().filter(|b| b.as_ref().is_ok_and(|b| b.id == id)).collect();
    for run in ["cold", "warm"] {
        let result =
            engine.evaluate_batch(std::slice::from_ref(&rule), only("HH-0004"), &EvaluationOptions::new(as_of())).await;
        assert_eq!(decisions_of(&result, "HH-0004")[0].outcome, I, "{run}");
        let crvs = result.stats.registries.iter().find(|r| r.registry == "crvs").expect("crvs");
        let asked = (crvs.fetch.fetched + crvs.fetch.cache_hits, crvs.other_identifiers);
        assert_eq!(asked, (2, 1), "{run}: both identifiers asked: {crvs:?}");
    }
    sim.shutdown().await;
}

/// As-of means as-of: one cache serves every evaluation date, each with the
/// answers the registries' dates give it, and a warm run decides as a cold
/// one. HH-0002 died on 2025-06-10, HH-0033 on 2025-12-31; HH-0016's
/// enrolment ended on 2025-03-31 (graduated), HH-0015's on 2025-09-30 (suspended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_as_of_date_reads_the_same_cached_facts_at_its_own_date() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let warm = engine(&sim);
    let rules = seed_rules(&warm);
    let date = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date");
    let expected = [
        ("2025-01-01", [("HH-0002", 1, E), ("HH-0033", 1, E), ("HH-0016", 2, I), ("HH-0015", 2, I)]),
        ("2025-07-01", [("HH-0002", 1, I), ("HH-0033", 1, E), ("HH-0016", 2, E), ("HH-0015", 2, I)]),
        ("2026-01-01", [("HH-0002", 1, I), ("HH-0033", 1, I), ("HH-0016", 2, E), ("HH-0015", 2, E)]),
    ];
    for (round, (as_of, cases)) in expected.into_iter().enumerate() {
        let options = EvaluationOptions::new(date(as_of));
        let from_cache = warm.evaluate_batch(&rules, beneficiaries(), &options).await;
        let cold_engine = engine(&sim);
        let cold = cold_engine.evaluate_batch(&seed_rules(&cold_engine), beneficiaries(), &options).await;
        assert_eq!(outcomes(&from_cache), outcomes(&cold), "as of {as_of}: warm decides as cold");
        for (household, rule, outcome) in cases {
            assert_eq!(
                decisions_of(&from_cache, household)[rule].outcome,
                outcome,
                "{household} rule {} as of {as_of}",
                rule + 1
            );
        }
        // Later dates read what earlier ones fetched (a date may need a few more persons: one turned 60).
        let (hits, asked) = from_cache
            .stats
            .registries
            .iter()
            .fold((0, 0), |(hits, asked), r| (hits + r.fetch.cache_hits, asked + r.fetch.fetched));
        assert!(round == 0 || hits > 10 * asked, "as of {as_of}: {hits} from the cache, {asked} asked");
    }
    sim.shutdown().await;
}

/// An explained decision says why in words, from the clauses that decided it
/// and the values they used (the age and the birthdate it came from); a clause
/// the decision did not need reads "not needed"; `/v1/evaluate` with `explain`
/// gives the same reason as an explanation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explained_decisions_give_their_reasons_in_words() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let engine = engine(&sim);
    let rules = seed_rules(&engine);
    let household = |id: &str| beneficiaries().into_iter().filter_map(Result::ok).find(|b| b.id == id).expect(id);
    let reason = |explanation: &dci_eligibility::Explanation| explanation.decision.reason.clone().unwrap_or_default();

    let dead = engine.explain(&rules[1], household("HH-0002"), as_of()).await;
    assert_eq!(reason(&dead), "Ineligible: the civil registry records this person as not alive.");
    let clauses = dead.decision.clauses.clone().expect("clauses");
    let used: Vec<(String, serde_json::Value)> =
        clauses[1].used.iter().map(|u| (u.expr.clone(), u.value.clone())).collect();
    assert_eq!(
        used,
        [
            ("age_years(r.birthdate)".to_owned(), serde_json::json!(80)),
            ("r.birthdate".to_owned(), serde_json::json!("1945-07-14"))
        ]
    );
    assert_eq!(clauses[1].says, "aged 80 (born 1945-07-14)");

    let unknown = engine.explain(&rules[1], household("HH-0003"), as_of()).await;
    assert_eq!(reason(&unknown), "Undetermined: the civil registry has no record for this person's UIN.");

    let young = engine.explain(&rules[1], household("HH-0006"), as_of()).await;
    assert_eq!(reason(&young), "Ineligible: aged 59 (born 1966-01-02), where the rule needs at least 60.");

    let not_poor = engine.explain(&rules[2], household("HH-0005"), as_of()).await;
    assert_eq!(reason(&not_poor), "Ineligible: poverty score 0.65, where the rule needs at least 0.7.");
    let clauses = not_poor.decision.clauses.clone().expect("clauses");
    assert_eq!((clauses[1].value.clone(), clauses[1].says.as_str()), (serde_json::json!("not_needed"), "not needed"));
    let count = not_poor.metrics.iter().find(|m| m.metric == "dci.ibr.program_count").expect("program_count");
    assert_eq!(count.cause_text, Some("not needed for this decision"));

    let member = engine.explain(&rules[3], household("HH-0024"), as_of()).await;
    assert_eq!(
        reason(&member),
        "Eligible: at least one household member: a disability recorded in the disability registry."
    );

    let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(as_of()) };
    let batch = engine.evaluate_batch(&rules[1..2], vec![Ok(household("HH-0002"))], &options).await;
    assert_eq!(decisions_of(&batch, "HH-0002")[0].reason.as_deref(), Some(reason(&dead).as_str()));
    let plain =
        engine.evaluate_batch(&rules[1..2], vec![Ok(household("HH-0002"))], &EvaluationOptions::new(as_of())).await;
    assert_eq!(decisions_of(&plain, "HH-0002")[0].reason, None, "no reason without explain");
    sim.shutdown().await;
}

/// An explanation's words are bounded whatever the data holds: a 100,000-character
/// field and a 50,000-item list give clause words and used values of a few hundred bytes.
#[tokio::test]
async fn explanation_words_are_bounded_whatever_the_data_holds() {
    let engine = Engine::from_config(&EngineConfig::default()).expect("engine");
    let rule = engine.compiler().compile("long", "r.name == \"x\" || size(r.tags) < 3").expect("compiles");
    let tags: Vec<String> = (0..50_000).map(|n| format!("tag-{n}")).collect();
    let person = serde_json::json!({"id": "B", "name": "é".repeat(100_000), "tags": tags});
    let beneficiary = Beneficiary::from_json(person).expect("a beneficiary");
    let explanation = engine.explain(&rule, beneficiary, as_of()).await;
    let text = serde_json::to_string(&explanation.decision).expect("JSON");
    assert!(
        text.len() < 4 * dci_eligibility::CLAUSE_WORDS_BYTES,
        "{} bytes: {}",
        text.len(),
        &text[..300.min(text.len())]
    );
    for clause in explanation.decision.clauses.iter().flatten() {
        assert!(clause.says.len() <= 256, "{}", clause.says.len());
        assert!(clause.used.iter().all(|u| u.expr.len() <= 64 && u.value.to_string().len() <= 70), "{:?}", clause.used);
    }
}
