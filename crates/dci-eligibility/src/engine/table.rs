//! The typed indices of a batch and its fact table: what is known about each
//! person of the batch in each registry the rules read.
//!
//! Three index spaces meet in a batch: beneficiaries (and the decisions of
//! each rule for each), persons (a beneficiary and its members, one row
//! each), and registries (a column each, for the registries the rules read).
//! Each has its own newtype, and the arithmetic between them lives here.

use dci_metrics::{Catalog, RegistryIndex, Resolution};

use crate::rules::compile::Rule;

/// A beneficiary's position among the batch's valid beneficiaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BeneficiaryIndex(pub usize);

/// A rule's position in the batch's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RuleIndex(pub usize);

/// One decision of a batch: a beneficiary and a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PairIndex(pub usize);

/// A person's row in the fact table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PersonRow(pub usize);

/// A registry's column in the fact table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Column(usize);

/// The decisions of a batch: every beneficiary × every rule, beneficiary-major.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pairs {
    beneficiaries: usize,
    rules: usize,
}

impl Pairs {
    pub(crate) fn new(beneficiaries: usize, rules: usize) -> Self {
        Pairs { beneficiaries, rules }
    }

    /// How many decisions.
    pub(crate) fn count(self) -> usize {
        self.beneficiaries * self.rules
    }

    pub(crate) fn rules(self) -> usize {
        self.rules
    }

    /// Every decision, in order.
    pub(crate) fn all(self) -> impl Iterator<Item = PairIndex> {
        (0..self.count()).map(PairIndex)
    }

    /// The decision of `rule` for `beneficiary`.
    pub(crate) fn of(self, beneficiary: BeneficiaryIndex, rule: RuleIndex) -> PairIndex {
        PairIndex(beneficiary.0 * self.rules + rule.0)
    }

    pub(crate) fn beneficiary(self, pair: PairIndex) -> BeneficiaryIndex {
        BeneficiaryIndex(pair.0 / self.rules.max(1))
    }

    pub(crate) fn rule(self, pair: PairIndex) -> RuleIndex {
        RuleIndex(pair.0 % self.rules.max(1))
    }
}

/// The registries the rules read, in the order they are fetched (first
/// mention first), each with its column.
#[derive(Debug)]
pub(crate) struct Columns {
    order: Vec<RegistryIndex>,
    /// By catalog registry position.
    column_of: Vec<Option<Column>>,
}

impl Columns {
    pub(crate) fn new(catalog: &Catalog, rules: &[Rule]) -> Self {
        let mut order: Vec<RegistryIndex> = Vec::new();
        for registry in rules.iter().flat_map(|rule| rule.demand().order.iter().copied()) {
            if !order.contains(&registry) {
                order.push(registry);
            }
        }
        let mut column_of = vec![None; catalog.registries().len()];
        for (column, registry) in order.iter().enumerate() {
            column_of[registry.get()] = Some(Column(column));
        }
        Columns { order, column_of }
    }

    /// The registries, in fetch order.
    pub(crate) fn order(&self) -> &[RegistryIndex] {
        &self.order
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    fn of(&self, registry: RegistryIndex) -> Option<Column> {
        self.column_of.get(registry.get()).copied().flatten()
    }
}

/// What is known about each person in each registry the rules read.
pub(crate) struct FactTable {
    columns: Columns,
    /// Row-major: `cells[row * columns + column]`.
    cells: Vec<Resolution>,
}

const NOT_FETCHED: &Resolution = &Resolution::NotFetched;

impl FactTable {
    /// A table of `persons` rows, nothing fetched yet.
    pub(crate) fn new(columns: Columns, persons: usize) -> Self {
        let cells = vec![Resolution::NotFetched; persons * columns.len()];
        FactTable { columns, cells }
    }

    pub(crate) fn columns(&self) -> &Columns {
        &self.columns
    }

    /// What is known about the person of `row` in `registry`.
    pub(crate) fn get(&self, row: PersonRow, registry: RegistryIndex) -> &Resolution {
        match self.columns.of(registry) {
            Some(column) => self.cells.get(row.0 * self.columns.len() + column.0).unwrap_or(NOT_FETCHED),
            None => NOT_FETCHED,
        }
    }

    /// Records what is known about the person of `row` in `registry`.
    pub(crate) fn set(&mut self, row: PersonRow, registry: RegistryIndex, resolution: Resolution) {
        if let Some(column) = self.columns.of(registry)
            && let Some(cell) = self.cells.get_mut(row.0 * self.columns.len() + column.0)
        {
            *cell = resolution;
        }
    }

    /// The rows of `persons` persons from `first`: one household's facts.
    pub(crate) fn household(&self, first: PersonRow, persons: usize) -> HouseholdFacts<'_> {
        let width = self.columns.len();
        let start = (first.0 * width).min(self.cells.len());
        let end = ((first.0 + persons) * width).min(self.cells.len());
        HouseholdFacts { column_of: &self.columns.column_of, width, cells: &self.cells[start..end] }
    }
}

/// The facts of one household's persons (person 0 is the beneficiary).
#[derive(Clone, Copy)]
pub(crate) struct HouseholdFacts<'a> {
    /// See [`Columns`]; held here with the width so that a read follows one pointer.
    column_of: &'a [Option<Column>],
    width: usize,
    cells: &'a [Resolution],
}

impl<'a> HouseholdFacts<'a> {
    /// What is known about the household's `person` in `registry`.
    #[inline]
    pub(crate) fn get(&self, person: usize, registry: RegistryIndex) -> &'a Resolution {
        match self.column_of.get(registry.get()).copied().flatten() {
            Some(column) => self.cells.get(person * self.width + column.0).unwrap_or(NOT_FETCHED),
            None => NOT_FETCHED,
        }
    }
}
