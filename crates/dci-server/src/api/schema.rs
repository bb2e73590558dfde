//! The building blocks of the request schemas: JSON Schema for the values a request holds
//! (rules, dates, identifiers, beneficiaries), with a server's limits as `maxItems`,
//! `maxProperties` and `maxLength`. The request shapes themselves (`request.rs`) are declared
//! once and put these together.
//!
//! The beneficiary's schema is written here because `dci_eligibility::Beneficiary` reads it
//! by hand (accepting more than a derived type would: identifiers as text or numbers, two
//! spellings of an identifier's fields, any field of the person's own).

use std::borrow::Cow;

use utoipa::ToSchema;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

use crate::config::ServerLimits;

/// The schema of a beneficiary in a request: a registrant with identifiers, household members
/// and fields of its own. `dci_eligibility::Beneficiary` reads it.
#[derive(Clone, Copy, Debug)]
pub struct Beneficiary;

/// The schema of a household member in a request.
#[derive(Clone, Copy, Debug)]
pub struct Member;

/// The schema of an identifier in a request.
#[derive(Clone, Copy, Debug)]
pub struct Identifier;

pub(crate) const LIMITS: &str = "The limits are the server's `[server.limits]` (the stricter of them and `[rules]` for rules): \
                      this document states those of the server that serves it.";

pub(crate) fn reference(name: Cow<'static, str>) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

pub(crate) fn typed(types: &[Type]) -> ObjectBuilder {
    let schema_type = match types {
        [one] => SchemaType::new(one.clone()),
        many => many.iter().cloned().collect(),
    };
    ObjectBuilder::new().schema_type(schema_type)
}

/// A string with at least one character that is not white space.
pub(crate) fn not_blank() -> ObjectBuilder {
    typed(&[Type::String]).pattern(Some(r"\S"))
}

/// An id or identifier part: text that is not blank, or a whole number of at most 53 bits
/// (read as its digits; larger ones are refused unless written without a fraction or exponent).
pub(crate) fn text(description: &str) -> RefOr<Schema> {
    let whole = typed(&[Type::Integer]).minimum(Some(-9_007_199_254_740_992.0)).maximum(Some(9_007_199_254_740_992.0));
    OneOfBuilder::new().description(Some(description)).item(not_blank()).item(whole).into()
}

/// `rules` or `rule`, exactly one of them not `null`.
pub(crate) fn one_rule_source() -> OneOfBuilder {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().property("rules", typed(&[Type::Object])).required("rules"))
        .item(ObjectBuilder::new().property("rule", typed(&[Type::String])).required("rule"))
}

/// Named rules; `max_length` bounds each expression where a longer one is refused
/// (evaluation), not where it is reported on (validation).
pub(crate) fn rules(limits: &ServerLimits, max_length: Option<usize>) -> ObjectBuilder {
    typed(&[Type::Object, Type::Null])
        .description(Some(format!(
            "Named rules, `{{\"name\": \"CEL expression\"}}`, in the order given: at least one, at most {} \
             (`max_rules`), names not blank and not repeated. Give `rules` or `rule`, not both.",
            limits.max_rules
        )))
        .min_properties(Some(1))
        .max_properties(Some(limits.max_rules))
        .property_names(Some(not_blank()))
        .additional_properties(Some(typed(&[Type::String]).max_length(max_length)))
        .examples([serde_json::json!({"elderly": "age_years(r.birthdate) >= 60"})])
}

/// One rule, named `rule`; `max_length` as for [`rules`].
pub(crate) fn rule(max_length: Option<usize>) -> ObjectBuilder {
    typed(&[Type::String, Type::Null])
        .max_length(max_length)
        .description(Some("One rule, named `rule` in the results. Give `rules` or `rule`, not both."))
        .examples(["dci.crvs.is_alive == true and age_years(r.birthdate) >= 60"])
}

/// What happens to a rule too long or that does not compile.
pub(crate) fn length_note(limits: &ServerLimits) -> String {
    format!(
        "A rule longer than {} bytes (`max_rule_length`; the schema counts characters) or that does not compile \
         is refused with 422 `invalid_rule`.",
        limits.max_rule_length
    )
}

/// Whether each decision carries its clauses' values.
pub(crate) fn explain(limits: &ServerLimits) -> ObjectBuilder {
    typed(&[Type::Boolean, Type::Null]).description(Some(format!(
        "Add the value of each top-level clause to every decision (default `false`). A JSON response holds at \
         most {} bytes of explanations (beneficiaries × each clause's text and value, `max_explanation_bytes`; \
         more: 413 `too_many_beneficiaries`, before any work); a streamed (NDJSON) one is not bounded.",
        limits.max_explanation_bytes
    )))
}

/// A rule given as one expression, refused past `max_rule_length`.
pub(crate) fn expression(limits: &ServerLimits, description: &str) -> ObjectBuilder {
    typed(&[Type::String]).max_length(Some(limits.max_rule_length)).description(Some(description))
}

/// The evaluation date.
pub(crate) fn as_of() -> ObjectBuilder {
    typed(&[Type::String, Type::Null])
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .description(Some("The evaluation date, `YYYY-MM-DD`; absent or `null`: today (UTC)."))
        .examples(["2026-01-01"])
}

/// A list of beneficiaries, at most `max_items`.
pub(crate) fn beneficiary_list(max_items: usize, description: String) -> ArrayBuilder {
    ArrayBuilder::new().items(reference(Beneficiary::name())).max_items(Some(max_items)).description(Some(description))
}

pub(crate) fn identifiers() -> ArrayBuilder {
    ArrayBuilder::new()
        .schema_type([Type::Array, Type::Null].into_iter().collect::<SchemaType>())
        .items(reference(Identifier::name()))
        .description(Some(
            "Identifiers, to look the person up in registries (the first type in a registry's priority wins).",
        ))
}

/// What a person's own fields may hold: any JSON value, within two bounds no schema can state.
const FIELDS: &str = "Any other field is the person's own (`birthdate`, `poverty_score`, ...), read by rules \
                      as `r.<field>` (members: `m.<field>`): any JSON value that nests at most 64 levels of \
                      lists and objects, with finite numbers.";

pub(crate) fn beneficiary(limits: &ServerLimits) -> ObjectBuilder {
    let members = ArrayBuilder::new()
        .schema_type([Type::Array, Type::Null].into_iter().collect::<SchemaType>())
        .items(reference(Member::name()))
        .max_items(Some(limits.max_members))
        .description(Some(format!(
            "Household members, at most {} (`max_members`). `[]` is an empty household; absent or `null`, \
             the household is unknown and a rule that reads `members` is undetermined.",
            limits.max_members
        )));
    typed(&[Type::Object])
        .description(Some(format!(
            "A beneficiary (registrant) with household members. {FIELDS} One that does not match is that \
             item's `invalid_beneficiary` result. {LIMITS}"
        )))
        .property("id", text("The caller's id; results carry it."))
        .required("id")
        .property("identifiers", identifiers())
        .property("members", members)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .examples([serde_json::json!({"id": "HH-0001", "identifiers": [{"type": "UIN", "value": "800010000"}],
            "birthdate": "1950-03-02", "poverty_score": 0.82, "members": []})])
}

pub(crate) fn member() -> ObjectBuilder {
    typed(&[Type::Object])
        .description(Some(format!("A household member: a beneficiary without members. {FIELDS}")))
        .property("id", text("The member's id; absent: `<household id>/members[<index>]`."))
        .property("identifiers", identifiers())
        .property("members", typed(&[Type::Null]).description(Some("A member has no members (`null` is accepted).")))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

pub(crate) fn identifier() -> AllOfBuilder {
    let either = |first: &str, second: &str| {
        AnyOfBuilder::new().item(ObjectBuilder::new().required(first)).item(ObjectBuilder::new().required(second))
    };
    let fields = typed(&[Type::Object])
        .property("type", text("`UIN`, `DRN`, `NATIONAL_ID`, `NID`, `BRN`, ..."))
        .property("value", text("The identifier."))
        .property("identifier_type", text("`type`, as DCI spells it."))
        .property("identifier_value", text("`value`, as DCI spells it."))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)));
    AllOfBuilder::new()
        .description(Some(
            "An identifier: `{type, value}`, also accepted as `{identifier_type, identifier_value}` \
             (`type` and `value` win when both spellings are given).",
        ))
        .item(fields)
        .item(either("type", "identifier_type"))
        .item(either("value", "identifier_value"))
        .examples([serde_json::json!({"type": "UIN", "value": "800010000"})])
}
