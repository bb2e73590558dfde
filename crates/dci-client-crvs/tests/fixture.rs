//! Every fixture person through the CRVS client, against the simulator.

use dci_client::{DataSource, DciClient, RegistryType, SecretSource};
use dci_client_crvs::{CrvsClient, VitalFacts, registrant_of};
use dci_protocol::records::{Identifier, Reading};
use dci_registry_sim::{RegistryKind, SimConfig, Simulator, fixture_persons};

#[tokio::test]
async fn every_fixture_person_is_found_alive_dead_or_absent_as_documented() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let mut source = DataSource::new(
        RegistryType::Crvs,
        sim.base_url(RegistryKind::Crvs),
        "elig-demo",
        SecretSource::Value("elig-demo-secret".into()),
    );
    source.verify_responses = true;
    let client = DciClient::new(source.clone()).expect("client");
    let crvs = CrvsClient::new(client.clone());
    let persons: Vec<_> =
        fixture_persons().expect("fixtures/README.md").into_iter().filter(|p| !p.identifiers.is_empty()).collect();
    assert!(persons.len() > 40);
    let identifiers: Vec<Identifier> = persons
        .iter()
        .map(|p| {
            let ids: Vec<Identifier> =
                p.identifiers.iter().map(|(t, v)| Identifier::new(t.as_str(), v.as_str())).collect();
            source.pick_identifier(&ids).cloned().unwrap_or_else(|| ids[0].clone())
        })
        .collect();
    let results = crvs.persons(&identifiers).await;
    assert_eq!(client.stats().messages, 1, "one batched message for all persons");
    for (person, result) in persons.iter().zip(results) {
        let found = result.unwrap_or_else(|e| panic!("{}: {e}", person.id));
        match person.crvs.as_str() {
            "absent" => assert!(found.is_none(), "{} must not be found", person.id),
            "alive" => assert!(
                found.as_ref().is_some_and(|p| VitalFacts::of(p).alive == Reading::Value(true)),
                "{} is alive",
                person.id
            ),
            dead => {
                let day = dead.strip_prefix("dead ").expect("dead <date>");
                let facts = VitalFacts::of(found.as_ref().unwrap_or_else(|| panic!("{} found", person.id)));
                assert_eq!(facts.alive, Reading::Value(false), "{}", person.id);
                let death = facts.death_date.value().map(|d| d.date_naive().to_string());
                assert_eq!(death.as_deref(), Some(day), "{}", person.id);
            }
        }
    }
    let one = crvs.person(&Identifier::new("UIN", "800010000")).await.expect("lookup").expect("found");
    assert_eq!(one.len(), 1);
    assert_eq!(registrant_of(&one[0])["name"], "Amina Okafor");
    assert_eq!(crvs.person(&Identifier::new("UIN", "999")).await.expect("lookup"), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn births_and_deaths_in_a_date_range() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let source = DataSource::new(
        RegistryType::Crvs,
        sim.base_url(RegistryKind::Crvs),
        "elig-demo",
        SecretSource::Value("elig-demo-secret".into()),
    );
    let crvs = CrvsClient::new(DciClient::new(source).expect("client"));
    let date = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
    let births = crvs.births_between(date("2014-01-01"), date("2016-12-31"), None).await.expect("births");
    let mut born: Vec<String> = births.iter().filter_map(|p| p.birth_date.as_ref().map(|d| d.to_string())).collect();
    born.sort();
    assert_eq!(born, ["2014-02-14", "2015-05-01", "2016-07-07"], "Imani, Joy and Njeri in the fixture");
    let deaths = crvs.deaths_between(date("2025-01-01"), date("2025-12-31"), None).await.expect("deaths");
    let died: Vec<String> = deaths.iter().filter_map(|p| p.death_date.as_ref().map(|d| d.to_string())).collect();
    assert_eq!(died, ["2025-01-01", "2025-06-10", "2025-12-31"], "sorted by death date");
    sim.shutdown().await;
}
