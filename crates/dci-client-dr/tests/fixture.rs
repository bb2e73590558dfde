//! Every fixture person through the DR client, against the simulator.

use dci_client::{DataSource, DciClient, RegistryType, SecretSource};
use dci_client_dr::DrClient;
use dci_protocol::records::Identifier;
use dci_registry_sim::{RegistryKind, SimConfig, Simulator, fixture_persons};

#[tokio::test]
async fn every_fixture_person_has_the_documented_disability_facts() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let source = DataSource::new(
        RegistryType::Dr,
        sim.base_url(RegistryKind::Dr),
        "elig-demo",
        SecretSource::Value("elig-demo-secret".into()),
    );
    let dr = DrClient::new(DciClient::new(source.clone()).expect("client"));
    let persons: Vec<_> =
        fixture_persons().expect("fixtures/README.md").into_iter().filter(|p| !p.identifiers.is_empty()).collect();
    let identifiers: Vec<Identifier> = persons
        .iter()
        .map(|p| {
            let ids: Vec<Identifier> =
                p.identifiers.iter().map(|(t, v)| Identifier::new(t.as_str(), v.as_str())).collect();
            source.pick_identifier(&ids).cloned().unwrap_or_else(|| ids[0].clone())
        })
        .collect();
    let results = dr.disability_of_many(&identifiers).await;
    let mut shapes = std::collections::BTreeSet::new();
    for (person, result) in persons.iter().zip(results) {
        let facts = result.unwrap_or_else(|e| panic!("{}: {e}", person.id));
        match person.dr.as_str() {
            "absent" => assert!(facts.is_none(), "{} is not in the DR", person.id),
            cell => {
                let facts = facts.unwrap_or_else(|| panic!("{} is in the DR", person.id));
                let (shape, disabled) = cell.split_once(' ').expect("shape and flag");
                shapes.insert(shape.to_owned());
                assert_eq!(facts.has_disability.to_string(), disabled, "{}", person.id);
                assert_eq!(facts.level.value().copied(), person.level, "{}", person.id);
                let types: Vec<String> = facts
                    .types
                    .value()
                    .unwrap_or_else(|| panic!("{}: {:?}", person.id, facts.types))
                    .iter()
                    .map(|t| t.as_str().to_owned())
                    .collect();
                assert_eq!(types, person.types, "{}", person.id);
            }
        }
    }
    assert_eq!(shapes.into_iter().collect::<Vec<_>>(), ["PWD", "WG"], "both record shapes are read");
    assert!(dr.disabled("800070000").await.expect("disabled"), "HH-0007 is disabled");
    assert!(!dr.disabled("800100000").await.expect("disabled"), "HH-0010 only answered severity 1");
    sim.shutdown().await;
}
