//! `elig playground`: the rule authors' page on the built-in registry
//! simulator and the committed fixture, as `demo` uses them.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use dci_client::SecretSource;

use dci_server::access::Scope;

use crate::commands::serve::serve_fixture;
use crate::setup::UsageError;

/// Open the playground: write a rule, see its errors as you type, run it on the sample households,
/// see why each decision came out as it did, and compare it with another rule. Serves the page and
/// the API on the built-in registry simulator with the committed fixture, and prints the URL.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig playground                         # http://127.0.0.1:8080/playground, a new API key printed\n  ELIG_API_KEY=dev-key elig playground --bind 127.0.0.1:9000\n  elig playground --scopes evaluate       # the page as a service key sees it: outcomes only\n\nThe page asks for the API key once per browser tab and never puts it in a URL, and shows only\nwhat the key may do."
)]
pub struct PlaygroundArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// What the printed key may do: evaluate, explain, export, admin (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "evaluate,explain,export,admin")]
    scopes: Vec<String>,
}

pub async fn run(args: PlaygroundArgs) -> Result<ExitCode> {
    // The key the page asks for: $ELIG_API_KEY, or a new random one for this run.
    let (key, told) = match std::env::var("ELIG_API_KEY") {
        Ok(key) if !key.trim().is_empty() => (key, "from $ELIG_API_KEY".to_owned()),
        _ => {
            let key = uuid::Uuid::new_v4().simple().to_string();
            let told = format!("{key} (made for this run; set ELIG_API_KEY to choose one)");
            (key, told)
        }
    };
    let scopes = args
        .scopes
        .iter()
        .map(|name| {
            serde_json::from_value::<Scope>(serde_json::Value::String(name.trim().to_owned())).map_err(|_| {
                UsageError(format!("--scopes: {name:?} is not a scope (evaluate, explain, export, admin)"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (running, sim) = serve_fixture(SecretSource::Value(key), &scopes, Some(args.bind)).await?;
    // Written without println!: a reader that goes away (a closed pipe) must not stop the server.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "elig playground: open http://{}/playground", running.local_addr());
    let _ = writeln!(out, "API key: {told}");
    let _ = out.flush();
    super::tell(format_args!(
        "registries: the built-in simulator with the committed fixture at {}. Ctrl-C to stop.",
        sim.local_addr()
    ));
    super::stop_requested().await;
    running.shutdown().await;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
