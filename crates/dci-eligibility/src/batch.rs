//! Bulk evaluation: decide locally first, then fetch — one registry at a
//! time, only for the beneficiaries whose decision still depends on it — and
//! re-evaluate, until every decision is made or nothing more can be learnt.
//!
//! CPU work runs on the rayon pool, fetching on tokio; a tokio worker never
//! evaluates CEL and a rayon thread never waits on the network.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use cel::{Context, Env};
use chrono::NaiveDate;
use dci_metrics::{Catalog, MetricStore, PrefetchReport, RegistryIndex, Resolution};
use dci_protocol::records::Identifier;
use rayon::prelude::*;

use crate::beneficiary::{Beneficiary, BeneficiaryError};
use crate::bind::{Household, MetricNames, Needs};
use crate::compile::{Compiler, Level, Rule};
use crate::cost::{Allowance, Cancellation, Stop};
use crate::evaluate::{Screen, Verdict, decide, screen, verdict, verdict_of_rest};
use crate::report::{
    BatchResult, BatchStats, Decision, Explanation, ItemResult, MetricTrace, RegistryUse, RuleCounts, TraceSource,
};
use crate::functions;
use crate::pool::{Lane, on_pool};

/// How to evaluate a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluationOptions {
    /// The date ages and relative dates are computed against.
    pub as_of: NaiveDate,
    /// Add the value of each top-level clause to every decision.
    pub explain: bool,
    /// Fetch only what can change a decision (the default). Off: fetch every
    /// registry the rules mention for every person first (for comparison).
    pub demand_driven: bool,
    /// Set it to stop the batch: no further registry round, and every
    /// decision not made yet is an `error` (`cancelled`). Long evaluations
    /// stop at their next loop.
    pub cancel: Cancellation,
}

impl EvaluationOptions {
    /// Demand-driven, without explanations.
    pub fn new(as_of: NaiveDate) -> Self {
        EvaluationOptions { as_of, explain: false, demand_driven: true, cancel: Cancellation::new() }
    }
}

impl MetricTrace {
    fn of(catalog: &Catalog, used: &crate::compile::MetricUse, person: usize, resolution: &Resolution) -> Self {
        let person_name = if person == 0 { "registrant".to_owned() } else { format!("members[{}]", person - 1) };
        let (value, cause) = match resolution.read(catalog, used.id) {
            dci_metrics::MetricRead::Value(value) => (Some(value.to_json()), None),
            dci_metrics::MetricRead::Unknown(cause) => (None, Some(cause)),
        };
        let source = match (resolution.source(), &value) {
            (Some(dci_metrics::Source::Cache), Some(_)) => TraceSource::Cache,
            (Some(dci_metrics::Source::Registry), Some(_)) => TraceSource::Registry,
            _ => TraceSource::Unknown,
        };
        let detail = match resolution {
            Resolution::NotFound(_) => Some("not in the registry".to_owned()),
            Resolution::Failed(failure) => Some(failure.message.to_string()),
            Resolution::NoIdentifier => Some("no identifier of a type this registry accepts".to_owned()),
            Resolution::NotFetched => Some("not asked: the decision did not depend on it".to_owned()),
            Resolution::Found(..) => None,
        };
        MetricTrace { person: person_name, metric: used.name.clone(), value, source, cause, detail }
    }
}

/// Evaluates rules over beneficiaries, fetching registry metrics through a [`MetricStore`].
#[derive(Clone, Debug)]
pub struct Engine {
    compiler: Compiler,
    store: Arc<MetricStore>,
}

/// The state of one batch, moved between the rayon pool and tokio.
struct Work {
    env: Arc<Env>,
    catalog: Arc<Catalog>,
    names: Arc<MetricNames>,
    rules: Vec<Rule>,
    as_of: NaiveDate,
    allowance: Allowance,
    /// Per pair (beneficiary × rule), the steps its evaluations have taken in
    /// the current phase: the clauses a phase evaluates one by one (the local
    /// screen, the rest of the rule, the explanation) share one budget, so a
    /// rule of many clauses gets no more than one of few.
    spent: Vec<AtomicU64>,
    /// The pool the batch's CPU work runs on: small batches have their own.
    lane: Lane,
    beneficiaries: Vec<Beneficiary>,
    /// First person index of each beneficiary.
    offsets: Vec<usize>,
    /// Registries in fetch order; `facts` has one slot per entry.
    order: Vec<RegistryIndex>,
    slot_of: Vec<Option<usize>>,
    facts: Vec<Resolution>,
    /// Per pair (beneficiary × rule), when the rules have local screens:
    /// whether the rule's local clauses are all true for the beneficiary.
    locally_true: Vec<bool>,
}

impl Work {
    fn root(&self) -> Context<'static, 'static> {
        let mut root = Context::with_env(self.env.clone());
        if let Err(error) = functions::install(&mut root, self.as_of, &self.allowance) {
            panic!("the function library clashes with the CEL environment: {error}");
        }
        root
    }

    /// The household of `pair`'s beneficiary, metered on the pair's account.
    fn household(&self, pair: usize) -> Household<'_> {
        let beneficiary = pair / self.rules.len().max(1);
        let slots = self.order.len();
        let persons = self.beneficiaries[beneficiary].persons();
        let start = self.offsets[beneficiary] * slots;
        Household {
            beneficiary: &self.beneficiaries[beneficiary],
            facts: &self.facts[start..start + persons * slots],
            slots,
            slot_of: &self.slot_of,
            catalog: &self.catalog,
            names: &self.names,
            as_of: self.as_of,
            allowance: &self.allowance,
            spent: self.spent.get(pair),
        }
    }

    fn verdicts(&self, pairs: &[usize]) -> Vec<Verdict> {
        let root = self.root();
        let rules = self.rules.len();
        pairs
            .par_iter()
            .map(|&pair| {
                if self.allowance.cancel.is_cancelled() {
                    return Verdict::Error;
                }
                let (rule, household) = (&self.rules[pair % rules], self.household(pair));
                household.open_account();
                if self.locally_true.get(pair) == Some(&true) {
                    verdict_of_rest(&root, rule, &household)
                } else {
                    verdict(&root, rule, &household)
                }
            })
            .collect()
    }

    /// One result per valid beneficiary, in order: its detailed decisions
    /// (`detailed`: ascending by pair) or else the plain outcome of its
    /// verdict. Ids are moved out of the beneficiaries. Built in parallel.
    fn assemble(&mut self, verdicts: &[Verdict], detailed: Vec<(usize, Decision)>) -> Vec<ItemResult> {
        const CHUNK: usize = 4096;
        let rules = self.rules.len();
        // The detailed decisions of each chunk of beneficiaries.
        let mut per_chunk: Vec<Vec<(usize, Decision)>> = Vec::new();
        let mut detailed = detailed.into_iter().peekable();
        for chunk in 0..self.beneficiaries.len().div_ceil(CHUNK) {
            let end = (chunk + 1) * CHUNK * rules;
            let mut mine = Vec::new();
            while let Some(next) = detailed.next_if(|(pair, _)| *pair < end) {
                mine.push(next);
            }
            per_chunk.push(mine);
        }
        self.beneficiaries
            .par_chunks_mut(CHUNK)
            .zip(per_chunk)
            .enumerate()
            .flat_map_iter(|(chunk, (beneficiaries, detailed))| {
                let mut detailed = detailed.into_iter().peekable();
                let first = chunk * CHUNK;
                let items: Vec<ItemResult> = beneficiaries
                    .iter_mut()
                    .enumerate()
                    .map(|(offset, beneficiary)| {
                        let decisions = (0..rules)
                            .map(|rule| {
                                let pair = (first + offset) * rules + rule;
                                match detailed.next_if(|(at, _)| *at == pair) {
                                    Some((_, decision)) => decision,
                                    None => Decision::plain(verdicts[pair].outcome()),
                                }
                            })
                            .collect();
                        ItemResult::Decided { id: std::mem::take(&mut beneficiary.id), decisions }
                    })
                    .collect();
                items
            })
            .collect()
    }

    /// What each pair's local clauses say (see [`Screen`]).
    fn screen(&self) -> Vec<Screen> {
        let root = self.root();
        let rules = self.rules.len();
        (0..self.beneficiaries.len() * rules)
            .into_par_iter()
            .map(|pair| {
                let household = self.household(pair);
                household.open_account();
                screen(&root, &self.rules[pair % rules], &household)
            })
            .collect()
    }

    fn decisions(&self, pairs: &[usize], explain: bool) -> Vec<Decision> {
        let root = self.root();
        let rules = self.rules.len();
        pairs
            .par_iter()
            .map(|&pair| {
                if self.allowance.cancel.is_cancelled() {
                    return Decision::stopped(&self.rules[pair % rules], Stop::Cancelled);
                }
                let household = self.household(pair);
                household.open_account();
                decide(&root, &self.rules[pair % rules], &household, explain)
            })
            .collect()
    }
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

impl Engine {
    /// An engine compiling with `compiler` and fetching through `store`.
    pub fn new(compiler: Compiler, store: Arc<MetricStore>) -> Self {
        Engine { compiler, store }
    }

    /// The compiler.
    pub fn compiler(&self) -> &Compiler {
        &self.compiler
    }

    /// The metric store.
    pub fn store(&self) -> &Arc<MetricStore> {
        &self.store
    }

    /// Evaluates `rules` over `items`. Results come back in input order; an
    /// invalid item gets its own error and the others are decided; a registry
    /// failure makes decisions that depend on it `undetermined`, never `ineligible`.
    pub async fn evaluate_batch(
        &self,
        rules: &[Rule],
        items: Vec<Result<Beneficiary, BeneficiaryError>>,
        options: &EvaluationOptions,
    ) -> BatchResult {
        let (result, work) = self.run(rules, items, options).await;
        // Freeing a batch's beneficiaries takes a while: off the caller's thread.
        rayon::spawn(move || drop(work));
        result
    }

    /// Explains one rule for one beneficiary: the decision with the value of
    /// each clause, and every metric the rule read, with its value and where
    /// it came from (cache, registry, or unknown and why).
    pub async fn explain(&self, rule: &Rule, beneficiary: Beneficiary, as_of: NaiveDate) -> Explanation {
        let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(as_of) };
        let (result, work) = self.run(std::slice::from_ref(rule), vec![Ok(beneficiary)], &options).await;
        let (id, decision) = match result.items.into_iter().next() {
            Some(ItemResult::Decided { id, mut decisions }) => (id, decisions.remove(0)),
            _ => unreachable!("a valid beneficiary yields a decision"),
        };
        let household = work.household(0);
        let mut metrics = Vec::new();
        for used in rule.metrics() {
            let persons: Vec<usize> = match used.level {
                Level::Registrant => vec![0],
                Level::Member => (1..household.beneficiary.persons()).collect(),
            };
            for person in persons {
                let resolution = work.slot_of[used.id.registry]
                    .and_then(|slot| household.facts.get(person * household.slots + slot))
                    .cloned()
                    .unwrap_or(Resolution::NotFetched);
                metrics.push(MetricTrace::of(&work.catalog, used, person, &resolution));
            }
        }
        Explanation { id, rule: rule.name().to_owned(), decision, metrics, stats: result.stats }
    }

    async fn run(
        &self,
        rules: &[Rule],
        items: Vec<Result<Beneficiary, BeneficiaryError>>,
        options: &EvaluationOptions,
    ) -> (BatchResult, Work) {
        let started = Instant::now();
        let catalog = self.compiler.catalog().clone();
        let mut stats = BatchStats {
            items: items.len(),
            rules: rules.iter().map(|r| RuleCounts { rule: r.name().to_owned(), ..Default::default() }).collect(),
            ..Default::default()
        };
        // Valid items keep their order in `beneficiaries` (collected in the
        // items' own memory: no second batch-sized buffer); invalid ones are
        // kept aside with their input position.
        let item_count = items.len();
        let mut invalid: Vec<(usize, BeneficiaryError)> = Vec::new();
        let beneficiaries: Vec<Beneficiary> = items
            .into_iter()
            .enumerate()
            .filter_map(|(position, item)| match item {
                Ok(beneficiary) => Some(beneficiary),
                Err(error) => {
                    invalid.push((position, error));
                    None
                }
            })
            .collect();
        stats.invalid = invalid.len();
        let mut order: Vec<RegistryIndex> = Vec::new();
        for rule in rules {
            for registry in &rule.demand().order {
                if !order.contains(registry) {
                    order.push(*registry);
                }
            }
        }
        let mut slot_of = vec![None; catalog.registries().len()];
        for (slot, registry) in order.iter().enumerate() {
            slot_of[*registry] = Some(slot);
        }
        let mut offsets = Vec::with_capacity(beneficiaries.len());
        let mut persons = 0;
        for beneficiary in &beneficiaries {
            offsets.push(persons);
            persons += beneficiary.persons();
        }
        let pair_count = beneficiaries.len() * rules.len();
        let estimated: u64 = rules.iter().map(|rule| rule.estimate().steps).fold(0, u64::saturating_add);
        let lane = Lane::for_evaluations(pair_count, estimated.saturating_mul(beneficiaries.len() as u64));
        let mut work = Work {
            env: self.compiler.env().clone(),
            names: Arc::new(MetricNames::new(&catalog)),
            catalog,
            rules: rules.to_vec(),
            as_of: options.as_of,
            allowance: Allowance {
                steps: rules.iter().map(|rule| rule.budget().steps).min().unwrap_or(0),
                bytes: rules.iter().map(|rule| rule.budget().bytes).min().unwrap_or(0),
                cancel: options.cancel.clone(),
            },
            beneficiaries,
            offsets,
            facts: vec![Resolution::NotFetched; persons * order.len()],
            locally_true: Vec::new(),
            lane,
            spent: (0..pair_count).map(|_| AtomicU64::new(0)).collect(),
            order,
            slot_of,
        };
        let rule_count = rules.len();
        let work_lane = work.lane;

        let mut verdicts: Vec<Verdict> = vec![Verdict::Undetermined; pair_count];
        let mut todo: Vec<usize> = (0..pair_count).collect();
        // Local screen: rules of the form `local && registry` are false, with
        // no registry asked and no cache read, where a local clause is false.
        if options.demand_driven && rules.iter().any(|rule| rule.local_screen().len() > 0) {
            let screen = Instant::now();
            let (returned, screened) = on_pool(work_lane, move || {
                let screened = work.screen();
                (work, screened)
            })
            .await;
            work = returned;
            let screened_rules = rules.iter().filter(|rule| rule.local_screen().len() > 0).count();
            stats.evaluations += (work.beneficiaries.len() * screened_rules) as u64;
            todo.retain(|&pair| screened[pair] != Screen::False);
            for (verdict, _) in verdicts.iter_mut().zip(&screened).filter(|(_, s)| **s == Screen::False) {
                *verdict = Verdict::Decided(false);
            }
            work.locally_true = screened.into_iter().map(|s| s == Screen::True).collect();
            stats.timings.evaluate_ms += ms(screen);
        }
        // Households with a decision still open.
        let open: Vec<bool> = if todo.len() == pair_count {
            vec![true; work.beneficiaries.len()]
        } else {
            let mut open = vec![false; work.beneficiaries.len()];
            for &pair in &todo {
                open[pair / rule_count] = true;
            }
            open
        };

        if !options.demand_driven {
            for registry in work.order.clone() {
                let wanted = self.everyone(&work, registry, &open);
                let fetch = Instant::now();
                work = self.gather(work, registry, wanted, &mut stats).await.0;
                stats.timings.fetch_ms += ms(fetch);
            }
        }

        if options.demand_driven
            && let Some(&first) = work.order.first()
        {
            // Warm start: what the cache already knows of the first registry the
            // rules ask is used at once (no registry is asked), for the households
            // the local screen left open. When the cache is warm this saves a
            // round of evaluation, and evaluating with values is cheaper than with
            // unknowns: measured faster even for rules that could decide many
            // beneficiaries without any registry (before the screen existed).
            let probe = Instant::now();
            let wanted = self.everyone(&work, first, &open);
            let (returned, _, rest) = self.probe(work, first, wanted, &mut stats).await;
            work = returned;
            if !self.store.reads_synchronously() && !self.store.cache_is_empty() {
                self.read_cache(&mut work, first, rest, &mut stats).await;
            }
            stats.timings.fetch_ms += ms(probe);
        }

        loop {
            let evaluate = Instant::now();
            let pairs = std::mem::take(&mut todo);
            let (returned, results) = on_pool(work_lane, move || {
                let results = work.verdicts(&pairs);
                (work, (pairs, results))
            })
            .await;
            work = returned;
            stats.timings.evaluate_ms += ms(evaluate);
            stats.evaluations += results.0.len() as u64;
            for (pair, result) in results.0.into_iter().zip(results.1) {
                verdicts[pair] = result;
            }
            let pending: Vec<(usize, Needs)> = verdicts
                .iter()
                .enumerate()
                .filter_map(|(i, v)| if let Verdict::Pending(n) = v { Some((i, *n)) } else { None })
                .collect();
            if options.cancel.is_cancelled() {
                break;
            }
            let Some(registry) = work.order.iter().copied().find(|r| {
                pending.iter().any(|(_, needs)| (needs.registrant | needs.member_registries) & (1 << r) != 0)
            }) else {
                break;
            };
            let wanted = self.wanted(&work, registry, &pending);
            let fetch = Instant::now();
            let (returned, fetched) = self.gather(work, registry, wanted, &mut stats).await;
            work = returned;
            stats.timings.fetch_ms += ms(fetch);
            if fetched == 0 {
                break; // nothing left to learn for these decisions
            }
            todo = pending
                .iter()
                .filter(|(_, needs)| (needs.registrant | needs.member_registries) & (1 << registry) != 0)
                .map(|(i, _)| *i)
                .collect();
        }

        let detail = Instant::now();
        let explain = options.explain;
        let needs_detail: Vec<usize> =
            (0..pair_count).filter(|&i| explain || !matches!(verdicts[i], Verdict::Decided(_))).collect();
        let detailed_count = needs_detail.len();
        let (returned, detailed) = on_pool(work_lane, move || {
            let decisions = work.decisions(&needs_detail, explain);
            (work, (needs_detail, decisions))
        })
        .await;
        work = returned;
        stats.evaluations += detailed_count as u64
            * (1 + if explain { rules.first().map_or(0, |r| r.clauses().len()) as u64 } else { 0 });
        stats.timings.detail_ms = ms(detail);
        let assemble = Instant::now();
        let decided = on_pool(work_lane, move || {
            let decided = work.assemble(&verdicts, detailed.0.into_iter().zip(detailed.1).collect());
            (work, decided)
        })
        .await;
        let decided_items;
        (work, decided_items) = decided;
        for item in &decided_items {
            if let ItemResult::Decided { decisions, .. } = item {
                for (rule, decision) in decisions.iter().enumerate() {
                    stats.rules[rule].add(decision.outcome);
                }
            }
        }
        let results = if invalid.is_empty() {
            decided_items
        } else {
            // Invalid items go back to their input positions.
            let mut invalid = invalid.into_iter().peekable();
            let mut decided_items = decided_items.into_iter();
            let mut results = Vec::with_capacity(item_count);
            for position in 0..item_count {
                match invalid.next_if(|(at, _)| *at == position) {
                    Some((_, error)) => results.push(ItemResult::Invalid { error }),
                    None => results.extend(decided_items.next()),
                }
            }
            results
        };
        stats.timings.assemble_ms = ms(assemble);
        stats.timings.total_ms = ms(started);
        (BatchResult { items: results, stats }, work)
    }

    /// Every person of an `open` household a rule could ask `registry` about.
    fn everyone(&self, work: &Work, registry: RegistryIndex, open: &[bool]) -> Vec<usize> {
        let registrant = work
            .rules
            .iter()
            .any(|r| r.metrics().iter().any(|m| m.id.registry == registry && m.level == Level::Registrant));
        let members = work
            .rules
            .iter()
            .any(|r| r.metrics().iter().any(|m| m.id.registry == registry && m.level == Level::Member));
        let mut persons = Vec::new();
        for ((b, beneficiary), _) in work.beneficiaries.iter().enumerate().zip(open).filter(|(_, open)| **open) {
            let first = work.offsets[b];
            if registrant {
                persons.push(first);
            }
            if members {
                persons.extend((1..beneficiary.persons()).map(|k| first + k));
            }
        }
        persons
    }

    /// The persons the pending decisions need `registry` for.
    fn wanted(&self, work: &Work, registry: RegistryIndex, pending: &[(usize, Needs)]) -> Vec<usize> {
        let rules = work.rules.len();
        let persons_total = work.facts.len() / work.order.len().max(1);
        let mut chosen = vec![false; persons_total];
        let mut persons = Vec::new();
        let bit = 1u32 << registry;
        for (pair, needs) in pending {
            let b = pair / rules;
            let first = work.offsets[b];
            if needs.registrant & bit != 0 && !chosen[first] {
                chosen[first] = true;
                persons.push(first);
            }
            if needs.member_registries & bit != 0 {
                for k in 0..work.beneficiaries[b].members.len() {
                    let flag = 1u64 << k.min(63);
                    let person = first + 1 + k;
                    if needs.members & flag != 0 && !chosen[person] {
                        chosen[person] = true;
                        persons.push(person);
                    }
                }
            }
        }
        persons
    }

    /// Resolves `registry` for `persons` whose facts are not known yet: first
    /// what is at hand without awaiting (a restored snapshot, and the cache
    /// when its backend allows), read in parallel on the pool, then the rest
    /// through [`MetricStore::prefetch`] (the cache, then the registry).
    /// Returns how many persons it resolved.
    async fn gather(
        &self,
        work: Work,
        registry: RegistryIndex,
        persons: Vec<usize>,
        stats: &mut BatchStats,
    ) -> (Work, usize) {
        let (mut work, at_hand, rest) = self.probe(work, registry, persons, stats).await;
        let fetched = self.resolve(&mut work, registry, rest, stats).await;
        (work, at_hand + fetched)
    }

    /// Reads what is at hand of `registry` for `persons` (see [`Engine::gather`]),
    /// in parallel on the pool. Returns how many it resolved, and the persons
    /// still to resolve (not at hand, or without a usable identifier).
    async fn probe(
        &self,
        work: Work,
        registry: RegistryIndex,
        persons: Vec<usize>,
        stats: &mut BatchStats,
    ) -> (Work, usize, Vec<usize>) {
        let Some(slot) = work.slot_of.get(registry).copied().flatten() else { return (work, 0, Vec::new()) };
        let synchronous = self.store.reads_synchronously() && !self.store.cache_is_empty();
        if !self.store.has_snapshot() && !synchronous {
            return (work, 0, persons);
        }
        let store = self.store.clone();
        let work_lane = work.lane;
        let (work, hits, rest) = on_pool(work_lane, move || {
            let mut work = work;
            let slots = work.order.len();
            let found: Vec<(usize, Option<Resolution>)> = persons
                .par_chunks(2048)
                .flat_map_iter(|chunk| {
                    let asked = Unknown::of(
                        &store,
                        registry,
                        &work.beneficiaries,
                        &work.offsets,
                        &work.facts,
                        (slot, slots),
                        chunk.iter().copied(),
                    );
                    let facts = store.facts_at_hand(registry, &asked.identifiers);
                    asked.persons.into_iter().zip(facts).chain(asked.unidentified.into_iter().map(|p| (p, None)))
                })
                .collect();
            let mut hits = 0;
            let mut rest = Vec::new();
            for (person, resolution) in found {
                match resolution {
                    Some(resolution) => {
                        work.facts[person * slots + slot] = resolution;
                        hits += 1;
                    }
                    None => rest.push(person),
                }
            }
            (work, hits, rest)
        })
        .await;
        let usage = registry_use(stats, &work.catalog, registry);
        usage.requested += hits;
        usage.cache_hits += hits;
        (work, hits, rest)
    }

    /// Fills in what the cache (awaited: moka) already knows of `registry` for
    /// `persons`, asking no registry.
    async fn read_cache(&self, work: &mut Work, registry: RegistryIndex, persons: Vec<usize>, stats: &mut BatchStats) {
        let Some(slot) = work.slot_of.get(registry).copied().flatten() else { return };
        let slots = work.order.len();
        let Work { beneficiaries, offsets, facts, catalog, .. } = work;
        let asked = Unknown::of(&self.store, registry, beneficiaries, offsets, facts, (slot, slots), persons);
        let cached = self.store.cached(registry, &asked.identifiers).await;
        let usage = registry_use(stats, catalog, registry);
        for (person, resolution) in asked.persons.into_iter().zip(cached) {
            if let Some(resolution) = resolution {
                facts[person * slots + slot] = resolution;
                usage.requested += 1;
                usage.cache_hits += 1;
            }
        }
    }

    /// Resolves `registry` for `persons` whose facts are not known yet through
    /// the store's prefetch; returns how many persons it resolved.
    async fn resolve(
        &self,
        work: &mut Work,
        registry: RegistryIndex,
        persons: Vec<usize>,
        stats: &mut BatchStats,
    ) -> usize {
        let Some(slot) = work.slot_of.get(registry).copied().flatten() else { return 0 };
        let slots = work.order.len();
        let Work { beneficiaries, offsets, facts, catalog, .. } = work;
        let asked = Unknown::of(&self.store, registry, beneficiaries, offsets, facts, (slot, slots), persons);
        let usage = registry_use(stats, catalog, registry);
        usage.rounds += 1;
        let mut resolved = 0;
        if !asked.identifiers.is_empty() {
            let prefetch = self.store.prefetch(registry, &asked.identifiers).await;
            add_report(usage, &prefetch.report);
            for (person, resolution) in asked.persons.into_iter().zip(prefetch.resolutions) {
                facts[person * slots + slot] = resolution;
                resolved += 1;
            }
        }
        for person in asked.unidentified {
            facts[person * slots + slot] = Resolution::NoIdentifier;
            usage.no_identifier += 1;
            resolved += 1;
        }
        resolved
    }
}

/// Of some persons, those whose facts of one registry are still unknown:
/// with the identifier the registry knows them by, or without a usable one.
struct Unknown<'a> {
    persons: Vec<usize>,
    identifiers: Vec<&'a Identifier>,
    unidentified: Vec<usize>,
}

impl<'a> Unknown<'a> {
    /// Sorts `persons` (best given in ascending order) whose facts
    /// `facts[person * slots + slot]` are not fetched yet.
    fn of(
        store: &MetricStore,
        registry: RegistryIndex,
        beneficiaries: &'a [Beneficiary],
        offsets: &'a [usize],
        facts: &[Resolution],
        (slot, slots): (usize, usize),
        persons: impl IntoIterator<Item = usize>,
    ) -> Self {
        let mut finder = PersonFinder::new(beneficiaries, offsets);
        let mut unknown = Unknown { persons: Vec::new(), identifiers: Vec::new(), unidentified: Vec::new() };
        for person in persons {
            if !facts[person * slots + slot].is_fetchable() {
                continue;
            }
            match store.choose_identifier(registry, &finder.get(person).identifiers) {
                Some(identifier) => {
                    unknown.persons.push(person);
                    unknown.identifiers.push(identifier);
                }
                None => unknown.unidentified.push(person),
            }
        }
        unknown
    }
}

/// The statistics of `registry` in `stats`, added when missing.
fn registry_use<'s>(stats: &'s mut BatchStats, catalog: &Catalog, registry: RegistryIndex) -> &'s mut RegistryUse {
    let name = catalog.registries()[registry].id;
    let position = match stats.registries.iter().position(|r| r.registry == name) {
        Some(position) => position,
        None => {
            stats.registries.push(RegistryUse { registry: name.to_owned(), ..Default::default() });
            stats.registries.len() - 1
        }
    };
    &mut stats.registries[position]
}

/// The data of persons (indexes into a batch's persons), for persons asked
/// mostly in ascending order: the household of the previous person, or the
/// next one, is tried before a binary search.
struct PersonFinder<'a> {
    beneficiaries: &'a [Beneficiary],
    offsets: &'a [usize],
    household: usize,
}

impl<'a> PersonFinder<'a> {
    fn new(beneficiaries: &'a [Beneficiary], offsets: &'a [usize]) -> Self {
        PersonFinder { beneficiaries, offsets, household: 0 }
    }

    fn get(&mut self, person: usize) -> &'a Beneficiary {
        let holds = |b: usize| {
            self.offsets.get(b).is_some_and(|&first| first <= person)
                && self.offsets.get(b + 1).is_none_or(|&next| person < next)
        };
        if !holds(self.household) {
            // Persons mostly come in ascending order, a few households apart:
            // look a few households ahead before searching.
            self.household = match (1..=8).map(|step| self.household + step).find(|&b| holds(b)) {
                Some(b) => b,
                None => self.offsets.partition_point(|&offset| offset <= person).saturating_sub(1),
            };
        }
        let beneficiary = &self.beneficiaries[self.household];
        beneficiary.person(person - self.offsets[self.household]).unwrap_or(beneficiary)
    }
}

fn add_report(usage: &mut RegistryUse, report: &PrefetchReport) {
    usage.requested += report.requested;
    usage.cache_hits += report.cache_hits;
    usage.merged += report.merged;
    usage.fetched += report.fetched;
    usage.round_trips += report.round_trips;
    usage.fetch_ms += report.elapsed.as_millis() as u64;
    for (cause, count) in &report.failures {
        *usage.failures.entry(*cause).or_default() += count;
    }
    if usage.first_failure.is_none() {
        usage.first_failure.clone_from(&report.first_failure);
    }
}
