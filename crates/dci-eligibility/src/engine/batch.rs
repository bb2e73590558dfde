//! Batch evaluation, in five phases over a table of what is known:
//!
//! 1. **screen**: the clauses of a rule that read no registry; one false
//!    decides `local && registry` with nothing fetched;
//! 2. **fill**: what the store already knows ([`MetricStore::known`]) in the
//!    first registry the rules read, about the persons of the households
//!    still open, in parallel;
//! 3. **rounds**: evaluate what is pending, then learn one registry, only for
//!    the persons the pending decisions still need: what the store knows
//!    (read in parallel), then [`MetricStore::fetch`] for the rest; until
//!    every decision is made or nothing more can be learnt;
//! 4. **detail**: re-evaluate the undetermined and failed decisions (and,
//!    with `explain`, every one) for their missing values, errors and clauses;
//! 5. **assemble** the results in input order.
//!
//! The batch's data that does not change sits behind an `Arc` ([`Batch`]);
//! only the [`Table`] of what is learnt moves between tokio (fetching) and
//! the rayon pool (evaluating): a tokio worker never evaluates CEL and a
//! rayon thread never waits on the network.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use cel::{Context, Env};
use chrono::NaiveDate;
use compact_str::CompactString;
use dci_metrics::{Catalog, MetricStore, RegistryIndex, Resolution};
use dci_protocol::records::Identifier;
use rayon::prelude::*;

use crate::data::beneficiary::{Beneficiary, BeneficiaryError};
use crate::engine::bind::{Household, MetricNames, Needs};
use crate::engine::evaluate::{Screen, Verdict, decide, screen, verdict, verdict_of_rest};
use crate::engine::functions;
use crate::engine::meter::{Allowance, Cancellation, LaneChange, Stop};
use crate::engine::pool::{INTERACTIVE_ALLOTMENT, Lane, on_pool};
use crate::engine::table::{BeneficiaryIndex, Columns, FactTable, PairIndex, Pairs, PersonRow, RuleIndex};
use crate::report::results::{self, BatchResult, BatchStats, Decision, ItemResult, RegistryUse, RuleCounts, Tally};
use crate::rules::compile::{Compiler, Level, Rule};

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
    /// Told when a batch started on [`Lane::Interactive`] moves to
    /// [`Lane::Bulk`] (see [`INTERACTIVE_ALLOTMENT`]), so that a caller
    /// holding a slot of the small callers' lane can give it back.
    pub lane_change: LaneChange,
    /// The pool to run on, when the caller has chosen (a server stream holds
    /// a slot of the bulk lane); by default, the batch's size and estimate choose.
    pub lane: Option<Lane>,
    /// Say no value in a decision's `error`: the message of an error is
    /// replaced by one naming the rule only, since an error can quote the
    /// value it failed on (`date: "MENTAL" is not a date`), which may be a
    /// registry's. For callers that may not see registry values.
    pub withhold_values: bool,
}

/// The `error` of a decision whose values are withheld ([`EvaluationOptions::withhold_values`]).
pub const WITHHELD_ERROR: &str =
    "the rule could not be applied to this beneficiary; why would show values this caller may not see";

impl EvaluationOptions {
    /// Demand-driven, without explanations.
    pub fn new(as_of: NaiveDate) -> Self {
        EvaluationOptions {
            as_of,
            explain: false,
            demand_driven: true,
            cancel: Cancellation::new(),
            lane_change: LaneChange::default(),
            lane: None,
            withhold_values: false,
        }
    }
}

/// Evaluates rules over beneficiaries, fetching registry metrics through a [`MetricStore`].
#[derive(Clone, Debug)]
pub struct Engine {
    compiler: Compiler,
    store: Arc<MetricStore>,
}

/// A batch's data that does not change while it is evaluated.
pub(crate) struct Batch {
    env: Arc<Env>,
    pub(crate) catalog: Arc<Catalog>,
    /// The store, for the identifier types each registry accepts.
    store: Arc<MetricStore>,
    names: MetricNames,
    rules: Vec<Rule>,
    as_of: NaiveDate,
    allowance: Allowance,
    /// Per decision, the steps its evaluations have taken in the current
    /// phase: the clauses a phase evaluates one by one (the local screen, the
    /// rest of the rule, the explanation) share one budget, so a rule of many
    /// clauses gets no more than one of few.
    spent: Vec<AtomicU64>,
    beneficiaries: Vec<Beneficiary>,
    /// The row of each beneficiary in the fact table; its members follow it.
    first_row: Vec<PersonRow>,
    pairs: Pairs,
}

/// A person of a batch: a beneficiary, and 0 for itself or k for its member k − 1.
#[derive(Clone, Copy, Debug)]
struct PersonRef {
    beneficiary: BeneficiaryIndex,
    person: usize,
}

impl Batch {
    fn root(&self) -> Context<'static, 'static> {
        let mut root = Context::with_env(self.env.clone());
        if let Err(error) = functions::install(&mut root, self.as_of, &self.allowance) {
            panic!("the function library clashes with the CEL environment: {error}");
        }
        root
    }

    fn rule(&self, pair: PairIndex) -> &Rule {
        &self.rules[self.pairs.rule(pair).0]
    }

    fn row(&self, person: PersonRef) -> PersonRow {
        PersonRow(self.first_row[person.beneficiary.0].0 + person.person)
    }

    fn person(&self, person: PersonRef) -> Option<&Beneficiary> {
        self.beneficiaries.get(person.beneficiary.0)?.person(person.person)
    }

    /// The household of `pair`'s beneficiary, metered on the pair's account.
    pub(crate) fn household<'a>(&'a self, facts: &'a FactTable, pair: PairIndex) -> Household<'a> {
        let beneficiary = self.pairs.beneficiary(pair);
        let data = &self.beneficiaries[beneficiary.0];
        Household {
            beneficiary: data,
            facts: facts.household(self.first_row[beneficiary.0], data.persons()),
            catalog: &self.catalog,
            store: &self.store,
            names: &self.names,
            as_of: self.as_of,
            allowance: &self.allowance,
            spent: self.spent.get(pair.0),
            analysed: self.rule(pair).metrics(),
        }
    }

    /// What `pair`'s local clauses say (see [`Screen`]).
    fn screen_one(&self, root: &Context<'_, '_>, table: &Table, pair: PairIndex) -> Screen {
        if self.allowance.cancel.is_cancelled() {
            return Screen::Open;
        }
        let household = self.household(&table.facts, pair);
        household.open_account();
        screen(root, self.rule(pair), &household)
    }

    /// `pair`'s verdict with what is known now.
    fn verdict_one(&self, root: &Context<'_, '_>, table: &Table, pair: PairIndex) -> Verdict {
        if self.allowance.cancel.is_cancelled() {
            return Verdict::Stopped(Stop::Cancelled);
        }
        let (rule, household) = (self.rule(pair), self.household(&table.facts, pair));
        household.open_account();
        if table.locally_true.get(pair.0) == Some(&true) {
            verdict_of_rest(root, rule, &household)
        } else {
            verdict(root, rule, &household)
        }
    }

    /// `pair`'s decision in detail (with its clauses when `explain`).
    fn decision_one(&self, root: &Context<'_, '_>, table: &Table, pair: PairIndex, explain: bool) -> Decision {
        if self.allowance.cancel.is_cancelled() {
            return Decision::stopped(self.rule(pair), Stop::Cancelled);
        }
        // An evaluation stopped by its budget would only be stopped again.
        if let Verdict::Stopped(stop) = table.verdicts[pair.0] {
            return Decision::stopped(self.rule(pair), stop);
        }
        let household = self.household(&table.facts, pair);
        household.open_account();
        decide(root, self.rule(pair), &household, explain)
    }

    /// The pool the batch's CPU work runs on now: a small batch has its own,
    /// until its evaluations take more than [`INTERACTIVE_ALLOTMENT`] steps. A
    /// cancelled batch evaluates nothing more: what is left of it (marking its
    /// decisions stopped, putting them in order) takes the small callers'
    /// pool, rather than waiting for a turn on the bulk pool.
    fn lane(&self) -> Lane {
        if self.allowance.cancel.is_cancelled() {
            return Lane::Interactive;
        }
        match self.allowance.lane_spent() {
            Some(spent) if spent <= INTERACTIVE_ALLOTMENT => Lane::Interactive,
            _ => Lane::Bulk,
        }
    }

    /// Every person a rule could ask `registry` about, in the households
    /// with a decision still to make (`todo`, in order).
    fn everyone(&self, registry: RegistryIndex, todo: &[PairIndex]) -> Vec<PersonRef> {
        let reads = |level: Level| {
            self.rules.iter().any(|r| r.metrics().iter().any(|m| m.id.registry == registry && m.level == level))
        };
        let (registrant, members) = (reads(Level::Registrant), reads(Level::Member));
        let mut households: Vec<BeneficiaryIndex> = todo.iter().map(|&pair| self.pairs.beneficiary(pair)).collect();
        households.dedup();
        let mut persons = Vec::new();
        for beneficiary in households {
            let last = if members { self.beneficiaries[beneficiary.0].persons() } else { 1 };
            persons.extend((usize::from(!registrant)..last).map(|person| PersonRef { beneficiary, person }));
        }
        persons
    }

    /// The persons the `pending` decisions need `registry` for, each once.
    fn wanted(&self, registry: RegistryIndex, pending: &[(PairIndex, Needs)]) -> Vec<PersonRef> {
        let rows =
            self.first_row.last().map_or(0, |last| last.0) + self.beneficiaries.last().map_or(0, |b| b.persons());
        let mut chosen = vec![false; rows];
        let mut persons = Vec::new();
        let mut choose = |person: PersonRef, persons: &mut Vec<PersonRef>| {
            let row = self.row(person);
            if !std::mem::replace(&mut chosen[row.0], true) {
                persons.push(person);
            }
        };
        for (pair, needs) in pending {
            let beneficiary = self.pairs.beneficiary(*pair);
            if needs.registrant.contains(registry) {
                choose(PersonRef { beneficiary, person: 0 }, &mut persons);
            }
            if needs.member_registries.contains(registry) {
                for member in 0..self.beneficiaries[beneficiary.0].member_count() {
                    if needs.members & (1 << member.min(63)) != 0 {
                        choose(PersonRef { beneficiary, person: member + 1 }, &mut persons);
                    }
                }
            }
        }
        persons
    }

    /// The `n`-th identifier `registry` accepts of `person` (0: the first asked).
    fn other_identifier<'a>(
        &'a self,
        store: &MetricStore,
        registry: RegistryIndex,
        person: PersonRef,
        n: usize,
    ) -> Option<&'a Identifier> {
        let identifiers = self.person(person).map_or(&[][..], |data| &data.identifiers);
        store.nth_identifier(registry, identifiers, n)
    }

    /// Of `persons`, those not known yet in `registry`: with the identifier
    /// the registry knows them by (and whether it accepts another), or
    /// without a usable one.
    fn unknown(
        &self,
        store: &MetricStore,
        facts: &FactTable,
        registry: RegistryIndex,
        persons: &[PersonRef],
    ) -> Unknown<'_> {
        let mut unknown =
            Unknown { persons: Vec::new(), identifiers: Vec::new(), several: Vec::new(), unidentified: Vec::new() };
        for &person in persons {
            if !facts.get(self.row(person), registry).is_fetchable() {
                continue;
            }
            let identifiers = self.person(person).map_or(&[][..], |data| &data.identifiers);
            match store.choose_identifier(registry, identifiers) {
                Some(identifier) => {
                    unknown.persons.push(person);
                    unknown.identifiers.push(identifier);
                    unknown.several.push(store.nth_identifier(registry, identifiers, 1).is_some());
                }
                None => unknown.unidentified.push(person),
            }
        }
        unknown
    }
}

/// A person being asked about under each of their identifiers: the first
/// asked, and what the answers so far say together.
struct Asking<'a> {
    person: PersonRef,
    first: &'a Identifier,
    so_far: Resolution,
}

/// Persons not known yet in one registry (see [`Batch::unknown`]).
struct Unknown<'a> {
    persons: Vec<PersonRef>,
    identifiers: Vec<&'a Identifier>,
    /// Per person: whether the registry accepts another of their
    /// identifiers, so that they are asked under each and the answers merged.
    several: Vec<bool>,
    unidentified: Vec<PersonRef>,
}

/// What a batch learns as it is evaluated; it moves between tokio and the pool.
pub(crate) struct Table {
    pub(crate) facts: FactTable,
    /// One per decision.
    verdicts: Vec<Verdict>,
    /// Per decision, when rules have local screens: whether the rule's local
    /// clauses are all true for the beneficiary.
    locally_true: Vec<bool>,
}

/// Runs `job` on the batch's pool with the table, and gives the table back.
async fn on_batch_pool<T: Send + 'static>(
    batch: &Arc<Batch>,
    mut table: Table,
    job: impl FnOnce(&Batch, &mut Table) -> T + Send + 'static,
) -> (Table, T) {
    let batch = batch.clone();
    on_pool(batch.lane(), move || {
        let out = job(&batch, &mut table);
        (table, out)
    })
    .await
}

/// Runs `each` for every pair of `pairs` on the batch's pool, in order. On
/// the interactive pool (one thread) the pairs are done one after another,
/// and once the batch has taken its allotment of steps the rest move to the
/// bulk pool: a batch estimated small but costlier than estimated (data past
/// the assumed bounds) never holds the small callers' thread for long.
async fn over_pairs<T, F>(batch: &Arc<Batch>, table: Table, pairs: Vec<PairIndex>, each: F) -> (Table, Vec<T>)
where
    T: Send + 'static,
    F: Fn(&Batch, &Context<'_, '_>, &Table, PairIndex) -> T + Copy + Send + Sync + 'static,
{
    let (table, (mut done, pairs)) = on_batch_pool(batch, table, move |batch, table| {
        let root = batch.root();
        let done: Vec<T> = if batch.lane() == Lane::Interactive {
            pairs
                .iter()
                .take_while(|_| batch.lane() == Lane::Interactive)
                .map(|&p| each(batch, &root, table, p))
                .collect()
        } else {
            pairs.par_iter().map(|&pair| each(batch, &root, table, pair)).collect()
        };
        (done, pairs)
    })
    .await;
    if done.len() == pairs.len() {
        return (table, done);
    }
    let rest = pairs[done.len()..].to_vec();
    let (table, more) = on_batch_pool(batch, table, move |batch, table| {
        let root = batch.root();
        rest.par_iter().map(|&pair| each(batch, &root, table, pair)).collect::<Vec<T>>()
    })
    .await;
    done.extend(more);
    (table, done)
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// The statistics of `registry` in `stats`, added when missing.
fn registry_use<'s>(
    stats: &'s mut BatchStats,
    store: &MetricStore,
    catalog: &Catalog,
    registry: RegistryIndex,
) -> &'s mut RegistryUse {
    let usage = results::registry_use(&mut stats.registries, catalog.registry(registry).id);
    if usage.answered_by.is_none() {
        usage.answered_by = Some(store.answered_by(registry));
    }
    usage
}

/// A batch's input, split: the valid beneficiaries in order, their ids, and
/// the invalid items with their input positions.
struct Input {
    beneficiaries: Vec<Beneficiary>,
    ids: Vec<CompactString>,
    invalid: Vec<(usize, BeneficiaryError)>,
    items: usize,
}

impl Input {
    fn split(items: Vec<Result<Beneficiary, BeneficiaryError>>) -> Self {
        let count = items.len();
        let mut invalid = Vec::new();
        // Collected in the items' own memory: no second batch-sized buffer.
        let mut beneficiaries: Vec<Beneficiary> = items
            .into_iter()
            .enumerate()
            .filter_map(|(position, item)| item.map_err(|error| invalid.push((position, error))).ok())
            .collect();
        let ids = beneficiaries.iter_mut().map(|b| std::mem::take(&mut b.id)).collect();
        Input { beneficiaries, ids, invalid, items: count }
    }
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
        let (result, batch, table) = self.run(rules, items, options).await;
        // Freeing a batch's beneficiaries and facts takes a while: off the caller's thread.
        rayon::spawn(move || drop((batch, table)));
        result
    }

    /// The five phases (see the module documentation).
    pub(crate) async fn run(
        &self,
        rules: &[Rule],
        items: Vec<Result<Beneficiary, BeneficiaryError>>,
        options: &EvaluationOptions,
    ) -> (BatchResult, Arc<Batch>, Table) {
        let started = Instant::now();
        let input = Input::split(items);
        let mut stats = BatchStats {
            items: input.items,
            invalid: input.invalid.len(),
            rules: rules.iter().map(|r| RuleCounts { rule: r.name().to_owned(), ..Default::default() }).collect(),
            ..Default::default()
        };
        let (batch, table) = self.prepare(rules, input.beneficiaries, options);

        let (table, todo) = self.screen(&batch, table, options, &mut stats).await;
        let table = self.fill(&batch, table, &todo, &mut stats).await;
        let table = if options.demand_driven {
            self.decide_in_rounds(&batch, table, todo, options, &mut stats).await
        } else {
            self.fetch_all_then_decide(&batch, table, todo, &mut stats).await
        };
        let (table, detailed) = self.detail(&batch, table, options.explain, &mut stats).await;
        let assemble = Instant::now();
        let (table, items) = on_batch_pool(&batch, table, move |batch, table| {
            assemble_in_order(batch, &table.verdicts, detailed, input.ids, input.invalid)
        })
        .await;
        let mut items = items;
        for item in &mut items {
            if let ItemResult::Decided { decisions, .. } = item {
                for (counts, decision) in stats.rules.iter_mut().zip(decisions.iter_mut()) {
                    counts.add(decision.outcome);
                    // A stopped evaluation's message (budget, cancellation) names no value: it stays.
                    if options.withhold_values && decision.error.is_some() && decision.code.is_none() {
                        decision.error = Some(WITHHELD_ERROR.to_owned());
                    }
                }
            }
        }
        stats.timings.assemble_ms = ms(assemble);
        stats.timings.total_ms = ms(started);
        (BatchResult { items, stats }, batch, table)
    }

    /// The batch's fixed data, and an empty table.
    fn prepare(
        &self,
        rules: &[Rule],
        beneficiaries: Vec<Beneficiary>,
        options: &EvaluationOptions,
    ) -> (Arc<Batch>, Table) {
        let catalog = self.compiler.catalog().clone();
        let mut first_row = Vec::with_capacity(beneficiaries.len());
        let mut persons = 0;
        for beneficiary in &beneficiaries {
            first_row.push(PersonRow(persons));
            persons += beneficiary.persons();
        }
        let pairs = Pairs::new(beneficiaries.len(), rules.len());
        let batch = Batch {
            env: self.compiler.env().clone(),
            store: self.store.clone(),
            names: MetricNames::new(&catalog),
            rules: rules.to_vec(),
            as_of: options.as_of,
            allowance: Allowance {
                steps: rules.iter().map(|rule| rule.budget().steps).min().unwrap_or(0),
                bytes: rules.iter().map(|rule| rule.budget().bytes).min().unwrap_or(0),
                cancel: options.cancel.clone(),
                batch_steps: rules.iter().map(Rule::batch_budget).min().unwrap_or(0),
                batch_spent: Arc::default(),
                lane_spent: (options.lane.unwrap_or_else(|| Lane::for_rules(rules, beneficiaries.len()))
                    == Lane::Interactive)
                    .then(Arc::default),
                lane_change: options.lane_change.clone(),
            },
            spent: (0..pairs.count()).map(|_| AtomicU64::new(0)).collect(),
            beneficiaries,
            first_row,
            pairs,
            catalog: catalog.clone(),
        };
        let table = Table {
            facts: FactTable::new(Columns::new(&catalog, rules), persons),
            verdicts: vec![Verdict::Undetermined; pairs.count()],
            locally_true: Vec::new(),
        };
        (Arc::new(batch), table)
    }

    /// Phase 1: in rules of the form `local && registry` (either order), the
    /// clauses that read no registry decide `false` where one is false, with
    /// nothing fetched. Returns the decisions still to make.
    async fn screen(
        &self,
        batch: &Arc<Batch>,
        table: Table,
        options: &EvaluationOptions,
        stats: &mut BatchStats,
    ) -> (Table, Vec<PairIndex>) {
        let screened_rules = batch.rules.iter().filter(|rule| rule.local_screen().len() > 0).count();
        if !options.demand_driven || screened_rules == 0 {
            return (table, batch.pairs.all().collect());
        }
        let started = Instant::now();
        let everything: Vec<PairIndex> = batch.pairs.all().collect();
        let (table, screened) =
            over_pairs(batch, table, everything, |batch, root, table, pair| batch.screen_one(root, table, pair)).await;
        let (table, todo) = on_batch_pool(batch, table, move |batch, table| {
            let mut todo = Vec::with_capacity(screened.len());
            for (pair, screen) in batch.pairs.all().zip(&screened) {
                match screen {
                    Screen::False => table.verdicts[pair.0] = Verdict::Decided(false),
                    _ => todo.push(pair),
                }
            }
            table.locally_true = screened.into_iter().map(|s| s == Screen::True).collect();
            todo
        })
        .await;
        stats.evaluations += (batch.beneficiaries.len() * screened_rules) as u64;
        stats.timings.evaluate_ms += ms(started);
        (table, todo)
    }

    /// Phase 2: what the store knows now, in the first registry the rules
    /// read, about the persons of the households with a decision still open:
    /// with a warm cache the first evaluation then decides most of them.
    /// Later registries are read as rounds need them, only for the persons
    /// who need them.
    async fn fill(&self, batch: &Arc<Batch>, table: Table, todo: &[PairIndex], stats: &mut BatchStats) -> Table {
        let Some(&first) = table.facts.columns().order().first() else { return table };
        let started = Instant::now();
        let everyone = batch.everyone(first, todo);
        let (table, _, _) = self.read_known(batch, table, first, everyone, stats).await;
        stats.timings.fetch_ms += ms(started);
        table
    }

    /// Fills in what the store knows now about those of `persons` not known
    /// yet in `registry`, read in parallel on the pool; returns how many it
    /// filled in, and the persons still unknown.
    async fn read_known(
        &self,
        batch: &Arc<Batch>,
        table: Table,
        registry: RegistryIndex,
        persons: Vec<PersonRef>,
        stats: &mut BatchStats,
    ) -> (Table, usize, Vec<PersonRef>) {
        let store = self.store.clone();
        let (table, (hits, rest)) = on_batch_pool(batch, table, move |batch, table| {
            let found: Vec<(PersonRef, Option<Resolution>)> = persons
                .par_chunks(2048)
                .flat_map_iter(|persons| {
                    let unknown = batch.unknown(&store, &table.facts, registry, persons);
                    // Counted below: a person asked under several identifiers is read again by the fetch.
                    let known = store.peek(registry, &unknown.identifiers);
                    let answered = unknown.persons.into_iter().zip(known).zip(unknown.several).map(
                        // A person with several identifiers the registry accepts is asked under
                        // each (the cache first) and the answers merged, by the fetch.
                        |((person, known), several)| (person, known.filter(|_| !several)),
                    );
                    // Persons without a usable identifier stay to be marked so by the fetch.
                    answered.chain(unknown.unidentified.into_iter().map(|p| (p, None)))
                })
                .collect();
            let mut rest = Vec::new();
            let mut hits = 0;
            for (person, known) in found {
                match known {
                    Some(resolution) => {
                        table.facts.set(batch.row(person), registry, resolution);
                        hits += 1;
                    }
                    None => rest.push(person),
                }
            }
            (hits, rest)
        })
        .await;
        if hits > 0 {
            self.store.count_hits(hits);
            let usage = registry_use(stats, &self.store, &batch.catalog, registry);
            usage.fetch.requested += hits;
            usage.fetch.cache_hits += hits;
        }
        (table, hits, rest)
    }

    /// Phase 3: rounds of evaluating what is pending, then learning the one
    /// registry that comes first among what the pending decisions still need,
    /// for the persons who need it (what the store knows, then a fetch of the
    /// rest); until nothing is pending or nothing more can be learnt.
    async fn decide_in_rounds(
        &self,
        batch: &Arc<Batch>,
        mut table: Table,
        mut todo: Vec<PairIndex>,
        options: &EvaluationOptions,
        stats: &mut BatchStats,
    ) -> Table {
        loop {
            let pending;
            (table, pending) = self.evaluate(batch, table, todo, stats).await;
            if options.cancel.is_cancelled() {
                return table;
            }
            let Some(registry) = table
                .facts
                .columns()
                .order()
                .iter()
                .copied()
                .find(|&r| pending.iter().any(|(_, needs)| needs.registries().contains(r)))
            else {
                return table;
            };
            let wanted = batch.wanted(registry, &pending);
            let started = Instant::now();
            let (known, rest);
            (table, known, rest) = self.read_known(batch, table, registry, wanted, stats).await;
            stats.timings.fetch_ms += ms(started);
            if known + self.fetch(batch, &mut table, registry, &rest, stats).await == 0 {
                return table; // nothing left to learn for these decisions
            }
            todo = pending.iter().filter(|(_, needs)| needs.registries().contains(registry)).map(|(p, _)| *p).collect();
        }
    }

    /// Phase 3 without demand (`demand_driven` off, for comparison): every
    /// registry the rules read, for every person of an open household, then
    /// one evaluation.
    async fn fetch_all_then_decide(
        &self,
        batch: &Arc<Batch>,
        mut table: Table,
        todo: Vec<PairIndex>,
        stats: &mut BatchStats,
    ) -> Table {
        for registry in table.facts.columns().order().to_vec() {
            self.fetch(batch, &mut table, registry, &batch.everyone(registry, &todo), stats).await;
        }
        self.evaluate(batch, table, todo, stats).await.0
    }

    /// Evaluates the `todo` decisions; returns those still pending, with what they need.
    async fn evaluate(
        &self,
        batch: &Arc<Batch>,
        table: Table,
        todo: Vec<PairIndex>,
        stats: &mut BatchStats,
    ) -> (Table, Vec<(PairIndex, Needs)>) {
        let started = Instant::now();
        stats.evaluations += todo.len() as u64;
        let (table, verdicts) =
            over_pairs(batch, table, todo.clone(), |batch, root, table, pair| batch.verdict_one(root, table, pair))
                .await;
        let (table, pending) = on_batch_pool(batch, table, move |batch, table| {
            for (pair, verdict) in todo.iter().zip(verdicts) {
                table.verdicts[pair.0] = verdict;
            }
            batch
                .pairs
                .all()
                .filter_map(|pair| match table.verdicts[pair.0] {
                    Verdict::Pending(needs) => Some((pair, needs)),
                    _ => None,
                })
                .collect()
        })
        .await;
        stats.timings.evaluate_ms += ms(started);
        (table, pending)
    }

    /// Fetches `registry` for those of `persons` not known yet (persons
    /// without a usable identifier are marked so); returns how many it resolved.
    async fn fetch(
        &self,
        batch: &Arc<Batch>,
        table: &mut Table,
        registry: RegistryIndex,
        persons: &[PersonRef],
        stats: &mut BatchStats,
    ) -> usize {
        let started = Instant::now();
        let unknown = batch.unknown(&self.store, &table.facts, registry, persons);
        let usage = registry_use(stats, &self.store, &batch.catalog, registry);
        usage.rounds += 1;
        let mut resolved = 0;
        if !unknown.identifiers.is_empty() {
            let fetched = self.store.fetch(registry, &unknown.identifiers).await;
            usage.fetch.add(&fetched.counts);
            let mut several = Vec::new();
            for (((person, resolution), first), asked_again) in
                unknown.persons.into_iter().zip(fetched.resolutions).zip(unknown.identifiers).zip(unknown.several)
            {
                if asked_again {
                    several.push(Asking { person, first, so_far: resolution });
                } else {
                    table.facts.set(batch.row(person), registry, resolution);
                }
                resolved += 1;
            }
            self.ask_other_identifiers(batch, table, registry, several, usage).await;
        }
        for person in unknown.unidentified {
            table.facts.set(batch.row(person), registry, Resolution::NoIdentifier);
            usage.no_identifier += 1;
            resolved += 1;
        }
        stats.timings.fetch_ms += ms(started);
        resolved
    }

    /// Asks `registry` about each of `several` (persons holding more than one
    /// identifier it accepts) under their other identifiers, one round per
    /// identifier, and merges the answers into one resolution per person
    /// ([`dci_metrics::merge_resolutions`]): "not found" only where the
    /// registry knows none of them, and records kept under two identifiers
    /// of one person combined as records under one. An identifier a record
    /// found carries is answered by the cache ([`MetricStore`] keeps the
    /// record under it too), not asked again.
    async fn ask_other_identifiers(
        &self,
        batch: &Arc<Batch>,
        table: &mut Table,
        registry: RegistryIndex,
        mut several: Vec<Asking<'_>>,
        usage: &mut RegistryUse,
    ) {
        let spec = batch.catalog.registry(registry);
        let mut next = 1;
        while !several.is_empty() {
            let mut asking = Vec::with_capacity(several.len());
            let mut identifiers = Vec::with_capacity(several.len());
            for person in several.drain(..) {
                match batch.other_identifier(&self.store, registry, person.person, next) {
                    Some(identifier) => {
                        identifiers.push(identifier);
                        asking.push(person);
                    }
                    None => table.facts.set(batch.row(person.person), registry, person.so_far),
                }
            }
            if identifiers.is_empty() {
                break;
            }
            usage.rounds += 1;
            usage.other_identifiers += identifiers.len();
            self.store.count_other_identifier_lookups(registry, identifiers.len());
            let fetched = self.store.fetch(registry, &identifiers).await;
            usage.fetch.add(&fetched.counts);
            for ((person, answer), identifier) in asking.into_iter().zip(fetched.resolutions).zip(identifiers) {
                let so_far = dci_metrics::merge_resolutions(spec, (person.so_far, person.first), (answer, identifier));
                several.push(Asking { so_far, ..person });
            }
            next += 1;
        }
    }

    /// Phase 4: the decisions that need more than their outcome (undetermined,
    /// error, or all with `explain`), re-evaluated in detail.
    async fn detail(
        &self,
        batch: &Arc<Batch>,
        table: Table,
        explain: bool,
        stats: &mut BatchStats,
    ) -> (Table, Vec<(PairIndex, Decision)>) {
        let started = Instant::now();
        let needs_detail: Vec<PairIndex> = batch
            .pairs
            .all()
            .filter(|pair| explain || !matches!(table.verdicts[pair.0], Verdict::Decided(_)))
            .collect();
        // One evaluation for the decision, and with `explain` one per clause of its rule.
        stats.evaluations += needs_detail
            .iter()
            .map(|&pair| 1 + if explain { batch.rule(pair).clauses().len() as u64 } else { 0 })
            .sum::<u64>();
        let (table, decisions) = over_pairs(batch, table, needs_detail.clone(), move |batch, root, table, pair| {
            batch.decision_one(root, table, pair, explain)
        })
        .await;
        let detailed = needs_detail.into_iter().zip(decisions).collect();
        stats.timings.detail_ms = ms(started);
        (table, detailed)
    }
}

/// Phase 5: one result per input item, in input order: each valid
/// beneficiary's detailed decisions (`detailed`, ascending by pair) or else
/// the plain outcome of its verdict; each invalid item's error at its place.
fn assemble_in_order(
    batch: &Batch,
    verdicts: &[Verdict],
    detailed: Vec<(PairIndex, Decision)>,
    mut ids: Vec<CompactString>,
    invalid: Vec<(usize, BeneficiaryError)>,
) -> Vec<ItemResult> {
    const CHUNK: usize = 4096;
    let pairs = batch.pairs;
    // The detailed decisions of each chunk of beneficiaries.
    let mut per_chunk: Vec<Vec<(PairIndex, Decision)>> = Vec::new();
    let mut detailed = detailed.into_iter().peekable();
    for chunk in 0..ids.len().div_ceil(CHUNK) {
        let end = pairs.of(BeneficiaryIndex((chunk + 1) * CHUNK), RuleIndex(0));
        let mut mine = Vec::new();
        while let Some(next) = detailed.next_if(|(pair, _)| *pair < end) {
            mine.push(next);
        }
        per_chunk.push(mine);
    }
    let decided: Vec<ItemResult> = ids
        .par_chunks_mut(CHUNK)
        .zip(per_chunk)
        .enumerate()
        .flat_map_iter(|(chunk, (ids, detailed))| {
            let mut detailed = detailed.into_iter().peekable();
            let items: Vec<ItemResult> = ids
                .iter_mut()
                .enumerate()
                .map(|(offset, id)| {
                    let beneficiary = BeneficiaryIndex(chunk * CHUNK + offset);
                    let decisions = (0..pairs.rules())
                        .map(|rule| {
                            let pair = pairs.of(beneficiary, RuleIndex(rule));
                            match detailed.next_if(|(at, _)| *at == pair) {
                                Some((_, decision)) => decision,
                                None => Decision::plain(verdicts[pair.0].outcome()),
                            }
                        })
                        .collect();
                    ItemResult::Decided { id: std::mem::take(id), decisions }
                })
                .collect();
            items
        })
        .collect();
    if invalid.is_empty() {
        return decided;
    }
    // Invalid items at their input positions, the decided ones in order around them.
    let items = decided.len() + invalid.len();
    let mut invalid = invalid.into_iter().peekable();
    let mut decided = decided.into_iter();
    (0..items)
        .filter_map(|at| match invalid.next_if(|(position, _)| *position == at) {
            Some((_, error)) => Some(ItemResult::Invalid { error }),
            None => decided.next(),
        })
        .collect()
}
