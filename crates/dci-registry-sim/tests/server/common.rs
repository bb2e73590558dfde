//! Helpers: start a simulator, get tokens, build and post DCI messages over loopback HTTP.

use std::time::Duration;

use dci_protocol::{
    DciTimestamp, Query, RequestEnvelope, RequestHeader, SearchCriteria, SearchRequest, SearchRequestItem, action,
};
use dci_registry_sim::{RegistryData, RegistryKind, SimConfig, Simulator};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "elig-demo";
pub const CLIENT_SECRET: &str = "elig-demo-secret";

pub async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("the simulator starts")
}

/// The committed fixture.
pub async fn fixture() -> Simulator {
    start(SimConfig::default()).await
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

/// A token from `kind`'s token endpoint (form-encoded).
pub async fn token(sim: &Simulator, kind: RegistryKind) -> String {
    let response = http()
        .post(format!("{}/oauth2/client/token", sim.base_url(kind)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"))
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("token json");
    body["access_token"].as_str().expect("access_token").to_owned()
}

pub fn now() -> DciTimestamp {
    DciTimestamp::now()
}

/// A unique message id.
pub fn message_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn id_item(reference_id: &str, id_type: &str, value: &str) -> SearchRequestItem {
    SearchRequestItem {
        reference_id: reference_id.into(),
        timestamp: Some(now()),
        search_criteria: SearchCriteria::new(Query::id(id_type, value)),
        locale: None,
    }
}

pub fn item(reference_id: &str, criteria: SearchCriteria) -> SearchRequestItem {
    SearchRequestItem {
        reference_id: reference_id.into(),
        timestamp: Some(now()),
        search_criteria: criteria,
        locale: None,
    }
}

pub fn header(items: usize) -> RequestHeader {
    RequestHeader::new(message_id(), now(), action::SEARCH, "elig.test", items as u64).with_receiver("registry.test")
}

/// A search envelope as JSON.
pub fn search(items: Vec<SearchRequestItem>) -> Value {
    let envelope = RequestEnvelope::new(
        header(items.len()),
        SearchRequest { transaction_id: "T-1".into(), search_request: items },
    );
    serde_json::to_value(envelope).expect("json")
}

/// Raw JSON items in an envelope (for items the typed builders cannot express).
pub fn search_raw(items: Vec<Value>) -> Value {
    let header = serde_json::to_value(header(items.len())).expect("json");
    json!({"header": header, "message": {"transaction_id": "T-raw", "search_request": items}})
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// POSTs raw bytes to `kind`'s `path` with a bearer token.
pub async fn post_bytes(sim: &Simulator, kind: RegistryKind, path: &str, token: Option<&str>, body: Vec<u8>) -> Answer {
    let mut request =
        http().post(format!("{}{path}", sim.base_url(kind))).header("content-type", "application/json").body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Answer { status, headers, text }
}

pub async fn post(sim: &Simulator, kind: RegistryKind, path: &str, token: &str, body: &Value) -> Answer {
    post_bytes(sim, kind, path, Some(token), serde_json::to_vec(body).expect("json")).await
}

/// POSTs a search and returns the 200 response body.
pub async fn search_ok(sim: &Simulator, kind: RegistryKind, token: &str, body: &Value) -> Value {
    let answer = post(sim, kind, "/registry/sync/search", token, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

/// The response item answering `reference_id`.
pub fn answer_for<'a>(response: &'a Value, reference_id: &str) -> &'a Value {
    response["message"]["search_response"]
        .as_array()
        .expect("search_response")
        .iter()
        .find(|item| item["reference_id"] == reference_id)
        .unwrap_or_else(|| panic!("no answer for {reference_id}: {response}"))
}

pub fn records(item: &Value) -> &Vec<Value> {
    item["data"]["reg_records"].as_array().unwrap_or_else(|| panic!("no reg_records: {item}"))
}

/// A CRVS person record.
pub fn person(uin: &str, birth: &str, sex: &str, place: &str, death: Option<&str>) -> Value {
    let mut record = json!({
        "identifier": [{"identifier_type": "UIN", "identifier_value": uin}],
        "name": {"given_name": "P", "surname": uin},
        "sex": sex, "birth_date": birth, "birth_place": {"name": place},
    });
    if let Some(death) = death {
        record["death_date"] = json!(death);
    }
    record
}

/// A simulator whose CRVS serves `records` (IBR and DR: the fixture).
pub async fn with_crvs(records: Vec<Value>, config: SimConfig) -> Simulator {
    let data = RegistryData::from_records(RegistryKind::Crvs, records).expect("records");
    start(config.with_data(data)).await
}
