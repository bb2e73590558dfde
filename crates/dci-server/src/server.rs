//! Binding, serving and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dci_eligibility::Engine;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, ServerConfig};
use crate::error::ServerError;
use crate::routes::router;
use crate::state::AppState;

/// Starts servers.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Builds the state, binds `config.bind` and serves in a spawned task. Port 0 picks a free
    /// port: see [`RunningServer::local_addr`].
    pub async fn start(engine: Engine, config: ServerConfig) -> Result<RunningServer, ServerError> {
        let state = AppState::new(engine, &config)?;
        let listener =
            TcpListener::bind(config.bind).await.map_err(|source| ServerError::Bind { addr: config.bind, source })?;
        let local_addr = listener.local_addr()?;
        for key in state.keys() {
            let scopes: Vec<&str> = key.caller.scopes.iter().map(|scope| scope.as_str()).collect();
            tracing::info!(key = %key.caller.name, scopes = %scopes.join(","), identifiers_per_hour = key.caller.identifiers_per_hour, "API key");
        }
        tracing::info!("{}", state.audit().describe());
        let (stop, stopped) = oneshot::channel::<()>();
        let connections = Connections::of(&config.limits);
        let app = router(state);
        let task = tokio::spawn(accept(listener, app, connections, stopped));
        tracing::info!(addr = %local_addr, "serving the eligibility API");
        Ok(RunningServer { local_addr, stop: Some(stop), task })
    }
}

/// How connections are served: bounded in number, with a deadline for the
/// request head.
#[derive(Clone, Copy, Debug)]
struct Connections {
    max_open: usize,
    header_read_timeout: Duration,
    max_buffer: usize,
}

impl Connections {
    fn of(limits: &crate::config::ServerLimits) -> Self {
        Connections {
            max_open: limits.max_connections,
            header_read_timeout: Duration::from_secs(limits.header_read_timeout_secs),
            // Room for headers up to `max_header_bytes` (answered by the JSON 431 of the
            // `limits` layer) and a request line; past this hyper answers 431 itself.
            max_buffer: limits.max_header_bytes.saturating_mul(2).max(64 * 1024),
        }
    }
}

/// Accepts connections until `stopped`, then waits for those open to finish.
/// A connection past `max_open` is closed at once; one whose request head does
/// not arrive within `header_read_timeout` is closed (slow clients cannot hold
/// connections open for ever).
async fn accept(
    listener: TcpListener,
    app: axum::Router,
    limits: Connections,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_open));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_buffer);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(max = limits.max_open, "too many open connections: one refused");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let stream = hyper_util::rt::TokioIo::new(crate::parse_errors::JsonParseErrors::new(stream));
        let connection = graceful.watch(http.serve_connection(stream, service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A server running in a task. Dropping it starts a graceful shutdown without waiting for it.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and returns when the requests in flight (streamed
    /// responses included) have finished.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => tracing::info!("server stopped"),
            Ok(Err(error)) => tracing::error!(%error, "server stopped with an error"),
            Err(error) => tracing::error!(%error, "server task failed"),
        }
    }
}

/// What `elig serve` runs: builds the engine from `config`, serves on `config.server.bind`
/// until `shutdown` completes (e.g. Ctrl-C), then shuts down gracefully. Rule limits are the
/// stricter of `[server.limits]` and `[rules]`.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
    let engine = Engine::from_config(&config.engine)?;
    let running = Server::start(engine, config.server).await?;
    shutdown.await;
    tracing::info!("shutting down: finishing the requests in flight");
    running.shutdown().await;
    Ok(())
}
