//! Checks DCI messages against the official SPDCI OpenAPI files kept, as
//! reference data, in `../shared/dci-spec/openapi/` beside the repository.
//!
//! A test helper: tests call [`Spec::load`], and skip (printing why) when the
//! reference files are absent, as on a machine without the shared folder.
//! Set `DCI_SPEC_DIR` to point elsewhere.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

/// The OpenAPI files this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    /// `crvs_api_v1.0.0.yaml`
    Crvs,
    /// `ibr_api_v1.0.0.yaml`
    Ibr,
    /// `dr_api_v1.0.0.yaml`
    Dr,
    /// `authz_core_api_v1.0.0.yaml`
    Authz,
}

impl Api {
    fn file(self) -> &'static str {
        match self {
            Api::Crvs => "crvs_api_v1.0.0.yaml",
            Api::Ibr => "ibr_api_v1.0.0.yaml",
            Api::Dr => "dr_api_v1.0.0.yaml",
            Api::Authz => "authz_core_api_v1.0.0.yaml",
        }
    }
}

/// Where the reference material is: `$DCI_SPEC_DIR`, else `<workspace>/../shared/dci-spec`.
pub fn spec_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DCI_SPEC_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/dci-spec")
}

/// The loaded OpenAPI documents.
pub struct Spec {
    documents: HashMap<Api, Value>,
}

impl Spec {
    /// Loads the OpenAPI files, or prints why not and returns `None` (the caller skips).
    pub fn load() -> Option<Spec> {
        let dir = spec_dir().join("openapi");
        if !dir.is_dir() {
            eprintln!("skipped: the DCI reference schemas are not at {} (set DCI_SPEC_DIR)", dir.display());
            return None;
        }
        let mut documents = HashMap::new();
        for api in [Api::Crvs, Api::Ibr, Api::Dr, Api::Authz] {
            let path = dir.join(api.file());
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let document: Value =
                serde_norway::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
            documents.insert(api, document);
        }
        Some(Spec { documents })
    }

    fn document(&self, api: Api) -> &Value {
        &self.documents[&api]
    }

    /// The request-body schema of `POST path`.
    pub fn request_schema(&self, api: Api, path: &str) -> Value {
        let operation = &self.document(api)["paths"][path]["post"];
        let content = &operation["requestBody"]["content"];
        let schema = content.get("application/json").or_else(|| content.get("application/x-www-form-urlencoded"));
        schema.map(|c| c["schema"].clone()).unwrap_or_else(|| panic!("{api:?} has no request schema for {path}"))
    }

    /// The response schema of `POST path` for `status` (`"default"`, `"200"`, `"401"`, ...).
    pub fn response_schema(&self, api: Api, path: &str, status: &str) -> Value {
        let document = self.document(api);
        let mut response = document["paths"][path]["post"]["responses"][status].clone();
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = resolve(document, reference).clone();
        }
        if response.get("content").is_none() && response.get("type").is_some() {
            // Upstream puts a bare schema where a response object belongs (IBR enrolled).
            return response;
        }
        response["content"]["application/json"]["schema"].clone()
    }

    /// A named schema of `components.schemas`.
    pub fn component(&self, api: Api, name: &str) -> Value {
        self.document(api)["components"]["schemas"][name].clone()
    }

    /// Validates `instance` against `schema` (a schema taken from `api`'s document,
    /// whose `#/...` references resolve in that document). Returns every violation.
    pub fn validate(&self, api: Api, schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
        let document = self.document(api);
        let mut root: Map<String, Value> = match schema {
            Value::Object(map) => map.clone(),
            other => panic!("not a schema object: {other}"),
        };
        for key in ["components", "paths"] {
            if let Some(part) = document.get(key) {
                root.insert(key.to_owned(), part.clone());
            }
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema does not compile: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(instance).map(|e| format!("at {}: {e}", e.instance_path())).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Validates a request body for `POST path`.
    pub fn check_request(&self, api: Api, path: &str, body: &Value) -> Result<(), Vec<String>> {
        self.validate(api, &self.request_schema(api, path), body)
    }

    /// Validates a response body for `POST path` with `status`.
    pub fn check_response(&self, api: Api, path: &str, status: &str, body: &Value) -> Result<(), Vec<String>> {
        self.validate(api, &self.response_schema(api, path, status), body)
    }

    /// Validates `value` against the component schema `name`.
    pub fn check_component(&self, api: Api, name: &str, value: &Value) -> Result<(), Vec<String>> {
        self.validate(api, &self.component(api, name), value)
    }
}

/// Resolves a local reference (`#/a/b`) in `document`.
fn resolve<'a>(document: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.trim_start_matches('#');
    document.pointer(pointer).unwrap_or_else(|| panic!("dangling reference {reference}"))
}

/// Asserts validity, listing the violations and the instance on failure.
#[track_caller]
pub fn assert_valid(result: Result<(), Vec<String>>, what: &str, instance: &Value) {
    if let Err(errors) = result {
        panic!(
            "{what} violates the DCI schema:\n  {}\ninstance: {}",
            errors.join("\n  "),
            serde_json::to_string_pretty(instance).unwrap_or_default()
        );
    }
}
