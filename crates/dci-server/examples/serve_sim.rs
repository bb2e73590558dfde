//! Serves the API over the registry simulator, in one process: for trying the
//! API (curl, `examples/openspp_client.py`) without real registries.
//!
//! ```text
//! cargo run --release -p dci-server --example serve_sim -- [BIND] [DATA_DIR]
//! ```
//!
//! `BIND` defaults to `127.0.0.1:8080`; `DATA_DIR` (a directory written by `elig gen`) to the
//! committed fixture. The API key is `$ELIG_API_KEY`, or `demo-key` when unset. Ctrl-C stops it
//! gracefully.

use dci_client::SecretSource;
use dci_eligibility::{Engine, EngineConfig};
use dci_registry_sim::{SimConfig, Simulator};
use dci_server::access::{ApiKeyConfig, Scope};
use dci_server::{Server, ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned()).parse()?;
    let data_dir = args.next().map(std::path::PathBuf::from);
    let sim = Simulator::start(SimConfig { data_dir, ..SimConfig::default() }).await?;
    let registries = dci_bench::simulator_sources(&sim);
    let engine = Engine::from_config(&EngineConfig { registries, ..Default::default() })?;
    let key = std::env::var("ELIG_API_KEY").unwrap_or_else(|_| "demo-key".to_owned());
    let api_key = ApiKeyConfig::new(SecretSource::Value(key.clone()), &Scope::ALL).named("demo");
    let config = ServerConfig { bind, api_keys: vec![api_key], ..ServerConfig::default() };
    let server = Server::start(engine, config).await?;
    println!(
        "elig API on http://{} (API key {key:?}); registry simulator on {}",
        server.local_addr(),
        sim.local_addr()
    );
    println!("try: curl -s http://{}/v1/metrics -H 'Authorization: Bearer {key}'", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    sim.shutdown().await;
    Ok(())
}
