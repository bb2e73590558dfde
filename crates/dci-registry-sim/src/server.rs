//! The HTTP server: one listener, the three registries under their prefixes,
//! and `/sim/stats`, `/sim/reset`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dci_protocol::signing::RegistryKeys;
use dci_protocol::{ErrorCode, ExpiresIn, Jwks, Profile, TokenResponse};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::auth::{TokenRequestError, Tokens, read_token_request};
use crate::engine::{Engine, Limits, RecentIds, Reply};
use crate::faults::{Action, Faults};
use crate::keys::ServerKeys;
use crate::misbehaviour::pad;
use crate::stats::{Counters, Endpoint};
use crate::{FaultConfig, Misbehaviour, RegistryData, RegistryKind, SimConfig, SimError, SimStats};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// A 200 body that is not JSON (a truncated envelope), for `malformed_rate`.
const MALFORMED_BODY: &[u8] =
    b"{\"signature\": \"namespace=\\\"dci\\\"\", \"header\": {\"version\": \"1.0.0\", \"message_id\": \"";

/// What every registry shares.
struct Common {
    tokens: Tokens,
    jwks: Jwks,
    shutdown: watch::Receiver<bool>,
    /// Bounds the CPU work running at once to the number of cores.
    cpu: Arc<Semaphore>,
}

/// One registry's state.
struct Registry {
    kind: RegistryKind,
    profile: Profile,
    engine: Arc<Engine>,
    faults: Faults,
    counters: Counters,
    common: Arc<Common>,
}

type Registries = Arc<[Arc<Registry>; 3]>;

/// A running simulator. Dropping it stops the server too (without waiting);
/// [`Simulator::shutdown`] stops it gracefully.
pub struct Simulator {
    addr: SocketAddr,
    prefixes: [String; 3],
    registries: Registries,
    jwks: Jwks,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("addr", &self.addr).field("prefixes", &self.prefixes).finish()
    }
}

fn derive_seed(purpose: &str, seed: u64) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"dci-registry-sim ");
    hash.update(purpose.as_bytes());
    hash.update(seed.to_le_bytes());
    hash.finalize().into()
}

impl Simulator {
    /// Loads the records, binds `config.bind` and starts serving on the current
    /// tokio runtime. Record files are read on blocking threads.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        config.validate()?;
        let data_dir = config.data_dir.clone().unwrap_or_else(crate::fixture_dir);
        let data = load_all(&config, data_dir).await?;

        let (keys, verifier) = signing(&config).await?;
        let jwks = keys.jwks.clone();

        let (stop, shutdown) = watch::channel(false);
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        let common = Arc::new(Common {
            tokens: Tokens::new(config.clients.clone(), config.token_lifetime_secs),
            jwks: jwks.clone(),
            shutdown,
            cpu: Arc::new(Semaphore::new(cores)),
        });
        let limits = Limits {
            max_items_per_message: config.max_items_per_message,
            max_page_size: config.max_page_size,
            max_records_per_item: config.max_records_per_item,
        };
        let run = uuid::Uuid::new_v4().simple().to_string();
        let registries: [Arc<Registry>; 3] = RegistryKind::ALL.map(|kind| {
            let settings = config.registry(kind);
            let engine = Engine {
                kind,
                profile: settings.profile,
                data: data[kind.index()].clone(),
                sender_id: settings.sender_id.clone(),
                limits,
                signer: config.sign_responses.then(|| keys.signers[kind.index()].clone()),
                wrong_signer: keys.wrong[kind.index()].clone(),
                verifier: verifier.clone(),
                recent: RecentIds::new(config.remembered_message_ids),
                id_prefix: format!("{kind}-{}", &run[..12]),
                serial: AtomicU64::new(1),
            };
            Arc::new(Registry {
                kind,
                profile: settings.profile,
                engine: Arc::new(engine),
                faults: Faults::new(kind, config.seed, settings.faults.clone()),
                counters: Counters::new(),
                common: common.clone(),
            })
        });
        let registries: Registries = Arc::new(registries);
        let prefixes = RegistryKind::ALL.map(|kind| config.registry(kind).normalised_prefix());
        let app = router(&registries, &prefixes);

        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind { addr: config.bind, source })?;
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        let mut stopping = stop.subscribe();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "registry simulator stopped");
            }
        });
        tracing::info!(%addr, records = ?data.iter().map(|d| d.len()).collect::<Vec<_>>(), "registry simulator listening");
        Ok(Simulator { addr, prefixes, registries, jwks, stop, task: Some(task) })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of one registry, e.g. `http://127.0.0.1:PORT/crvs`; the
    /// endpoints are below it (`/registry/sync/search`, `/oauth2/client/token`, ...).
    pub fn base_url(&self, registry: RegistryKind) -> String {
        format!("http://{}{}", self.addr, self.prefixes[registry.index()])
    }

    /// The counters, as served at `GET /sim/stats`.
    pub fn stats(&self) -> SimStats {
        snapshot(&self.registries)
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.registries.iter().for_each(|registry| registry.counters.reset());
    }

    /// Replaces one registry's faults while running; scripted faults start
    /// afresh and the RNG restarts from the seed. Rates are clamped to 0..=1.
    pub fn set_faults(&self, registry: RegistryKind, faults: FaultConfig) {
        self.registries[registry.index()].faults.set(faults);
    }

    /// The server's public keys, as served at each registry's
    /// `/.well-known/jwks.json`: an Ed25519 key per registry signing strings
    /// (`kid` = `<sender_id>|sim-key-1|ed25519`), one RSA key for those signing
    /// JWS (`kid` its RFC 7638 thumbprint), and for OpenCRVS an `enc` key.
    pub fn server_jwks(&self) -> Jwks {
        self.jwks.clone()
    }

    /// The dialect `registry` speaks.
    pub fn profile(&self, registry: RegistryKind) -> Profile {
        self.registries[registry.index()].profile
    }

    /// The records one registry serves.
    pub fn data(&self, registry: RegistryKind) -> Arc<RegistryData> {
        self.registries[registry.index()].engine.data.clone()
    }

    /// Stops accepting connections, cancels hanging and delayed requests, and
    /// waits for the requests in progress to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The keys the registries sign with, and the verifier of request signatures
/// (when they are checked).
async fn signing(config: &SimConfig) -> Result<(ServerKeys, Option<Arc<RegistryKeys>>), SimError> {
    // RSA keys take a while to make: off the async threads.
    let keys = {
        let (config, seed) = (config.clone(), config.seed);
        tokio::task::spawn_blocking(move || ServerKeys::make(&config, |purpose| derive_seed(purpose, seed)))
            .await
            .map_err(|e| SimError::Config(format!("making the server keys failed: {e}")))??
    };
    if !config.verify_request_signatures {
        return Ok((keys, None));
    }
    let verifier = RegistryKeys::from_jwks(&Jwks { keys: config.client_keys.clone() });
    if verifier.is_empty() {
        return Err(SimError::Config(
            "client_keys holds no usable signing key (kid, and x for Ed25519, n and e for RSA, x and y for EC)".into(),
        ));
    }
    Ok((keys, Some(Arc::new(verifier))))
}

async fn load_all(config: &SimConfig, dir: PathBuf) -> Result<[Arc<RegistryData>; 3], SimError> {
    let mut tasks = Vec::new();
    for kind in RegistryKind::ALL {
        let given = config.registry(kind).data.clone();
        let dir = dir.clone();
        tasks.push(tokio::task::spawn_blocking(move || match given {
            Some(data) if data.kind() == kind => Ok(data),
            Some(data) => Err(SimError::Config(format!("{kind}.data holds {} records", data.kind()))),
            None => RegistryData::from_dir(kind, &dir).map(Arc::new).map_err(SimError::from),
        }));
    }
    let mut loaded = Vec::new();
    for task in tasks {
        let data = task.await.map_err(|e| SimError::Config(format!("loading records failed: {e}")))??;
        loaded.push(data);
    }
    loaded.try_into().map_err(|_| SimError::Config("three registries expected".into()))
}

fn snapshot(registries: &Registries) -> SimStats {
    SimStats {
        crvs: registries[RegistryKind::Crvs.index()].counters.snapshot(),
        ibr: registries[RegistryKind::Ibr.index()].counters.snapshot(),
        dr: registries[RegistryKind::Dr.index()].counters.snapshot(),
    }
}

fn router(registries: &Registries, prefixes: &[String; 3]) -> Router {
    let mut app =
        Router::new().route("/sim/stats", get(stats)).route("/sim/reset", post(reset)).with_state(registries.clone());
    for registry in registries.iter() {
        let mut routes = Router::new()
            .route("/oauth2/client/token", post(token))
            .route("/.well-known/jwks.json", get(jwks))
            .route(registry.profile.search_path(), post(search));
        match registry.kind {
            RegistryKind::Ibr => routes = routes.route("/registry/sync/enrolled", post(enrolled)),
            RegistryKind::Dr => routes = routes.route("/registry/sync/disabled", post(disabled)),
            RegistryKind::Crvs => {}
        }
        let routes = routes
            .layer(middleware::from_fn_with_state(registry.clone(), count_status))
            .layer(middleware::from_fn_with_state(registry.clone(), dialect_errors))
            .with_state(registry.clone());
        app = app.nest(&prefixes[registry.kind.index()], routes);
    }
    app.fallback(not_found).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn error_response(reply: Reply) -> Response {
    json_response(reply.status, reply.body)
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

async fn stats(State(registries): State<Registries>) -> Json<SimStats> {
    Json(snapshot(&registries))
}

async fn reset(State(registries): State<Registries>) -> StatusCode {
    registries.iter().for_each(|registry| registry.counters.reset());
    StatusCode::NO_CONTENT
}

async fn not_found(request: Request) -> Response {
    let message = format!("no such endpoint: {} {}", request.method(), request.uri().path());
    error_response(Reply::error(404, ErrorCode::RequestNotFound, message))
}

async fn count_status(State(registry): State<Arc<Registry>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    registry.counters.status(response.status().as_u16());
    response
}

impl Registry {
    /// Sleeps, unless the simulator stops first; false when it stopped.
    async fn sleep(&self, duration: Duration) -> bool {
        let mut shutdown = self.common.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = shutdown.wait_for(|stop| *stop) => false,
        }
    }

    /// The configured latency; false when the simulator stopped meanwhile.
    async fn delay(&self) -> bool {
        match self.faults.latency() {
            Some(latency) => self.sleep(latency).await,
            None => true,
        }
    }
}

fn stopping() -> Response {
    error_response(Reply::error(503, ErrorCode::ServiceUnavailable, "the simulator is shutting down"))
}

/// A `307 Temporary Redirect` to `location`, empty body ([`Misbehaviour`]).
fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response(),
        Err(_) => {
            let message = format!("misbehaviour location {location:?} is not a header value");
            error_response(Reply::error(500, ErrorCode::ServiceUnavailable, message))
        }
    }
}

/// Error bodies written as the registry's profile writes them (the engine
/// writes the specification's `{"errors": [{code, message}]}`).
async fn dialect_errors(State(registry): State<Arc<Registry>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if registry.profile == Profile::Spdci || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return (parts.status, "the error body could not be read").into_response();
    };
    let spec: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let first = spec.as_ref().and_then(|body| body.get("errors")).and_then(|errors| errors.get(0));
    let Some(first) = first else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let text = |name: &str| first.get(name).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let body = registry.profile.error_body(status.as_u16(), &text("code"), &text("message"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn token(
    State(registry): State<Arc<Registry>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    registry.counters.message(Endpoint::Token);
    if !registry.delay().await {
        return stopping();
    }
    let misbehaviour = registry.faults.misbehaviour();
    match &misbehaviour {
        Some(Misbehaviour::RedirectToken { location }) => return redirect(location),
        Some(Misbehaviour::TokenAnswer { status, body }) => return json_response(*status, body.clone().into_bytes()),
        _ => {}
    }
    // OpenCRVS's gateway takes the credentials in the query string (`routes.ts`).
    let (content_type, body) = match uri.query() {
        Some(query) if body.is_empty() && registry.profile.token_in_query() => {
            (None, Bytes::copy_from_slice(query.as_bytes()))
        }
        _ => (header_text(&headers, header::CONTENT_TYPE), body),
    };
    let request = match read_token_request(content_type, header_text(&headers, header::AUTHORIZATION), &body) {
        Ok(request) => request,
        Err(TokenRequestError::Bad(message)) => {
            return error_response(Reply::error(400, ErrorCode::RequestBad, message));
        }
    };
    let tokens = &registry.common.tokens;
    if !tokens.authenticate(&request.client_id, &request.client_secret) {
        let message = "unknown client_id or wrong client_secret";
        return error_response(Reply::error(401, ErrorCode::RequestUnauthorized, message));
    }
    let answer = TokenResponse {
        access_token: tokens.issue(),
        token_type: "bearer".into(),
        expires_in: Some(ExpiresIn::Seconds(match misbehaviour {
            Some(Misbehaviour::HugeTokenLifetime) => u64::MAX as f64,
            _ => tokens.lifetime_secs() as f64,
        })),
        scope: request.scope,
    };
    let mut response = match (misbehaviour, serde_json::to_value(&answer)) {
        (Some(Misbehaviour::HugeTokenLifetime), Ok(mut value)) => {
            value["expires_in"] = u64::MAX.to_string().into();
            Json(value).into_response()
        }
        (Some(Misbehaviour::TokenLifetime { expires_in }), Ok(mut value)) => {
            value["expires_in"] = expires_in;
            Json(value).into_response()
        }
        _ => Json(answer).into_response(),
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn jwks(State(registry): State<Arc<Registry>>) -> Response {
    registry.counters.message(Endpoint::Jwks);
    if !registry.delay().await {
        return stopping();
    }
    Json(registry.common.jwks.clone()).into_response()
}

async fn search(State(registry): State<Arc<Registry>>, headers: HeaderMap, body: Bytes) -> Response {
    data_message(registry, Endpoint::Search, headers, body).await
}

async fn enrolled(State(registry): State<Arc<Registry>>, headers: HeaderMap, body: Bytes) -> Response {
    data_message(registry, Endpoint::Enrolled, headers, body).await
}

async fn disabled(State(registry): State<Arc<Registry>>, headers: HeaderMap, body: Bytes) -> Response {
    data_message(registry, Endpoint::Disabled, headers, body).await
}

/// The error code an injected HTTP status is reported with.
/// Whether a message's body names `value` as a JSON string.
fn asks_about(body: &[u8], value: &str) -> bool {
    let Ok(quoted) = serde_json::to_vec(value) else { return false };
    !quoted.is_empty() && body.windows(quoted.len()).any(|window| window == quoted.as_slice())
}

fn injected_code(status: u16) -> ErrorCode {
    match status {
        400 => ErrorCode::RequestBad,
        401 => ErrorCode::RequestUnauthorized,
        403 => ErrorCode::RequestForbidden,
        404 => ErrorCode::RequestNotFound,
        408 | 504 => ErrorCode::RequestTimeout,
        429 => ErrorCode::TooManyRequests,
        _ => ErrorCode::ServiceUnavailable,
    }
}

/// A search, enrolled or disabled message: latency, authentication, faults, then the engine.
async fn data_message(registry: Arc<Registry>, endpoint: Endpoint, headers: HeaderMap, body: Bytes) -> Response {
    debug_assert!(endpoint.is_data());
    let counters = &registry.counters;
    counters.message(endpoint);
    if !registry.delay().await {
        return stopping();
    }
    if let Err(problem) = registry.common.tokens.check(header_text(&headers, header::AUTHORIZATION)) {
        let mut response = error_response(Reply::error(401, ErrorCode::RequestUnauthorized, problem.message()));
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let faults = match registry.faults.decide() {
        Action::Serve(faults) => faults,
        Action::Status { status, retry_after_secs } => {
            counters.fault();
            let message = format!("injected fault: HTTP {status}");
            let mut response = error_response(Reply::error(status, injected_code(status), message));
            if matches!(status, 429 | 503)
                && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Action::Hang(duration) => {
            counters.fault();
            if !registry.sleep(duration).await {
                return stopping();
            }
            return error_response(Reply::error(504, ErrorCode::RequestTimeout, "injected hang ended"));
        }
        Action::Malformed => {
            counters.fault();
            return json_response(200, MALFORMED_BODY.to_vec());
        }
    };
    match &faults.misbehaviour {
        Some(Misbehaviour::RedirectSearch { location }) => {
            counters.fault();
            return redirect(location);
        }
        Some(Misbehaviour::DataAnswer { status, body, retry_after }) => {
            counters.fault();
            let mut response = json_response(*status, body.clone().into_bytes());
            if let Some(value) = retry_after.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(Misbehaviour::SlowIdentifier { value, delay_ms })
            if asks_about(&body, value) && !registry.sleep(Duration::from_millis(*delay_ms)).await =>
        {
            return stopping();
        }
        _ => {}
    }
    let Ok(permit) = registry.common.cpu.clone().acquire_owned().await else {
        return stopping();
    };
    let engine = registry.engine.clone();
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut reply = match endpoint {
            Endpoint::Enrolled => engine.enrolled(&body, &faults),
            Endpoint::Disabled => engine.disabled(&body, &faults),
            _ => engine.search(&body, &faults),
        };
        if reply.status == 200
            && let Some(Misbehaviour::HugeBody { bytes }) = faults.misbehaviour
        {
            pad(&mut reply.body, bytes.min(Misbehaviour::MAX_HUGE_BODY));
        }
        reply
    });
    let reply = match work.await {
        Ok(reply) => reply,
        Err(error) => Reply::error(500, ErrorCode::ServiceUnavailable, format!("the registry failed: {error}")),
    };
    counters.items(endpoint, reply.items);
    counters.outcomes(reply.succ, reply.rjct);
    let mut response = json_response(reply.status, reply.body);
    if reply.status == 200 {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
