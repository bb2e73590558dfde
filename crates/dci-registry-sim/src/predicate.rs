//! Predicate queries and sort keys over records, compiled once per search item.
//!
//! Semantics: the items of a predicate list are ANDed (evaluated in `seq_num`
//! order); an item is `e1`, `e1 and e2`, `e1 or e2`, `e1 and not e2`
//! (`condition: not` with `expression2`) or `not e1` (`not` alone). An attribute
//! is a top-level record field or a dotted path (`birth_place.name`); a path
//! through an array looks into every element, and the expression holds when any
//! value found satisfies it. A missing attribute never matches. Values are
//! compared as dates when the attribute is a date (`*_date`, `last_updated`) or
//! both sides are ISO dates, as numbers when the query value is a number, and as
//! strings otherwise.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDate};
use dci_protocol::{Condition, DciDate, Operator, PredicateExpression, PredicateItem, Sort, SortOrder};
use serde_json::Value;

use crate::RegistryKind;

/// Why a predicate or sort cannot be applied (answered `rjct.filter.invalid` / `rjct.sort.invalid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid(pub String);

/// Top-level attributes of each registry's records, from the DCI record schemas.
fn known_attributes(kind: RegistryKind) -> &'static [&'static str] {
    match kind {
        RegistryKind::Crvs => &[
            "@id",
            "@type",
            "identifier",
            "name",
            "sex",
            "birth_date",
            "death_date",
            "birth_place",
            "death_place",
            "address",
            "phone_number",
            "email",
            "marital_status",
            "marriage_date",
            "divorce_date",
            "parent1_identifier",
            "parent2_identifier",
            "registration_date",
            "last_updated",
        ],
        RegistryKind::Ibr => &[
            "@id",
            "@type",
            "assistance_unit",
            "member",
            "group",
            "identifier",
            "programme_identifier",
            "programme",
            "enrollment_date",
            "enrolment_date",
            "enrollment_status",
            "enrolment_status",
            "status_change_date",
            "benefits",
            "benefit",
            "registration_date",
            "last_updated",
        ],
        RegistryKind::Dr => &[
            "@id",
            "@type",
            "member_identifier",
            "identifier",
            "name",
            "sex",
            "birth_date",
            "demographic_info",
            "is_disabled",
            "personal_details",
            "disability_info",
            "disability_status",
            "disability_status_level",
            "disability_level",
            "disability_details",
            "disability_support",
            "transport_requirement",
            "housing_type",
            "programs_enrollments",
            "registration_date",
            "last_updated",
        ],
    }
}

/// A validated attribute path.
#[derive(Clone, Debug)]
pub(crate) struct Path {
    segments: Vec<String>,
    is_date: bool,
}

impl Path {
    pub(crate) fn parse(kind: RegistryKind, name: &str) -> Result<Path, Invalid> {
        let name = name.trim();
        let segments: Vec<String> = name.split('.').map(str::to_owned).collect();
        if name.is_empty() || segments.iter().any(|s| s.is_empty()) {
            return Err(Invalid(format!("attribute {name:?} is not a field name or dotted path")));
        }
        if !known_attributes(kind).contains(&segments[0].as_str()) {
            return Err(Invalid(format!("unknown attribute {name:?} for {kind} records")));
        }
        let last = segments.last().map(String::as_str).unwrap_or_default();
        let is_date = last.ends_with("_date") || last == "last_updated" || last == "date_of_birth";
        Ok(Path { segments, is_date })
    }

    /// Every value at this path (arrays fan out).
    fn values<'a>(&self, record: &'a Value, out: &mut Vec<&'a Value>) {
        fn walk<'a>(value: &'a Value, segments: &[String], out: &mut Vec<&'a Value>) {
            match value {
                Value::Array(items) => items.iter().for_each(|item| walk(item, segments, out)),
                _ => match segments.split_first() {
                    None => {
                        if !value.is_null() {
                            out.push(value);
                        }
                    }
                    Some((first, rest)) => {
                        if let Some(inner) = value.get(first.as_str()) {
                            walk(inner, rest, out);
                        }
                    }
                },
            }
        }
        walk(record, &self.segments, out);
    }

    /// The first scalar value at this path, for sorting.
    fn first_scalar<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        let mut found = Vec::new();
        self.values(record, &mut found);
        found.into_iter().find(|v| !v.is_object() && !v.is_array() && !is_blank_text(v))
    }
}

fn is_blank_text(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.trim().is_empty())
}

/// A calendar date or an instant, compared at the coarser of the two.
#[derive(Clone, Copy, Debug)]
enum When {
    Day(NaiveDate),
    At(DateTime<FixedOffset>),
}

impl When {
    fn parse(text: &str) -> Option<When> {
        match DciDate::parse(text) {
            DciDate::Date(date) => Some(When::Day(date)),
            DciDate::Instant(instant) => Some(When::At(instant)),
            DciDate::Unreadable(_) => None,
        }
    }

    fn cmp(self, other: When) -> Ordering {
        match (self, other) {
            (When::At(a), When::At(b)) => a.cmp(&b),
            (When::Day(a), When::Day(b)) => a.cmp(&b),
            (When::Day(a), When::At(b)) => a.cmp(&b.date_naive()),
            (When::At(a), When::Day(b)) => a.date_naive().cmp(&b),
        }
    }
}

/// Whether text looks like an ISO date (`YYYY-MM-DD...`).
fn looks_iso(text: &str) -> bool {
    let bytes = text.trim().as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
}

/// A query value, with its readings prepared once.
#[derive(Clone, Debug)]
enum Operand {
    Text { text: String, when: Option<When>, number: Option<f64> },
    Number(f64),
    Bool(bool),
}

impl Operand {
    fn of(value: &Value, path: &Path) -> Result<Operand, Invalid> {
        match value {
            Value::String(text) => {
                let when = When::parse(text).filter(|_| path.is_date || looks_iso(text));
                if path.is_date && when.is_none() {
                    return Err(Invalid(format!("{} is a date but {text:?} is not a date", path.segments.join("."))));
                }
                Ok(Operand::Text { text: text.clone(), when, number: text.trim().parse().ok() })
            }
            Value::Number(number) if path.is_date => {
                Err(Invalid(format!("{} is a date but {number} is a number", path.segments.join("."))))
            }
            Value::Number(number) => {
                number.as_f64().map(Operand::Number).ok_or_else(|| Invalid(format!("{number} is not a usable number")))
            }
            Value::Bool(flag) if path.is_date => {
                Err(Invalid(format!("{} is a date but {flag} is a boolean", path.segments.join("."))))
            }
            Value::Bool(flag) => Ok(Operand::Bool(*flag)),
            Value::Null => Err(Invalid("attribute_value is missing".into())),
            Value::Array(_) | Value::Object(_) => {
                Err(Invalid("attribute_value must be text, a number or a boolean (a list only with in)".into()))
            }
        }
    }

    /// Compares a record value with this operand; `None` when they are not comparable.
    fn compare(&self, found: &Value) -> Option<Ordering> {
        match (self, found) {
            (Operand::Text { when: Some(when), .. }, Value::String(text)) => {
                When::parse(text).map(|found| found.cmp(*when))
            }
            (Operand::Text { when: None, text, number }, Value::String(found)) => match number {
                Some(n) if !found.trim().is_empty() => match found.trim().parse::<f64>() {
                    Ok(found) => found.partial_cmp(n),
                    Err(_) => Some(found.as_str().cmp(text.as_str())),
                },
                _ => Some(found.as_str().cmp(text.as_str())),
            },
            (Operand::Text { number: Some(n), when: None, .. }, Value::Number(found)) => found.as_f64()?.partial_cmp(n),
            (Operand::Number(n), Value::Number(found)) => found.as_f64()?.partial_cmp(n),
            (Operand::Number(n), Value::String(found)) => found.trim().parse::<f64>().ok()?.partial_cmp(n),
            (Operand::Bool(b), Value::Bool(found)) => Some(found.cmp(b)),
            (Operand::Bool(b), Value::String(found)) => match found.trim() {
                "true" => Some(true.cmp(b)),
                "false" => Some(false.cmp(b)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One compiled `attribute operator value`.
#[derive(Clone, Debug)]
struct Comparison {
    path: Path,
    operator: Op,
    operands: Vec<Operand>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Gt,
    Lt,
    Eq,
    Ge,
    Le,
    In,
}

impl Comparison {
    fn compile(kind: RegistryKind, expression: &PredicateExpression) -> Result<Comparison, Invalid> {
        let path = Path::parse(kind, &expression.attribute_name)?;
        let operator = match &expression.operator {
            Operator::Gt => Op::Gt,
            Operator::Lt => Op::Lt,
            Operator::Eq => Op::Eq,
            Operator::Ge => Op::Ge,
            Operator::Le => Op::Le,
            Operator::In => Op::In,
            Operator::Other(other) => {
                return Err(Invalid(format!("unknown operator {other:?} (expected gt, lt, eq, ge, le or in)")));
            }
        };
        let operands = match (operator, &expression.attribute_value) {
            (Op::In, Value::Array(values)) if !values.is_empty() => {
                values.iter().map(|v| Operand::of(v, &path)).collect::<Result<Vec<_>, _>>()?
            }
            (Op::In, _) => return Err(Invalid("operator in needs a non-empty list as attribute_value".into())),
            (_, value) => vec![Operand::of(value, &path)?],
        };
        if matches!(operator, Op::Gt | Op::Lt | Op::Ge | Op::Le) && matches!(operands[0], Operand::Bool(_)) {
            return Err(Invalid(format!(
                "booleans cannot be ordered ({:?} on a boolean)",
                expression.operator.as_str()
            )));
        }
        Ok(Comparison { path, operator, operands })
    }

    fn holds(&self, record: &Value) -> bool {
        let mut found: Vec<&Value> = Vec::new();
        self.path.values(record, &mut found);
        found.into_iter().any(|value| {
            self.operands.iter().any(|operand| match operand.compare(value) {
                None => false,
                Some(order) => match self.operator {
                    Op::Gt => order == Ordering::Greater,
                    Op::Lt => order == Ordering::Less,
                    Op::Eq | Op::In => order == Ordering::Equal,
                    Op::Ge => order != Ordering::Less,
                    Op::Le => order != Ordering::Greater,
                },
            })
        })
    }
}

#[derive(Clone, Debug)]
enum Clause {
    Single(Comparison),
    And(Comparison, Comparison),
    Or(Comparison, Comparison),
    AndNot(Comparison, Comparison),
    Not(Comparison),
}

/// A compiled predicate query: its clauses must all hold.
#[derive(Clone, Debug)]
pub(crate) struct Predicate {
    clauses: Vec<Clause>,
}

impl Predicate {
    pub(crate) fn compile(kind: RegistryKind, items: &[PredicateItem]) -> Result<Predicate, Invalid> {
        let mut ordered: Vec<&PredicateItem> = items.iter().collect();
        ordered.sort_by_key(|item| item.seq_num.unwrap_or(u32::MAX));
        let mut clauses = Vec::with_capacity(ordered.len());
        for item in ordered {
            let first = Comparison::compile(kind, &item.expression1)?;
            let second = item.expression2.as_ref().map(|e| Comparison::compile(kind, e)).transpose()?;
            let clause = match (&item.condition, second) {
                (None, None) => Clause::Single(first),
                (Some(Condition::And), Some(second)) => Clause::And(first, second),
                (Some(Condition::Or), Some(second)) => Clause::Or(first, second),
                (Some(Condition::Not), Some(second)) => Clause::AndNot(first, second),
                (Some(Condition::Not), None) => Clause::Not(first),
                (Some(Condition::And | Condition::Or), None) => {
                    return Err(Invalid(format!(
                        "condition {:?} needs an expression2",
                        item.condition.as_ref().map(Condition::as_str).unwrap_or_default()
                    )));
                }
                (None, Some(_)) => return Err(Invalid("expression2 is given without a condition".into())),
                (Some(Condition::Other(other)), _) => {
                    return Err(Invalid(format!("unknown condition {other:?} (expected and, or or not)")));
                }
            };
            clauses.push(clause);
        }
        Ok(Predicate { clauses })
    }

    pub(crate) fn matches(&self, record: &Value) -> bool {
        let holds = |c: &Comparison| c.holds(record);
        self.clauses.iter().all(|clause| match clause {
            Clause::Single(a) => holds(a),
            Clause::And(a, b) => holds(a) && holds(b),
            Clause::Or(a, b) => holds(a) || holds(b),
            Clause::AndNot(a, b) => holds(a) && !holds(b),
            Clause::Not(a) => !holds(a),
        })
    }
}

/// Compiled sort keys.
#[derive(Clone, Debug)]
pub(crate) struct SortKeys {
    keys: Vec<(Path, bool)>,
}

impl SortKeys {
    pub(crate) fn compile(kind: RegistryKind, sort: &[Sort]) -> Result<SortKeys, Invalid> {
        let mut keys = Vec::with_capacity(sort.len());
        for key in sort {
            let path = Path::parse(kind, &key.attribute_name).map_err(|Invalid(m)| Invalid(format!("sort: {m}")))?;
            let descending = match &key.sort_order {
                SortOrder::Asc => false,
                SortOrder::Desc => true,
                SortOrder::Other(other) => {
                    return Err(Invalid(format!("unknown sort_order {other:?} (expected asc or desc)")));
                }
            };
            keys.push((path, descending));
        }
        Ok(SortKeys { keys })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The sort-key values of a record (the first scalar at each key's path).
    pub(crate) fn keys_of(&self, record: &Value) -> Vec<Option<Value>> {
        self.keys.iter().map(|(path, _)| path.first_scalar(record).cloned()).collect()
    }

    /// Orders two records by their [`SortKeys::keys_of`]; a record lacking a key comes last either way.
    pub(crate) fn compare(&self, a: &[Option<Value>], b: &[Option<Value>]) -> Ordering {
        for ((path, descending), (x, y)) in self.keys.iter().zip(a.iter().zip(b)) {
            let order = match (x, y) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let order = compare_values(x, y, path.is_date);
                    if *descending { order.reverse() } else { order }
                }
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

/// Total order on two record values for sorting: dates as dates, numbers as numbers, else text.
fn compare_values(a: &Value, b: &Value, is_date: bool) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if is_date || (looks_iso(x) && looks_iso(y)) {
                match (When::parse(x), When::parse(y)) {
                    (Some(p), Some(q)) => return p.cmp(q),
                    (Some(_), None) => return Ordering::Less,
                    (None, Some(_)) => return Ordering::Greater,
                    (None, None) => {}
                }
            }
            match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
                (Ok(p), Ok(q)) => p.total_cmp(&q),
                _ => x.cmp(y),
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(f64::NAN).total_cmp(&y.as_f64().unwrap_or(f64::NAN))
        }
        (Value::Number(_), _) => Ordering::Less,
        (_, Value::Number(_)) => Ordering::Greater,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dci_protocol::attribute;
    use serde_json::json;

    fn predicate(items: Vec<PredicateItem>) -> Predicate {
        Predicate::compile(RegistryKind::Crvs, &items).expect("compiles")
    }

    fn person(birth: &str, death: Option<&str>, place: &str, sex: &str) -> Value {
        let mut record = json!({"birth_date": birth, "sex": sex, "birth_place": {"name": place},
            "identifier": [{"identifier_type": "UIN", "identifier_value": "1"}, {"identifier_type": "BRN", "identifier_value": "B"}]});
        if let Some(death) = death {
            record["death_date"] = json!(death);
        }
        record
    }

    #[test]
    fn operators_compare_dates_as_dates() {
        let old = person("1950-03-02", None, "Kisumu", "female");
        let young = person("2001-11-30T08:00:00+03:00", Some("2020-01-01"), "Mombasa", "male");
        let single = |e| predicate(vec![PredicateItem::single(e)]);
        assert!(single(attribute("birth_date").lt("1960-01-01")).matches(&old));
        assert!(!single(attribute("birth_date").lt("1960-01-01")).matches(&young));
        assert!(single(attribute("birth_date").gt("2001-01-01")).matches(&young));
        assert!(single(attribute("birth_date").eq("2001-11-30")).matches(&young), "a date-time is on its day");
        assert!(single(attribute("birth_date").ge("1950-03-02")).matches(&old));
        assert!(!single(attribute("birth_date").gt("1950-03-02")).matches(&old));
        assert!(single(attribute("birth_date").le("1950-03-02")).matches(&old));
        assert!(single(attribute("sex").is_in(["male", "other"])).matches(&young));
        assert!(!single(attribute("sex").is_in(["male", "other"])).matches(&old));
        // as text, "1950-03-02" < "1950-3-1" would hold; as dates it does not
        assert!(!single(attribute("birth_date").lt("1950-3-1")).matches(&old));
        assert!(single(attribute("birth_date").lt("1950-3-10")).matches(&old));
    }

    #[test]
    fn conditions_dotted_paths_and_missing_attributes() {
        let alive = person("1950-03-02", None, "Kisumu", "female");
        let dead = person("1940-01-01", Some("2020-05-05"), "Kisumu", "male");
        let range = predicate(vec![PredicateItem::and(
            attribute("birth_date").ge("1940-01-01"),
            attribute("birth_date").le("1950-12-31"),
        )]);
        assert!(range.matches(&alive) && range.matches(&dead));
        let alive_only = predicate(vec![PredicateItem::and_not(
            attribute("birth_place.name").eq("Kisumu"),
            attribute("death_date").le("2026-01-01"),
        )]);
        assert!(alive_only.matches(&alive) && !alive_only.matches(&dead));
        let not_male = predicate(vec![PredicateItem {
            seq_num: Some(1),
            expression1: attribute("sex").eq("male"),
            condition: Some(Condition::Not),
            expression2: None,
        }]);
        assert!(not_male.matches(&alive) && !not_male.matches(&dead));
        let either =
            predicate(vec![PredicateItem::or(attribute("sex").eq("other"), attribute("death_date").gt("2000-01-01"))]);
        assert!(!either.matches(&alive) && either.matches(&dead));
        let missing = predicate(vec![PredicateItem::single(attribute("death_date").lt("2100-01-01"))]);
        assert!(!missing.matches(&alive), "a missing attribute never matches");
        let by_id = predicate(vec![PredicateItem::single(attribute("identifier.identifier_value").eq("B"))]);
        assert!(by_id.matches(&alive), "arrays are searched element by element");
    }

    #[test]
    fn numbers_compare_as_numbers() {
        let path = Path::parse(RegistryKind::Ibr, "enrollment_status").unwrap();
        let two = Operand::of(&json!(2), &path).unwrap();
        assert_eq!(two.compare(&json!("10")), Some(Ordering::Greater));
        assert_eq!(two.compare(&json!(2.0)), Some(Ordering::Equal));
        assert_eq!(two.compare(&json!("x")), None);
    }

    #[test]
    fn bad_predicates_are_refused_with_a_reason() {
        let compile = |e: PredicateExpression| Predicate::compile(RegistryKind::Crvs, &[PredicateItem::single(e)]);
        assert!(compile(attribute("shoe_size").eq(42)).unwrap_err().0.contains("unknown attribute"));
        assert!(compile(attribute("birth_date").gt(1950)).unwrap_err().0.contains("date"));
        assert!(compile(attribute("birth_date").gt("last spring")).unwrap_err().0.contains("not a date"));
        let odd = PredicateExpression {
            attribute_name: "sex".into(),
            operator: Operator::Other("like".into()),
            attribute_value: json!("f%"),
        };
        assert!(compile(odd).unwrap_err().0.contains("operator"));
        let not_a_list = PredicateExpression {
            attribute_name: "sex".into(),
            operator: Operator::In,
            attribute_value: json!("male"),
        };
        assert!(compile(not_a_list).unwrap_err().0.contains("list"));
        assert!(compile(attribute("sex").gt(true)).is_err());
    }

    #[test]
    fn sorting_puts_missing_values_last() {
        let keys = SortKeys::compile(
            RegistryKind::Crvs,
            &[Sort { attribute_name: "death_date".into(), sort_order: SortOrder::Desc }],
        )
        .unwrap();
        let records = [
            json!({"death_date": "2001-01-01"}),
            json!({}),
            json!({"death_date": "2010-06-01T00:00:00Z"}),
            json!({"death_date": "1999-12-31"}),
        ];
        let mut keyed: Vec<(usize, Vec<Option<Value>>)> =
            records.iter().enumerate().map(|(p, r)| (p, keys.keys_of(r))).collect();
        keyed.sort_by(|a, b| keys.compare(&a.1, &b.1));
        let order: Vec<usize> = keyed.iter().map(|(p, _)| *p).collect();
        assert_eq!(order, vec![2, 0, 3, 1]);
        let bad = SortKeys::compile(
            RegistryKind::Crvs,
            &[Sort { attribute_name: "birth_date".into(), sort_order: SortOrder::Other("up".into()) }],
        );
        assert!(bad.is_err());
    }
}
