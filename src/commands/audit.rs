//! `elig audit find`: which requests looked a person up, from the audit log and its secret.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use dci_client::SecretSource;

use crate::setup::UsageError;

/// Read the audit of lookups (`[server.audit]` of `elig serve`).
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    Find(FindArgs),
}

/// Find the requests that looked up one person: each audit record naming the identifier, as NDJSON.
#[derive(Args, Debug)]
#[command(
    after_help = "The log holds keyed hashes of identifiers, never identifiers: the secret the server hashed them \
                  under ([server.audit] secret) is needed to find one.\n\nExit code 0 when a record names the \
                  identifier, 1 when none does.\n\nExamples:\n  elig audit find --config elig.toml --identifier \
                  UIN:800020000\n  ELIG_AUDIT_SECRET=... elig audit find --log /var/log/elig/audit.ndjson \
                  --secret-env ELIG_AUDIT_SECRET --identifier NATIONAL_ID:NID-0018-0"
)]
pub struct FindArgs {
    /// The identifier, `TYPE:VALUE` (the type in any case).
    #[arg(long)]
    identifier: String,
    /// The server's configuration: the log file and the secret of its `[server.audit]`.
    #[arg(long, required_unless_present = "log")]
    config: Option<PathBuf>,
    /// The audit log (its rotated files `.1`, `.2`, … are read too); default: the configuration's.
    #[arg(long)]
    log: Option<PathBuf>,
    /// The environment variable holding the secret; default: the configuration's.
    #[arg(long)]
    secret_env: Option<String>,
}

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    match args.command {
        AuditCommand::Find(args) => find(args),
    }
}

fn find(args: FindArgs) -> Result<ExitCode> {
    let Some((kind, value)) = args.identifier.split_once(':').filter(|(k, v)| !k.is_empty() && !v.is_empty()) else {
        return Err(UsageError(format!(
            "--identifier {:?}: write it as TYPE:VALUE, e.g. UIN:800020000",
            args.identifier
        ))
        .into());
    };
    let audit = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let config =
                dci_server::Config::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            config.server.audit
        }
        None => None,
    };
    let log = match (args.log, audit.as_ref().and_then(|a| a.file.clone())) {
        (Some(log), _) | (None, Some(log)) => log,
        (None, None) => bail!("no audit file: the configuration's [server.audit] names no `file` (give --log)"),
    };
    let secret = match (args.secret_env, audit) {
        (Some(name), _) => SecretSource::Env(name),
        (None, Some(audit)) => audit.secret,
        (None, None) => {
            return Err(UsageError("no secret: give --secret-env VAR or --config with [server.audit]".into()).into());
        }
    };
    let secret = secret.resolve("the audit secret").map_err(|e| anyhow::anyhow!(e))?;
    let found = dci_server::audit::find(&log, &secret, kind, value)
        .with_context(|| format!("cannot read the audit log {}", log.display()))?;
    for record in &found {
        println!("{}", serde_json::to_string(record)?);
    }
    super::tell(format_args!(
        "audit records naming {}:{value}: {} (read {} and {} rotated file(s))",
        kind.to_ascii_uppercase(),
        found.len(),
        log.display(),
        dci_server::audit::audit_files(&log).len().saturating_sub(1)
    ));
    Ok(if found.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
