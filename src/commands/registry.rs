//! `elig registry`: run the DCI registry simulator standalone.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use dci_registry_sim::{FaultConfig, Profile, RegistryKind, SimConfig, Simulator};

use crate::setup;

/// Run the DCI registry simulator (CRVS, IBR, DR) until interrupted.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig registry --port 8500\n  elig registry --data bench-out/population --latency-ms 2\n  elig registry --config sim.toml\n  elig registry --profile opencrvs\n\nThen, for instance:\n  curl -s -d 'grant_type=client_credentials&client_id=elig-demo&client_secret=elig-demo-secret' http://127.0.0.1:8500/crvs/oauth2/client/token"
)]
pub struct RegistryArgs {
    /// Simulator configuration (TOML): data, prefixes, clients, token lifetime, faults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory with crvs.ndjson, ibr.ndjson, dr.ndjson (default: the committed fixture).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on [default: the config's `bind`, else 127.0.0.1].
    #[arg(long)]
    bind: Option<std::net::IpAddr>,
    /// Port, 0 for any free port [default: the config's `bind`, else 8500].
    #[arg(long)]
    port: Option<u16>,
    /// Added latency per message, in milliseconds, for every registry.
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long)]
    token_lifetime: Option<u64>,
    /// The dialect every registry speaks: its search path, signatures and
    /// error bodies [default: the config's, per registry, else spdci].
    #[arg(long, value_parser = parse_profile)]
    profile: Option<Profile>,
}

fn parse_profile(name: &str) -> Result<Profile, String> {
    Profile::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Profile::ALL.iter().map(|profile| profile.as_str()).collect();
        format!("unknown profile {name:?}: one of {}", names.join(", "))
    })
}

/// The port without `--port` or a config file.
const DEFAULT_PORT: u16 = 8500;

pub async fn run(args: RegistryArgs) -> Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => SimConfig::from_toml_file(path)?,
        None => SimConfig { bind: (std::net::Ipv4Addr::LOCALHOST, DEFAULT_PORT).into(), ..SimConfig::default() },
    };
    // The flags override the file, address and port each on its own.
    if let Some(address) = args.bind {
        config.bind.set_ip(address);
    }
    if let Some(port) = args.port {
        config.bind.set_port(port);
    }
    if let Some(profile) = args.profile {
        config = config.with_profile(profile);
    }
    if let Some(lifetime) = args.token_lifetime {
        config.token_lifetime_secs = lifetime;
    }
    if let Some(latency) = args.latency_ms {
        for kind in RegistryKind::ALL {
            let faults = FaultConfig { latency_ms: latency, ..config.registry(kind).faults.clone() };
            config = config.with_faults(kind, faults);
        }
    }
    let started = std::time::Instant::now();
    let sim = match (&args.data, &config.data_dir) {
        (Some(dir), _) => {
            config.data_dir = Some(dir.clone());
            Simulator::start(config).await?
        }
        (None, Some(_)) => Simulator::start(config).await?,
        (None, None) => setup::fixture_simulator(config).await?,
    };
    // Written with errors ignored: a closed stdout must not stop the server.
    let mut out = std::io::stdout();
    let loaded = started.elapsed().as_secs_f64();
    let _ = writeln!(out, "DCI registry simulator listening on http://{} (loaded in {loaded:.1} s)", sim.local_addr());
    for kind in RegistryKind::ALL {
        let (url, profile) = (sim.base_url(kind), sim.profile(kind));
        let search = format!("{url}{}", profile.search_path());
        let records = sim.data(kind).len();
        let _ = writeln!(out, "  {:<5} {url}  ({records} records; {profile}, search {search})", kind.to_string());
    }
    let _ = writeln!(out, "  stats  http://{}/sim/stats", sim.local_addr());
    let _ = writeln!(
        out,
        "client id {}, secret {} (unless configured otherwise). Ctrl-C to stop.",
        dci_registry_sim::DEMO_CLIENT_ID,
        dci_registry_sim::DEMO_CLIENT_SECRET
    );
    let _ = out.flush();
    super::stop_requested().await;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
