//! What the targets share: an engine whose registries answer from memory
//! (persons UIN 1 to 4 known, with every metric), a runtime, sample households.
#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use dci_eligibility::{Beneficiary, Compiler, Engine};
use dci_metrics::{
    Catalog, FixedResolver, MetricStore, MetricValue, RegistryResolver, StoreConfig, crvs_spec, dr_spec, ibr_spec,
};

pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub engine: Engine,
}

pub static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let catalog = Arc::new(Catalog::default());
    let birth = chrono::DateTime::parse_from_rfc3339("1950-03-02T00:00:00Z").expect("date");
    let mut crvs = FixedResolver::new(crvs_spec());
    let mut ibr = FixedResolver::new(ibr_spec());
    let mut dr = FixedResolver::new(dr_spec());
    for uin in ["1", "2", "3", "4"] {
        crvs = crvs.found(
            "UIN",
            uin,
            vec![
                MetricValue::Bool(uin != "2"),
                MetricValue::Bool(true),
                MetricValue::Timestamp(birth),
                MetricValue::Null,
            ],
        );
        ibr = ibr.found(
            "UIN",
            uin,
            vec![MetricValue::Bool(uin == "3"), MetricValue::Int(i64::from(uin == "3")), MetricValue::strings(["CCT"])],
        );
        dr = dr.found(
            "UIN",
            uin,
            vec![MetricValue::Bool(uin == "4"), MetricValue::Int(3), MetricValue::strings(["MOBILITY"])],
        );
    }
    let resolvers: Vec<Arc<dyn RegistryResolver>> = vec![Arc::new(crvs), Arc::new(ibr), Arc::new(dr)];
    let store = Arc::new(MetricStore::new(catalog.clone(), resolvers, &StoreConfig::default()).expect("store"));
    World { runtime, engine: Engine::new(Compiler::new(catalog), store) }
});

/// Households of every shape a rule may meet.
pub fn households() -> Vec<Result<Beneficiary, dci_eligibility::BeneficiaryError>> {
    [
        r#"{"id": "A", "identifiers": [{"type": "UIN", "value": "1"}], "birthdate": "1950-03-02", "poverty_score": 0.8, "income": 120, "tags": ["a", "b"], "members": [{"id": "M1", "identifiers": [{"type": "UIN", "value": "4"}], "birthdate": "2015-01-01", "income": 10}, {"id": "M2", "birthdate": "1990-06-30"}]}"#,
        r#"{"id": "B", "identifiers": [{"type": "UIN", "value": "2"}], "poverty_score": "high", "members": []}"#,
        r#"{"id": "C", "identifiers": [{"type": "UIN", "value": "9"}], "birthdate": null, "nested": {"a": [1, {"b": 2}]}}"#,
        r#"{"id": "D"}"#,
    ]
    .iter()
    .map(|text| Beneficiary::from_json_str(text))
    .collect()
}

pub fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
}
