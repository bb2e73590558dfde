//! Binding a beneficiary and its registry facts into CEL, lazily: `r` (and
//! `me`), its fields, `members`, `dci.*` and `m.dci.*` are resolved on access
//! from the beneficiary's own JSON and the prefetched facts; nothing is copied
//! up front. Reads of unknown values are noted in a [`Tracker`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cel::ExecutionError;
use cel::common::traits::{Indexer, Iterable, Iterator as CelIterator, Sizer};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelTimestamp, CelUInt, LIST_TYPE,
    MAP_TYPE, Type,
};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use chrono::NaiveDate;
use dci_metrics::{Catalog, MetricRead, MetricValue, RegistryIndex, RegistrySet, Resolution, UnknownCause};
use serde_json::Value;

use crate::data::beneficiary::{Beneficiary, raw_kind};
use crate::engine::meter::{self, Allowance};
use crate::engine::table::HouseholdFacts;
use crate::engine::unknown::unknown_marker;
use crate::names::{DCI, MEMBERS, REGISTRANT};
use crate::report::results::Missing;
use crate::rules::diagnostic::preview;

/// The error of a registry value read by a way the compiler could not see.
pub(crate) const MISPLACED_FN: &str = "@misplaced";

/// Names of every metric, `[registry][field]`, built once per batch.
pub(crate) struct MetricNames {
    names: Vec<Vec<String>>,
}

impl MetricNames {
    pub(crate) fn new(catalog: &Catalog) -> Self {
        let names = catalog
            .registries()
            .iter()
            .map(|r| r.metrics.iter().map(|m| format!("dci.{}.{}", r.id, m.field)).collect())
            .collect();
        MetricNames { names }
    }

    fn get(&self, registry: RegistryIndex, field: usize) -> &str {
        self.names.get(registry.get()).and_then(|r| r.get(field)).map(String::as_str).unwrap_or("dci")
    }
}

/// Everything known about one household for one evaluation.
pub(crate) struct Household<'a> {
    pub beneficiary: &'a Beneficiary,
    /// What is known about its persons in the registries.
    pub facts: HouseholdFacts<'a>,
    pub catalog: &'a Catalog,
    /// The store: which identifier types each registry accepts.
    pub store: &'a dci_metrics::MetricStore,
    pub names: &'a MetricNames,
    /// The evaluation's as-of date.
    pub as_of: NaiveDate,
    /// The budget of each evaluation.
    pub allowance: &'a Allowance,
    /// The steps this household's decision has taken so far in the current phase.
    pub spent: Option<&'a std::sync::atomic::AtomicU64>,
    /// The metrics the rule was found to read: the only ones it may read.
    pub analysed: &'a [crate::rules::compile::MetricUse],
}

impl Household<'_> {
    /// The types of `person`'s identifiers that `registry` (its id) is
    /// asked under, in the order it is asked.
    pub(crate) fn id_types(&self, person: usize, registry: &str) -> Vec<String> {
        let (Some(index), Some(data)) = (self.catalog.registry_index(registry), self.beneficiary.person(person)) else {
            return Vec::new();
        };
        let mut types: Vec<String> = Vec::new();
        for id in self.store.accepted_identifiers(index, &data.identifiers) {
            if !types.iter().any(|t| t.eq_ignore_ascii_case(&id.identifier_type)) {
                types.push(id.identifier_type.to_string());
            }
        }
        types
    }

    /// Starts a new account of steps for this household's decision: a phase
    /// (screen, verdict, detail, explanation) gets one budget for all the
    /// evaluations it makes.
    pub(crate) fn open_account(&self) {
        if let Some(spent) = self.spent {
            spent.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// What is known about `person` (0: the beneficiary) in `registry`.
    pub(crate) fn resolution(&self, person: usize, registry: RegistryIndex) -> &Resolution {
        self.facts.get(person, registry)
    }
}

/// A field read, for error messages that name the field.
#[derive(Clone, Debug)]
pub(crate) struct FieldRead {
    pub name: String,
    pub kind: &'static str,
    pub preview: String,
}

#[derive(Default)]
pub(crate) struct Details {
    pub missing: Vec<Missing>,
    pub fields: Vec<FieldRead>,
}

/// Unknowns met in one evaluation: registries still to fetch, and (in detail
/// mode) every missing value and field read.
#[derive(Default)]
pub(crate) struct Tracker {
    registrant: AtomicU64,
    member_registries: AtomicU64,
    members: AtomicU64,
    missing_field: AtomicBool,
    /// A registry value was read by a way the compiler could not see (see [`crate::rules::registry_path`]).
    pub(crate) misplaced: AtomicBool,
    details: Option<Mutex<Details>>,
}

/// Registries an undecided evaluation still needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Registries to ask about the beneficiary.
    pub registrant: RegistrySet,
    /// Registries to ask about members.
    pub member_registries: RegistrySet,
    /// Bit per member (bit 63: members 63 and beyond).
    pub members: u64,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.registrant.is_empty() && self.member_registries.is_empty()
    }

    /// Registries to ask about anyone of the household.
    pub fn registries(&self) -> RegistrySet {
        self.registrant.union(self.member_registries)
    }
}

impl Tracker {
    pub(crate) fn detailed() -> Self {
        Tracker { details: Some(Mutex::new(Details::default())), ..Default::default() }
    }

    pub(crate) fn needs(&self) -> Needs {
        Needs {
            registrant: RegistrySet::from_bits(self.registrant.load(Ordering::Relaxed)),
            member_registries: RegistrySet::from_bits(self.member_registries.load(Ordering::Relaxed)),
            members: self.members.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn read_missing_field(&self) -> bool {
        self.missing_field.load(Ordering::Relaxed)
    }

    /// Whether a missing field was read, forgetting it (to tell which operand read one).
    pub(crate) fn take_missing_field(&self) -> bool {
        self.missing_field.swap(false, Ordering::Relaxed)
    }

    /// Sets whether a missing field was read.
    pub(crate) fn restore_missing_field(&self, read: bool) {
        self.missing_field.store(read, Ordering::Relaxed);
    }

    pub(crate) fn into_details(self) -> Details {
        self.details.map(|d| d.into_inner().unwrap_or_else(|p| p.into_inner())).unwrap_or_default()
    }

    fn note_unknown(&self, person: usize, registry: RegistryIndex, cause: UnknownCause, name: impl FnOnce() -> String) {
        if cause == UnknownCause::NotFetched {
            let mut one = RegistrySet::EMPTY;
            one.insert(registry);
            if person == 0 {
                self.registrant.fetch_or(one.bits(), Ordering::Relaxed);
            } else {
                self.member_registries.fetch_or(one.bits(), Ordering::Relaxed);
                self.members.fetch_or(1 << (person - 1).min(63), Ordering::Relaxed);
            }
        }
        self.note_missing(cause, name);
    }

    fn note_missing(&self, cause: UnknownCause, name: impl FnOnce() -> String) {
        if cause == UnknownCause::MissingField {
            self.missing_field.store(true, Ordering::Relaxed);
        }
        if let Some(details) = &self.details {
            let missing = Missing { name: name(), cause };
            let mut details = details.lock().unwrap_or_else(|p| p.into_inner());
            if !details.missing.contains(&missing) {
                details.missing.push(missing);
            }
        }
    }

    fn note_field(&self, name: impl FnOnce() -> String, raw: &str) {
        if let Some(details) = &self.details {
            let mut details = details.lock().unwrap_or_else(|p| p.into_inner());
            details.fields.push(FieldRead { name: name(), kind: raw_kind(raw), preview: preview(raw) });
        }
    }
}

/// The household and the tracker, shared by the values of one evaluation.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub household: &'a Household<'a>,
    pub tracker: &'a Tracker,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scope")
    }
}

fn person_prefix(person: usize) -> String {
    if person == 0 { String::new() } else { format!("members[{}].", person - 1) }
}

fn key_of(idx: &dyn Val) -> Option<&str> {
    idx.downcast_ref::<CelString>().map(|s| s.inner())
}

/// A field's JSON text as a CEL value: scalars without allocation, strings
/// without escapes lent from the text; anything else parsed.
fn raw_value(raw: &str) -> Box<dyn Val + '_> {
    let bytes = raw.as_bytes();
    match bytes.first() {
        Some(b'"') if bytes.len() >= 2 && !raw.contains('\\') => Box::new(CelString::from(&raw[1..raw.len() - 1])),
        Some(b't') if raw == "true" => Box::new(CelBool::from(true)),
        Some(b'f') if raw == "false" => Box::new(CelBool::from(false)),
        Some(b'n') if raw == "null" => Box::new(CelNull),
        Some(b'-' | b'0'..=b'9') if !raw.contains(['.', 'e', 'E']) => match raw.parse::<i64>() {
            Ok(n) => Box::new(CelInt::from(n)),
            Err(_) => match raw.parse::<u64>() {
                Ok(n) => Box::new(CelUInt::from(n)),
                Err(_) => Box::new(CelDouble::from(raw.parse::<f64>().unwrap_or(f64::NAN))),
            },
        },
        Some(b'-' | b'0'..=b'9') => Box::new(CelDouble::from(raw.parse::<f64>().unwrap_or(f64::NAN))),
        _ => owned_value(serde_json::from_str(raw).unwrap_or(Value::Null)),
    }
}

/// A parsed JSON value as a CEL value.
fn owned_value(value: Value) -> Box<dyn Val + 'static> {
    match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Value::String(s) => Box::new(CelString::from(s)),
        Value::Array(items) => Box::new(CelList::from(items.into_iter().map(owned_value).collect::<Vec<_>>())),
        Value::Object(map) => {
            let entries: HashMap<CelMapKey<'static>, Box<dyn Val + 'static>> =
                map.into_iter().map(|(k, v)| (CelMapKey::from(k), owned_value(v))).collect();
            Box::new(CelMap::from(entries))
        }
    }
}

/// A metric value as a CEL value (strings borrowed).
fn metric_value<'a>(value: &'a MetricValue) -> Box<dyn Val + 'a> {
    match value {
        MetricValue::Bool(b) => Box::new(CelBool::from(*b)),
        MetricValue::Int(n) => Box::new(CelInt::from(*n)),
        MetricValue::Double(x) => Box::new(CelDouble::from(*x)),
        MetricValue::String(s) => Box::new(CelString::from(&**s)),
        MetricValue::Timestamp(t) => Box::new(CelTimestamp::from(*t)),
        // Unknown values are read as unknown, and dated ones at the as-of date, before they
        // get here (`Resolution::read`).
        MetricValue::Null | MetricValue::NotRecorded | MetricValue::Unusable(_) | MetricValue::Dated(_) => {
            Box::new(CelNull)
        }
        MetricValue::StringList(items) => Box::new(CelList::from(
            items.iter().map(|s| Box::new(CelString::from(&**s)) as Box<dyn Val + 'a>).collect::<Vec<_>>(),
        )),
    }
}

/// Reads a metric of a person; unknown → noted, and a marker error.
fn read_metric<'a>(
    scope: Scope<'a>,
    person: usize,
    registry: RegistryIndex,
    field: &str,
) -> Result<Box<dyn Val + 'a>, ExecutionError> {
    let household = scope.household;
    let Some(id) = household.catalog.registry(registry).metrics.iter().position(|m| m.field == field) else {
        return Err(ExecutionError::no_such_key(field));
    };
    let id = dci_metrics::MetricId { registry, field: id };
    if !household.analysed.iter().any(|metric| metric.id == id) {
        // Reached by a computed key: the compiler could not see it, so the engine would never fetch it.
        scope.tracker.misplaced.store(true, Ordering::Relaxed);
        return Err(ExecutionError::function_error(MISPLACED_FN, "a registry value read by a computed key"));
    }
    match household.resolution(person, registry).read(household.catalog, id, household.as_of) {
        MetricRead::Value(value) => Ok(metric_value(value)),
        MetricRead::Unknown(cause) => {
            let name = household.names.get(registry, id.field);
            scope.tracker.note_unknown(person, registry, cause, || format!("{}{name}", person_prefix(person)));
            Err(unknown_marker(cause))
        }
    }
}

/// A CEL map whose entries are made when read: a person (`r`, `m`), their `dci`, and one
/// registry's metrics (`dci.<registry>`).
trait LazyEntries: Clone + std::fmt::Debug + Send + Sync {
    /// The entry under `key` (`None`: a key that is not text).
    fn entry<'v>(&self, key: Option<&str>) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v;
}

/// A [`LazyEntries`] as a CEL map.
#[derive(Clone, Debug)]
struct LazyMap<T>(T);

impl<T: LazyEntries> Val for LazyMap<T> {
    fn get_type(&self) -> &Type {
        &MAP_TYPE
    }
    fn cel_type() -> &'static Type {
        &MAP_TYPE
    }
    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(self.clone())
    }
}

impl<T: LazyEntries> Indexer for LazyMap<T> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.0.entry(key_of(idx)).map(CowVal::Owned)
    }
    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.0.entry(key_of(idx))
    }
}

/// A person of the household: the registrant (`r`) or a member.
#[derive(Clone, Debug)]
struct PersonVal<'a> {
    scope: Scope<'a>,
    person: usize,
}

impl<'a> PersonVal<'a> {
    fn new(scope: Scope<'a>, person: usize) -> LazyMap<Self> {
        LazyMap(PersonVal { scope, person })
    }

    fn data(&self) -> Option<&'a Beneficiary> {
        self.scope.household.beneficiary.person(self.person)
    }
}

impl LazyEntries for PersonVal<'_> {
    fn entry<'v>(&self, key: Option<&str>) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let key = key.ok_or_else(|| ExecutionError::unsupported_key_type(cel::Value::Null))?;
        if key == DCI {
            return Ok(Box::new(LazyMap(DciVal { scope: self.scope, person: self.person })));
        }
        if key == MEMBERS && self.person == 0 && self.scope.household.beneficiary.members_known {
            return Ok(Box::new(MembersVal::new(self.scope)));
        }
        match self.data().and_then(|data| data.field(key)) {
            Some(raw) => {
                self.scope.tracker.note_field(|| format!("{}{key}", person_prefix(self.person)), raw);
                meter::charge_read(raw)?;
                Ok(raw_value(raw))
            }
            None => {
                self.scope
                    .tracker
                    .note_missing(UnknownCause::MissingField, || format!("{}{key}", person_prefix(self.person)));
                Err(ExecutionError::no_such_key(key))
            }
        }
    }
}

/// `dci` of a person.
#[derive(Clone, Debug)]
struct DciVal<'a> {
    scope: Scope<'a>,
    person: usize,
}

impl LazyEntries for DciVal<'_> {
    fn entry<'v>(&self, key: Option<&str>) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let key = key.unwrap_or_default();
        match self.scope.household.catalog.registry_index(key) {
            Some(registry) => Ok(Box::new(LazyMap(RegistryVal { scope: self.scope, person: self.person, registry }))),
            None => Err(ExecutionError::no_such_key(key)),
        }
    }
}

/// `dci.<registry>` of a person.
#[derive(Clone, Debug)]
struct RegistryVal<'a> {
    scope: Scope<'a>,
    person: usize,
    registry: RegistryIndex,
}

impl LazyEntries for RegistryVal<'_> {
    fn entry<'v>(&self, key: Option<&str>) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        read_metric(self.scope, self.person, self.registry, key.unwrap_or_default())
    }
}

/// `members`: the household members, each a [`PersonVal`].
#[derive(Clone, Debug)]
struct MembersVal<'a> {
    members: Vec<LazyMap<PersonVal<'a>>>,
}

impl<'a> MembersVal<'a> {
    fn new(scope: Scope<'a>) -> Self {
        let count = scope.household.beneficiary.member_count();
        MembersVal { members: (1..=count).map(|person| PersonVal::new(scope, person)).collect() }
    }
}

impl Val for MembersVal<'_> {
    fn get_type(&self) -> &Type {
        &LIST_TYPE
    }
    fn cel_type() -> &'static Type {
        &LIST_TYPE
    }
    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }
    fn as_sizer(&self) -> Option<&dyn Sizer> {
        Some(self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(self.clone())
    }
}

impl Sizer for MembersVal<'_> {
    fn size(&self) -> CelInt {
        CelInt::from(self.members.len() as i64)
    }
}

struct MembersIter<'b, 'a> {
    members: std::slice::Iter<'b, LazyMap<PersonVal<'a>>>,
}

impl<'b, 'v, 'a: 'v> CelIterator<'b, 'v> for MembersIter<'b, 'a> {
    fn next(&mut self) -> Option<&'b (dyn Val + 'v)> {
        self.members.next().map(|m| m as &(dyn Val + 'v))
    }
}

impl Iterable for MembersVal<'_> {
    fn iter<'b, 'v>(&'b self) -> Box<dyn CelIterator<'b, 'v> + 'b>
    where
        Self: 'v,
    {
        Box::new(MembersIter { members: self.members.iter() })
    }
}

/// Resolves `r`, `me`, `dci`, `members` and the fast paths `r.<field>` and
/// `dci.<registry>.<metric>` (known values only: unknowns take the slow path,
/// which notes them).
pub(crate) struct Resolver<'a> {
    pub scope: Scope<'a>,
}

impl VariableResolver for Resolver<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let scope = self.scope;
        match name {
            REGISTRANT => return Some(CowVal::owned(PersonVal::new(scope, 0))),
            DCI => return Some(CowVal::owned(LazyMap(DciVal { scope, person: 0 }))),
            MEMBERS if scope.household.beneficiary.members_known => {
                return Some(CowVal::owned(MembersVal::new(scope)));
            }
            MEMBERS => {
                // Left unresolved: the evaluation fails with an undeclared reference that the
                // tracker's note makes a `missing_field` unknown.
                scope.tracker.note_missing(UnknownCause::MissingField, || MEMBERS.to_owned());
                return None;
            }
            _ => {}
        }
        if let Some(path) = name.strip_prefix("dci.") {
            let (registry, field) = path.split_once('.')?;
            let household = scope.household;
            let id = household.catalog.field(registry, field)?;
            return match household.resolution(0, id.registry).read(household.catalog, id, household.as_of) {
                MetricRead::Value(value) => Some(CowVal::Owned(metric_value(value))),
                MetricRead::Unknown(_) => None,
            };
        }
        if let Some(field) = name.strip_prefix("r.")
            && !field.contains('.')
            && field != DCI
            && field != MEMBERS
        {
            let raw = scope.household.beneficiary.field(field)?;
            scope.tracker.note_field(|| field.to_owned(), raw);
            // Past the budget, the name is left unresolved: the evaluation ends stopped.
            meter::charge_read(raw).ok()?;
            return Some(CowVal::Owned(raw_value(raw)));
        }
        None
    }
}
