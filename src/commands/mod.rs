//! One module per subcommand: each parses nothing (clap did) and wires crates.

pub mod bench;
pub mod check;
pub mod demo;
pub mod diff;
pub mod eval;
pub mod explain;
pub mod generate;
pub mod playground;
pub mod registry;
pub mod rules;
pub mod serve;
pub mod test;
