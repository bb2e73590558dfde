//! Request bodies, each declared once ([`request_body!`]): the struct a body is read into and
//! the properties of its OpenAPI schema come from one declaration, so no field is read without
//! being documented, nor documented without being read. What a schema says beyond its fields
//! (its description, exactly one of `rules` and `rule`) is written beside the declaration.

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, AllOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::api::schema::{self, Beneficiary, Identifier, LIMITS, Member, length_note, one_rule_source, typed};
use crate::config::ServerLimits;

/// Whether a body's field must be given: all must but an `Option`, which is `None` when absent.
pub(crate) trait Presence {
    /// `true` when the field must be given.
    const REQUIRED: bool;
}

impl<T> Presence for Option<T> {
    const REQUIRED: bool = false;
}

impl Presence for String {
    const REQUIRED: bool = true;
}

impl Presence for &RawValue {
    const REQUIRED: bool = true;
}

/// A field's schema, from a builder given the server's limits.
fn field_schema<S: Into<RefOr<Schema>>>(build: impl Fn(&ServerLimits) -> S, limits: &ServerLimits) -> RefOr<Schema> {
    build(limits).into()
}

/// Declares a request body: the struct it is read into (unknown fields refused) and, from the
/// same field list, `properties`: the object schema of those fields, required unless optional.
macro_rules! request_body {
    (
        $(#[$doc:meta])*
        $vis:vis struct $name:ident $(<$life:lifetime>)? {
            $(
                $(#[$attribute:meta])*
                $field:ident : $type:ty => $schema:expr
            ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name $(<$life>)? {
            $( $(#[$attribute])* pub $field: $type, )*
        }

        impl $(<$life>)? $name $(<$life>)? {
            /// The body's fields as an object schema with `limits`; unknown fields refused.
            pub(crate) fn properties(limits: &ServerLimits) -> ObjectBuilder {
                let mut object =
                    typed(&[Type::Object]).additional_properties(Some(AdditionalProperties::FreeForm(false)));
                $(
                    object = object.property(stringify!($field), field_schema($schema, limits));
                    if <$type as Presence>::REQUIRED {
                        object = object.required(stringify!($field));
                    }
                )*
                object
            }
        }
    };
}

/// Declares a body holding the options of an evaluation, then the fields given, and its
/// `options`.
macro_rules! with_evaluation_options {
    ($(#[$doc:meta])* $vis:vis struct $name:ident $(<$life:lifetime>)? { $($more:tt)* }) => {
        request_body! {
            $(#[$doc])*
            $vis struct $name $(<$life>)? {
                /// Named rules: `{"elderly": "age_years(r.birthdate) >= 60"}`. Give `rules` or `rule`.
                rules: Option<RuleSet> => |limits| schema::rules(limits, Some(limits.max_rule_length)),
                /// One rule, named `rule` in the results.
                rule: Option<String> => |limits| schema::rule(Some(limits.max_rule_length)),
                /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
                as_of: Option<String> => |_| schema::as_of(),
                /// Add the value of each top-level clause to every decision.
                explain: Option<bool> => schema::explain,
                $($more)*
            }
        }

        impl $(<$life>)? $name $(<$life>)? {
            /// The options of the evaluation.
            pub fn options(self) -> EvaluateOptions {
                EvaluateOptions { rules: self.rules, rule: self.rule, as_of: self.as_of, explain: self.explain }
            }
        }
    };
}

/// Named rules (`{name: expression}`), in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for RuleSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rules;
        impl<'de> Visitor<'de> for Rules {
            type Value = RuleSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of rule names to CEL expressions (strings)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleSet, A::Error> {
                let mut rules: Vec<(String, String)> = Vec::new();
                while let Some((name, expression)) = map.next_entry::<String, String>()? {
                    if rules.iter().any(|(seen, _)| *seen == name) {
                        return Err(serde::de::Error::custom(format!("rule {name:?} is given twice")));
                    }
                    rules.push((name, expression));
                }
                Ok(RuleSet(rules))
            }
        }
        deserializer.deserialize_map(Rules)
    }
}

with_evaluation_options! {
    /// The rules and options of an evaluation: the JSON request without its beneficiaries, and
    /// the first line of an NDJSON request.
    pub struct EvaluateOptions {}
}

/// The first line of an NDJSON evaluation: the JSON request without `beneficiaries`.
fn evaluate_options(limits: &ServerLimits) -> AllOfBuilder {
    AllOfBuilder::new()
        .description(Some(format!(
            "The options of an evaluation: the first line of an NDJSON request (one beneficiary per line \
             follows, each at most {} bytes, `max_line_bytes`; a longer or unreadable line is that line's \
             `invalid_beneficiary` result). Unknown fields are refused. {} {LIMITS}",
            limits.max_line_bytes,
            length_note(limits)
        )))
        .item(EvaluateOptions::properties(limits))
        .item(one_rule_source())
}

/// The schema of `POST /v1/evaluate` with `Content-Type: application/json`: the body is read
/// as [`EvaluateBody`].
#[derive(Clone, Copy, Debug)]
pub struct EvaluateRequest;

with_evaluation_options! {
    /// The JSON evaluate request as read: beneficiaries are kept as raw JSON text, counted, then
    /// read in parallel by `dci_eligibility::Beneficiary`.
    pub(crate) struct EvaluateBody<'a> {
        /// The beneficiaries.
        #[serde(borrow)]
        beneficiaries: &'a RawValue => |limits| schema::beneficiary_list(
            limits.max_beneficiaries,
            format!(
                "The beneficiaries, at most {} (`max_beneficiaries`; more: 413 `too_many_beneficiaries`, send \
                 them as NDJSON). An item that is not a `Beneficiary` is that item's `invalid_beneficiary` \
                 result; the others are decided.",
                limits.max_beneficiaries
            ),
        ),
    }
}

/// `POST /v1/evaluate` as JSON.
fn evaluate_request(limits: &ServerLimits) -> AllOfBuilder {
    AllOfBuilder::new()
        .description(Some(format!(
            "A JSON evaluation: the options of `EvaluateOptions` and the beneficiaries, in a body of at most {} \
             bytes (`max_body_bytes`; more: 413 `payload_too_large`). Unknown fields are refused. {} {LIMITS}",
            limits.max_body_bytes,
            length_note(limits)
        )))
        .item(EvaluateBody::properties(limits))
        .item(one_rule_source())
}

/// A JSON array's length, counted without keeping its items.
pub(crate) struct Count(pub usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> Visitor<'de> for Counter {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of beneficiaries")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut count = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Count(count))
            }
        }
        deserializer.deserialize_seq(Counter)
    }
}

request_body! {
    /// `POST /v1/rules/validate`.
    pub struct ValidateRequest {
        /// Named rules. Give `rules` or `rule`.
        rules: Option<RuleSet> => |limits| schema::rules(limits, None),
        /// One rule, named `rule` in the report.
        rule: Option<String> => |_| schema::rule(None),
        /// Sample beneficiaries: their fields' types are checked (`dci_eligibility::FieldTypes`).
        data: Option<Vec<serde_json::Value>> => |limits| schema::beneficiary_list(
            limits.max_beneficiaries,
            format!(
                "Sample beneficiaries, at most {} (`max_beneficiaries`): each field gets the type every sample \
                 agrees on, a rule using one with another type is `type_mismatch`, and a field none has is the \
                 warning `unknown_field` (the server's `[fields]` win where both name a field).",
                limits.max_beneficiaries
            ),
        ),
    }
}

/// `POST /v1/rules/validate`: any expression is reported on, whatever its length.
fn validate_request(limits: &ServerLimits) -> AllOfBuilder {
    AllOfBuilder::new()
        .description(Some(format!(
            "Rules to validate. Every rule is reported on, valid or not (a rule over the limits gets its \
             diagnostic, e.g. `too_long`). Unknown fields are refused. {LIMITS}"
        )))
        .item(ValidateRequest::properties(limits))
        .item(one_rule_source())
}

/// The schema of `POST /v1/explain`: the body is read as [`ExplainBody`].
#[derive(Clone, Copy, Debug)]
pub struct ExplainRequest;

request_body! {
    /// `POST /v1/explain` as read.
    pub(crate) struct ExplainBody<'a> {
        /// The rule.
        rule: String => |limits| schema::expression(limits, "The rule (a CEL expression)."),
        /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
        as_of: Option<String> => |_| schema::as_of(),
        /// The beneficiary, kept as JSON text for `dci_eligibility::Beneficiary` to read.
        #[serde(borrow)]
        beneficiary: &'a RawValue => |_| schema::reference(Beneficiary::name()),
    }
}

/// `POST /v1/explain`.
fn explain_request(limits: &ServerLimits) -> ObjectBuilder {
    ExplainBody::properties(limits).description(Some(format!(
        "One rule and one beneficiary, explained clause by clause with every metric's value and source. \
         A beneficiary that cannot be read is 422 `invalid_request` naming the field. Unknown fields are \
         refused. {} {LIMITS}",
        length_note(limits)
    )))
}

/// The schema of `POST /v1/diff`: the body is read as [`DiffBody`].
#[derive(Clone, Copy, Debug)]
pub struct DiffRequest;

request_body! {
    /// `POST /v1/diff` as read.
    pub(crate) struct DiffBody<'a> {
        /// The rule as it is (e.g. in force today).
        old: String => |limits| {
            schema::expression(limits, "The rule as it is (e.g. in force today); named `old` in the summary.")
        },
        /// The rule as it would be.
        new: String => |limits| schema::expression(limits, "The rule as it would be; named `new` in the summary."),
        /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
        as_of: Option<String> => |_| schema::as_of(),
        /// The beneficiaries, kept as JSON text until counted.
        #[serde(borrow)]
        beneficiaries: &'a RawValue => |limits| schema::beneficiary_list(
            limits.max_beneficiaries,
            format!(
                "The beneficiaries, at most {} (`max_beneficiaries`; more: 413 `too_many_beneficiaries`). \
                 An item that is not a `Beneficiary` is listed under `invalid`; the others are decided.",
                limits.max_beneficiaries
            ),
        ),
    }
}

/// `POST /v1/diff`.
fn diff_request(limits: &ServerLimits) -> ObjectBuilder {
    DiffBody::properties(limits).description(Some(format!(
        "Two rules decided for the same beneficiaries in one pass (a registry fact fetched for one serves \
         the other), within the limits of `POST /v1/evaluate`: a body of at most {} bytes, and at most {} \
         bytes of explanations (beneficiaries × both rules' clause texts and values, `max_explanation_bytes`; \
         more: 413 `too_many_beneficiaries`). Unknown fields are refused. {} {LIMITS}",
        limits.max_body_bytes,
        limits.max_explanation_bytes,
        length_note(limits)
    )))
}

/// The schema of `POST /v1/rules/export-test`: the body is read as [`ExportTestBody`].
#[derive(Clone, Copy, Debug)]
pub struct ExportTestRequest;

request_body! {
    /// `POST /v1/rules/export-test` as read.
    pub(crate) struct ExportTestBody<'a> {
        /// The rule.
        rule: String => |limits| schema::expression(limits, "The rule (a CEL expression)."),
        /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
        as_of: Option<String> => |_| schema::as_of(),
        /// The test file's title.
        name: Option<String> => |_| typed(&[Type::String, Type::Null]).description(Some("The test file's title.")),
        /// The beneficiaries to make cases of, kept as JSON text until counted.
        #[serde(borrow)]
        beneficiaries: &'a RawValue => export_cases,
    }
}

fn export_cases(limits: &ServerLimits) -> ArrayBuilder {
    let cases = limits.export_cases();
    schema::beneficiary_list(
        cases,
        format!(
            "The beneficiaries to make cases of: at least one, at most {cases} (more: 413 `too_many_beneficiaries`)."
        ),
    )
    .min_items(Some(1))
}

/// `POST /v1/rules/export-test`.
fn export_test_request(limits: &ServerLimits) -> ObjectBuilder {
    ExportTestBody::properties(limits).description(Some(format!(
        "A rule, a date and beneficiaries, made into an `elig test` file that expects each beneficiary's \
         outcome as it is now, with the registry values the decisions saw. A beneficiary that cannot be \
         read is 422 `invalid_request` naming it. Unknown fields are refused. {} {LIMITS}",
        length_note(limits)
    )))
}

/// The request schemas under their component names, with `limits`.
pub(crate) fn with_limits(limits: &ServerLimits) -> Vec<(Cow<'static, str>, RefOr<Schema>)> {
    vec![
        (EvaluateRequest::name(), evaluate_request(limits).into()),
        (EvaluateOptions::name(), evaluate_options(limits).into()),
        (ValidateRequest::name(), validate_request(limits).into()),
        (ExplainRequest::name(), explain_request(limits).into()),
        (DiffRequest::name(), diff_request(limits).into()),
        (ExportTestRequest::name(), export_test_request(limits).into()),
        (Beneficiary::name(), schema::beneficiary(limits).into()),
        (Member::name(), schema::member().into()),
        (Identifier::name(), schema::identifier().into()),
    ]
}

macro_rules! schema_of {
    ($($type:ty => $build:expr),* $(,)?) => {
        $(
            impl PartialSchema for $type {
                fn schema() -> RefOr<Schema> {
                    let build: fn(&ServerLimits) -> RefOr<Schema> = $build;
                    build(&ServerLimits::default())
                }
            }

            impl ToSchema for $type {}
        )*
    };
}

schema_of! {
    EvaluateRequest => |limits| evaluate_request(limits).into(),
    EvaluateOptions => |limits| evaluate_options(limits).into(),
    ValidateRequest => |limits| validate_request(limits).into(),
    ExplainRequest => |limits| explain_request(limits).into(),
    DiffRequest => |limits| diff_request(limits).into(),
    ExportTestRequest => |limits| export_test_request(limits).into(),
    Beneficiary => |limits| schema::beneficiary(limits).into(),
    Member => |_| schema::member().into(),
    Identifier => |_| schema::identifier().into(),
}
