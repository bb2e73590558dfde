//! A server in this process over the registry simulator, and a reqwest client.

use std::time::Duration;

use dci_client::{DataSource, SecretSource};
use dci_eligibility::{Engine, EngineConfig};
use dci_registry_sim::{SimConfig, Simulator};
use dci_server::access::{ApiKeyConfig, Scope};
use dci_server::{RunningServer, Server, ServerConfig};
use serde_json::Value;

/// The API key the test servers accept.
pub const KEY: &str = "test-key-0123456789";

/// The fixture's as-of date.
pub const AS_OF: &str = "2026-01-01";

/// The seed rules.
pub const POOR: &str = "poverty_score >= 0.7 and dci.ibr.program_count == 0";
pub const ELDERLY: &str = "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60";

pub struct Harness {
    pub sim: Simulator,
    pub server: RunningServer,
    pub base: String,
    pub client: reqwest::Client,
}

/// Data sources for every registry of `sim`.
pub fn sources(sim: &Simulator) -> Vec<DataSource> {
    dci_bench::simulator_sources(sim)
}

/// The server configuration of the tests: one API key with every scope, default limits.
pub fn server_config() -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        api_keys: vec![ApiKeyConfig::new(SecretSource::Value(KEY.into()), &Scope::ALL).named("tests")],
        // The records are written (a failure would be a 503) but kept out of the test output.
        audit: Some(dci_server::audit::AuditConfig {
            file: Some("/dev/null".into()),
            max_file_bytes: u64::MAX,
            keep_files: 0,
            secret: SecretSource::Value("the tests' audit secret".into()),
        }),
        ..ServerConfig::default()
    }
}

/// A simulator with `sim`'s configuration and a server over it, both configurable.
pub async fn start_with(
    sim: SimConfig,
    engine: impl FnOnce(&mut EngineConfig),
    server: impl FnOnce(&mut ServerConfig),
) -> Harness {
    let sim = Simulator::start(sim).await.expect("simulator");
    let mut engine_config = EngineConfig { registries: sources(&sim), ..Default::default() };
    engine(&mut engine_config);
    let mut config = server_config();
    server(&mut config);
    let engine = Engine::from_config(&engine_config).expect("engine");
    let server = Server::start(engine, config).await.expect("server");
    let base = format!("http://{}", server.local_addr());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    Harness { sim, server, base, client }
}

/// The fixture simulator and a server with default limits.
pub async fn start() -> Harness {
    start_with(SimConfig::default(), |_| {}, |_| {}).await
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// An authenticated request.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(KEY)
    }

    /// An authenticated request.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(KEY)
    }

    /// POSTs JSON to `/v1/evaluate`; the status and the body.
    pub async fn evaluate(&self, body: &Value) -> (u16, Value) {
        let response = self.post("/v1/evaluate").json(body).send().await.expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// The fixture's beneficiaries.
pub fn fixture() -> Vec<Value> {
    std::fs::read_to_string(dci_registry_sim::fixture_beneficiaries())
        .expect("fixture")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line"))
        .collect()
}

/// The fixture household `id`.
pub fn household(id: &str) -> Value {
    fixture().into_iter().find(|h| h["id"] == id).expect("household")
}

/// The code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}
