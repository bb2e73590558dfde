//! Every metric of every fixture person, through the real resolvers and the
//! simulator, with the not-found rules of the catalog.

use std::sync::Arc;

use dci_client::{DataSource, RegistryType, SecretSource};
use dci_metrics::{Catalog, MetricRead, MetricStore, MetricValue, StoreConfig, UnknownCause, resolver_for};
use dci_protocol::records::Identifier;
use dci_registry_sim::{RegistryKind, SimConfig, Simulator, fixture_persons};

#[tokio::test]
async fn every_metric_of_every_fixture_person() {
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    let catalog = Arc::new(Catalog::default());
    let resolvers = [
        (RegistryType::Crvs, RegistryKind::Crvs),
        (RegistryType::Ibr, RegistryKind::Ibr),
        (RegistryType::Dr, RegistryKind::Dr),
    ]
    .into_iter()
    .map(|(registry, kind)| {
        resolver_for(DataSource::new(
            registry,
            sim.base_url(kind),
            "elig-demo",
            SecretSource::Value("elig-demo-secret".into()),
        ))
        .expect("resolver")
    })
    .collect();
    let store = MetricStore::new(catalog.clone(), resolvers, &StoreConfig::default()).expect("store");
    let persons = fixture_persons().expect("fixtures/README.md");
    let read = |registry: &str| {
        let index = catalog.registry_index(registry).expect("registry");
        let mut chosen = Vec::new();
        let mut without = Vec::new();
        for person in &persons {
            let ids: Vec<Identifier> =
                person.identifiers.iter().map(|(t, v)| Identifier::new(t.as_str(), v.as_str())).collect();
            match store.choose_identifier(index, &ids) {
                Some(id) => chosen.push((person.id.clone(), id.clone())),
                None => without.push(person.id.clone()),
            }
        }
        (index, chosen, without)
    };
    let value = |v: MetricRead<'_>| match v {
        MetricRead::Value(value) => Ok(value.clone()),
        MetricRead::Unknown(cause) => Err(cause),
    };

    // CRVS: alive / dead / absent; absent means is_alive unknown but is_registered false.
    let (crvs, chosen, without) = read("crvs");
    assert!(without.contains(&"HH-0020".to_owned()) && without.contains(&"HH-0021".to_owned()), "no usable identifier");
    let ids: Vec<&Identifier> = chosen.iter().map(|(_, id)| id).collect();
    let prefetch = store.fetch(crvs, &ids).await;
    let alive = catalog.metric("dci.crvs.is_alive").expect("metric");
    let registered = catalog.metric("dci.crvs.is_registered").expect("metric");
    let death = catalog.metric("dci.crvs.death_date").expect("metric");
    for ((id, _), resolution) in chosen.iter().zip(&prefetch.resolutions) {
        let person = persons.iter().find(|p| &p.id == id).expect("person");
        let (is_alive, is_registered, died) = (
            value(resolution.read(&catalog, alive, chrono::NaiveDate::MAX)),
            value(resolution.read(&catalog, registered, chrono::NaiveDate::MAX)),
            value(resolution.read(&catalog, death, chrono::NaiveDate::MAX)),
        );
        match person.crvs.as_str() {
            "alive" => assert_eq!(
                (is_alive, is_registered, died),
                (Ok(MetricValue::Bool(true)), Ok(MetricValue::Bool(true)), Ok(MetricValue::Null)),
                "{id}"
            ),
            "absent" => assert_eq!(
                (is_alive, is_registered, died),
                (Err(UnknownCause::NotFound), Ok(MetricValue::Bool(false)), Err(UnknownCause::NotFound)),
                "{id}"
            ),
            dead => {
                assert_eq!(
                    (is_alive, is_registered),
                    (Ok(MetricValue::Bool(false)), Ok(MetricValue::Bool(true))),
                    "{id}"
                );
                let Ok(MetricValue::Timestamp(day)) = died else { panic!("{id}: a death date") };
                assert_eq!(Some(day.date_naive().to_string().as_str()), dead.strip_prefix("dead "), "{id}");
            }
        }
    }

    // IBR: absent means not enrolled, 0 programmes, [].
    let (ibr, chosen, _) = read("ibr");
    let ids: Vec<&Identifier> = chosen.iter().map(|(_, id)| id).collect();
    let prefetch = store.fetch(ibr, &ids).await;
    let enrolled = catalog.metric("dci.ibr.is_enrolled").expect("metric");
    let count = catalog.metric("dci.ibr.program_count").expect("metric");
    for ((id, _), resolution) in chosen.iter().zip(&prefetch.resolutions) {
        let person = persons.iter().find(|p| &p.id == id).expect("person");
        let expected = person.active_programmes.len();
        assert_eq!(
            value(resolution.read(&catalog, enrolled, chrono::NaiveDate::MAX)),
            Ok(MetricValue::Bool(expected > 0)),
            "{id}"
        );
        assert_eq!(
            value(resolution.read(&catalog, count, chrono::NaiveDate::MAX)),
            Ok(MetricValue::Int(expected as i64)),
            "{id}"
        );
    }

    // DR: absent means no disability, level 0, no types.
    let (dr, chosen, _) = read("dr");
    let ids: Vec<&Identifier> = chosen.iter().map(|(_, id)| id).collect();
    let prefetch = store.fetch(dr, &ids).await;
    let has = catalog.metric("dci.dr.has_disability").expect("metric");
    let level = catalog.metric("dci.dr.disability_level").expect("metric");
    let types = catalog.metric("dci.dr.disability_types").expect("metric");
    for ((id, _), resolution) in chosen.iter().zip(&prefetch.resolutions) {
        let person = persons.iter().find(|p| &p.id == id).expect("person");
        let disabled = person.dr.ends_with("true");
        assert_eq!(
            value(resolution.read(&catalog, has, chrono::NaiveDate::MAX)),
            Ok(MetricValue::Bool(disabled)),
            "{id}"
        );
        assert_eq!(
            value(resolution.read(&catalog, level, chrono::NaiveDate::MAX)),
            Ok(MetricValue::Int(i64::from(person.level.unwrap_or(0)))),
            "{id}"
        );
        assert_eq!(
            value(resolution.read(&catalog, types, chrono::NaiveDate::MAX)),
            Ok(MetricValue::strings(&person.types)),
            "{id}"
        );
    }
    sim.shutdown().await;
}
