//! Errors of the simulator.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Record data could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The configuration is inconsistent.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
}

/// Why registry records could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// One record is not a readable record of its registry.
    #[error("{file}:{line}: bad {registry} record: {message}")]
    BadRecord {
        /// The file (or `<records>` for records given in memory).
        file: String,
        /// The line (or, in memory, the position counting from 1).
        line: usize,
        /// The registry the record was meant for.
        registry: crate::RegistryKind,
        /// What is wrong.
        message: String,
    },
    /// More records than the simulator can index (2³² − 1).
    #[error("{file}: too many records")]
    TooMany {
        /// The file.
        file: String,
    },
}
