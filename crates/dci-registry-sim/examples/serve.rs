//! Serves the committed fixture (or a TOML configuration) until Ctrl-C.
//!
//! ```text
//! cargo run -p dci-registry-sim --example serve                 # fixture, ephemeral port
//! cargo run -p dci-registry-sim --example serve -- sim.toml     # bind, data_dir, faults, ...
//! ```

use dci_registry_sim::{RegistryKind, SimConfig, Simulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = match std::env::args().nth(1) {
        Some(path) => SimConfig::from_toml_file(path.as_ref())?,
        None => SimConfig::default(),
    };
    let sim = Simulator::start(config).await?;
    for kind in RegistryKind::ALL {
        println!("{kind:<4} {}  ({} records)", sim.base_url(kind), sim.data(kind).len());
    }
    let crvs = sim.base_url(RegistryKind::Crvs);
    println!(
        "\ntry:\n  TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=elig-demo -d client_secret=elig-demo-secret \\\n    {crvs}/oauth2/client/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' {crvs}/registry/sync/search -d '{{\"header\": {{\"message_id\": \"M-1\", \"message_ts\": \"2026-01-10T10:00:00+00:00\", \"action\": \"search\", \"sender_id\": \"me\", \"total_count\": 1}}, \"message\": {{\"transaction_id\": \"T-1\", \"search_request\": [{{\"reference_id\": \"R-1\", \"timestamp\": \"2026-01-10T10:00:00+00:00\", \"search_criteria\": {{\"query_type\": \"idtype-value\", \"query\": {{\"type\": \"UIN\", \"value\": \"800010000\"}}}}}}]}}}}'\n  curl -s http://{}/sim/stats\n\nCtrl-C to stop.",
        sim.local_addr()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
