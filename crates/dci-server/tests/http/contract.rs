//! The served `/openapi.json` as a contract: the schema of each request and
//! response, and validation against it (`$ref`s resolve in the document).
//!
//! Responses are checked strictly: every object the document describes with
//! `properties` gets `unevaluatedProperties: false`, so that a field the
//! server sends and the document does not list is a failure, not a pass.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::common::Harness;

/// Which check: a request as the document states it, or a response, strictly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Request,
    Response,
}

pub struct Contract {
    doc: Value,
    /// The document's components, and the strict copy for responses.
    components: HashMap<Side, Value>,
    validators: Mutex<HashMap<(Side, String), std::sync::Arc<jsonschema::Validator>>>,
}

impl Contract {
    /// The document `h` serves.
    pub async fn of(h: &Harness) -> Contract {
        let response = h.get("/openapi.json").send().await.expect("send");
        assert_eq!(response.status(), 200);
        Contract::new(response.json().await.expect("the document is JSON"))
    }

    pub fn new(doc: Value) -> Contract {
        let components = doc["components"].clone();
        let strict = strict_components(&components);
        Contract {
            doc,
            components: HashMap::from([(Side::Request, components), (Side::Response, strict)]),
            validators: Mutex::default(),
        }
    }

    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        self.doc["paths"].get(path)?.get(method.to_ascii_lowercase())
    }

    /// The documented response `status` of `method path`, if the route and status are documented.
    pub fn response(&self, method: &str, path: &str, status: u16) -> Option<&Value> {
        self.operation(method, path)?["responses"].get(status.to_string())
    }

    /// The schema of the response `status` of `method path` in `media`; panics when undocumented.
    pub fn response_schema(&self, method: &str, path: &str, status: u16, media: &str) -> Value {
        let response = self
            .response(method, path, status)
            .unwrap_or_else(|| panic!("{method} {path} does not document status {status}"));
        response["content"][media]["schema"].clone()
    }

    /// The schema of the request body of `POST path` in `media`.
    pub fn request_schema(&self, path: &str, media: &str) -> Value {
        let operation = self.operation("post", path).unwrap_or_else(|| panic!("no POST {path}"));
        let schema = operation["requestBody"]["content"][media]["schema"].clone();
        assert!(schema.is_object(), "POST {path} documents no {media} body");
        schema
    }

    /// A reference to the component schema `name`.
    pub fn component(&self, name: &str) -> Value {
        assert!(self.doc["components"]["schemas"].get(name).is_some(), "no component {name}");
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// A number of the component `name` found at `pointer` (a limit the document states).
    pub fn limit(&self, name: &str, pointer: &str) -> usize {
        let value = self.doc["components"]["schemas"][name].pointer(pointer);
        value.and_then(Value::as_u64).unwrap_or_else(|| panic!("{name}{pointer} is not a number")) as usize
    }

    fn validator(&self, side: Side, schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
        let key = (side, schema.to_string());
        let mut validators = self.validators.lock().expect("lock");
        if let Some(validator) = validators.get(&key) {
            return validator.clone();
        }
        let mut root: Map<String, Value> = schema.as_object().cloned().expect("a schema object");
        root.insert("components".into(), self.components[&side].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("the schema does not compile: {e}\n{schema}"));
        let validator = std::sync::Arc::new(validator);
        validators.insert(key, validator.clone());
        validator
    }

    /// Every violation of `schema` by `instance`.
    pub fn violations(&self, side: Side, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(side, schema).iter_errors(instance).map(|e| format!("at {}: {e}", e.instance_path())).collect()
    }

    /// Panics, saying where, unless `instance` matches `schema`.
    pub fn check(&self, side: Side, schema: &Value, instance: &Value, what: &str) {
        let violations = self.violations(side, schema, instance);
        assert!(violations.is_empty(), "{what} does not match {schema}:\n{}\n{instance:#}", violations.join("\n"));
    }
}

/// Components where every object schema that lists `properties` (and says nothing of others)
/// refuses unlisted ones, except the parts of an `allOf`, which see only their own properties:
/// there the schema holding the `allOf` refuses what none of its parts lists.
fn strict_components(components: &Value) -> Value {
    let mut components = components.clone();
    let mut parts = BTreeSet::new();
    collect_all_of_parts(&components, &mut parts);
    if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
        for (name, schema) in schemas.iter_mut() {
            if !parts.contains(&format!("#/components/schemas/{name}")) {
                tighten(schema);
            }
        }
    }
    components
}

/// The `$ref`s used as parts of an `allOf`.
fn collect_all_of_parts(value: &Value, parts: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(items)) = map.get("allOf") {
                parts.extend(items.iter().filter_map(|item| item["$ref"].as_str().map(str::to_owned)));
            }
            map.values().for_each(|v| collect_all_of_parts(v, parts));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_all_of_parts(v, parts)),
        _ => {}
    }
}

fn tighten(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else { return };
    let open = map.contains_key("additionalProperties") || map.contains_key("unevaluatedProperties");
    if !open && (map.contains_key("properties") || map.contains_key("allOf")) {
        map.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(properties)) = map.get_mut(key) {
            properties.values_mut().for_each(tighten);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            tighten(child);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(items)) = map.get_mut(key) {
            items.iter_mut().for_each(tighten);
        }
    }
}
