//! Every fixture person through the IBR client, against the simulator.

use dci_client::{DataSource, DciClient, RegistryType, SecretSource};
use dci_client_ibr::IbrClient;
use dci_protocol::records::{Identifier, Reading};
use dci_registry_sim::{RegistryKind, SimConfig, Simulator, fixture_persons};

#[tokio::test]
async fn every_fixture_person_has_the_documented_active_enrolments() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let source = DataSource::new(
        RegistryType::Ibr,
        sim.base_url(RegistryKind::Ibr),
        "elig-demo",
        SecretSource::Value("elig-demo-secret".into()),
    );
    let ibr = IbrClient::new(DciClient::new(source.clone()).expect("client"));
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
    let results = ibr.enrolments_of_many(&identifiers).await;
    for (person, result) in persons.iter().zip(results) {
        let enrolments = result.unwrap_or_else(|e| panic!("{}: {e}", person.id)).unwrap_or_default();
        let mut active: Vec<String> = enrolments.active().filter_map(|e| e.programme_id.clone()).collect();
        active.sort();
        let mut expected = person.active_programmes.clone();
        expected.sort();
        assert_eq!(active, expected, "{}", person.id);
        assert_eq!(enrolments.is_enrolled(), Reading::Value(!expected.is_empty()), "{}", person.id);
        assert_eq!(enrolments.active_count(), Reading::Value(expected.len()), "{}", person.id);
    }
    assert!(ibr.enrolled("800170000", Some("OAP")).await.expect("enrolled"), "HH-0017 is in the Old Age Pension");
    assert!(!ibr.enrolled("800170000", Some("CCT")).await.expect("enrolled"), "HH-0017 graduated from the CCT");
    assert!(!ibr.enrolled("800150000", None).await.expect("enrolled"), "HH-0015's only enrolment is suspended");
    sim.shutdown().await;
}
