//! `elig`: decides who is eligible for social-protection programmes from CEL
//! rules and DCI registries. This binary only parses arguments and wires the
//! crates under `crates/` together; the logic lives there.

mod commands;
mod files;
mod setup;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: evaluation allocates many small, short-lived values on several
/// threads, where it is markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A test or evaluation failed.
pub const EXIT_FAILURE: u8 = 1;
/// The command line asks for something that cannot be done as given (clap's own code for usage errors).
pub const EXIT_USAGE: u8 = 2;
/// A rule is invalid.
pub const EXIT_INVALID_RULE: u8 = 3;

/// Decides who is eligible for social-protection programmes, from CEL rules and DCI registries.
#[derive(Parser, Debug)]
#[command(name = "elig", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Demo(commands::demo::DemoArgs),
    Check(commands::check::CheckArgs),
    Eval(commands::eval::EvalArgs),
    Diff(commands::diff::DiffArgs),
    Test(commands::test::TestArgs),
    Explain(commands::explain::ExplainArgs),
    Serve(commands::serve::ServeArgs),
    Playground(commands::playground::PlaygroundArgs),
    Registry(commands::registry::RegistryArgs),
    Registries(commands::registries::RegistriesArgs),
    Gen(commands::generate::GenArgs),
    Bench(commands::bench::BenchArgs),
    Audit(commands::audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs (the server's request logs among them) go to stderr; RUST_LOG adjusts them.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,dci_server=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // A log line that cannot be written is dropped: reporting it would write to stderr
        // again, with `eprintln!`, which panics when stderr is a closed pipe.
        .log_internal_errors(false)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Check(args) => commands::check::run(args),
            Command::Audit(args) => commands::audit::run(args),
            Command::Eval(args) => commands::eval::run(args).await,
            Command::Diff(args) => commands::diff::run(args).await,
            Command::Test(args) => commands::test::run(args).await,
            Command::Explain(args) => commands::explain::run(args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Playground(args) => commands::playground::run(args).await,
            Command::Registry(args) => commands::registry::run(args).await,
            Command::Registries(args) => commands::registries::run(args).await,
            Command::Gen(args) => commands::generate::run(args),
            Command::Bench(args) => commands::bench::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            commands::tell(format_args!("error: {error:#}"));
            if error.downcast_ref::<setup::UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}
