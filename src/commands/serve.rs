//! `elig serve`: the batch evaluate API for OpenSPP.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use dci_client::SecretSource;
use dci_eligibility::{Engine, EngineConfig};
use dci_registry_sim::SimConfig;
use dci_server::access::{ApiKeyConfig, Scope};
use dci_server::{Config, Server, ServerConfig};

use crate::setup;

/// Serve the HTTP API (POST /v1/evaluate, /v1/diff, /v1/explain, /v1/rules/validate, /v1/rules/export-test, GET /v1/metrics, /v1/samples, /healthz, /readyz, /metrics, /openapi.json) and the playground page (/playground).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig serve --config elig.toml\n  ELIG_API_KEY=dev-key elig serve --simulator      # the built-in simulator with the committed fixture\n\nWith --simulator the registries are the built-in simulator, the API key is read from\n$ELIG_API_KEY and the server listens on 127.0.0.1:8080 (or --bind). Without --config or\n--simulator the server does not start, nor with a config naming no registry."
)]
pub struct ServeArgs {
    /// Deployment configuration: [[registry]], [metrics], [cache], [rules] and [server].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides server.bind).
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
    /// Serve decisions from the built-in registry simulator and its committed fixture data, not
    /// real registries (for trying the API; /readyz and every result say so).
    #[arg(long)]
    simulator: bool,
}

pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let shutdown = super::stop_requested();
    match &args.config {
        Some(_) if args.simulator => {
            return Err(
                setup::UsageError("--config and --simulator name two sources of registries: give one".into()).into()
            );
        }
        None if !args.simulator => {
            return Err(setup::UsageError(
                "no registries: pass --config <file> naming them ([[registry]]), or --simulator to serve the built-in \
                 simulator's fixture data"
                    .into(),
            )
            .into());
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut config = Config::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if let Some(bind) = args.bind {
                config.server.bind = bind;
            }
            if config.engine.registries.is_empty() {
                return Err(setup::UsageError(format!(
                    "{} names no registry ([[registry]]): every decision reading dci.* would rest on nothing",
                    path.display()
                ))
                .into());
            }
            super::tell(format_args!("elig serve: {}; Ctrl-C to stop.", path.display()));
            dci_server::serve(config, shutdown).await?; // logs the address it listens on
        }
        None => {
            if std::env::var_os("ELIG_API_KEY").is_none() {
                anyhow::bail!(
                    "without --config, set ELIG_API_KEY to the API key clients must send (Authorization: Bearer <key>)"
                );
            }
            // The one key of a demonstration may do everything: evaluate, explain, export and see the registries.
            let key = SecretSource::Env("ELIG_API_KEY".into());
            let (running, sim) = serve_fixture(key, &Scope::ALL, args.bind).await?;
            super::tell(format_args!(
                "elig serve: listening on http://{} with the built-in registry simulator (committed fixture) at {}; API key from $ELIG_API_KEY. Ctrl-C to stop.",
                running.local_addr(),
                sim.local_addr()
            ));
            shutdown.await;
            running.shutdown().await;
            sim.shutdown().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The server over the built-in registry simulator with the committed fixture, with one API key.
pub async fn serve_fixture(
    key: SecretSource,
    scopes: &[Scope],
    bind: Option<std::net::SocketAddr>,
) -> Result<(dci_server::RunningServer, dci_registry_sim::Simulator)> {
    let sim = setup::fixture_simulator(SimConfig::default()).await?;
    let engine =
        Engine::from_config(&EngineConfig { registries: setup::simulator_sources(&sim), ..Default::default() })?;
    let key = ApiKeyConfig::new(key, scopes).named("demo");
    let mut server = ServerConfig { api_keys: vec![key], ..ServerConfig::default() };
    if let Some(bind) = bind {
        server.bind = bind;
    }
    Ok((Server::start(engine, server).await?, sim))
}
