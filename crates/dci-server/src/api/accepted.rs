//! What the server accepts, as JSON Schema: the request bodies, with a
//! server's limits as `maxItems`, `maxProperties` and `maxLength`.
//!
//! These schemas are written here rather than derived because what is
//! accepted is more than the types say: exactly one of `rules` and `rule`,
//! rule names that are not blank, identifiers that are text or numbers, and
//! the limits of the configuration. `GET /openapi.json` serves them with the
//! running server's limits ([`with_limits`]); the defaults are those of
//! [`ServerLimits::default`]. The tests send requests generated from them and
//! check that none is refused.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::api::{
    Beneficiary, DiffRequest, EvaluateOptions, EvaluateRequest, ExplainRequest, ExportTestRequest, Identifier, Member,
    ValidateRequest,
};
use crate::config::ServerLimits;
use crate::handlers::workbench::MAX_EXPORT_CASES;

/// The request schemas under their component names, with `limits`.
pub(crate) fn with_limits(limits: &ServerLimits) -> Vec<(Cow<'static, str>, RefOr<Schema>)> {
    vec![
        (EvaluateRequest::name(), evaluate_request(limits).into()),
        (EvaluateOptions::name(), evaluate_options(limits).into()),
        (ValidateRequest::name(), validate_request(limits).into()),
        (ExplainRequest::name(), explain_request(limits).into()),
        (DiffRequest::name(), diff_request(limits).into()),
        (ExportTestRequest::name(), export_test_request(limits).into()),
        (Beneficiary::name(), beneficiary(limits).into()),
        (Member::name(), member().into()),
        (Identifier::name(), identifier().into()),
    ]
}

const LIMITS: &str = "The limits are the server's `[server.limits]` (the stricter of them and `[rules]` for rules): \
                      this document states those of the server that serves it.";

fn reference(name: Cow<'static, str>) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

fn typed(types: &[Type]) -> ObjectBuilder {
    let schema_type = match types {
        [one] => SchemaType::new(one.clone()),
        many => many.iter().cloned().collect(),
    };
    ObjectBuilder::new().schema_type(schema_type)
}

/// A string with at least one character that is not white space.
fn not_blank() -> ObjectBuilder {
    typed(&[Type::String]).pattern(Some(r"\S"))
}

/// An id or identifier part: text that is not blank, or a whole number of at most 53 bits
/// (read as its digits; larger ones are refused unless written without a fraction or exponent).
fn text(description: &str) -> RefOr<Schema> {
    let whole = typed(&[Type::Integer]).minimum(Some(-9_007_199_254_740_992.0)).maximum(Some(9_007_199_254_740_992.0));
    OneOfBuilder::new().description(Some(description)).item(not_blank()).item(whole).into()
}

/// `rules` or `rule`, exactly one of them not `null`.
fn one_rule_source() -> OneOfBuilder {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().property("rules", typed(&[Type::Object])).required("rules"))
        .item(ObjectBuilder::new().property("rule", typed(&[Type::String])).required("rule"))
}

/// The properties `rules` and `rule`; `max_length` bounds each expression when a longer one
/// is refused (evaluation), not when it is reported on (validation).
fn rule_properties(object: ObjectBuilder, limits: &ServerLimits, max_length: Option<usize>) -> ObjectBuilder {
    let expression = || typed(&[Type::String]).max_length(max_length);
    let rules = typed(&[Type::Object, Type::Null])
        .description(Some(format!(
            "Named rules, `{{\"name\": \"CEL expression\"}}`, in the order given: at least one, at most {} \
             (`max_rules`), names not blank and not repeated. Give `rules` or `rule`, not both.",
            limits.max_rules
        )))
        .min_properties(Some(1))
        .max_properties(Some(limits.max_rules))
        .property_names(Some(not_blank()))
        .additional_properties(Some(expression()))
        .examples([serde_json::json!({"elderly": "age_years(r.birthdate) >= 60"})]);
    let rule = expression()
        .schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>())
        .description(Some("One rule, named `rule` in the results. Give `rules` or `rule`, not both."))
        .examples(["dci.crvs.is_alive == true and age_years(r.birthdate) >= 60"]);
    object.property("rules", rules).property("rule", rule)
}

fn length_note(limits: &ServerLimits) -> String {
    format!(
        "A rule longer than {} bytes (`max_rule_length`; the schema counts characters) or that does not compile \
         is refused with 422 `invalid_rule`.",
        limits.max_rule_length
    )
}

fn options_properties(limits: &ServerLimits) -> ObjectBuilder {
    let as_of = typed(&[Type::String, Type::Null])
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .description(Some("The evaluation date, `YYYY-MM-DD`; absent or `null`: today (UTC)."))
        .examples(["2026-01-01"]);
    let explain = typed(&[Type::Boolean, Type::Null]).description(Some(format!(
        "Add the value of each top-level clause to every decision (default `false`). A JSON response holds at \
         most {} bytes of explanations (beneficiaries × each clause's text and value, `max_explanation_bytes`; \
         more: 413 `too_many_beneficiaries`, before any work); a streamed (NDJSON) one is not bounded.",
        limits.max_explanation_bytes
    )));
    rule_properties(typed(&[Type::Object]), limits, Some(limits.max_rule_length))
        .property("as_of", as_of)
        .property("explain", explain)
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
        .item(options_properties(limits).additional_properties(Some(AdditionalProperties::FreeForm(false))))
        .item(one_rule_source())
}

/// `POST /v1/evaluate` as JSON.
fn evaluate_request(limits: &ServerLimits) -> AllOfBuilder {
    let beneficiaries = ArrayBuilder::new()
        .items(reference(Beneficiary::name()))
        .max_items(Some(limits.max_beneficiaries))
        .description(Some(format!(
            "The beneficiaries, at most {} (`max_beneficiaries`; more: 413 `too_many_beneficiaries`, send \
             them as NDJSON). An item that is not a `Beneficiary` is that item's `invalid_beneficiary` result; \
             the others are decided.",
            limits.max_beneficiaries
        )));
    AllOfBuilder::new()
        .description(Some(format!(
            "A JSON evaluation: the options of `EvaluateOptions` and the beneficiaries, in a body of at most {} \
             bytes (`max_body_bytes`; more: 413 `payload_too_large`). Unknown fields are refused. {} {LIMITS}",
            limits.max_body_bytes,
            length_note(limits)
        )))
        .item(
            options_properties(limits)
                .property("beneficiaries", beneficiaries)
                .required("beneficiaries")
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        )
        .item(one_rule_source())
}

/// `POST /v1/rules/validate`: any expression is reported on, whatever its length.
fn validate_request(limits: &ServerLimits) -> AllOfBuilder {
    AllOfBuilder::new()
        .description(Some(format!(
            "Rules to validate. Every rule is reported on, valid or not (a rule over the limits gets its \
             diagnostic, e.g. `too_long`). Unknown fields are refused. {LIMITS}"
        )))
        .item(
            rule_properties(typed(&[Type::Object]), limits, None)
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        )
        .item(one_rule_source())
}

/// A rule given as one expression, refused past `max_rule_length`.
fn expression(limits: &ServerLimits, description: &str) -> ObjectBuilder {
    typed(&[Type::String]).max_length(Some(limits.max_rule_length)).description(Some(description))
}

fn as_of() -> ObjectBuilder {
    typed(&[Type::String, Type::Null])
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
        .description(Some("The evaluation date, `YYYY-MM-DD`; absent or `null`: today (UTC)."))
        .examples(["2026-01-01"])
}

fn beneficiary_list(max_items: usize, description: String) -> ArrayBuilder {
    ArrayBuilder::new().items(reference(Beneficiary::name())).max_items(Some(max_items)).description(Some(description))
}

/// `POST /v1/explain`.
fn explain_request(limits: &ServerLimits) -> ObjectBuilder {
    typed(&[Type::Object])
        .description(Some(format!(
            "One rule and one beneficiary, explained clause by clause with every metric's value and source. \
             A beneficiary that cannot be read is 422 `invalid_request` naming the field. Unknown fields are \
             refused. {} {LIMITS}",
            length_note(limits)
        )))
        .property("rule", expression(limits, "The rule (a CEL expression)."))
        .required("rule")
        .property("as_of", as_of())
        .property("beneficiary", reference(Beneficiary::name()))
        .required("beneficiary")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// `POST /v1/diff`.
fn diff_request(limits: &ServerLimits) -> ObjectBuilder {
    typed(&[Type::Object])
        .description(Some(format!(
            "Two rules decided for the same beneficiaries in one pass (a registry fact fetched for one serves \
             the other), within the limits of `POST /v1/evaluate`: a body of at most {} bytes, and at most {} \
             bytes of explanations (beneficiaries × both rules' clause texts and values, `max_explanation_bytes`; \
             more: 413 `too_many_beneficiaries`). Unknown fields are refused. {} {LIMITS}",
            limits.max_body_bytes,
            limits.max_explanation_bytes,
            length_note(limits)
        )))
        .property("old", expression(limits, "The rule as it is (e.g. in force today); named `old` in the summary."))
        .required("old")
        .property("new", expression(limits, "The rule as it would be; named `new` in the summary."))
        .required("new")
        .property("as_of", as_of())
        .property(
            "beneficiaries",
            beneficiary_list(
                limits.max_beneficiaries,
                format!(
                    "The beneficiaries, at most {} (`max_beneficiaries`; more: 413 `too_many_beneficiaries`). \
                     An item that is not a `Beneficiary` is listed under `invalid`; the others are decided.",
                    limits.max_beneficiaries
                ),
            ),
        )
        .required("beneficiaries")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// `POST /v1/rules/export-test`.
fn export_test_request(limits: &ServerLimits) -> ObjectBuilder {
    let cases = MAX_EXPORT_CASES.min(limits.max_beneficiaries);
    typed(&[Type::Object])
        .description(Some(format!(
            "A rule, a date and beneficiaries, made into an `elig test` file that expects each beneficiary's \
             outcome as it is now, with the registry values the decisions saw. A beneficiary that cannot be \
             read is 422 `invalid_request` naming it. Unknown fields are refused. {} {LIMITS}",
            length_note(limits)
        )))
        .property("rule", expression(limits, "The rule (a CEL expression)."))
        .required("rule")
        .property("as_of", as_of())
        .property("name", typed(&[Type::String, Type::Null]).description(Some("The test file's title.")))
        .property(
            "beneficiaries",
            beneficiary_list(
                cases,
                format!("The beneficiaries to make cases of: at least one, at most {cases} (more: 413 `too_many_beneficiaries`)."),
            )
            .min_items(Some(1)),
        )
        .required("beneficiaries")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

fn identifiers() -> ArrayBuilder {
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

fn beneficiary(limits: &ServerLimits) -> ObjectBuilder {
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

fn member() -> ObjectBuilder {
    typed(&[Type::Object])
        .description(Some(format!("A household member: a beneficiary without members. {FIELDS}")))
        .property("id", text("The member's id; absent: `<household id>/members[<index>]`."))
        .property("identifiers", identifiers())
        .property("members", typed(&[Type::Null]).description(Some("A member has no members (`null` is accepted).")))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

fn identifier() -> AllOfBuilder {
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
    Beneficiary => |limits| beneficiary(limits).into(),
    Member => |_| member().into(),
    Identifier => |_| identifier().into(),
}
