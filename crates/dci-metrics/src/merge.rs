//! What one registry says about a person it knows under several of the
//! person's identifiers: the answers under each, merged by one rule per
//! metric ([`Merge`]), the same rule that merges several records under one
//! identifier.

use chrono::NaiveDate;
use dci_protocol::records::Identifier;
use std::collections::BTreeSet;

use crate::catalog::{Merge, RegistrySpec};
use crate::cause::UnknownCause;
use crate::resolution::{Facts, Failure, Resolution, Source};
use crate::value::MetricValue;

/// Both sides of a merge: the value and the identifier it was answered under.
struct Side<'a> {
    value: &'a MetricValue,
    identifier: &'a Identifier,
}

fn named(identifier: &Identifier) -> String {
    format!("{} {}", identifier.identifier_type, identifier.identifier_value)
}

fn contradiction(field: &str, a: &Side<'_>, b: &Side<'_>) -> MetricValue {
    MetricValue::unusable(
        UnknownCause::AmbiguousRecord,
        format!(
            "{field}: the records under {} and under {} of one person disagree ({} and {})",
            named(a.identifier),
            named(b.identifier),
            a.value,
            b.value
        ),
    )
}

/// The side that is unknown (not recorded or unusable), preferring an unusable one's reason.
fn unknown_of<'a>(a: &'a MetricValue, b: &'a MetricValue) -> &'a MetricValue {
    match (a, b) {
        (MetricValue::Unusable(_), _) => a,
        (_, MetricValue::Unusable(_)) => b,
        (MetricValue::NotRecorded, _) => a,
        _ => b,
    }
}

fn is_known(value: &MetricValue) -> bool {
    !matches!(value, MetricValue::NotRecorded | MetricValue::Unusable(_))
}

fn is_undated(value: &MetricValue) -> bool {
    matches!(value, MetricValue::Unusable(unusable) if unusable.cause == UnknownCause::Undated)
}

fn names(value: &MetricValue) -> Option<BTreeSet<&str>> {
    match value {
        MetricValue::StringList(items) => Some(items.iter().map(|s| &**s).collect()),
        _ => None,
    }
}

impl Merge {
    /// The rule in words, as `GET /v1/metrics` and the catalog's table state it.
    pub fn describe(self) -> String {
        match self {
            Merge::AnyTrue => "true when the records under any identifier say true".to_owned(),
            Merge::AnyFalse => "false when the records under any identifier say false (a recorded death is \
                                authoritative); records that cannot date the birth are dated by the other \
                                identifier's"
                .to_owned(),
            Merge::Same => {
                "the same value under every identifier; two different values are ambiguous_record".to_owned()
            }
            Merge::DateOverNull => {
                "a date stated under any identifier over null; two different dates are ambiguous_record".to_owned()
            }
            Merge::HighestUpTo(top) => {
                format!("the highest value under any identifier; {top}, the top of the scale, settles it")
            }
            Merge::Union => "the union of the lists under each identifier, each name once".to_owned(),
            Merge::CountOf(list) => format!(
                "counted over the union of {list} under each identifier (a programme under two identifiers counts \
                 once); ambiguous_record when an enrolment naming no programme is under one and another programme \
                 under the other"
            ),
        }
    }

    fn apply(
        self,
        field: &str,
        a: Side<'_>,
        b: Side<'_>,
        lists: (Option<&MetricValue>, Option<&MetricValue>),
    ) -> MetricValue {
        use MetricValue::{Bool, Int, Null};
        let (x, y) = (a.value, b.value);
        match self {
            Merge::AnyTrue | Merge::AnyFalse => {
                let settles = Bool(self == Merge::AnyTrue);
                if *x == settles || *y == settles {
                    settles
                } else if is_known(x) && is_known(y) {
                    x.clone()
                } else if self == Merge::AnyFalse && is_known(x) && is_undated(y) {
                    // Undated alive: records without a birth date, and no death by then. Merged as
                    // records are, the other side's birth date dates them: alive when it says alive.
                    x.clone()
                } else if self == Merge::AnyFalse && is_undated(x) && is_known(y) {
                    y.clone()
                } else {
                    unknown_of(x, y).clone()
                }
            }
            Merge::Same => match (is_known(x), is_known(y)) {
                (true, true) if x == y => x.clone(),
                (true, true) => contradiction(field, &a, &b),
                (true, false) if matches!(y, MetricValue::NotRecorded) => x.clone(),
                (false, true) if matches!(x, MetricValue::NotRecorded) => y.clone(),
                _ => unknown_of(x, y).clone(),
            },
            Merge::DateOverNull => match (x, y) {
                (Null, other) | (other, Null) if is_known(other) => other.clone(),
                _ => Merge::Same.apply(field, a, b, lists),
            },
            Merge::HighestUpTo(top) => match (x, y) {
                (Int(m), Int(n)) => Int(*m.max(n)),
                (Int(m), _) | (_, Int(m)) if *m >= top => Int(top),
                _ => unknown_of(x, y).clone(),
            },
            Merge::Union => match (names(x), names(y)) {
                (Some(mut left), Some(right)) => {
                    left.extend(right);
                    MetricValue::strings(left)
                }
                _ => unknown_of(x, y).clone(),
            },
            Merge::CountOf(_) => match (x, y, lists.0.and_then(names), lists.1.and_then(names)) {
                (Int(0), Int(_), _, _) => y.clone(),
                (Int(_), Int(0), _, _) => x.clone(),
                // Things counted but not identified (an enrolment naming no programme) cannot be
                // matched with the other side's.
                (Int(m), Int(n), Some(left), Some(right))
                    if usize::try_from(*m) == Ok(left.len()) && usize::try_from(*n) == Ok(right.len()) =>
                {
                    Int(i64::try_from(left.union(&right).count()).unwrap_or(i64::MAX))
                }
                (Int(_), Int(_), _, _) => MetricValue::unusable(
                    UnknownCause::AmbiguousRecord,
                    format!(
                        "{field}: the programmes under {} and {} cannot be matched (one names no programme)",
                        named(a.identifier),
                        named(b.identifier)
                    ),
                ),
                _ => unknown_of(x, y).clone(),
            },
        }
    }
}

/// The dates on which `value` changes.
fn change_dates(value: Option<&MetricValue>) -> impl Iterator<Item = NaiveDate> + '_ {
    let changes = match value {
        Some(MetricValue::Dated(timeline)) => timeline.changes(),
        _ => &[],
    };
    changes.iter().map(|(from, _)| *from)
}

/// The facts of one person known under two identifiers, merged metric by
/// metric; values that changed over time are merged on each date either changed.
pub fn merge_facts(spec: &RegistrySpec, a: (&Facts, &Identifier), b: (&Facts, &Identifier)) -> Facts {
    let field_of = |name: &str| spec.metrics.iter().position(|m| m.field == name);
    spec.metrics
        .iter()
        .enumerate()
        .map(|(at, metric)| {
            let (Some(x), Some(y)) = (a.0.get(at), b.0.get(at)) else { return MetricValue::NotRecorded };
            let lists = match metric.merge {
                Merge::CountOf(list) => {
                    let list = field_of(list);
                    (list.and_then(|l| a.0.get(l)), list.and_then(|l| b.0.get(l)))
                }
                _ => (None, None),
            };
            let on = |date: NaiveDate| {
                let (left, right) =
                    (Side { value: x.at(date), identifier: a.1 }, Side { value: y.at(date), identifier: b.1 });
                metric.merge.apply(
                    metric.field,
                    left,
                    right,
                    (lists.0.map(|l| l.at(date)), lists.1.map(|l| l.at(date))),
                )
            };
            let dates: Vec<NaiveDate> =
                [Some(x), Some(y), lists.0, lists.1].into_iter().flat_map(change_dates).collect();
            if dates.is_empty() { on(NaiveDate::MAX) } else { MetricValue::over(dates, on) }
        })
        .collect::<Vec<_>>()
        .into()
}

/// What a failed lookup contributes to a merge: every metric unknown, for its cause.
fn facts_of_failure(spec: &RegistrySpec, failure: &Failure) -> Facts {
    let value = MetricValue::unusable(failure.cause, failure.message.clone());
    spec.metrics.iter().map(|_| value.clone()).collect::<Vec<_>>().into()
}

/// What a registry says about a person, from its answers under two of the
/// person's identifiers (`earlier`, then `later`): not found only when
/// neither knows the person; found facts merged ([`merge_facts`]); a failed
/// lookup leaves unknown what the other answer does not settle.
pub fn merge_resolutions(
    spec: &RegistrySpec,
    earlier: (Resolution, &Identifier),
    later: (Resolution, &Identifier),
) -> Resolution {
    use Resolution::{Failed, Found, NotFound};
    let source = |a: Source, b: Source| {
        if a == Source::Registry || b == Source::Registry { Source::Registry } else { Source::Cache }
    };
    match (earlier.0, later.0) {
        (NotFound(_), found @ Found(..)) | (found @ Found(..), NotFound(_)) => found,
        (NotFound(a), NotFound(b)) => NotFound(source(a, b)),
        // The same records, found again under an identifier they carry.
        (Found(x, a), Found(y, b)) if x == y => Found(x, source(a, b)),
        (Found(x, a), Found(y, b)) => Found(merge_facts(spec, (&x, earlier.1), (&y, later.1)), source(a, b)),
        (Found(x, a), Failed(failure)) => {
            Found(merge_facts(spec, (&x, earlier.1), (&facts_of_failure(spec, &failure), later.1)), a)
        }
        (Failed(failure), Found(y, b)) => {
            Found(merge_facts(spec, (&facts_of_failure(spec, &failure), earlier.1), (&y, later.1)), b)
        }
        (failed @ Failed(_), _) | (_, failed @ Failed(_)) => failed,
        (other, _) => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{crvs_spec, dr_spec, ibr_spec};

    fn uin() -> Identifier {
        Identifier::new("UIN", "1001")
    }
    fn nid() -> Identifier {
        Identifier::new("NATIONAL_ID", "NID-1")
    }
    fn date(text: &str) -> MetricValue {
        let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date");
        MetricValue::Timestamp(day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().fixed_offset())
    }
    fn merged(spec: &RegistrySpec, a: Vec<MetricValue>, b: Vec<MetricValue>) -> Vec<MetricValue> {
        merge_facts(spec, (&Facts::from(a), &uin()), (&Facts::from(b), &nid())).to_vec()
    }
    fn cause(value: &MetricValue) -> Option<UnknownCause> {
        match value {
            MetricValue::Unusable(unusable) => Some(unusable.cause),
            _ => None,
        }
    }

    #[test]
    fn enrolments_are_a_union_by_programme() {
        let spec = ibr_spec();
        let enrolled = |names: &[&str]| {
            vec![
                MetricValue::Bool(!names.is_empty()),
                MetricValue::Int(names.len() as i64),
                MetricValue::strings(names),
                MetricValue::strings(names.iter().map(|name| format!("ID-{name}"))),
            ]
        };
        let both = merged(&spec, enrolled(&["Food Support"]), enrolled(&["Cash Transfer"]));
        assert_eq!(both, enrolled(&["Cash Transfer", "Food Support"]));
        let same = merged(&spec, enrolled(&["Food Support"]), enrolled(&["Food Support"]));
        assert_eq!(same, enrolled(&["Food Support"]), "one programme under two identifiers counts once");
        let one = merged(&spec, enrolled(&[]), enrolled(&["Food Support"]));
        assert_eq!(one, enrolled(&["Food Support"]), "enrolled under either identifier is enrolled");
    }

    #[test]
    fn programmes_are_matched_by_identity_not_by_name() {
        let spec = ibr_spec();
        let cash = |id: &str| {
            vec![
                MetricValue::Bool(true),
                MetricValue::Int(1),
                MetricValue::strings(["Cash"]),
                MetricValue::strings([id]),
            ]
        };
        let two = merged(&spec, cash("PRG-1"), cash("PRG-2"));
        assert_eq!(two[1], MetricValue::Int(2), "two programmes sharing a name are two");
        assert_eq!(two[2], MetricValue::strings(["Cash"]));
        assert_eq!(merged(&spec, cash("PRG-1"), cash("PRG-1"))[1], MetricValue::Int(1));
        let unnamed = vec![
            MetricValue::Bool(true),
            MetricValue::Int(1),
            MetricValue::strings(["(unnamed programme)"]),
            MetricValue::strings::<&str>([]),
        ];
        let either = merged(&spec, unnamed.clone(), cash("PRG-1"));
        assert_eq!(cause(&either[1]), Some(UnknownCause::AmbiguousRecord), "it may be PRG-1 or another");
        assert_eq!(either[0], MetricValue::Bool(true));
        let none = vec![
            MetricValue::Bool(false),
            MetricValue::Int(0),
            MetricValue::strings::<&str>([]),
            MetricValue::strings::<&str>([]),
        ];
        assert_eq!(merged(&spec, unnamed.clone(), none)[1], MetricValue::Int(1), "nothing to match it with");
    }

    #[test]
    fn the_top_level_settles_the_highest_level_whatever_the_other_identifier_says() {
        let spec = dr_spec();
        let doubtful = MetricValue::unusable(UnknownCause::UnrecognisedValue, "functional_severity \"9\"");
        let top = vec![MetricValue::Bool(true), MetricValue::Int(4), MetricValue::strings(["MOBILITY"])];
        let unknown_level = vec![MetricValue::Bool(true), doubtful.clone(), MetricValue::strings(["VISION"])];
        assert_eq!(merged(&spec, unknown_level.clone(), top)[1], MetricValue::Int(4));
        let lower = vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::strings(["MOBILITY"])];
        assert_eq!(cause(&merged(&spec, lower, unknown_level)[1]), Some(UnknownCause::UnrecognisedValue));
    }

    #[test]
    fn a_recorded_death_is_authoritative_and_different_dates_contradict() {
        let spec = crvs_spec();
        let alive = vec![MetricValue::Bool(true), MetricValue::Bool(true), date("1960-01-01"), MetricValue::Null];
        let dead = vec![MetricValue::Bool(false), MetricValue::Bool(true), date("1960-01-01"), date("2025-03-01")];
        assert_eq!(merged(&spec, alive.clone(), dead.clone()), dead);
        assert_eq!(merged(&spec, dead.clone(), alive.clone()), dead);
        let born_later = vec![MetricValue::Bool(true), MetricValue::Bool(true), date("1961-05-05"), MetricValue::Null];
        let both = merged(&spec, alive.clone(), born_later);
        assert_eq!(cause(&both[2]), Some(UnknownCause::AmbiguousRecord));
        let MetricValue::Unusable(unusable) = &both[2] else { unreachable!() };
        assert!(
            unusable.detail.contains("UIN 1001") && unusable.detail.contains("NATIONAL_ID NID-1"),
            "{}",
            unusable.detail
        );
        assert_eq!(both[0], MetricValue::Bool(true), "no record states a death");
        let died_later =
            vec![MetricValue::Bool(false), MetricValue::Bool(true), date("1960-01-01"), date("2025-04-01")];
        let both = merged(&spec, dead, died_later);
        assert_eq!(both[0], MetricValue::Bool(false));
        assert_eq!(cause(&both[3]), Some(UnknownCause::AmbiguousRecord));
        let unrecorded =
            vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null];
        assert_eq!(merged(&spec, unrecorded, alive.clone())[2], date("1960-01-01"), "one record without a birth date");
    }

    #[test]
    fn records_without_a_birth_date_are_dated_by_the_other_identifiers() {
        let spec = crvs_spec();
        let undated = MetricValue::unusable(UnknownCause::Undated, "birth_date is missing");
        let born = vec![MetricValue::Bool(true), MetricValue::Bool(true), date("1960-01-01"), MetricValue::Null];
        let no_birth_date = vec![undated.clone(), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null];
        let both = merged(&spec, no_birth_date.clone(), born.clone());
        assert_eq!(both[0], MetricValue::Bool(true), "alive, as one record set with the other's birth date");
        assert_eq!(both[2], date("1960-01-01"));
        assert_eq!(merged(&spec, born, no_birth_date.clone())[0], MetricValue::Bool(true), "in either order");
        let unborn = vec![MetricValue::Bool(false), MetricValue::Bool(false), date("2030-01-01"), MetricValue::Null];
        assert_eq!(merged(&spec, no_birth_date.clone(), unborn)[0], MetricValue::Bool(false), "not yet born");
        let registered_later =
            vec![MetricValue::Bool(true), MetricValue::Bool(false), date("1960-01-01"), MetricValue::Null];
        let undated_registration =
            vec![MetricValue::Bool(true), undated.clone(), date("1960-01-01"), MetricValue::Null];
        assert_eq!(
            cause(&merged(&spec, registered_later, undated_registration)[1]),
            Some(UnknownCause::Undated),
            "a registration without a date may be earlier: the other side cannot date it"
        );
    }

    #[test]
    fn disability_takes_any_standing_record_and_the_highest_level() {
        let spec = dr_spec();
        let none = vec![MetricValue::Bool(false), MetricValue::Int(0), MetricValue::strings::<&str>([])];
        let mobility = vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::strings(["MOBILITY"])];
        let vision = vec![MetricValue::Bool(true), MetricValue::Int(2), MetricValue::strings(["VISION"])];
        assert_eq!(merged(&spec, none, mobility.clone()), mobility);
        let both = merged(&spec, vision, mobility);
        assert_eq!(
            both,
            vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::strings(["MOBILITY", "VISION"])]
        );
    }

    #[test]
    fn a_failed_lookup_leaves_unknown_what_the_other_answer_does_not_settle() {
        let spec = ibr_spec();
        let failure = Failure { cause: UnknownCause::Timeout, message: Arc::from("slow") };
        let enrolled = Resolution::Found(
            Facts::from(vec![
                MetricValue::Bool(true),
                MetricValue::Int(1),
                MetricValue::strings(["Food Support"]),
                MetricValue::strings(["PRG-FOOD"]),
            ]),
            Source::Registry,
        );
        let Resolution::Found(facts, _) =
            merge_resolutions(&spec, (enrolled, &uin()), (Resolution::Failed(failure.clone()), &nid()))
        else {
            panic!("found")
        };
        assert_eq!(facts[0], MetricValue::Bool(true), "enrolled under one identifier settles is_enrolled");
        assert_eq!(cause(&facts[1]), Some(UnknownCause::Timeout), "the count could be higher");
        let not_found = merge_resolutions(
            &spec,
            (Resolution::NotFound(Source::Cache), &uin()),
            (Resolution::Failed(failure), &nid()),
        );
        assert!(
            matches!(not_found, Resolution::Failed(f) if f.cause == UnknownCause::Timeout),
            "not found needs every identifier"
        );
        let neither = merge_resolutions(
            &spec,
            (Resolution::NotFound(Source::Cache), &uin()),
            (Resolution::NotFound(Source::Registry), &nid()),
        );
        assert_eq!(neither, Resolution::NotFound(Source::Registry));
    }
}
