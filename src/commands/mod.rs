//! One module per subcommand: each parses nothing (clap did) and wires crates.

pub mod check;
pub mod test;
