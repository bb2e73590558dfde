//! The impact of a rule change: an old and a new rule decided for the same
//! beneficiaries in one batch (so that a registry fact fetched for one rule
//! serves the other), and the decisions compared.

use std::borrow::Cow;

use compact_str::CompactString;
use serde::Serialize;
use serde_json::Value;

use crate::data::io::InvalidJson;
use crate::report::results::{Decision, ItemResult, Outcome};

/// How a beneficiary's outcome changed from the old rule to the new one.
/// Every pair of outcomes falls in exactly one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Eligible now, and was decided (ineligible or error) before.
    Gained,
    /// Eligible before, and decided (ineligible or error) now.
    Lost,
    /// Undetermined now, decided before.
    ToUndetermined,
    /// Undetermined before, decided now.
    FromUndetermined,
    /// Between ineligible and error.
    Other,
    /// The same outcome.
    Unchanged,
}

impl Change {
    /// Every kind, in the order reports list them.
    pub const ALL: [Change; 6] = [
        Change::Gained,
        Change::Lost,
        Change::ToUndetermined,
        Change::FromUndetermined,
        Change::Other,
        Change::Unchanged,
    ];

    /// The kind of change from `old` to `new`.
    pub fn of(old: Outcome, new: Outcome) -> Change {
        match (old, new) {
            _ if old == new => Change::Unchanged,
            (_, Outcome::Undetermined) => Change::ToUndetermined,
            (Outcome::Undetermined, _) => Change::FromUndetermined,
            (_, Outcome::Eligible) => Change::Gained,
            (Outcome::Eligible, _) => Change::Lost,
            _ => Change::Other,
        }
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Gained => "gained",
            Change::Lost => "lost",
            Change::ToUndetermined => "to_undetermined",
            Change::FromUndetermined => "from_undetermined",
            Change::Other => "other",
            Change::Unchanged => "unchanged",
        }
    }
}

/// How many beneficiaries changed, by kind, and how many could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffCounts {
    /// Eligible under the new rule only (the old one decided otherwise).
    pub gained: u64,
    /// Eligible under the old rule only (the new one decides otherwise).
    pub lost: u64,
    /// Decided under the old rule, undetermined under the new one.
    pub to_undetermined: u64,
    /// Undetermined under the old rule, decided under the new one.
    pub from_undetermined: u64,
    /// Between ineligible and error.
    pub other: u64,
    /// The same outcome under both.
    pub unchanged: u64,
    /// Items that could not be read (decided by neither rule).
    pub invalid: u64,
}

impl DiffCounts {
    /// The count of one kind.
    pub fn of(&self, change: Change) -> u64 {
        match change {
            Change::Gained => self.gained,
            Change::Lost => self.lost,
            Change::ToUndetermined => self.to_undetermined,
            Change::FromUndetermined => self.from_undetermined,
            Change::Other => self.other,
            Change::Unchanged => self.unchanged,
        }
    }

    fn add(&mut self, change: Change) {
        let count = match change {
            Change::Gained => &mut self.gained,
            Change::Lost => &mut self.lost,
            Change::ToUndetermined => &mut self.to_undetermined,
            Change::FromUndetermined => &mut self.from_undetermined,
            Change::Other => &mut self.other,
            Change::Unchanged => &mut self.unchanged,
        };
        *count += 1;
    }

    /// Beneficiaries whose outcome changed.
    pub fn changed(&self) -> u64 {
        self.gained + self.lost + self.to_undetermined + self.from_undetermined + self.other
    }
}

/// A top-level clause whose value differs between the rules: in both with
/// different values, or in one rule only.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClauseChange {
    /// The clause's text (the new rule's, for a clause changed in place).
    pub clause: String,
    /// For a clause changed in place (`age_years(r.birthdate) >= 60` where
    /// the old rule has `… >= 65` at the same position, each in one rule
    /// only): the old rule's text; `old` is its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was: Option<String>,
    /// Its value under the old rule; absent when the old rule has no such clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// Its value under the new rule; absent when the new rule has no such clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// A beneficiary whose outcome changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangedBeneficiary {
    /// Its position in the input, from 0.
    pub index: usize,
    /// Its id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CompactString,
    /// How its outcome changed.
    pub change: Change,
    /// The old rule's decision (its clauses are in `clauses` where they differ).
    pub old: Decision,
    /// The new rule's decision (its clauses are in `clauses` where they differ).
    pub new: Decision,
    /// The clauses whose values differ.
    pub clauses: Vec<ClauseChange>,
}

/// An item that neither rule could decide, because it could not be read.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnreadItem {
    /// Its position in the input, from 0.
    pub index: usize,
    /// What is wrong with it.
    #[serde(flatten)]
    pub item: InvalidJson<'static>,
}

/// What changing a rule does to a list of beneficiaries.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffReport {
    /// Beneficiaries per kind of change.
    pub counts: DiffCounts,
    /// Each beneficiary whose outcome changed, in input order.
    pub changed: Vec<ChangedBeneficiary>,
    /// Items that could not be read, in input order.
    pub invalid: Vec<UnreadItem>,
}

/// What one item of a batch decided by `[old, new]` says about the change.
#[derive(Clone, Debug)]
pub enum DiffEntry {
    /// Both rules decided; `Some` when the outcome changed.
    Decided(Change, Option<Box<ChangedBeneficiary>>),
    /// The item could not be read.
    Invalid(UnreadItem),
}

impl DiffEntry {
    /// Compares the two decisions of `item` (the old rule's first), the item
    /// at input position `index`.
    pub fn of(index: usize, item: ItemResult) -> DiffEntry {
        match item {
            ItemResult::Invalid { error } => {
                DiffEntry::Invalid(UnreadItem { index, item: InvalidJson::of(&error, Cow::Owned(error.path.clone())) })
            }
            ItemResult::Decided { id, decisions } => {
                let mut decisions = decisions.into_iter();
                let (Some(old), Some(new)) = (decisions.next(), decisions.next()) else {
                    unreachable!("a diff batch decides two rules for every beneficiary")
                };
                let change = Change::of(old.outcome, new.outcome);
                let changed = (change != Change::Unchanged).then(|| {
                    let clauses = clause_changes(&old, &new);
                    // Every clause value is in `clauses` or the same under both rules: a
                    // report of many changes need not carry each rule's clauses twice.
                    let (old, new) = (Decision { clauses: None, ..old }, Decision { clauses: None, ..new });
                    Box::new(ChangedBeneficiary { index, id, change, old, new, clauses })
                });
                DiffEntry::Decided(change, changed)
            }
        }
    }
}

impl DiffReport {
    /// Adds one entry.
    pub fn add(&mut self, entry: DiffEntry) {
        match entry {
            DiffEntry::Decided(change, changed) => {
                self.counts.add(change);
                self.changed.extend(changed.map(|changed| *changed));
            }
            DiffEntry::Invalid(unread) => {
                self.counts.invalid += 1;
                self.invalid.push(unread);
            }
        }
    }

    /// Adds the entry to the counts only, and hands back what a report
    /// would keep (for output streamed as it comes).
    pub fn count(&mut self, entry: DiffEntry) -> Option<DiffEntry> {
        match &entry {
            DiffEntry::Decided(change, None) => {
                self.counts.add(*change);
                None
            }
            DiffEntry::Decided(change, Some(_)) => {
                self.counts.add(*change);
                Some(entry)
            }
            DiffEntry::Invalid(_) => {
                self.counts.invalid += 1;
                Some(entry)
            }
        }
    }
}

/// The clauses whose values differ between two decisions made with
/// explanations: clauses matched by text (white space aside), in the new
/// rule's order, then the old rule's clauses that the new rule no longer has.
pub fn clause_changes(old: &Decision, new: &Decision) -> Vec<ClauseChange> {
    let old_clauses = old.clauses.as_deref().unwrap_or_default();
    let new_clauses = new.clauses.as_deref().unwrap_or_default();
    let old_keys: Vec<String> = old_clauses.iter().map(|c| clause_key(&c.clause)).collect();
    let new_keys: Vec<String> = new_clauses.iter().map(|c| clause_key(&c.clause)).collect();
    // A clause in one rule only, at a position where the other rule also has
    // one of its own, was changed in place: one change with both texts.
    let old_only = |at: usize| old_keys.get(at).filter(|key| !new_keys.contains(key)).map(|_| &old_clauses[at]);
    let mut paired = vec![false; old_clauses.len()];
    let mut changes = Vec::new();
    for (at, (clause, key)) in new_clauses.iter().zip(&new_keys).enumerate() {
        let same = old_keys.iter().position(|k| k == key).and_then(|i| old_clauses.get(i));
        let (before, was) = match same {
            Some(before) => (Some(before), None),
            None => match old_only(at) {
                Some(before) => {
                    paired[at] = true;
                    (Some(before), Some(before.clause.clone()))
                }
                None => (None, None),
            },
        };
        if was.is_some() || before.is_none_or(|before| before.value != clause.value) {
            changes.push(ClauseChange {
                clause: clause.clause.clone(),
                was,
                old: before.map(|b| b.value.clone()),
                new: Some(clause.value.clone()),
            });
        }
    }
    for (at, (clause, key)) in old_clauses.iter().zip(&old_keys).enumerate() {
        if !new_keys.contains(key) && !paired[at] {
            let old = Some(clause.value.clone());
            changes.push(ClauseChange { clause: clause.clause.clone(), was: None, old, new: None });
        }
    }
    changes
}

/// A clause's text without the white space outside string literals, so that
/// `a == 1` and `a==1` are the same clause.
fn clause_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                key.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {}
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                key.push(c);
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::ClauseResult;

    #[test]
    fn every_pair_of_outcomes_is_one_kind_of_change() {
        use Outcome::*;
        let outcomes = [Eligible, Ineligible, Undetermined, Error];
        let expected = |old, new| match (old, new) {
            (Ineligible | Error, Eligible) => Change::Gained,
            (Eligible, Ineligible | Error) => Change::Lost,
            (Eligible | Ineligible | Error, Undetermined) => Change::ToUndetermined,
            (Undetermined, Eligible | Ineligible | Error) => Change::FromUndetermined,
            (Ineligible, Error) | (Error, Ineligible) => Change::Other,
            _ => Change::Unchanged,
        };
        for old in outcomes {
            for new in outcomes {
                assert_eq!(Change::of(old, new), expected(old, new), "{old:?} → {new:?}");
                assert_eq!(Change::of(old, new) == Change::Unchanged, old == new);
            }
        }
        let mut counts = DiffCounts::default();
        for change in Change::ALL {
            counts.add(change);
            assert_eq!(counts.of(change), 1, "{}", change.as_str());
        }
        assert_eq!(counts.changed(), 5);
    }

    fn decision(outcome: Outcome, clauses: &[(&str, Value)]) -> Decision {
        Decision {
            outcome,
            missing: Vec::new(),
            error: None,
            code: None,
            clauses: Some(
                clauses
                    .iter()
                    .map(|(clause, value)| ClauseResult {
                        clause: (*clause).to_owned(),
                        value: value.clone(),
                        says: String::new(),
                        used: Vec::new(),
                        missing: Vec::new(),
                        error: None,
                    })
                    .collect(),
            ),
            reason: None,
        }
    }

    #[test]
    fn clause_changes_list_what_differs_and_what_is_in_one_rule_only() {
        let old = decision(
            Outcome::Ineligible,
            &[("dci.crvs.is_alive == true", Value::Bool(true)), ("age_years(r.birthdate) >= 65", Value::Bool(false))],
        );
        let new = decision(
            Outcome::Eligible,
            &[("dci.crvs.is_alive == true", Value::Bool(true)), ("age_years(r.birthdate) >= 60", Value::Bool(true))],
        );
        let changes = clause_changes(&old, &new);
        assert_eq!(
            changes,
            vec![ClauseChange {
                clause: "age_years(r.birthdate) >= 60".into(),
                was: Some("age_years(r.birthdate) >= 65".into()),
                old: Some(Value::Bool(false)),
                new: Some(Value::Bool(true))
            }],
            "a threshold changed in place is one change"
        );
        let added = decision(
            Outcome::Eligible,
            &[
                ("dci.crvs.is_alive == true", Value::Bool(true)),
                ("age_years(r.birthdate) >= 65", Value::Bool(false)),
                ("r.poverty_score >= 0.7", Value::Bool(true)),
            ],
        );
        let changes = clause_changes(&old, &added);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0].was.as_deref(), changes[0].old.as_ref()), (None, None), "a clause added at the end");
        let respaced = decision(Outcome::Eligible, &[("dci.crvs.is_alive==true", Value::Bool(true))]);
        assert!(clause_changes(&respaced, &new).iter().all(|c| c.clause != "dci.crvs.is_alive == true"), "same clause");
        assert_eq!(clause_key("r.name == 'a b' && x"), "r.name=='a b'&&x", "spaces in text are kept");
        assert_ne!(clause_key("r.name == 'a b'"), clause_key("r.name == 'ab'"));
        let unknown = decision(Outcome::Undetermined, &[("dci.crvs.is_alive == true", Value::from("unknown"))]);
        let changes = clause_changes(&unknown, &new);
        assert_eq!(changes[0].old, Some(Value::from("unknown")), "same clause, another value");
        assert_eq!(changes.len(), 2, "{changes:?}");
    }
}
