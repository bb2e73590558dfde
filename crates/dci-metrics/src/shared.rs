//! The shared fact tier: Redis (or Valkey) under every replica's in-process
//! cache, so that N replicas and CLI runs ask each registry once per person
//! and TTL, and a new replica starts warm.
//!
//! It never decides anything and never fails a decision: an unreachable,
//! slow or misbehaving Redis is a miss (each call waits at most
//! `timeout_ms`), counted and warned about at most once per
//! [`WARN_EVERY`]; after a failure the tier rests for [`REST_AFTER_FAILURE`]
//! and is then tried again, so it comes back by itself.
//!
//! What is stored: under `key_prefix` + `f2:` + a keyed hash (HMAC-SHA256 with
//! `key_secret`) of the registry and its identity (base URL, client and
//! sender id), identifier type and value, the normalised
//! facts the metrics need (no names, no records), with the registry's TTL,
//! sealed with `[cache] encryption_key` (see [`crate::seal`]) or, without
//! it, authenticated with an HMAC under `key_secret`: whoever can write to
//! Redis but holds neither secret cannot plant or swap a fact (a value that
//! fails reads as a counted, logged miss, and is fetched from its registry).
//! A value carries a format byte, so another format reads as a miss.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dci_client::SecretSource;
use dci_protocol::records::Identifier;
use rayon::prelude::*;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::codec::{Reader, put_cached};
use crate::entry::Cached;
use crate::seal::{KeyError, KeyHasher, Sealer, VALUE_TAG_BYTES};

/// Runs the tier's CPU work (hashing keys, sealing and opening values) on
/// rayon's pool, from async code. On a multi-threaded runtime the waiting
/// tokio worker is handed over as blocking, so that the runtime's other tasks
/// (requests, timers) move to another worker meanwhile.
fn on_cores<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The format byte of a value; any other is read as a miss (2: facts carry
/// their timelines; 3: IBR facts identify programmes; a value written before is
/// fetched again).
const FORMAT: u8 = 3;
/// The second byte: how the record is held. `0` (plain, unauthenticated) is
/// never written and never read: such a value could be anyone's.
const SEALED: u8 = 1;
/// In clear, after an HMAC of the key and the record under `key_secret`.
const TAGGED: u8 = 2;

/// The version of the key layout: `<prefix>f2:<hash>`; `f1` keys did not
/// hash the registry's identity, and are never read.
const KEY_VERSION: &str = "f2:";

/// Keys asked per `MGET` (several go in one pipelined round trip).
const MGET_KEYS: usize = 500;

/// Facts read per pipelined call: keys are hashed and values opened a chunk
/// at a time, the next chunk's call on its way while this one is opened.
const READ_CHUNK: usize = 2_000;

/// How long the tier rests after a failure before it is tried again.
pub const REST_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Adds the members (ARGV[3..]) to the set KEYS[1] unless the new ones
/// would bring it past ARGV[1]; the set expires ARGV[2] seconds after it is
/// made. Answers `{1, count after}` or `{0, count before}`. One script, so
/// that two replicas cannot both pass the bound between a check and an add.
const ADMIT_LOOKUPS: &str = r#"
local new = 0
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then new = new + 1 end
end
local have = redis.call('SCARD', KEYS[1])
if have + new > tonumber(ARGV[1]) then return {0, have} end
for i = 3, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {1, have + new}
"#;

/// What [`SharedTier::admit_lookups`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupCount {
    /// Whether the identifiers were admitted (and counted).
    pub admitted: bool,
    /// Distinct identifiers counted this hour (after, when admitted; before, when not).
    pub count: u64,
    /// Seconds until the hour ends (and the count starts again).
    pub retry_after_secs: u64,
}

/// At most one warning per this interval while the tier fails.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

fn default_prefix() -> String {
    "elig:".to_owned()
}

fn default_timeout_ms() -> u64 {
    50
}

/// `[cache.redis]` in `elig.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`, or `rediss://` for TLS. No password in it:
    /// give it in `password`.
    pub url: String,
    /// The ACL user name, if the server has users.
    #[serde(default)]
    pub username: Option<String>,
    /// The AUTH password, by environment reference (`{ env = "REDIS_PASSWORD" }`).
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// Prefix of every key this tier writes.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// The longest any call to Redis may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The secret keys are hashed with (HMAC-SHA256), by environment
    /// reference; at least 16 characters. Every replica needs the same one.
    pub key_secret: SecretSource,
    /// With `rediss://`: a PEM file of the certificate authority that signed
    /// the server's certificate, when it is a private one (without it, the
    /// public web roots are trusted).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

/// Why the shared tier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// A key or secret is missing or unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The configuration is wrong.
    #[error("cache.redis: {0}")]
    Config(String),
}

/// Counters of the shared tier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SharedStats {
    /// Facts found.
    pub hits: u64,
    /// Facts asked for and not there.
    pub misses: u64,
    /// Values there but unreadable: another format, damaged, or sealed with
    /// another key (counted as misses too).
    pub unreadable: u64,
    /// Facts written.
    pub writes: u64,
    /// Calls that failed or timed out (their facts count as misses).
    pub errors: u64,
    /// Failures by kind (unreadable values included), in [`TierFault::ALL`]'s order.
    pub errors_by_kind: Vec<(TierFault, u64)>,
    /// Whether the tier answered its last call (`false` while it fails or rests after a failure).
    pub up: bool,
    /// Calls made (reads and writes).
    pub calls: u64,
    /// Their total time, in microseconds.
    pub call_micros: u64,
}

/// What went wrong with the shared tier, by kind: each is counted
/// (`elig_shared_cache_errors_total{kind}`) and named in `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TierFault {
    /// Redis refused the credentials (wrong password or user).
    Auth,
    /// Nothing listens at the address.
    Refused,
    /// The connection was cut (Redis restarting, stopped, or a network cut).
    ConnectionLost,
    /// The host name does not resolve.
    Dns,
    /// No answer within `timeout_ms`.
    Timeout,
    /// Redis is full and evicts nothing (`maxmemory` with `noeviction`): writes fail.
    OutOfMemory,
    /// Redis is a read-only replica: writes fail.
    ReadOnly,
    /// Values there could not be read: altered, under another secret, or another format.
    Unreadable,
    /// Anything else (a dropped connection, a protocol error).
    Other,
}

impl TierFault {
    /// Every kind, in order: the one list of them.
    pub const ALL: [TierFault; 9] = [
        TierFault::Auth,
        TierFault::Refused,
        TierFault::ConnectionLost,
        TierFault::Dns,
        TierFault::Timeout,
        TierFault::OutOfMemory,
        TierFault::ReadOnly,
        TierFault::Unreadable,
        TierFault::Other,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TierFault::Auth => "auth",
            TierFault::Refused => "refused",
            TierFault::ConnectionLost => "connection_lost",
            TierFault::Dns => "dns",
            TierFault::Timeout => "timeout",
            TierFault::OutOfMemory => "out_of_memory",
            TierFault::ReadOnly => "read_only",
            TierFault::Unreadable => "unreadable",
            TierFault::Other => "other",
        }
    }

    /// The kind of a Redis client error.
    fn of(error: &redis::RedisError) -> TierFault {
        let text = error.to_string();
        match (error.kind(), error.code()) {
            (redis::ErrorKind::AuthenticationFailed, _) => TierFault::Auth,
            (_, Some("WRONGPASS" | "NOAUTH" | "NOPERM")) => TierFault::Auth,
            (_, Some("OOM")) => TierFault::OutOfMemory,
            (_, Some("READONLY")) => TierFault::ReadOnly,
            _ if error.is_connection_refusal() => TierFault::Refused,
            _ if error.is_timeout() => TierFault::Timeout,
            _ if error.is_connection_dropped() => TierFault::ConnectionLost,
            _ if text.contains("lookup address") || text.contains("Name or service not known") => TierFault::Dns,
            _ if text.contains("WRONGPASS") || text.contains("NOAUTH") => TierFault::Auth,
            // A failed pipeline says each command's error in its text: `"OOM": command not allowed …`.
            _ if text.contains("\"OOM\"") || text.contains("OOM command") => TierFault::OutOfMemory,
            _ if text.contains("READONLY") => TierFault::ReadOnly,
            _ => TierFault::Other,
        }
    }

    /// What to do about it, in words.
    fn hint(self) -> &'static str {
        match self {
            TierFault::Auth => "check [cache.redis] password (and username)",
            TierFault::Refused => "is Redis running at [cache.redis] url?",
            TierFault::ConnectionLost => "Redis went away: it is tried again every second",
            TierFault::Dns => "the host of [cache.redis] url does not resolve",
            TierFault::Timeout => "Redis is slow or unreachable within timeout_ms",
            TierFault::OutOfMemory => "Redis is full: raise maxmemory or use an evicting policy (volatile-ttl)",
            TierFault::ReadOnly => "Redis is a read-only replica: point url at the primary",
            TierFault::Unreadable => "values written under other secrets or altered: each is fetched again",
            TierFault::Other => "see the error",
        }
    }
}

/// Whether the shared tier answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SharedHealth {
    /// It answers.
    Ok,
    /// It does not answer (or fails): the engine goes on without it.
    Degraded,
}

/// Whether the shared tier answers now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedStatus {
    /// `ok`, or `degraded`.
    pub status: SharedHealth,
    /// What went wrong last, if it is failing, with what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Its kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<TierFault>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    unreadable: AtomicU64,
    writes: AtomicU64,
    errors: AtomicU64,
    by_kind: [AtomicU64; TierFault::ALL.len()],
    calls: AtomicU64,
    call_micros: AtomicU64,
}

#[derive(Default)]
struct Health {
    /// Until when the tier rests after a failure.
    resting_until: Option<Instant>,
    last_warning: Option<Instant>,
    last_problem: Option<(TierFault, String)>,
    /// Failures since the last warning.
    failures_unreported: u64,
    /// Failures in a row since the tier last answered.
    failing_for: u64,
    /// When unreadable values were last reported, and how many were counted then.
    unreadable_warned: Option<(Instant, u64)>,
}

/// The shared tier (see the module documentation).
pub struct SharedTier {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    prefix: String,
    timeout: Duration,
    hasher: KeyHasher,
    sealer: Option<std::sync::Arc<Sealer>>,
    counters: Counters,
    health: Mutex<Health>,
}

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTier")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("sealed", &self.sealer.is_some())
            .finish_non_exhaustive()
    }
}

impl SharedTier {
    /// The tier `config` describes, sealing values with `sealer` if given.
    /// Nothing is connected yet: the first use connects.
    pub(crate) fn new(config: &RedisConfig, sealer: Option<std::sync::Arc<Sealer>>) -> Result<Self, SharedError> {
        let mut info: redis::ConnectionInfo = redis::IntoConnectionInfo::into_connection_info(config.url.as_str())
            .map_err(|e| SharedError::Config(format!("url: {e}")))?;
        if info.redis_settings().password().is_some() {
            return Err(SharedError::Config(
                "url: give the password in `password = { env = \"...\" }`, not in the URL".into(),
            ));
        }
        let mut settings = info.redis_settings().clone();
        if let Some(username) = &config.username {
            settings = settings.set_username(username.clone());
        }
        if let Some(password) = &config.password {
            let password = password.resolve("cache.redis.password").map_err(SharedError::Config)?;
            settings = settings.set_password(password.expose());
        }
        info = info.set_redis_settings(settings);
        let client = match &config.ca_file {
            None => redis::Client::open(info),
            Some(path) => {
                if !config.url.starts_with("rediss://") {
                    return Err(SharedError::Config("ca_file is for TLS: the url must start with rediss://".into()));
                }
                let pem =
                    std::fs::read(path).map_err(|e| SharedError::Config(format!("ca_file {}: {e}", path.display())))?;
                redis::Client::build_with_tls(info, redis::TlsCertificates { client_tls: None, root_cert: Some(pem) })
            }
        }
        .map_err(|e| SharedError::Config(e.to_string()))?;
        if config.timeout_ms == 0 {
            return Err(SharedError::Config("timeout_ms must be at least 1".into()));
        }
        // The URL holds no password (refused above); the values' protection is named.
        let protection =
            if sealer.is_some() { "sealed (encryption_key)" } else { "in clear, authenticated (key_secret)" };
        tracing::info!(
            url = %config.url,
            prefix = %config.key_prefix,
            values = protection,
            timeout_ms = config.timeout_ms,
            "shared fact tier (Redis)"
        );
        Ok(SharedTier {
            client,
            connection: tokio::sync::Mutex::new(None),
            prefix: config.key_prefix.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
            hasher: KeyHasher::new(&config.key_secret, "cache.redis.key_secret")?,
            sealer,
            counters: Counters::default(),
            health: Mutex::new(Health::default()),
        })
    }

    /// The key of a person's facts in a registry: a keyed hash of the
    /// registry and its identity (`scope`, see [`crate::RegistryResolver::identity`]),
    /// the identifier type (uppercased) and value; never the identifier.
    pub(crate) fn key(&self, scope: &str, identifier: &Identifier) -> String {
        let identifier_type = &identifier.identifier_type;
        let upper;
        let identifier_type = if identifier_type.bytes().any(|b| b.is_ascii_lowercase()) {
            upper = identifier_type.to_ascii_uppercase();
            upper.as_str()
        } else {
            identifier_type.as_str()
        };
        let mut key = String::with_capacity(self.prefix.len() + KEY_VERSION.len() + 32);
        key.push_str(&self.prefix);
        key.push_str(KEY_VERSION);
        let parts = [scope.as_bytes(), identifier_type.as_bytes(), identifier.identifier_value.as_bytes()];
        self.hasher.hash_into(&parts, &mut key);
        key
    }

    /// What the tier holds about `identifiers` in `registry` (whose records
    /// have `fields` metrics): `keep(position, record)` is called for each
    /// record found, from any thread, and what it returns is the answer for
    /// that position (`None`: a miss, as is every identifier the tier does not answer for).
    pub(crate) async fn read<T: Send>(
        &self,
        scope: &str,
        fields: usize,
        identifiers: &[&Identifier],
        keep: impl Fn(usize, Cached) -> Option<T> + Sync,
    ) -> Vec<Option<T>> {
        let keys_of = |from: usize, chunk: &[&Identifier]| {
            (from, on_cores(|| chunk.par_iter().map(|identifier| self.key(scope, identifier)).collect::<Vec<_>>()))
        };
        let mut found = Vec::with_capacity(identifiers.len());
        let mut chunks = identifiers.chunks(READ_CHUNK).enumerate().map(|(n, chunk)| (n * READ_CHUNK, chunk));
        let Some((from, chunk)) = chunks.next() else { return found };
        let (mut from, mut keys) = keys_of(from, chunk);
        let mut values = self.get_many(&keys).await;
        loop {
            let next = chunks.next().map(|(from, chunk)| keys_of(from, chunk));
            let asking = async {
                match &next {
                    Some((_, next_keys)) => self.get_many(next_keys).await,
                    None => None,
                }
            };
            let opening = async {
                let opened: Vec<Option<T>> = on_cores(|| match &values {
                    None => keys.iter().map(|_| None).collect(),
                    Some(values) => (keys.par_iter().zip(values.par_iter()).enumerate())
                        .map(|(offset, (key, value))| keep(from + offset, self.open(key, value.as_deref(), fields)?))
                        .collect(),
                });
                found.extend(opened);
            };
            // `asking` is polled first: its request is sent before this chunk is opened.
            let (next_values, ()) = tokio::join!(asking, opening);
            let Some((next_from, next_keys)) = next else { break };
            (from, keys, values) = (next_from, next_keys, next_values);
        }
        found
    }

    /// Writes what a registry answered to the tier, each record for `ttl(record)`.
    pub(crate) async fn write(
        &self,
        scope: &str,
        answered: Vec<(&Identifier, Cached)>,
        ttl: impl Fn(&Cached) -> Duration + Sync,
    ) {
        let entries: Vec<(String, Vec<u8>, Duration)> = on_cores(|| {
            answered
                .into_par_iter()
                .map(|(identifier, cached)| {
                    let key = self.key(scope, identifier);
                    let value = self.value_of(&key, &cached);
                    (key, value, ttl(&cached))
                })
                .collect()
        });
        self.put_many(&entries).await;
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a failure of `kind`, rests, and says so at most once per
    /// [`WARN_EVERY`]: one short line with the kind, the first error and how
    /// many failed since the last line.
    fn failed(&self, kind: TierFault, problem: String) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.count_fault(kind);
        // A failed pipeline can carry one error per command: the first few hundred bytes say it.
        let problem = shortened(&problem);
        let mut health = self.health();
        let now = Instant::now();
        health.resting_until = Some(now + REST_AFTER_FAILURE);
        health.failures_unreported += 1;
        health.failing_for += 1;
        if health.last_warning.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            health.last_warning = Some(now);
            let failures = std::mem::take(&mut health.failures_unreported);
            tracing::warn!(
                cause = kind.as_str(),
                failures,
                hint = kind.hint(),
                "shared fact tier (Redis) failing, going on without it: {problem}"
            );
        }
        health.last_problem = Some((kind, problem));
    }

    fn count_fault(&self, kind: TierFault) {
        let at = TierFault::ALL.iter().position(|k| *k == kind).unwrap_or(TierFault::ALL.len() - 1);
        self.counters.by_kind[at].fetch_add(1, Ordering::Relaxed);
    }

    fn succeeded(&self) {
        let mut health = self.health();
        health.resting_until = None;
        if let Some((kind, _)) = health.last_problem.take() {
            let failures = std::mem::take(&mut health.failing_for);
            health.failures_unreported = 0;
            tracing::info!(after = kind.as_str(), failures, "shared fact tier (Redis) answers again");
        }
        health.failing_for = 0;
    }

    /// A connection, unless the tier is resting after a failure.
    async fn connection(&self) -> Option<ConnectionManager> {
        if self.health().resting_until.is_some_and(|until| Instant::now() < until) {
            return None;
        }
        let mut slot = match tokio::time::timeout(self.timeout, self.connection.lock()).await {
            Ok(slot) => slot,
            Err(_) => return None,
        };
        if let Some(connection) = slot.as_ref() {
            return Some(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(0);
        match tokio::time::timeout(self.timeout, self.client.get_connection_manager_with_config(config)).await {
            Ok(Ok(connection)) => {
                *slot = Some(connection.clone());
                Some(connection)
            }
            Ok(Err(error)) => {
                self.failed(TierFault::of(&error), format!("connecting: {error}"));
                None
            }
            Err(_) => {
                let problem = format!("connecting took longer than {} ms", self.timeout.as_millis());
                self.failed(TierFault::Timeout, problem);
                None
            }
        }
    }

    /// Runs one pipelined call within the timeout, counting it.
    async fn call<T: redis::FromRedisValue>(&self, pipeline: &redis::Pipeline) -> Option<T> {
        let mut connection = self.connection().await?;
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, pipeline.query_async::<T>(&mut connection)).await;
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        self.counters.call_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match result {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(error)) => {
                let kind = TierFault::of(&error);
                // Redis answered (full, read-only): the connection is good. Otherwise the next call,
                // after the rest, connects afresh rather than through a connection that failed.
                if !matches!(kind, TierFault::OutOfMemory | TierFault::ReadOnly) {
                    self.forget_connection().await;
                }
                self.failed(kind, error.to_string());
                None
            }
            Err(_) => {
                self.forget_connection().await;
                self.failed(TierFault::Timeout, format!("a call took longer than {} ms", self.timeout.as_millis()));
                None
            }
        }
    }

    /// Drops the connection, so that the next call makes a new one.
    async fn forget_connection(&self) {
        if let Ok(mut slot) = tokio::time::timeout(self.timeout, self.connection.lock()).await {
            *slot = None;
        }
    }

    /// The values stored under `keys`, in one pipelined call; `None` when
    /// the tier did not answer (every key then counts as a miss).
    async fn get_many(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Some(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for chunk in keys.chunks(MGET_KEYS) {
            pipeline.cmd("MGET").arg(chunk);
        }
        let values: Option<Vec<Option<Vec<u8>>>> = self
            .call::<Vec<Vec<Option<Vec<u8>>>>>(&pipeline)
            .await
            .map(|replies| replies.into_iter().flatten().collect());
        match values {
            Some(values) if values.len() == keys.len() => Some(values),
            answered => {
                if let Some(values) = answered {
                    // Not one value per key: which value is whose is unknown.
                    self.failed(TierFault::Other, format!("{} values for {} keys", values.len(), keys.len()));
                }
                self.counters.misses.fetch_add(keys.len() as u64, Ordering::Relaxed);
                None
            }
        }
    }

    /// The record in a value read under `key` (of a registry with `fields`
    /// metrics), counted as a hit; `None` (counted as a miss, and as
    /// unreadable when there was a value) when there is none this
    /// deployment can read. Safe to call from many threads at once.
    fn open(&self, key: &str, value: Option<&[u8]>, fields: usize) -> Option<Cached> {
        let cached = value.and_then(|bytes| {
            let cached = self.unpack(key, bytes, fields);
            if cached.is_none() {
                let total = self.counters.unreadable.fetch_add(1, Ordering::Relaxed) + 1;
                self.count_fault(TierFault::Unreadable);
                self.unreadable_seen(total);
            }
            cached
        });
        let counter = if cached.is_some() { &self.counters.hits } else { &self.counters.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        cached
    }

    /// Says, at most once per [`WARN_EVERY`], how many values could not be
    /// read since the last time: each is a miss, fetched from its registry.
    fn unreadable_seen(&self, total: u64) {
        let mut health = self.health();
        let now = Instant::now();
        let since = match health.unreadable_warned {
            Some((at, _)) if now.duration_since(at) < WARN_EVERY => return,
            Some((_, counted)) => total - counted,
            None => total,
        };
        health.unreadable_warned = Some((now, total));
        drop(health);
        tracing::warn!(
            unreadable = since,
            total,
            "shared fact tier (Redis): values that could not be read (altered, written under another key_secret or \
             encryption_key, or by another version): each was fetched from its registry instead"
        );
    }

    /// Stores each record under its key for its TTL (whole seconds, at least one).
    async fn put_many(&self, entries: &[(String, Vec<u8>, Duration)]) {
        if entries.is_empty() {
            return;
        }
        let mut pipeline = redis::pipe();
        for (key, value, ttl) in entries {
            pipeline.cmd("SET").arg(key).arg(value).arg("EX").arg(ttl.as_secs().max(1)).ignore();
        }
        if self.call::<()>(&pipeline).await.is_some() {
            self.counters.writes.fetch_add(entries.len() as u64, Ordering::Relaxed);
        }
    }

    /// The value stored for `cached` under `key`. Safe to call from many threads at once.
    fn value_of(&self, key: &str, cached: &Cached) -> Vec<u8> {
        let mut record = Vec::with_capacity(64);
        put_cached(&mut record, cached);
        match &self.sealer {
            None => {
                let mut value = Vec::with_capacity(2 + VALUE_TAG_BYTES + record.len());
                value.extend_from_slice(&[FORMAT, TAGGED]);
                value.extend_from_slice(&self.hasher.value_tag(key.as_bytes(), &record));
                value.extend_from_slice(&record);
                value
            }
            Some(sealer) => {
                let mut value = vec![FORMAT, SEALED];
                sealer.seal(&record, key.as_bytes(), &mut value);
                value
            }
        }
    }

    /// A value this deployment wrote: of this format, sealed if and only if
    /// it seals, else tagged under its `key_secret` (so that no one can plant
    /// or move facts without a secret), and shaped like the registry's facts.
    fn unpack(&self, key: &str, value: &[u8], fields: usize) -> Option<Cached> {
        let (&[format, how], record) = value.split_first_chunk::<2>()?;
        if format != FORMAT {
            return None;
        }
        let opened;
        let record = match (how, &self.sealer) {
            (TAGGED, None) => {
                let (tag, record) = record.split_at_checked(VALUE_TAG_BYTES)?;
                if !self.hasher.tag_matches(key.as_bytes(), record, tag) {
                    return None;
                }
                record
            }
            (SEALED, Some(sealer)) => {
                opened = sealer.open(record, key.as_bytes())?;
                &opened[..]
            }
            _ => return None,
        };
        let mut reader = Reader::new(record);
        let cached = reader.cached(fields).ok()?;
        reader.is_empty().then_some(cached)
    }

    /// Counts the distinct `identifiers` (`(type, value)`) `who` looks up in the
    /// current hour against `bound`, in one set per `who` and hour shared by
    /// every replica (members are keyed hashes, never identifiers): all are
    /// added, or, when the new ones would pass the bound, none is. `None`
    /// when the tier does not answer (the caller then counts on its own).
    pub(crate) async fn admit_lookups(
        &self,
        who: &str,
        identifiers: &[(&str, &str)],
        bound: u64,
    ) -> Option<LookupCount> {
        let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() / 3600;
        let mut set = String::with_capacity(self.prefix.len() + 64);
        set.push_str(&self.prefix);
        set.push_str("lookups:");
        self.hasher.hash_into(&[who.as_bytes()], &mut set);
        set.push_str(&format!(":{hour}"));
        let members: Vec<String> = identifiers
            .iter()
            .map(|(kind, value)| {
                let mut member = String::with_capacity(32);
                self.hasher
                    .hash_into(&[b"lookup", kind.to_ascii_uppercase().as_bytes(), value.as_bytes()], &mut member);
                member
            })
            .collect();
        let mut pipeline = redis::pipe();
        let mut call = redis::cmd("EVAL");
        call.arg(ADMIT_LOOKUPS).arg(1).arg(&set).arg(bound).arg(2 * 3600).arg(&members);
        pipeline.add_command(call);
        let ((admitted, count),): ((i64, u64),) = self.call(&pipeline).await?;
        let next_hour = (hour + 1) * 3600;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        Some(LookupCount { admitted: admitted == 1, count, retry_after_secs: next_hour.saturating_sub(now).max(1) })
    }

    /// Counters so far.
    pub fn stats(&self) -> SharedStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let c = &self.counters;
        let errors_by_kind = TierFault::ALL.iter().zip(&c.by_kind).map(|(kind, count)| (*kind, load(count))).collect();
        let up = self.health().last_problem.is_none();
        SharedStats {
            hits: load(&c.hits),
            misses: load(&c.misses),
            unreadable: load(&c.unreadable),
            writes: load(&c.writes),
            errors: load(&c.errors),
            errors_by_kind,
            up,
            calls: load(&c.calls),
            call_micros: load(&c.call_micros),
        }
    }

    /// Pings Redis (within the timeout) and says whether the tier answers.
    pub async fn status(&self) -> SharedStatus {
        let mut ping = redis::pipe();
        ping.cmd("PING");
        let answered = self.call::<(String,)>(&ping).await.is_some();
        let problem = self.health().last_problem.clone();
        match (answered, problem) {
            (true, _) => SharedStatus { status: SharedHealth::Ok, problem: None, cause: None },
            (false, Some((kind, problem))) => SharedStatus {
                status: SharedHealth::Degraded,
                problem: Some(format!("{problem} ({})", kind.hint())),
                cause: Some(kind),
            },
            (false, None) => SharedStatus {
                status: SharedHealth::Degraded,
                problem: Some("resting after a failure".to_owned()),
                cause: None,
            },
        }
    }
}

/// At most the first 300 bytes of `problem` (on a character boundary), marked when cut.
fn shortened(problem: &str) -> String {
    const MOST: usize = 300;
    if problem.len() <= MOST {
        return problem.to_owned();
    }
    let mut end = MOST;
    while !problem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &problem[..end], problem.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_told_apart_by_kind() {
        let io = |kind, text: &str| redis::RedisError::from(std::io::Error::new(kind, text.to_owned()));
        let dns = io(std::io::ErrorKind::Other, "failed to lookup address information: Name or service not known");
        assert_eq!(TierFault::of(&dns), TierFault::Dns);
        assert_eq!(TierFault::of(&io(std::io::ErrorKind::ConnectionRefused, "refused")), TierFault::Refused);
        assert_eq!(TierFault::of(&io(std::io::ErrorKind::TimedOut, "timed out")), TierFault::Timeout);
        let names: Vec<&str> = TierFault::ALL.iter().map(|kind| kind.as_str()).collect();
        let serialized: Vec<String> = TierFault::ALL
            .iter()
            .map(|kind| serde_json::to_value(kind).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
        assert_eq!(serialized, quoted, "one name per kind, in JSON and in metrics");
    }

    #[test]
    fn long_problems_are_cut_on_a_character() {
        let long = "é".repeat(400);
        let short = shortened(&long);
        assert!(short.len() < 340 && short.ends_with("(800 bytes in all)"), "{short}");
        assert_eq!(shortened("brief"), "brief");
    }
}
