//! The seed's four rules over the committed fixture, through the real
//! clients and the registry simulator over loopback HTTP.

use dci_client::{DataSource, RegistryType, SecretSource};
use dci_eligibility::io::parse_line;
use dci_eligibility::{
    Beneficiary, BeneficiaryError, Engine, EngineConfig, EvaluationOptions, ItemResult, Outcome, Rule,
};
use dci_metrics::StoreConfig;
use dci_registry_sim::{FaultConfig, RegistryKind, SimConfig, Simulator, fixture_beneficiaries};

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
    let sources = [
        (RegistryType::Crvs, RegistryKind::Crvs),
        (RegistryType::Ibr, RegistryKind::Ibr),
        (RegistryType::Dr, RegistryKind::Dr),
    ]
    .into_iter()
    .map(|(registry, kind)| {
        let mut source =
            DataSource::new(registry, sim.base_url(kind), "elig-demo", SecretSource::Value("elig-demo-secret".into()));
        source.verify_responses = true;
        source.retry.max_attempts = 1;
        source.timeouts.request_ms = 500;
        source
    })
    .collect();
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

#[tokio::test]
async fn the_seed_rules_decide_every_fixture_household_as_expected() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let engine = engine(&sim);
    let rules = seed_rules(&engine);
    let result = engine.evaluate_batch(&rules, beneficiaries(), &EvaluationOptions::new(as_of())).await;
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
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Whatever one registry answers, a decision is the honest one or
    /// `undetermined`; and what it said is not cached: once it is honest
    /// again, the same engine decides as the honest run.
    #[test]
    fn a_lying_registry_makes_decisions_undetermined_never_wrong(
        lie in proptest::sample::select(lies()),
        kind in proptest::sample::select(vec![RegistryKind::Crvs, RegistryKind::Ibr, RegistryKind::Dr]),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(async {
            let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
            let options = EvaluationOptions::new(as_of());
            let honest_engine = engine(&sim);
            let rules = seed_rules(&honest_engine);
            let honest = outcomes(&honest_engine.evaluate_batch(&rules, beneficiaries(), &options).await);

            sim.set_faults(kind, FaultConfig { misbehaviour: Some(lie.clone()), ..FaultConfig::default() });
            let engine = engine(&sim);
            let lied = outcomes(&engine.evaluate_batch(&rules, beneficiaries(), &options).await);
            for (household, (told, truth)) in lied.iter().zip(&honest).enumerate() {
                for (rule, (told, truth)) in told.iter().zip(truth).enumerate() {
                    assert!(
                        told == truth || *told == Outcome::Undetermined,
                        "{lie:?} at {kind:?}: household {household}, rule {}: {told:?} instead of {truth:?}",
                        rule + 1
                    );
                }
            }
            sim.set_faults(kind, FaultConfig::default());
            let afterwards = outcomes(&engine.evaluate_batch(&rules, beneficiaries(), &options).await);
            assert_eq!(afterwards, honest, "{lie:?} at {kind:?}: nothing it said was cached");
            sim.shutdown().await;
        });
    }
}
