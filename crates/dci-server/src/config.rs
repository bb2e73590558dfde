//! The server's configuration: the whole `elig.toml` ([`Config`]) and its
//! `[server]` section ([`ServerConfig`], [`ServerLimits`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dci_eligibility::{EngineConfig, Limits};

use crate::access::ApiKeyConfig;
use crate::audit::AuditConfig;
use serde::{Deserialize, Serialize};

/// The whole `elig.toml`: the engine's sections (`[[registry]]`, `[metrics]`,
/// `[cache]`, `[rules]`) and `[server]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Data sources, catalog adjustments, cache and rule limits.
    #[serde(flatten)]
    pub engine: EngineConfig,
    /// The HTTP server (`[server]`).
    #[serde(default)]
    pub server: ServerConfig,
}

/// The sections an `elig.toml` may have.
const SECTIONS: [&str; 7] = ["registry", "metrics", "cache", "rules", "fields", "purpose", "server"];

impl Config {
    /// Reads an `elig.toml`. The engine's sections and `[server]` are read
    /// each on its own, so that an error names its key at its own line and
    /// column (read as one flattened structure, a missing key is placed at
    /// the top of the file); a section of no known name is refused by name.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        if let Some(unknown) = table.keys().find(|key| !SECTIONS.contains(&key.as_str())) {
            return Err(format!(
                "unknown section or key `{unknown}` at the top level; expected one of: {}",
                SECTIONS.join(", ")
            ));
        }
        #[derive(Deserialize)]
        struct ServerSection {
            #[serde(default)]
            server: ServerConfig,
        }
        let engine: EngineConfig = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        let section: ServerSection = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        Ok(Config { engine, server: section.server })
    }
}

/// The `[server]` section.
///
/// ```toml
/// [server]
/// bind = "0.0.0.0:8080"
/// api_keys = [
///   { env = "ELIG_SERVICE_KEY", name = "openspp", scopes = ["evaluate"] },
///   { env = "ELIG_OFFICER_KEY", name = "officer", scopes = ["evaluate", "explain", "export"] },
///   { env = "ELIG_ADMIN_KEY", name = "ops", scopes = ["admin"] },
/// ]
/// cors_origins = ["https://openspp.example.org"]
///
/// [server.limits]
/// max_beneficiaries = 10000
/// ```
///
/// `Debug` never shows a key: inline keys print as `Value(<redacted>)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// Accepted bearer API keys, each with what it may do (`scopes`, required) and a name for
    /// logs and the audit: `{ env = "ELIG_API_KEY", scopes = ["evaluate"] }` (recommended) or
    /// `{ value = "...", ... }`. Every route but `GET /healthz` requires one (see [`crate::access`]).
    pub api_keys: Vec<ApiKeyConfig>,
    /// Serve without API keys. Without keys and without this flag the server refuses to start;
    /// meant for tests and for deployments where a gateway in front authenticates callers.
    pub allow_unauthenticated: bool,
    /// Origins allowed to call the API from a browser (CORS). Empty (the default): CORS off.
    pub cors_origins: Vec<String>,
    /// Request limits.
    pub limits: ServerLimits,
    /// `GET /v1/registries` checks the registries at most once per this many
    /// seconds, answering from its last check in between (default 60).
    pub registries_check_secs: u64,
    /// The audit of lookups (`[server.audit]`); absent: records go to the log, without
    /// identifier hashes.
    pub audit: Option<AuditConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            api_keys: Vec::new(),
            allow_unauthenticated: false,
            cors_origins: Vec::new(),
            limits: ServerLimits::default(),
            registries_check_secs: 60,
            audit: None,
        }
    }
}

/// The most beneficiaries one test file (`POST /v1/rules/export-test`) is made of.
pub const MAX_EXPORT_CASES: usize = 500;

/// Limits on requests (`[server.limits]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// Largest JSON request body, in bytes (413 `payload_too_large`). NDJSON bodies are streamed
    /// and not bounded as a whole; each of their lines is bounded by `max_line_bytes`.
    pub max_body_bytes: usize,
    /// Most beneficiaries in one JSON request (413 `too_many_beneficiaries`). NDJSON: unbounded.
    pub max_beneficiaries: usize,
    /// Most household members per beneficiary; a beneficiary with more gets an item error. At most
    /// `dci_eligibility::MAX_MEMBERS` (10,000).
    pub max_members: usize,
    /// Most bytes of explanations one JSON response holds: beneficiaries × (each top-level
    /// clause's text and value, per rule), with `explain` on `/v1/evaluate`, and always on
    /// `/v1/diff` and `/v1/rules/export-test` (413 `too_many_beneficiaries`, checked before any
    /// work). It bounds the memory a response takes; streamed (NDJSON) responses are not bounded by it.
    pub max_explanation_bytes: usize,
    /// Most rules per request (422 `invalid_request`).
    pub max_rules: usize,
    /// Longest rule, in bytes (422 `invalid_rule`, diagnostic `too_long`).
    pub max_rule_length: usize,
    /// Deepest rule: depth of its parsed expression and of its brackets (422 `invalid_rule`,
    /// diagnostic `too_deep`). See `[rules] max_depth`.
    pub max_rule_depth: usize,
    /// Costly requests (evaluate, explain, diff, export-test; NDJSON streams) running at once:
    /// the bulk lane. A request is costly unless it has at most 64 evaluations estimated at
    /// 100,000 steps in all.
    pub max_concurrent_evaluations: usize,
    /// Costly requests waiting for a slot; beyond, 503 `overloaded` with `Retry-After`. JSON
    /// bodies are received whole before their request asks for a slot, at most twice the slots
    /// and queue places of both lanes at once (beyond, 503 `overloaded`).
    pub max_queued: usize,
    /// Small requests running at once: the interactive lane, which never waits behind the bulk
    /// lane and runs on a thread of its own.
    pub max_concurrent_interactive: usize,
    /// Small requests waiting for a slot of their lane; beyond, 503 `overloaded`.
    pub max_queued_interactive: usize,
    /// Time to answer a request (JSON: the whole response; NDJSON: the response head), in seconds
    /// (504 `timeout`).
    pub request_timeout_secs: u64,
    /// The longest pause allowed while a request body is being received, in seconds (408
    /// `timeout`; never longer than `request_timeout_secs`). An NDJSON stream holds its evaluation
    /// slot while it arrives: a client that stops sending gives it back after this pause.
    pub body_idle_timeout_secs: u64,
    /// The longest a JSON request body may take to arrive whole, in seconds, from the start of the
    /// request (408 `timeout`; never longer than `request_timeout_secs`). A JSON body holds no
    /// evaluation slot while it arrives. NDJSON bodies are evaluated as they stream and are not
    /// bounded by it.
    pub body_read_timeout_secs: u64,
    /// NDJSON lines evaluated together (memory per streamed request grows with it).
    pub ndjson_chunk: usize,
    /// Longest NDJSON line, in bytes; a longer line gets an item error.
    pub max_line_bytes: usize,
    /// Connections open at once; a connection past this is closed at once.
    pub max_connections: usize,
    /// Time for a client to send a request's head (line and headers), in seconds; a
    /// connection that takes longer (slowloris) is closed.
    pub header_read_timeout_secs: u64,
    /// Largest request head, in bytes (431 `headers_too_large`).
    pub max_header_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body_bytes: 32 * 1024 * 1024,
            max_beneficiaries: 10_000,
            max_members: 100,
            max_explanation_bytes: 64 * 1024 * 1024,
            max_rules: 20,
            max_rule_length: 10_000,
            max_rule_depth: dci_eligibility::DEFAULT_MAX_DEPTH,
            max_concurrent_evaluations: 4,
            max_queued: 16,
            max_concurrent_interactive: 4,
            max_queued_interactive: 64,
            request_timeout_secs: 300,
            body_idle_timeout_secs: 30,
            body_read_timeout_secs: 60,
            ndjson_chunk: 5_000,
            max_line_bytes: 1024 * 1024,
            max_connections: 1024,
            header_read_timeout_secs: 10,
            max_header_bytes: 64 * 1024,
        }
    }
}

impl ServerLimits {
    /// The most beneficiaries one test file is made of: [`MAX_EXPORT_CASES`], or fewer when
    /// `max_beneficiaries` is lower.
    pub fn export_cases(&self) -> usize {
        MAX_EXPORT_CASES.min(self.max_beneficiaries)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The compiler limits for rules received over HTTP: the engine's `[rules]`, made no looser
    /// by these limits (a household may have up to `max_members` members: the cost estimate
    /// assumes as many).
    pub fn rule_limits(&self, engine: &Limits) -> Limits {
        engine.stricter(&Limits {
            max_length: self.max_rule_length,
            max_depth: self.max_rule_depth,
            max_members: self.max_members as u64,
            ..engine.clone()
        })
    }

    /// These limits, with rule limits no looser than the engine's `[rules]` section.
    pub fn within(mut self, engine: &Limits) -> Self {
        self.max_rule_length = self.max_rule_length.min(engine.max_length);
        self.max_rule_depth = self.max_rule_depth.min(engine.max_depth);
        self
    }

    /// Checks that every limit allows at least something.
    pub(crate) fn check(&self) -> Result<(), String> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("max_beneficiaries", self.max_beneficiaries as u64),
            ("max_explanation_bytes", self.max_explanation_bytes as u64),
            ("max_rules", self.max_rules as u64),
            ("max_rule_length", self.max_rule_length as u64),
            ("max_rule_depth", self.max_rule_depth as u64),
            ("max_concurrent_evaluations", self.max_concurrent_evaluations as u64),
            ("max_concurrent_interactive", self.max_concurrent_interactive as u64),
            ("max_connections", self.max_connections as u64),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("max_header_bytes", self.max_header_bytes as u64),
            ("request_timeout_secs", self.request_timeout_secs),
            ("body_idle_timeout_secs", self.body_idle_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("ndjson_chunk", self.ndjson_chunk as u64),
            ("max_line_bytes", self.max_line_bytes as u64),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("server.limits.{name} must be at least 1"));
        }
        if self.max_members > dci_eligibility::MAX_MEMBERS {
            return Err(format!(
                "server.limits.max_members is {}; at most {} (more members are refused as a beneficiary is read)",
                self.max_members,
                dci_eligibility::MAX_MEMBERS
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_shown_by_debug() {
        let key =
            ApiKeyConfig::new(dci_client::SecretSource::Value("hunter2".into()), &[crate::access::Scope::Evaluate]);
        let config = ServerConfig { api_keys: vec![key], ..Default::default() };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn configuration_errors_name_the_key_at_its_line_once() {
        let missing = "[server]\nbind = \"127.0.0.1:0\"\n\n[cache.redis]\nurl = \"redis://127.0.0.1:1/0\"\n";
        let error = Config::from_toml(missing).expect_err("no key_secret");
        assert!(error.contains("line 4") && error.contains("missing field `key_secret`"), "{error}");
        assert_eq!(error.matches("key_secret").count(), 1, "{error}");
        let wrong = "[[registry]]\nregistry = \"crvs\"\nbase_url = \"http://x\"\nclient_id = \"c\"\nclient_secret = { env = \"S\" }\n\n[server]\nbind = 5\n";
        let error = Config::from_toml(wrong).expect_err("a number for an address");
        assert!(error.contains("line 8") && error.contains("bind"), "{error}");
        let typo = Config::from_toml("[servr]\nbind = \"127.0.0.1:0\"\n").expect_err("no such section");
        assert!(typo.contains("`servr`") && typo.contains("server"), "{typo}");
        let config = Config::from_toml("[server]\nbind = \"127.0.0.1:9\"\n[cache]\nmax_entries = 10\n").expect("valid");
        assert_eq!((config.server.bind.port(), config.engine.cache.max_entries), (9, 10));
    }

    #[test]
    fn limits_are_no_looser_than_the_engine() {
        let engine = Limits { max_length: 500, max_depth: 50, max_steps: 5_000, ..Limits::default() };
        let limits = ServerLimits::default().within(&engine);
        assert_eq!((limits.max_rule_length, limits.max_rule_depth), (500, 50));
        let rules = ServerLimits { max_members: 1000, ..limits }.rule_limits(&engine);
        assert_eq!(rules.max_steps, 5_000, "the server cannot loosen the budget");
        assert_eq!(rules.max_members, 1000, "the estimate assumes as many members as the server accepts");
    }
}
