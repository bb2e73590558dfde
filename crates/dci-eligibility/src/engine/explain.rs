//! Explanations: a decision with the value of each clause, and every metric
//! its rule read, with its value and where it came from.

use chrono::NaiveDate;
use dci_metrics::{Catalog, MetricRead, MetricValue, Resolution, Source, UnknownCause};
use dci_protocol::records::Identifier;

use crate::data::beneficiary::Beneficiary;
use crate::engine::batch::{Engine, EvaluationOptions};
use crate::engine::meter::Stop;
use crate::engine::table::PairIndex;
use crate::report::results::{Decision, Explanation, ItemResult, MetricTrace, TraceSource};
use crate::rules::compile::{Level, MetricUse, Rule};

impl MetricTrace {
    fn of(
        catalog: &Catalog,
        used: &MetricUse,
        person: usize,
        resolution: &Resolution,
        asked: &[&Identifier],
        found_under: &[&Identifier],
        as_of: NaiveDate,
    ) -> Self {
        let person_name = if person == 0 { "registrant".to_owned() } else { format!("members[{}]", person - 1) };
        let (value, cause) = match resolution.read(catalog, used.id, as_of) {
            MetricRead::Value(value) => (Some(value.to_json()), None),
            MetricRead::Unknown(cause) => (None, Some(cause)),
        };
        let source = match (resolution.source(), &value) {
            (Some(Source::Cache), Some(_)) => TraceSource::Cache,
            (Some(Source::Registry), Some(_)) => TraceSource::Registry,
            _ => TraceSource::Unknown,
        };
        let detail = match resolution {
            Resolution::NotFound(_) => Some("not in the registry".to_owned()),
            Resolution::Failed(failure) => Some(failure.message.to_string()),
            Resolution::NoIdentifier => Some("no identifier of a type this registry accepts".to_owned()),
            Resolution::NotFetched => Some("not asked: the decision did not depend on it".to_owned()),
            // What the registry's answer said that the metric could not use (a code, two dates).
            Resolution::Found(facts, _) => match facts.get(used.id.field).map(|value| value.at(as_of)) {
                Some(MetricValue::Unusable(unusable)) => Some(unusable.detail.to_string()),
                _ => None,
            },
        };
        let found = match resolution {
            Resolution::Found(..) => Some(true),
            Resolution::NotFound(_) => Some(false),
            Resolution::Failed(_) | Resolution::NoIdentifier | Resolution::NotFetched => None,
        };
        let written = |id: &Identifier| format!("{}:{}", id.identifier_type, id.identifier_value);
        let identifier = match resolution {
            Resolution::Found(..) => found_under.first().or(asked.first()).map(|id| written(id)),
            _ => asked.first().map(|id| written(id)),
        };
        // A person holding several identifiers the registry accepts is asked under each.
        let several = asked.len() > 1 && matches!(resolution, Resolution::Found(..) | Resolution::NotFound(_));
        let asked: Vec<String> = if several { asked.iter().map(|id| written(id)).collect() } else { Vec::new() };
        let found_under: Vec<String> =
            if several { found_under.iter().map(|id| written(id)).collect() } else { Vec::new() };
        MetricTrace {
            person: person_name,
            metric: used.name.clone(),
            value,
            source,
            found,
            identifier,
            asked,
            found_under,
            cause,
            cause_text: cause.map(UnknownCause::label),
            detail,
        }
    }
}

impl Engine {
    /// Explains one rule for one beneficiary: the decision with the value of
    /// each clause, and every metric the rule read, with its value and where
    /// it came from (cache, registry, or unknown and why).
    pub async fn explain(&self, rule: &Rule, beneficiary: Beneficiary, as_of: NaiveDate) -> Explanation {
        let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(as_of) };
        let explained = self.explain_all(rule, vec![beneficiary], &options).await;
        explained.into_iter().next().unwrap_or_else(|| unreachable!("one beneficiary, one explanation"))
    }

    /// Explains one rule for each beneficiary, decided together in one batch
    /// (stopped by `options.cancel`); in order. Each explanation carries the
    /// batch's statistics.
    pub async fn explain_all(
        &self,
        rule: &Rule,
        beneficiaries: Vec<Beneficiary>,
        options: &EvaluationOptions,
    ) -> Vec<Explanation> {
        let options = EvaluationOptions { explain: true, ..options.clone() };
        let items = beneficiaries.into_iter().map(Ok).collect();
        let (result, batch, table) = self.run(std::slice::from_ref(rule), items, &options).await;
        let mut explained = Vec::with_capacity(result.items.len());
        for (index, item) in result.items.into_iter().enumerate() {
            let ItemResult::Decided { id, decisions } = item else { continue };
            let decision = decisions.into_iter().next().unwrap_or_else(|| Decision::stopped(rule, Stop::Cancelled));
            let household = batch.household(&table.facts, PairIndex(index));
            let mut metrics = Vec::new();
            for used in rule.metrics() {
                let persons = match used.level {
                    Level::Registrant => 0..1,
                    Level::Member => 1..household.beneficiary.persons(),
                };
                for person in persons {
                    let resolution = household.resolution(person, used.id.registry);
                    let registry = used.id.registry;
                    let asked = household
                        .beneficiary
                        .person(person)
                        .map(|p| self.store().accepted_identifiers(registry, &p.identifiers))
                        .unwrap_or_default();
                    // Found under which of them: those whose records the store holds.
                    let found_under: Vec<&Identifier> = match resolution {
                        Resolution::Found(..) if asked.len() > 1 => {
                            let known = self.store().known(registry, &asked);
                            asked
                                .iter()
                                .zip(known)
                                .filter(|(_, known)| matches!(known, Some(Resolution::Found(..))))
                                .map(|(id, _)| *id)
                                .collect()
                        }
                        Resolution::Found(..) => asked.clone(),
                        _ => Vec::new(),
                    };
                    metrics.push(MetricTrace::of(
                        &batch.catalog,
                        used,
                        person,
                        resolution,
                        &asked,
                        &found_under,
                        options.as_of,
                    ));
                }
            }
            let stats = result.stats.clone();
            explained.push(Explanation { id, rule: rule.name().to_owned(), decision, metrics, stats });
        }
        explained
    }
}
