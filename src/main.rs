//! `elig`: decides who is eligible for social-protection programmes from CEL
//! rules and DCI registries. This binary only parses arguments and wires the
//! crates under `crates/` together.

use clap::Parser;

/// Decides who is eligible for social-protection programmes, from CEL rules and DCI registries.
#[derive(Parser, Debug)]
#[command(name = "elig", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
