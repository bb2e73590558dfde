//! Binding, serving and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;

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
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(addr = %local_addr, "serving the eligibility API");
        Ok(RunningServer { local_addr, stop: Some(stop), task })
    }
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
