//! The beneficiary model: a registrant with identifiers, any other fields,
//! and household members (each a beneficiary without members).
//!
//! A beneficiary keeps the JSON text it was read from and the place of each
//! field in it: fields are parsed only when a rule reads them (most rules read
//! one or two), and text without escapes is lent to CEL without a copy.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use compact_str::{CompactString, format_compact};
use dci_protocol::records::Identifier;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A beneficiary (registrant or household member).
#[derive(Clone)]
pub struct Beneficiary {
    /// The caller's id for this person (held inline up to 24 bytes).
    pub id: CompactString,
    /// Identifiers, in the order given.
    pub identifiers: Vec<Identifier>,
    /// Household members ([`Beneficiary::members`]); none for a member.
    members: Members,
    /// Whether the household's members were given (`"members": [...]`, empty
    /// or not). Absent or `null`, the household is unknown: a rule that reads
    /// `members` is undetermined (`missing_field`), as for any absent field.
    pub members_known: bool,
    source: Arc<str>,
    fields: Vec<Field>,
}

/// How a household's members are read with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MemberReading {
    /// Built as the household is read.
    #[default]
    Eager,
    /// Checked as the household is read (a bad member is the household's
    /// error, as when eager), built only when first asked for: for rules that
    /// never read the members, which then cost a scan of their text and no
    /// allocation.
    OnDemand,
}

/// A household's members: built, or checked and kept as text until asked for.
#[derive(Clone, Default)]
struct Members {
    built: OnceLock<Vec<Beneficiary>>,
    /// The members' JSON list in the source, while not built.
    text: Option<Range<u32>>,
    count: u32,
    /// The household's id, for members without one (the id itself may be
    /// taken from the household before its members are built).
    parent: CompactString,
}

impl Members {
    fn built(members: Vec<Beneficiary>) -> Self {
        let count = members.len() as u32;
        Members { built: OnceLock::from(members), text: None, count, parent: CompactString::default() }
    }
}

#[derive(Clone, PartialEq)]
enum FieldName {
    /// Where the name is in the source.
    Span(Range<u32>),
    /// A name with escapes, unescaped.
    Owned(Box<str>),
}

#[derive(Clone, PartialEq)]
struct Field {
    name: FieldName,
    /// Where the value's JSON text is in the source.
    value: Range<u32>,
}

impl fmt::Debug for Beneficiary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<(&str, &str)> = self.fields().collect();
        f.debug_struct("Beneficiary")
            .field("id", &self.id)
            .field("identifiers", &self.identifiers)
            .field("fields", &fields)
            .field("members", &self.members())
            .field("members_known", &self.members_known)
            .finish()
    }
}

impl PartialEq for Beneficiary {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.identifiers == other.identifiers
            && self.members_known == other.members_known
            && self.fields().eq(other.fields())
            && self.members() == other.members()
    }
}

/// What is wrong with a beneficiary's data: where (input line, field path) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}{path}: {problem}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct BeneficiaryError {
    /// The input line, for line-oriented input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Where in the item, e.g. `members[2].identifiers[0].value`.
    pub path: String,
    /// What.
    pub problem: String,
}

impl BeneficiaryError {
    /// The same error, located on input line `line`.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

/// The deepest nesting of lists and objects accepted in a field's value:
/// deeper values are refused (serde_json itself stops at 128 levels).
pub const MAX_VALUE_DEPTH: usize = 64;

/// Whether `text` holds a `\uD800`-`\uDFFF` escape (or something that looks like one).
fn half_characters(text: &[u8]) -> bool {
    text.windows(3).any(|w| w[0] == b'\\' && w[1] == b'u' && (w[2] | 0x20) == b'd')
}

/// Why a value's JSON text cannot be read, without serde's position (which
/// counts from the value, not from the input).
fn unreadable(error: &serde_json::Error) -> String {
    let why = error.to_string();
    let why = why.split(" at line ").next().unwrap_or_default();
    if why.contains("surrogate") || why.contains("hex escape") {
        return "cannot be read: it holds a \\u escape of half a character (an unpaired surrogate)".to_owned();
    }
    format!("cannot be read: {why}")
}

/// What is wrong with a field's JSON text, if anything: nesting deeper than
/// [`MAX_VALUE_DEPTH`], a number out of range (`1e400`: not finite), or a
/// `\uD800`-`\uDFFF` escape that is not half of a pair (JSON syntax allows it,
/// but it is no character: the value could not be read). Scalars other than
/// long or exponent numbers and such escapes are not scanned.
fn value_problem(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    // Only text can hold escapes, and most holds none; values are short, so a
    // plain loop finds a backslash sooner than a call to memchr.
    if matches!(bytes.first(), Some(b'"' | b'[' | b'{'))
        && let Some(escape) = bytes.iter().position(|&b| b == b'\\')
        && half_characters(&bytes[escape..])
        && let Err(error) = serde_json::from_str::<Value>(raw)
    {
        return Some(unreadable(&error));
    }
    let plain_number = |text: &str| text.len() <= 300 && !text.contains(['e', 'E']);
    match bytes.first() {
        Some(b'[' | b'{') => {}
        Some(b'-' | b'0'..=b'9') if plain_number(raw) => return None,
        Some(b'-' | b'0'..=b'9') => return number_problem(raw),
        _ => return None,
    }
    let (mut depth, mut index, mut objects) = (0usize, 0usize, false);
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                objects |= bytes[index] == b'{';
                depth += 1;
                if depth > MAX_VALUE_DEPTH {
                    return Some(format!("nests deeper than {MAX_VALUE_DEPTH} levels of lists and objects"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let end = bytes[index..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(bytes.len(), |offset| index + offset);
                let number = raw.get(index..end).unwrap_or_default();
                if !plain_number(number)
                    && let Some(problem) = number_problem(number)
                {
                    return Some(problem);
                }
                index = end;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    if objects && let Err(error) = ValueCheck::KEYS_ONCE.walk(raw) {
        return Some(error.to_string().split(" at line ").next().unwrap_or_default().to_owned());
    }
    None
}

/// A JSON value walked in one pass. It fails where an object, at any depth,
/// gives a key twice (a value such as `{"a": 1, "a": 2}` would be read as
/// either, depending on the reader), and where lists and objects nest deeper
/// than [`MAX_VALUE_DEPTH`] (serde_json itself refuses unpaired surrogates and
/// numbers out of range, read as [`number_problem`] reads them). Walking a
/// member's field for the fast path ([`ValueCheck::MEMBER_FIELD`]), it also
/// fails on keys with escapes: so it fails on at least whatever
/// [`value_problem`] finds, and a member it passes is read later as it would
/// have been at once.
#[derive(Clone, Copy)]
struct ValueCheck {
    /// Lists and objects around the value.
    depth: usize,
    /// Whether the fast path's own conditions apply too.
    member_field: bool,
}

impl ValueCheck {
    /// Keys given once, at every depth.
    const KEYS_ONCE: ValueCheck = ValueCheck { depth: 0, member_field: false };
    /// A member's field, for the fast path.
    const MEMBER_FIELD: ValueCheck = ValueCheck { depth: 0, member_field: true };

    /// Walks the whole of `text`.
    fn walk(self, text: &str) -> Result<(), serde_json::Error> {
        let mut reader = serde_json::Deserializer::from_str(text);
        self.deserialize(&mut reader)?;
        reader.end()
    }

    fn inner<E: serde::de::Error>(&self) -> Result<ValueCheck, E> {
        match self.depth < MAX_VALUE_DEPTH {
            true => Ok(ValueCheck { depth: self.depth + 1, ..*self }),
            false => Err(E::custom(format_args!("nests deeper than {MAX_VALUE_DEPTH} levels of lists and objects"))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueCheck {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueCheck {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while items.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if self.member_field && matches!(key, Cow::Owned(_)) {
                return Err(serde::de::Error::custom("a name with escapes"));
            }
            map.next_value_seed(inner)?;
            keys.push(key);
        }
        match first_repeated(&keys, |key| key.as_ref()) {
            Some(index) => {
                Err(serde::de::Error::custom(format_args!("gives the key `{}` twice in one object", keys[index])))
            }
            None => Ok(()),
        }
    }
}

/// Whether a number is out of range. Evaluation reads a field's own number
/// with `str::parse` and one inside a list or object with serde_json, which
/// rounds as `str::parse` does with its `float_roundtrip` feature (on for the
/// workspace; without it, numbers at the top of the range read otherwise).
fn number_problem(number: &str) -> Option<String> {
    match number.parse::<f64>() {
        Ok(value) if value.is_finite() => None,
        _ => Some(format!("the number {} is out of range", shorten(number))),
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(24) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn problem(path: impl Into<String>, problem: impl Into<String>) -> BeneficiaryError {
    BeneficiaryError { line: None, path: path.into(), problem: problem.into() }
}

/// The most household members a beneficiary's data may list. More is that beneficiary's error,
/// found while it is read, before any member is built (a server's `max_members` is at most this).
pub const MAX_MEMBERS: usize = 10_000;
/// The most identifiers a person may have.
pub const MAX_IDENTIFIERS: usize = 100;
/// The longest id, identifier type or identifier value, in bytes: registry identifiers are short,
/// and each one asked is kept in the fact cache.
pub const MAX_ID_BYTES: usize = 256;

/// A JSON list refused, while it is read, once it has more than `N` elements.
struct Capped<T, const N: usize>(Vec<T>);

/// The error a [`Capped`] list gives past its bound.
const TOO_MANY: &str = "too many elements";

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Capped<T, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CappedVisitor<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for CappedVisitor<T, N> {
            type Value = Capped<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a JSON list of at most {N} elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(N));
                while let Some(item) = seq.next_element::<T>()? {
                    if items.len() == N {
                        return Err(serde::de::Error::custom(TOO_MANY));
                    }
                    items.push(item);
                }
                Ok(Capped(items))
            }
        }
        deserializer.deserialize_seq(CappedVisitor(std::marker::PhantomData))
    }
}

/// The elements of `raw`, a JSON list of at most `N` (`Err(None)`: more than `N`; `Err(Some(kind))`:
/// not a list).
fn capped_elements<const N: usize>(raw: &RawValue) -> Result<Vec<&RawValue>, Option<&'static str>> {
    match serde_json::from_str::<Capped<&RawValue, N>>(raw.get()) {
        Ok(Capped(items)) => Ok(items),
        Err(error) if error.to_string().starts_with(TOO_MANY) => Err(None),
        Err(_) => Err(Some(raw_kind(raw.get()))),
    }
}

/// An id or identifier value: `value` read from its JSON text `raw`.
fn id_text(raw: &str, value: &Value, path: &str) -> Result<CompactString, BeneficiaryError> {
    match value {
        Value::String(s) if s.len() > MAX_ID_BYTES => {
            Err(problem(path, format!("is {} bytes long; at most {MAX_ID_BYTES}", s.len())))
        }
        Value::String(s) if !s.trim().is_empty() => Ok(s.into()),
        // A whole number is read as its digits (`800010000.0` and `800010000` are one
        // identifier); a fraction, or a number too large to be held exactly (it would be
        // rounded to another person's), is refused.
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(format_compact!("{n}")),
        Value::Number(_) => match whole_number(raw.trim()) {
            Some(whole) => Ok(format_compact!("{whole}")),
            None => Err(problem(
                path,
                format!(
                    "is the number {}, which is not a whole number held exactly: write it as text",
                    shorten(raw.trim())
                ),
            )),
        },
        Value::String(_) => Err(problem(path, "is empty")),
        other => Err(problem(path, format!("must be text, found {}", json_kind(other)))),
    }
}

/// The largest whole number written with a fraction part or an exponent that is taken as
/// an id (2^53): readers that hold such numbers as `f64` hold them exactly up to it.
const EXACT_WHOLE_NUMBERS: u64 = 1 << 53;

/// The whole number a JSON number's text denotes, if it is one of at most
/// [`EXACT_WHOLE_NUMBERS`] in size; `None` for a fraction or a larger number. Read from the
/// digits themselves: as an `f64` first, `800010000.00000001` would round to a whole
/// number and `9007199254740993e0` to its neighbour, another person's id.
fn whole_number(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let zero = |mantissa: &str| mantissa.bytes().all(|digit| matches!(digit, b'0' | b'.'));
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => match exponent.parse::<i32>() {
            Ok(exponent) => (mantissa, exponent),
            // An exponent past any whole number of at most 2^53 but for zero.
            Err(_) => return zero(mantissa).then_some(0),
        },
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // Digits before `point` make the whole part; any after it must be zeros.
    let point = whole.len() as i64 + i64::from(exponent);
    let mut value: u64 = 0;
    for (index, digit) in whole.bytes().chain(fraction.bytes()).enumerate() {
        let digit = u64::from(digit.checked_sub(b'0').filter(|digit| *digit <= 9)?);
        if (index as i64) < point {
            value = value.checked_mul(10)?.checked_add(digit)?;
        } else if digit != 0 {
            return None;
        }
        if value > EXACT_WHOLE_NUMBERS {
            return None;
        }
    }
    // Zeros the exponent adds after the digits written (none to add to zero).
    let written = (whole.len() + fraction.len()) as i64;
    if value != 0 {
        for _ in written..point {
            value = value.checked_mul(10).filter(|value| *value <= EXACT_WHOLE_NUMBERS)?;
        }
    }
    let value = i64::try_from(value).ok()?;
    Some(if negative { -value } else { value })
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The JSON kind of a value's text, from its first character.
pub(crate) fn raw_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "a list",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A string borrowed from the text when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// An identifier as written, borrowed from the text (the fast path: text only, no blanks).
/// Only an object `{type, value}` (or `{identifier_type, identifier_value}`), each given
/// once (other keys are ignored, as the careful path does); anything else is left to the
/// careful path to name.
struct IdentifierText<'a> {
    kind: Text<'a>,
    value: Text<'a>,
}

impl<'de> Deserialize<'de> for IdentifierText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdentifierVisitor;
        impl<'de> Visitor<'de> for IdentifierVisitor {
            type Value = IdentifierText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object {type, value}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut kind, mut value) = (None, None);
                // Other keys are ignored, but each given once, as the careful path checks.
                let (mut others, mut other_count) = ([""; 8], 0);
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    let slot = match key.as_ref() {
                        "type" | "identifier_type" => &mut kind,
                        "value" | "identifier_value" => &mut value,
                        _ => {
                            let Cow::Borrowed(key) = key else {
                                return Err(serde::de::Error::custom("an escaped key"));
                            };
                            if other_count == others.len() || others[..other_count].contains(&key) {
                                return Err(serde::de::Error::custom("a repeated or uncounted key"));
                            }
                            (others[other_count], other_count) = (key, other_count + 1);
                            map.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.replace(map.next_value::<Text<'de>>()?).is_some() {
                        return Err(serde::de::Error::custom("a repeated key"));
                    }
                }
                match (kind, value) {
                    (Some(kind), Some(value)) => Ok(IdentifierText { kind, value }),
                    _ => Err(serde::de::Error::custom("a missing key")),
                }
            }
        }
        deserializer.deserialize_map(IdentifierVisitor)
    }
}

/// A person read in one pass over the text: the fast path for well-formed
/// input. Anything unusual (a numeric id, a malformed member) fails it, and
/// the careful path then reads the text again to name what is wrong.
struct PersonText<'a> {
    id: Option<Text<'a>>,
    identifiers: Option<Capped<IdentifierText<'a>, MAX_IDENTIFIERS>>,
    members: Option<MembersText<'a>>,
    fields: Vec<(Text<'a>, &'a RawValue)>,
}

/// A household's members as the fast path's one pass read them.
enum MembersText<'a> {
    /// Read as persons ([`MemberReading::Eager`]).
    Read(Vec<PersonText<'a>>),
    /// Their list's text, and how many they are, each checked ([`MemberReading::OnDemand`]).
    Checked(&'a str, usize),
}

/// Reads a [`PersonText`]: a beneficiary, its members as the [`MemberReading`]
/// of the same name says, or a household member.
#[derive(Clone, Copy)]
enum PersonSeed<'de> {
    Eager,
    /// A household member: its own `members` must be absent or `null`.
    /// Anything else fails the fast path unread (the careful path names it),
    /// so that no list inside a member is built: lists of members inside
    /// each of 10,000 members would otherwise be built whole first.
    Member,
    /// Members checked in the same pass, their list's place found from the
    /// keys around it in `object`, the whole text of the person being read.
    OnDemand {
        object: &'de str,
    },
}

impl<'de> PersonSeed<'de> {
    /// The seed for `reading` the person whose whole text is `object`.
    fn new(reading: MemberReading, object: &'de str) -> Self {
        match reading {
            MemberReading::Eager => PersonSeed::Eager,
            MemberReading::OnDemand => PersonSeed::OnDemand { object },
        }
    }
}

/// Read as an element of a members' list.
impl<'de> Deserialize<'de> for PersonText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PersonSeed::Member.deserialize(deserializer)
    }
}

/// Where a key's value starts in `object`: after the key's closing quote,
/// blanks, the colon and blanks. `key` must be borrowed from `object`.
fn value_start(object: &str, key: &str) -> Option<usize> {
    let after_key = (key.as_ptr() as usize).checked_sub(object.as_ptr() as usize)? + key.len();
    let bytes = object.as_bytes();
    let mut at = after_key;
    let mut expect = |wanted: u8| {
        let found = bytes.get(at) == Some(&wanted);
        at += 1;
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        found
    };
    (expect(b'"') && expect(b':')).then_some(at)
}

/// Where a list value that started at `start` in `object` ends (just past its
/// `]`), found backwards from `next`, the next key (its text, borrowed from
/// `object`), or, with no next key, from the object's end: JSON allows only
/// blanks and a comma (or the object's closing brace) after the value.
fn list_end(object: &str, start: usize, next: Option<&str>) -> Option<usize> {
    let bytes = object.as_bytes();
    let before_blanks = |mut at: usize| {
        while at > start && bytes[at - 1].is_ascii_whitespace() {
            at -= 1;
        }
        at
    };
    let closing = match next {
        Some(key) => {
            let quote = (key.as_ptr() as usize).checked_sub(object.as_ptr() as usize)?.checked_sub(1)?;
            if bytes.get(quote) != Some(&b'"') {
                return None;
            }
            before_blanks(quote).checked_sub(1).filter(|&comma| bytes.get(comma) == Some(&b','))?
        }
        None => before_blanks(bytes.len()).checked_sub(1).filter(|&brace| bytes.get(brace) == Some(&b'}'))?,
    };
    let end = before_blanks(closing);
    (end > start && bytes.get(start) == Some(&b'[') && bytes[end - 1] == b']').then_some(end)
}

impl<'de> DeserializeSeed<'de> for PersonSeed<'de> {
    type Value = PersonText<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PersonText<'de>, D::Error> {
        struct PersonVisitor<'de>(PersonSeed<'de>);
        impl<'de> Visitor<'de> for PersonVisitor<'de> {
            type Value = PersonText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut person =
                    PersonText { id: None, identifiers: None, members: None, fields: Vec::with_capacity(8) };
                // `null` is no value, but a key given twice is still refused: seen, not set.
                let (mut id, mut identifiers, mut members) = (false, false, false);
                // Members checked on demand: the person's text, where their list starts in it, and
                // how many they are, until the next key or the object's end shows where it ends.
                let mut open_list: Option<(&'de str, usize, usize)> = None;
                let close_list = |(object, start, count): (&'de str, usize, usize), next: Option<&'de str>| {
                    let list = list_end(object, start, next).and_then(|end| object.get(start..end));
                    list.map(|list| MembersText::Checked(list, count))
                        .ok_or_else(|| serde::de::Error::custom("a members' list not found in the text"))
                };
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if let Some(list) = open_list.take() {
                        let Cow::Borrowed(next) = key.0 else { return Err(serde::de::Error::custom("an escaped key")) };
                        person.members = Some(close_list(list, Some(next))?);
                    }
                    let seen = match key.0.as_ref() {
                        "id" => &mut id,
                        "identifiers" => &mut identifiers,
                        "members" => &mut members,
                        _ => {
                            person.fields.push((key, map.next_value()?));
                            continue;
                        }
                    };
                    if std::mem::replace(seen, true) {
                        return Err(serde::de::Error::custom("a repeated key"));
                    }
                    match (key.0.as_ref(), self.0, &key.0) {
                        ("id", ..) => person.id = Some(map.next_value()?),
                        ("identifiers", ..) => person.identifiers = map.next_value()?,
                        (_, PersonSeed::Eager, _) => {
                            person.members = map
                                .next_value::<Option<Capped<PersonText<'de>, MAX_MEMBERS>>>()?
                                .map(|Capped(list)| MembersText::Read(list));
                        }
                        (_, PersonSeed::OnDemand { object }, Cow::Borrowed(key)) => {
                            let start = value_start(object, key)
                                .ok_or_else(|| serde::de::Error::custom("a key not found in the text"))?;
                            if let Some(Capped(checked)) =
                                map.next_value::<Option<Capped<MemberCheck, MAX_MEMBERS>>>()?
                            {
                                open_list = Some((object, start, checked.len()));
                            }
                        }
                        (_, PersonSeed::OnDemand { .. }, Cow::Owned(_)) => {
                            return Err(serde::de::Error::custom("an escaped key"));
                        }
                        (_, PersonSeed::Member, _) if map.next_value::<&RawValue>()?.get() != "null" => {
                            return Err(serde::de::Error::custom("a member with members"));
                        }
                        (_, PersonSeed::Member, _) => {}
                    }
                }
                if let Some(list) = open_list {
                    person.members = Some(close_list(list, None)?);
                }
                Ok(person)
            }
        }
        deserializer.deserialize_map(PersonVisitor(self))
    }
}

/// Whether an id, identifier type or identifier value is one the fast path takes.
fn plain_id(text: &str) -> bool {
    !text.trim().is_empty() && text.len() <= MAX_ID_BYTES
}

/// The most fields a member may have for [`MemberCheck`] to check it (more
/// goes to the eager read, which builds the member).
const CHECKED_FIELDS: usize = 32;

/// A household member the fast path would read, checked without being built:
/// no allocation for text without escapes. It takes a subset of what
/// [`Beneficiary::read_fast`] reads (names with escapes and members of many
/// fields are left to it), so a member it takes is read later as it would
/// have been at once.
struct MemberCheck;

/// An identifier [`MemberCheck`] takes.
struct IdentifierCheck;

impl<'de> Deserialize<'de> for IdentifierCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let identifier = IdentifierText::deserialize(deserializer)?;
        match plain_id(&identifier.kind.0) && plain_id(&identifier.value.0) {
            true => Ok(IdentifierCheck),
            false => Err(serde::de::Error::custom("an identifier for the careful path")),
        }
    }
}

impl<'de> Deserialize<'de> for MemberCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MemberCheckVisitor;
        impl<'de> Visitor<'de> for MemberCheckVisitor {
            type Value = MemberCheck;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a household member")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MemberCheck, A::Error> {
                let refuse = |why: &str| Err(serde::de::Error::custom(why));
                let mut names = [""; CHECKED_FIELDS];
                let (mut named, mut id, mut identifiers, mut members) = (0, false, false, false);
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    let Cow::Borrowed(key) = key else { return refuse("a name with escapes") };
                    let seen = match key {
                        "id" => std::mem::replace(&mut id, true),
                        "identifiers" => std::mem::replace(&mut identifiers, true),
                        "members" => std::mem::replace(&mut members, true),
                        _ => false,
                    };
                    if seen {
                        return refuse("a repeated key");
                    }
                    match key {
                        "id" if !plain_id(&map.next_value::<Text<'de>>()?.0) => return refuse("an unusual id"),
                        "id" => {}
                        "identifiers" => {
                            map.next_value::<Option<Capped<IdentifierCheck, MAX_IDENTIFIERS>>>()?;
                        }
                        "members" if map.next_value::<&RawValue>()?.get() != "null" => {
                            return refuse("a member with members");
                        }
                        "members" => {}
                        _ => {
                            map.next_value_seed(ValueCheck::MEMBER_FIELD)?;
                            if named == CHECKED_FIELDS || names[..named].contains(&key) {
                                return refuse("a repeated or uncounted name");
                            }
                            names[named] = key;
                            named += 1;
                        }
                    }
                }
                Ok(MemberCheck)
            }
        }
        deserializer.deserialize_map(MemberCheckVisitor)
    }
}

/// A JSON object's entries, borrowed from the text.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// The position of the first item whose name an earlier item has, if any.
fn first_repeated<T>(items: &[T], name: impl Fn(&T) -> &str) -> Option<usize> {
    if items.len() <= 16 {
        // Most objects are this small: no set to build.
        return (1..items.len()).find(|&i| items[..i].iter().any(|seen| name(seen) == name(&items[i])));
    }
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.iter().position(|item| !seen.insert(name(item)))
}

/// Where `part` (a slice of `source`) is in `source`.
fn span(source: &str, part: &str) -> Range<u32> {
    let start = (part.as_ptr() as usize).saturating_sub(source.as_ptr() as usize);
    start as u32..(start + part.len()) as u32
}

fn identifiers(raw: &RawValue, path: &str) -> Result<Vec<Identifier>, BeneficiaryError> {
    if raw.get() == "null" {
        return Ok(Vec::new());
    }
    let items = match capped_elements::<MAX_IDENTIFIERS>(raw) {
        Ok(items) => items,
        Err(None) => {
            return Err(problem(path, format!("more than {MAX_IDENTIFIERS} identifiers; at most {MAX_IDENTIFIERS}")));
        }
        Err(Some(kind)) => return Err(problem(path, format!("must be a list of {{type, value}}, found {kind}"))),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let here = format!("{path}[{index}]");
            if !item.get().starts_with('{') {
                return Err(problem(here, "must be an object {type, value}"));
            }
            let entries: Entries<'_> =
                serde_json::from_str(item.get()).map_err(|error| problem(&here, unreadable(&error)))?;
            // `identifier_type` and `identifier_value` are other names of `type` and `value`.
            fn canonical(name: &str) -> &str {
                match name {
                    "identifier_type" => "type",
                    "identifier_value" => "value",
                    other => other,
                }
            }
            if let Some(repeated) = first_repeated(&entries.0, |(name, _)| canonical(name)) {
                let name = canonical(&entries.0[repeated].0);
                return Err(problem(format!("{here}.{name}"), "is given twice"));
            }
            let text = |wanted: &str| -> Result<CompactString, BeneficiaryError> {
                let at = format!("{here}.{wanted}");
                let (_, raw) = entries
                    .0
                    .iter()
                    .find(|(name, _)| canonical(name) == wanted)
                    .ok_or_else(|| problem(&at, "is missing"))?;
                let value: Value = serde_json::from_str(raw.get()).map_err(|error| problem(&at, unreadable(&error)))?;
                id_text(raw.get(), &value, &at)
            };
            Ok(Identifier::new(text("type")?, text("value")?))
        })
        .collect()
}

impl Beneficiary {
    /// Reads a beneficiary from JSON text. `id` is required; `identifiers` is
    /// a list of `{type, value}` (also `{identifier_type, identifier_value}`);
    /// `members` a list of beneficiaries without members (a member without an
    /// `id` gets `<parent id>/members[<index>]`). Errors name the field.
    pub fn from_json_str(text: &str) -> Result<Self, BeneficiaryError> {
        Self::from_json_str_reading(text, MemberReading::Eager)
    }

    /// [`Beneficiary::from_json_str`], with the members read as `reading` says.
    pub fn from_json_str_reading(text: &str, reading: MemberReading) -> Result<Self, BeneficiaryError> {
        let source: Arc<str> = Arc::from(text.trim());
        Self::from_shared_text(&source, 0..source.len(), reading)
    }

    /// Reads the beneficiary whose JSON text is `source[line]`. The beneficiary
    /// keeps `source`, which may hold the text of many (a block of input
    /// lines), rather than a copy of its own; `source` must be shorter than 4 GiB.
    pub fn from_shared_text(
        source: &Arc<str>,
        line: Range<usize>,
        reading: MemberReading,
    ) -> Result<Self, BeneficiaryError> {
        if u32::try_from(source.len()).is_err() {
            return Err(problem("beneficiary", "its text is longer than 4 GiB"));
        }
        let Some(text) = source.get(line) else { return Err(problem("beneficiary", "lies outside its text")) };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        if let Ok(person) = PersonSeed::new(reading, text).deserialize(&mut deserializer)
            && deserializer.end().is_ok()
            && let Some(beneficiary) = Self::read_fast(source, person, None)
        {
            return Ok(beneficiary);
        }
        Self::read_carefully(source, text)
    }

    /// The careful path: checks every field of `text` (within `source`) and names what is wrong.
    fn read_carefully(source: &Arc<str>, text: &str) -> Result<Self, BeneficiaryError> {
        let entries: Entries<'_> = serde_json::from_str(text).map_err(|e| {
            if e.is_data() && !text.starts_with('{') {
                problem("beneficiary", "must be a JSON object")
            } else if e.is_syntax() && half_characters(text.as_bytes()) {
                // An escape of half a character in a name: the text is JSON, the name no text.
                problem("beneficiary", unreadable(&e))
            } else {
                problem(format!("column {}", e.column()), format!("invalid JSON: {e}"))
            }
        })?;
        Self::read(source, entries, "", None)
    }

    /// Reads a beneficiary from a JSON value.
    pub fn from_json(value: Value) -> Result<Self, BeneficiaryError> {
        if !value.is_object() {
            return Err(problem("beneficiary", format!("must be a JSON object, found {}", json_kind(&value))));
        }
        Self::from_json_str(&value.to_string())
    }

    /// The fast path: `None` when anything needs the careful path's checks or messages.
    fn read_fast(source: &Arc<str>, person: PersonText<'_>, member: Option<usize>) -> Option<Self> {
        let text = |Text(text): Text<'_>| -> Option<CompactString> { plain_id(&text).then(|| text.into()) };
        // A member without an id gets `<parent id>/members[<index>]`, set by the parent.
        let id = match person.id {
            Some(id) => text(id)?,
            None if member.is_some() => CompactString::default(),
            None => return None,
        };
        let identifiers = person
            .identifiers
            .map(|Capped(identifiers)| identifiers)
            .unwrap_or_default()
            .into_iter()
            .map(|identifier| Some(Identifier::new(text(identifier.kind)?, text(identifier.value)?)))
            .collect::<Option<Vec<_>>>()?;
        let members_known = person.members.is_some();
        let members = match person.members {
            Some(_) if member.is_some() => return None, // a member cannot have members
            Some(MembersText::Read(list)) => Members::built(Self::members_fast(source, list, &id)?),
            Some(MembersText::Checked(list, count)) => {
                let (text, count) = (Some(span(source, list)), count as u32);
                Members { built: OnceLock::new(), text, count, parent: id.clone() }
            }
            None => Members::default(),
        };
        if person.fields.iter().any(|(_, raw)| value_problem(raw.get()).is_some()) {
            return None;
        }
        // A name given twice is refused by the careful path.
        if first_repeated(&person.fields, |(name, _)| name.0.as_ref()).is_some() {
            return None;
        }
        let fields = person
            .fields
            .into_iter()
            .map(|(Text(name), raw)| {
                let name = match name {
                    Cow::Borrowed(text) => FieldName::Span(span(source, text)),
                    Cow::Owned(text) => FieldName::Owned(text.into_boxed_str()),
                };
                Field { name, value: span(source, raw.get()) }
            })
            .collect();
        Some(Beneficiary { id, identifiers, members, members_known, source: source.clone(), fields })
    }

    /// The members in `list` (a household's `members`) by the fast path; `None` when one needs
    /// the careful path. Members without an id get `<parent>/members[<index>]`.
    fn read_members_fast(source: &Arc<str>, list: &RawValue, parent: &str) -> Option<Vec<Self>> {
        let Capped(members) = serde_json::from_str::<Capped<PersonText<'_>, MAX_MEMBERS>>(list.get()).ok()?;
        Self::members_fast(source, members, parent)
    }

    /// The members read by the first pass, built; `None` when one needs the careful path.
    fn members_fast(source: &Arc<str>, members: Vec<PersonText<'_>>, parent: &str) -> Option<Vec<Self>> {
        let mut members = members
            .into_iter()
            .enumerate()
            .map(|(index, member)| Self::read_fast(source, member, Some(index)))
            .collect::<Option<Vec<_>>>()?;
        for (index, member) in members.iter_mut().enumerate() {
            if member.id.is_empty() {
                member.id = format_compact!("{parent}/members[{index}]");
            }
        }
        Some(members)
    }

    /// Members kept as text ([`MemberReading::OnDemand`]), built.
    fn build_members(&self, list: &Range<u32>) -> Vec<Self> {
        let parent = &self.members.parent;
        // The check took only members the fast path reads: the careful path is not expected
        // here, and failing both is a check that took too much (loud in tests and fuzzing).
        let built = serde_json::from_str::<&RawValue>(self.text(list)).ok().and_then(|list| {
            Self::read_members_fast(&self.source, list, parent)
                .or_else(|| Self::read_members(&self.source, list, "members".to_owned(), Some(parent)).ok())
        });
        debug_assert!(built.is_some(), "members the check took cannot be read: {}", self.text(list));
        built.unwrap_or_default()
    }

    fn read(
        source: &Arc<str>,
        entries: Entries<'_>,
        prefix: &str,
        default_id: Option<CompactString>,
    ) -> Result<Self, BeneficiaryError> {
        let path = |field: &str| if prefix.is_empty() { field.to_owned() } else { format!("{prefix}.{field}") };
        let mut id = None;
        let mut found_identifiers = Vec::new();
        let mut members = Vec::new();
        let mut members_known = false;
        let mut fields = Vec::with_capacity(entries.0.len());
        if let Some(index) = first_repeated(&entries.0, |(name, _)| name.as_ref()) {
            // Which of the two a reader takes differs between JSON readers: neither is taken.
            return Err(problem(path(&entries.0[index].0), "is given twice"));
        }
        for (name, raw) in entries.0 {
            match name.as_ref() {
                "id" => {
                    let value: Value =
                        serde_json::from_str(raw.get()).map_err(|error| problem(path("id"), unreadable(&error)))?;
                    id = Some(id_text(raw.get(), &value, &path("id"))?);
                }
                "identifiers" => found_identifiers = identifiers(raw, &path("identifiers"))?,
                "members" => {
                    if raw.get() == "null" {
                        continue;
                    }
                    if !prefix.is_empty() {
                        return Err(problem(path("members"), "a member cannot have members"));
                    }
                    members = Self::read_members(source, raw, path("members"), id.as_ref())?;
                    members_known = true;
                }
                _ => {
                    if let Some(what) = value_problem(raw.get()) {
                        return Err(problem(path(&name), what));
                    }
                    let name = match name {
                        Cow::Borrowed(text) => FieldName::Span(span(source, text)),
                        Cow::Owned(text) => FieldName::Owned(text.into_boxed_str()),
                    };
                    fields.push(Field { name, value: span(source, raw.get()) });
                }
            }
        }
        let id = match id.or(default_id) {
            Some(id) => id,
            None => return Err(problem(path("id"), "is missing")),
        };
        // Members without an id of their own, read before the household's id, have none yet
        // (an id given is never empty).
        for (index, member) in members.iter_mut().enumerate() {
            if member.id.is_empty() {
                member.id = format_compact!("{id}/members[{index}]");
            }
        }
        let members = Members::built(members);
        Ok(Beneficiary { id, identifiers: found_identifiers, members, members_known, source: source.clone(), fields })
    }

    /// A household's `members`, each read as a person of its own (at most
    /// [`MAX_MEMBERS`]); `at` names the field in errors, `parent` is the
    /// household's id when read so far.
    fn read_members(
        source: &Arc<str>,
        raw: &RawValue,
        at: String,
        parent: Option<&CompactString>,
    ) -> Result<Vec<Self>, BeneficiaryError> {
        let items = match capped_elements::<MAX_MEMBERS>(raw) {
            Ok(items) => items,
            Err(None) => {
                return Err(problem(
                    at,
                    format!("more than {MAX_MEMBERS} household members; at most {MAX_MEMBERS} are read"),
                ));
            }
            Err(Some(kind)) => {
                return Err(problem(at, format!("must be a list, found {kind}")));
            }
        };
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let here = format!("members[{index}]");
                let entries: Entries<'_> = serde_json::from_str(item.get()).map_err(|error| {
                    if item.get().starts_with('{') {
                        problem(here.clone(), unreadable(&error))
                    } else {
                        problem(here.clone(), format!("must be a JSON object, found {}", raw_kind(item.get())))
                    }
                })?;
                Self::read(
                    source,
                    entries,
                    &here,
                    Some(parent.map(|parent| format_compact!("{parent}/{here}")).unwrap_or_default()),
                )
            })
            .collect()
    }

    fn text(&self, span: &Range<u32>) -> &str {
        self.source.get(span.start as usize..span.end as usize).unwrap_or_default()
    }

    fn name<'a>(&'a self, field: &'a Field) -> &'a str {
        match &field.name {
            FieldName::Span(span) => self.text(span),
            FieldName::Owned(name) => name,
        }
    }

    /// The JSON text of field `name` (`0.8`, `"1950-03-02"`), if the beneficiary has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|field| self.name(field) == name).map(|field| self.text(&field.value))
    }

    /// Field `name`, parsed.
    pub fn field_value(&self, name: &str) -> Option<Value> {
        self.field(name).and_then(|raw| serde_json::from_str(raw).ok())
    }

    /// Every field other than `id`, `identifiers` and `members`: name and JSON text.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields.iter().map(|field| (self.name(field), self.text(&field.value)))
    }

    /// The fields as a JSON object.
    pub fn fields_json(&self) -> Map<String, Value> {
        self.fields().filter_map(|(name, raw)| Some((name.to_owned(), serde_json::from_str(raw).ok()?))).collect()
    }

    /// The household's members (none for a member); built when first asked
    /// for if they were read [`MemberReading::OnDemand`].
    pub fn members(&self) -> &[Beneficiary] {
        match &self.members.text {
            Some(list) => self.members.built.get_or_init(|| self.build_members(list)),
            None => self.members.built.get().map_or(&[], Vec::as_slice),
        }
    }

    /// How many members the household has, without building them.
    pub fn member_count(&self) -> usize {
        self.members.count as usize
    }

    /// The person at `index`: 0 is this beneficiary, `k` its member `k - 1`.
    pub fn person(&self, index: usize) -> Option<&Beneficiary> {
        if index == 0 { Some(self) } else { self.members().get(index - 1) }
    }

    /// The number of persons: this beneficiary and its members.
    pub fn persons(&self) -> usize {
        1 + self.member_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_identifier_gives_its_type_and_value_once() {
        let read = |text: &str| Beneficiary::from_json_str(text).map_err(|e| e.to_string());
        assert_eq!(
            read(r#"{"id": "A", "identifiers": [{"type": "UIN", "type": "DRN", "value": "1"}]}"#).expect_err("refused"),
            "identifiers[0].type: is given twice"
        );
        assert_eq!(
            read(r#"{"id": "A", "identifiers": [{"value": "1", "type": "UIN", "identifier_value": "2"}]}"#)
                .expect_err("refused"),
            "identifiers[0].value: is given twice"
        );
        assert_eq!(
            read(r#"{"id": "A", "identifiers": [{"type": "UIN"}]}"#).expect_err("refused"),
            "identifiers[0].value: is missing"
        );
        assert_eq!(
            read(r#"{"id": "A", "identifiers": [["UIN", "1"]]}"#).expect_err("refused"),
            "identifiers[0]: must be an object {type, value}"
        );
        for reading in [MemberReading::Eager, MemberReading::OnDemand] {
            let text = r#"{"id": "A", "identifiers": [{"type": "UIN", "value": "1", "x": 1, "x": 2}]}"#;
            let error = Beneficiary::from_json_str_reading(text, reading).expect_err("refused").to_string();
            assert_eq!(error, "identifiers[0].x: is given twice", "{reading:?}: other keys once too");
        }
        let named = read(r#"{"id": "A", "identifiers": [{"identifier_type": "UIN", "identifier_value": "1"}]}"#);
        assert_eq!(named.map(|b| b.identifiers[0].identifier_value.to_string()), Ok("1".to_owned()));
    }

    #[test]
    fn ids_given_as_numbers_are_whole_numbers_or_an_error() {
        let read = |text: &str| Beneficiary::from_json_str(text).map_err(|e| e.to_string());
        let whole = read(r#"{"id": 42, "identifiers": [{"type": "UIN", "value": 800010000}]}"#).expect("read");
        assert_eq!((whole.id.as_str(), whole.identifiers[0].identifier_value.as_str()), ("42", "800010000"));
        let written_as_float = read(r#"{"id": "A", "identifiers": [{"type": "UIN", "value": 800010000.0}]}"#);
        assert_eq!(written_as_float.map(|b| b.identifiers[0].identifier_value.to_string()), Ok("800010000".to_owned()));
        assert_eq!(
            read(r#"{"id": "A", "identifiers": [{"type": "UIN", "value": 8.5}]}"#).expect_err("refused"),
            "identifiers[0].value: is the number 8.5, which is not a whole number held exactly: write it as text"
        );
        assert!(
            read(r#"{"id": 123456789012345678901234567890}"#).expect_err("rounded").starts_with("id: is the number")
        );
        assert!(read(r#"{"id": 18446744073709551616}"#).is_err(), "past 64 bits, and held as a float");
        assert_eq!(
            read(r#"{"id": 18446744073709551615}"#).map(|b| b.id.to_string()),
            Ok("18446744073709551615".into())
        );
        assert_eq!(read(r#"{"id": 1e3}"#).map(|b| b.id.to_string()), Ok("1000".to_owned()));
        assert_eq!(read(r#"{"id": -0.0}"#).map(|b| b.id.to_string()), Ok("0".to_owned()));
        assert_eq!(read(r#"{"id": -7}"#).map(|b| b.id.to_string()), Ok("-7".to_owned()));
        // Decided from the digits written, not from a rounded `f64`.
        for (written, taken) in [
            ("8.0001e8", Some("800010000")),
            ("100e-2", Some("1")),
            ("-5.000", Some("-5")),
            ("1E+2", Some("100")),
            ("0e999999", Some("0")),
            ("0.0e99999999999", Some("0")),
            ("1e-99999999999", None),
            ("9007199254740992e0", Some("9007199254740992")),
            ("800010000.00000001", None),
            ("9007199254740993e0", None),
            ("-9007199254740992.0", Some("-9007199254740992")),
            ("9007199254740993.0", None),
            ("1e-2", None),
            ("1e999999", None),
        ] {
            let text = format!(r#"{{"id": "A", "identifiers": [{{"type": "UIN", "value": {written}}}]}}"#);
            let value = read(&text).map(|b| b.identifiers[0].identifier_value.to_string());
            assert_eq!(value.as_deref().ok(), taken, "{written}: {value:?}");
            let id = read(&format!(r#"{{"id": {written}}}"#)).map(|b| b.id.to_string());
            assert_eq!(id.as_deref().ok(), taken, "{written} as the id: {id:?}");
        }
        assert_eq!(
            read(r#"{"id": 800010000.00000001}"#).expect_err("refused"),
            "id: is the number 800010000.00000001, which is not a whole number held exactly: write it as text",
            "the number as written, not as rounded"
        );
    }

    #[test]
    fn a_name_given_twice_is_an_error_naming_it() {
        let read = |text: &str| Beneficiary::from_json_str(text).map_err(|e| e.to_string());
        assert_eq!(read(r#"{"id": "A", "age": 70, "age": 20}"#).expect_err("refused"), "age: is given twice");
        assert_eq!(read(r#"{"id": "A", "id": "B"}"#).expect_err("refused"), "id: is given twice");
        for reading in [MemberReading::Eager, MemberReading::OnDemand] {
            for (text, name) in [
                (r#"{"id": "A", "members": null, "members": [{"age": 1}]}"#, "members"),
                (r#"{"id": "A", "identifiers": null, "identifiers": [{"type": "UIN", "value": "1"}]}"#, "identifiers"),
            ] {
                let error = Beneficiary::from_json_str_reading(text, reading).expect_err("refused").to_string();
                assert_eq!(error, format!("{name}: is given twice"), "{reading:?}: a null first does not hide it");
            }
        }
        assert_eq!(
            read(r#"{"id": "A", "members": [{"sex": "F", "sex": "M"}]}"#).expect_err("refused"),
            "members[0].sex: is given twice"
        );
        assert_eq!(
            read(r#"{"id": "A", "identifiers": [], "identifiers": [{"type": "UIN", "value": "1"}]}"#)
                .expect_err("refused"),
            "identifiers: is given twice"
        );
        assert!(read(r#"{"id": "A", "age": 70, "members": [{"age": 20}]}"#).is_ok(), "one name per object");
        assert!(read(r#"{"id": "A", "a\u0067e": 70, "age": 20}"#).is_err(), "names compared as read");
        assert_eq!(
            read(r#"{"id": "A", "extra": {"a": 1, "b": [{"c": 1, "c": 2}], "a": 2}}"#).expect_err("refused"),
            "extra: gives the key `c` twice in one object"
        );
        assert_eq!(
            read(r#"{"id": "A", "members": [{"extra": [{"a": 1, "a": 2}]}]}"#).expect_err("refused"),
            "members[0].extra: gives the key `a` twice in one object"
        );
        let fine = read(r#"{"id": "A", "extra": {"a": {"a": 1}, "b": "{\"a\": 1, \"a\": 2}"}}"#);
        assert!(fine.is_ok(), "one key per object at each level, and text is text: {fine:?}");
        // Many names: found without comparing every pair.
        let mut many: String = (0..200_000).map(|i| format!("\"f{i}\": 0, ")).collect();
        many.insert(0, '{');
        many.push_str("\"f7\": 1, \"id\": \"A\"}");
        assert_eq!(read(&many).expect_err("refused"), "f7: is given twice");
    }

    #[test]
    fn an_escape_that_is_half_a_character_is_an_error_naming_its_field() {
        let read = |text: &str| Beneficiary::from_json_str(text).map_err(|e| e.to_string());
        assert_eq!(
            read(r#"{"id": "A", "name": "\ud800abc"}"#).expect_err("refused"),
            "name: cannot be read: it holds a \\u escape of half a character (an unpaired surrogate)"
        );
        assert_eq!(
            read(r#"{"id": "A", "members": [{"tags": ["x", "\uDC00"]}]}"#).expect_err("refused"),
            "members[0].tags: cannot be read: it holds a \\u escape of half a character (an unpaired surrogate)"
        );
        assert_eq!(
            read(r#"{"id": "\ud800"}"#).expect_err("refused"),
            "id: cannot be read: it holds a \\u escape of half a character (an unpaired surrogate)"
        );
        for (text, path) in [
            (r#"{"id": "A", "\ud800": 1}"#, "beneficiary"),
            (r#"{"id": "A", "members": [{"\udc00x": 1}]}"#, "members[0]"),
        ] {
            assert_eq!(
                read(text).expect_err("refused"),
                format!("{path}: cannot be read: it holds a \\u escape of half a character (an unpaired surrogate)"),
                "in a name"
            );
        }
        let pair = read(r#"{"id": "A", "name": "\ud83d\ude00 \u00e9"}"#).expect("a surrogate pair is a character");
        assert_eq!(pair.field_value("name"), Some(json!("\u{1f600} é")));
    }

    #[test]
    fn long_lists_and_long_identifiers_are_refused_as_they_are_read() {
        let error =
            |value: serde_json::Value| Beneficiary::from_json_str(&value.to_string()).expect_err("refused").to_string();
        let members = vec![json!({}); MAX_MEMBERS + 1];
        assert_eq!(
            error(json!({"id": "A", "members": members})),
            "members: more than 10000 household members; at most 10000 are read"
        );
        let ok = Beneficiary::from_json_str(&json!({"id": "A", "members": vec![json!({}); MAX_MEMBERS]}).to_string());
        assert_eq!(ok.map(|b| b.members().len()), Ok(MAX_MEMBERS));
        let identifiers = vec![json!({"type": "UIN", "value": "1"}); MAX_IDENTIFIERS + 1];
        assert_eq!(
            error(json!({"id": "A", "members": [{"identifiers": identifiers}]})),
            "members[0].identifiers: more than 100 identifiers; at most 100"
        );
        let long = "9".repeat(MAX_ID_BYTES + 1);
        assert_eq!(
            error(json!({"id": "A", "identifiers": [{"type": "UIN", "value": long}]})),
            "identifiers[0].value: is 257 bytes long; at most 256"
        );
        assert_eq!(error(json!({"id": "9".repeat(300)})), "id: is 300 bytes long; at most 256");
        let fits = json!({"id": "A", "identifiers": [{"type": "UIN", "value": "9".repeat(MAX_ID_BYTES)}]});
        assert!(Beneficiary::from_json_str(&fits.to_string()).is_ok());
    }

    #[test]
    fn a_household_is_read() {
        let b = Beneficiary::from_json(json!({
            "id": "HH-1", "identifiers": [{"type": "UIN", "value": "1"}], "poverty_score": 0.8, "na\\u006de": "A",
            "members": [{"identifiers": [{"identifier_type": "BRN", "identifier_value": 42}], "age": 5}]
        }))
        .expect("valid");
        assert_eq!(b.identifiers, vec![Identifier::new("UIN", "1")]);
        assert_eq!(b.field("poverty_score"), Some("0.8"));
        assert_eq!(b.field_value("poverty_score"), Some(json!(0.8)));
        assert_eq!(b.members()[0].id, "HH-1/members[0]");
        assert_eq!(b.members()[0].identifiers, vec![Identifier::new("BRN", "42")]);
        assert_eq!(b.members()[0].field("age"), Some("5"));
        assert_eq!(b.persons(), 2);
        let from_text =
            Beneficiary::from_json_str(r#"{"members": [{"age": 1}], "id": "X", "na\u006de": "A"}"#).expect("valid");
        assert_eq!(from_text.members()[0].id, "X/members[0]", "members read before the id get it too");
        assert_eq!(from_text.field("name"), Some("\"A\""), "escaped names are unescaped");
    }

    #[test]
    fn the_fast_path_reads_what_the_careful_path_reads() {
        for text in [
            r#"{"id": "HH-1", "identifiers": [{"type": "UIN", "value": "1"}], "score": 0.8, "members": []}"#,
            r#"{"members": [{"age": 1}, {"id": "M", "identifiers": null}], "id": "X", "na\u006de": "A"}"#,
            r#"{"id": "X", "identifiers": [{"identifier_type": "BRN", "identifier_value": "7", "extra": 1}]}"#,
            r#"{"id": "X\u0031", "members": null, "nested": {"a": [1, {"b": "c"}]}}"#,
            r#"{"id": 12, "identifiers": [{"type": "UIN", "value": 42}]}"#,
        ] {
            let fast = Beneficiary::from_json_str(text).expect("valid");
            let source: Arc<str> = Arc::from(text);
            let careful = Beneficiary::read_carefully(&source, &source).expect("valid");
            assert_eq!(fast, careful, "{text}");
            assert_eq!(format!("{fast:?}"), format!("{careful:?}"));
        }
        let fast = Beneficiary::from_json_str(r#"{"members": [{"age": 1}], "id": "X"}"#).expect("valid");
        assert_eq!(fast.members()[0].id, "X/members[0]");
    }

    #[test]
    fn members_read_on_demand_are_the_members_read_at_once() {
        let deep = format!(r#"{{"id": "X", "members": [{{"v": {}1{}}}]}}"#, "[".repeat(70), "]".repeat(70));
        let many_fields = format!(
            r#"{{"id": "X", "members": [{{{}}}]}}"#,
            (0..40).map(|i| format!(r#""f{i}": {i}"#)).collect::<Vec<_>>().join(", ")
        );
        let lines = [
            r#"{"id": "HH-1", "members": [{"id": "M", "identifiers": [{"type": "UIN", "value": "1"}], "age": 5}]}"#,
            r#"{"members": [{"age": 1}, {"id": "M", "identifiers": null, "members": null}], "id": "X"}"#,
            r#"{"id": "X", "members": [{"na\u006de": "A", "identifiers": [{"type": "UIN", "value": 7}]}]}"#,
            r#"{"id": "X", "members": [{"id": 12, "identifiers": [{"identifier_type": "BRN", "identifier_value": "7"}]}]}"#,
            r#"{"id": "X", "members": [{"id": "M\u0031", "x": "\ud83d\ude00"}]}"#,
            r#"{"id": "X", "members": [{"sex": "F", "sex": "M"}]}"#,
            r#"{"id": "X", "members": [{"id": "A", "id": "B"}]}"#,
            r#"{"id": "X", "members": [{"identifiers": [], "identifiers": []}]}"#,
            r#"{"id": "X", "members": [{"members": []}]}"#,
            r#"{"id": "X", "members": [{"x": "\ud800"}]}"#,
            r#"{"id": "X", "members": [{"x": 1e400}]}"#,
            r#"{"id": "X", "members": [{"x": {"a": 1, "a": 2}}]}"#,
            r#"{"id": "X", "members": [{"id": " "}]}"#,
            r#"{"id": "X", "members": [{"id": true}]}"#,
            r#"{"id": "X", "members": [{"identifiers": [{"type": "UIN", "value": 8.5}]}]}"#,
            r#"{"id": "X", "members": [{"identifiers": [{"type": "UIN"}]}]}"#,
            r#"{"id": "X", "members": [3]}"#,
            r#"{"id": "X", "members": [{"id": "/members[7]", "n\u0061me": "A"}, {"age": 2}]}"#,
            r#"{"members": [{"id": "/members[7]"}, {"age": 2, "n\u0061me": "B"}], "id": "X"}"#,
            r#"{"id": "X", "members": [{"identifiers": [{"type": "U", "value": "1", "x": 1, "x": 2}]}]}"#,
            r#"{"id": "X", "members": 3}"#,
            r#"{"id": "X", "members": null}"#,
            r#"{"id": "X", "members": []}"#,
            &deep,
            &many_fields,
        ];
        for line in lines {
            let eager = Beneficiary::from_json_str_reading(line, MemberReading::Eager).map_err(|e| e.to_string());
            let on_demand = Beneficiary::from_json_str_reading(line, MemberReading::OnDemand);
            if let Ok(b) = &on_demand {
                assert_eq!(b.member_count(), b.members().len(), "{line}");
            }
            assert_eq!(on_demand.map_err(|e| e.to_string()), eager, "{line}");
        }
        for line in lines.iter().filter(|line| line.contains("/members[7]")) {
            let ids = Beneficiary::from_json_str_reading(line, MemberReading::OnDemand)
                .map(|b| b.members().iter().map(|m| m.id.to_string()).collect::<Vec<_>>());
            assert_eq!(ids, Ok(vec!["/members[7]".to_owned(), "X/members[1]".to_owned()]), "an id given is kept");
        }
        let mut household = Beneficiary::from_json_str_reading(lines[1], MemberReading::OnDemand).expect("valid");
        assert!(household.members.built.get().is_none(), "kept as text");
        assert_eq!((household.persons(), household.member_count()), (3, 2), "counted without being built");
        let id = std::mem::take(&mut household.id);
        assert_eq!((id.as_str(), household.members()[0].id.as_str()), ("X", "X/members[0]"), "the id taken first");
        assert_eq!(household.person(2).map(|m| m.id.as_str()), Some("M"));
    }

    #[test]
    fn a_member_value_passes_the_one_pass_check_only_where_it_has_no_problem() {
        let check = |text: &str| ValueCheck::MEMBER_FIELD.walk(text).is_ok();
        let nested = |levels: usize, inside: &str| format!("{}{inside}{}", "[".repeat(levels), "]".repeat(levels));
        let objects = |levels: usize| format!("{}{}", r#"{"a":"#.repeat(levels - 1) + "{}", "}".repeat(levels - 1));
        // (text, passes the one-pass check, the careful path finds no problem)
        let cases: Vec<(String, bool, bool)> = [
            ("\"plain\"", true, true),
            ("12", true, true),
            ("-0", true, true),
            ("-1.5e3", true, true),
            ("1e-400", true, true),
            ("null", true, true),
            ("true", true, true),
            ("1e400", false, false),
            ("-1e400", false, false),
            // At the top of the range, where serde_json without `float_roundtrip` rounds
            // otherwise than `str::parse`: just past f64::MAX, then just below it.
            ("1.79769313486231581e308", false, false),
            ("179769313486231581e291", false, false),
            ("1.5e308", true, true),
            ("1.7976931348623158e308", true, true),
            ("[1, [1.7976931348623158e308]]", true, true),
            (r#"[1, {"a": [1.7976931348623158e308]}]"#, true, true),
            (r#""\ud83d\ude00""#, true, true),
            (r#""\ud800""#, false, false),
            (r#""x\udc00y""#, false, false),
            (r#"[{"a": {"\ud800": 1}}]"#, false, false),
            (r#"{"\u0061": 1}"#, false, true),
            (r#"{"a": 1, "b": [1, {"c": "\u00e9"}]}"#, true, true),
            (r#"{"a": 1, "a": 2}"#, false, false),
            (r#"[{"x": {"b": 1, "b": 2}}]"#, false, false),
        ]
        .into_iter()
        .map(|(text, passes, no_problem)| (text.to_owned(), passes, no_problem))
        .chain([
            (nested(MAX_VALUE_DEPTH, "1"), true, true),
            (nested(MAX_VALUE_DEPTH + 1, "1"), false, false),
            (nested(MAX_VALUE_DEPTH - 1, "[]"), true, true),
            (nested(MAX_VALUE_DEPTH, "[]"), false, false),
            (objects(MAX_VALUE_DEPTH), true, true),
            (objects(MAX_VALUE_DEPTH + 1), false, false),
            ("9".repeat(300), true, true),
            ("9".repeat(309), false, false),
        ])
        .collect();
        for (text, passes, no_problem) in cases {
            assert_eq!(value_problem(&text).is_none(), no_problem, "{text}: the careful path");
            assert_eq!(check(&text), passes, "{text}: the one-pass check");
            assert!(!passes || no_problem, "{text}: passed here, so it must have no problem");
        }
    }

    #[test]
    fn a_members_list_read_on_demand_is_found_in_its_text_wherever_it_stands() {
        let member = r#"{"id": "M", "note": "a ], b } \" [", "identifiers": [{"type": "UIN", "value": "1"}]}"#;
        let kept_as_text = [
            format!(r#"{{"id": "X", "members": [{member}]}}"#),
            format!(r#"{{"members":[{member},{{"age":2}}],"id":"X"}}"#),
            format!("{{\"id\": \"X\", \"members\" \t:\r\n [ {member} ] \n ,\t \"note\": \"], }}\" }}"),
            format!("{{\"id\": \"X\",\n \"members\": [{member}]\r\n }}  \r"),
            format!(r#"{{"id": "X", "members": [{member}], "z": [1, [2]], "y": {{"a": "]"}}}}"#),
        ];
        for line in &kept_as_text {
            let source: Arc<str> = Arc::from(line.as_str());
            let household = Beneficiary::from_shared_text(&source, 0..source.len(), MemberReading::OnDemand)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(household.members.built.get().is_none(), "kept as text: {line}");
            let list = household.members.text.clone().map(|span| household.text(&span).to_owned());
            assert!(list.as_deref().is_some_and(|l| l.starts_with('[') && l.ends_with(']')), "{line}: {list:?}");
            let eager = Beneficiary::from_json_str(line).expect("valid");
            assert_eq!(household.members(), eager.members(), "{line}");
            assert_eq!(household.fields().collect::<Vec<_>>(), eager.fields().collect::<Vec<_>>(), "{line}");
        }
        // A key after the list that is written with escapes: read at once, as the careful path reads it.
        let escaped_next = format!(r#"{{"id": "X", "members": [{member}], "n\u0061me": "A"}}"#);
        let household = Beneficiary::from_json_str_reading(&escaped_next, MemberReading::OnDemand).expect("valid");
        assert_eq!(household.members(), Beneficiary::from_json_str(&escaped_next).expect("valid").members());
    }

    #[test]
    fn errors_name_the_field() {
        let error = |value: Value| Beneficiary::from_json(value).expect_err("invalid").to_string();
        assert_eq!(error(json!({"poverty_score": 1})), "id: is missing");
        assert_eq!(error(json!({"id": "A", "identifiers": [{"type": "UIN"}]})), "identifiers[0].value: is missing");
        assert_eq!(
            error(json!({"id": "A", "members": [{"id": "B", "identifiers": [{"type": "UIN", "value": true}]}]})),
            "members[0].identifiers[0].value: must be text, found a boolean"
        );
        assert_eq!(
            error(json!({"id": "A", "members": [{"members": []}]})),
            "members[0].members: a member cannot have members"
        );
        assert_eq!(error(json!([1])), "beneficiary: must be a JSON object, found a list");
        assert_eq!(error(json!({"id": "A", "members": 3})), "members: must be a list, found a number");
        assert!(Beneficiary::from_json_str("{\"id\": ").expect_err("truncated").to_string().contains("invalid JSON"));
    }
}
