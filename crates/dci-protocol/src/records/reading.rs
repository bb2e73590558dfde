//! What a person's records say of one fact: a value, nothing, or nothing
//! usable and why. A fact read from a closed code list never falls back to a
//! guess: a code outside the list, or records that contradict each other,
//! leave it unknown, naming the field and the values.

use std::fmt;

use serde::Serialize;

/// One fact of a person, as their records state it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reading", content = "value")]
pub enum Reading<T> {
    /// The records state this value.
    Value(T),
    /// The records do not state it.
    Absent,
    /// A value outside the field's code list (or not readable as the field's
    /// type), or a required field left empty.
    Unrecognised {
        /// The field, as written on the wire (`enrollment_status`).
        field: String,
        /// The value, as written (at most 64 characters); empty when missing.
        value: String,
    },
    /// The fact held at the date the registry answered, but whether it held on
    /// an earlier date depends on a date the records leave out or write unreadably.
    Undated {
        /// The date field the reading needs, as written on the wire (`registration_date`).
        field: String,
        /// The value, as written (at most 64 characters); empty when missing.
        value: String,
    },
    /// Records of the person that contradict each other.
    Contradictory {
        /// The field.
        field: String,
        /// The values stated, as written (at most 64 characters each).
        values: Vec<String>,
    },
}

impl<T> Reading<T> {
    /// A value outside `field`'s code list.
    pub fn unrecognised(field: &str, value: &str) -> Self {
        Reading::Unrecognised { field: field.to_owned(), value: value.chars().take(64).collect() }
    }

    /// A fact whose date `field` is missing (`value` empty) or unreadable.
    pub fn undated(field: &str, value: &str) -> Self {
        Reading::Undated { field: field.to_owned(), value: value.chars().take(64).collect() }
    }

    /// A required `field` left empty.
    pub fn missing(field: &str) -> Self {
        Reading::Unrecognised { field: field.to_owned(), value: String::new() }
    }

    /// The value, when stated.
    pub fn value(&self) -> Option<&T> {
        match self {
            Reading::Value(value) => Some(value),
            _ => None,
        }
    }

    /// Whether the fact is unknown (unrecognised or contradictory), not merely absent.
    pub fn is_doubtful(&self) -> bool {
        matches!(self, Reading::Unrecognised { .. } | Reading::Undated { .. } | Reading::Contradictory { .. })
    }

    /// The reading with its value mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reading<U> {
        match self {
            Reading::Value(value) => Reading::Value(f(value)),
            Reading::Absent => Reading::Absent,
            Reading::Unrecognised { field, value } => Reading::Unrecognised { field, value },
            Reading::Undated { field, value } => Reading::Undated { field, value },
            Reading::Contradictory { field, values } => Reading::Contradictory { field, values },
        }
    }

    /// The same doubt, for a fact of another type; a reading that is not
    /// doubtful (a value, or nothing) becomes [`Reading::Absent`].
    pub fn map_ref_doubt<U>(&self) -> Reading<U> {
        self.doubt().unwrap_or(Reading::Absent)
    }

    /// The same doubt, for a fact of another type.
    pub fn doubt<U>(&self) -> Option<Reading<U>> {
        match self {
            Reading::Unrecognised { field, value } => {
                Some(Reading::Unrecognised { field: field.clone(), value: value.clone() })
            }
            Reading::Undated { field, value } => Some(Reading::Undated { field: field.clone(), value: value.clone() }),
            Reading::Contradictory { field, values } => {
                Some(Reading::Contradictory { field: field.clone(), values: values.clone() })
            }
            _ => None,
        }
    }
}

impl<T: PartialEq + fmt::Display> Reading<T> {
    /// The one value several records state of `field`: records that do not
    /// state it are passed over, a doubtful one makes the whole doubtful, and
    /// two different values contradict each other.
    pub fn agreed(field: &str, readings: impl IntoIterator<Item = Reading<T>>) -> Reading<T> {
        let mut agreed: Option<T> = None;
        let mut values: Vec<String> = Vec::new();
        for reading in readings {
            match reading {
                Reading::Absent => {}
                Reading::Value(value) => {
                    let text: String = value.to_string().chars().take(64).collect();
                    if !values.contains(&text) {
                        values.push(text);
                    }
                    match &agreed {
                        Some(first) if *first != value => {}
                        Some(_) => {}
                        None => agreed = Some(value),
                    }
                }
                doubtful => return doubtful,
            }
        }
        match agreed {
            Some(_) if values.len() > 1 => Reading::Contradictory { field: field.to_owned(), values },
            Some(value) => Reading::Value(value),
            None => Reading::Absent,
        }
    }
}

impl<T> fmt::Display for Reading<T>
where
    T: fmt::Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reading::Value(value) => write!(f, "{value}"),
            Reading::Absent => f.write_str("not recorded"),
            Reading::Unrecognised { field, value } if value.is_empty() => write!(f, "{field} is missing"),
            Reading::Unrecognised { field, value } => write!(f, "{field} {value:?} is not in its code list"),
            Reading::Undated { field, value } if value.is_empty() => {
                write!(f, "{field} is missing: the records do not say whether this held on the as-of date")
            }
            Reading::Undated { field, value } => {
                write!(
                    f,
                    "{field} {value:?} cannot be read: the records do not say whether this held on the as-of date"
                )
            }
            Reading::Contradictory { field, values } => {
                write!(f, "the person's records give {field} differently: ")?;
                for (position, value) in values.iter().enumerate() {
                    if position > 0 {
                        f.write_str(" and ")?;
                    }
                    write!(f, "{value:?}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_agree_contradict_or_doubt() {
        let agreed = Reading::agreed("death_date", [Reading::Absent, Reading::Value(3), Reading::Value(3)]);
        assert_eq!(agreed, Reading::Value(3));
        let contradicted = Reading::agreed("death_date", [Reading::Value(3), Reading::Absent, Reading::Value(4)]);
        assert_eq!(
            contradicted,
            Reading::Contradictory { field: "death_date".into(), values: vec!["3".into(), "4".into()] }
        );
        assert_eq!(contradicted.to_string(), "the person's records give death_date differently: \"3\" and \"4\"");
        let doubtful = Reading::agreed("x", [Reading::Value(1), Reading::unrecognised("x", "??")]);
        assert!(doubtful.is_doubtful());
        assert_eq!(doubtful.to_string(), "x \"??\" is not in its code list");
        assert_eq!(Reading::<u8>::agreed("x", []), Reading::Absent);
        assert_eq!(Reading::<u8>::missing("enrollment_status").to_string(), "enrollment_status is missing");
    }
}
