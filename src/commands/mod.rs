//! One module per subcommand: each parses nothing (clap did) and wires crates.

pub mod audit;
pub mod bench;
pub mod check;
pub mod demo;
pub mod diff;
pub mod eval;
pub mod explain;
pub mod generate;
pub mod playground;
pub mod registries;
pub mod registry;
pub mod rules;
pub mod serve;
pub mod test;

/// How a command writes its report: for people, or as JSON for programs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// For people.
    Text,
    /// JSON.
    Json,
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `kill`, systemd and Kubernetes send to
/// stop a service): a server then stops taking requests and lets those in flight finish.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Writes a line to standard error, ignoring a reader that went away (a
/// closed pipe), where `eprintln!` would panic: a server keeps running, a
/// failing command keeps its exit code.
pub fn tell(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
