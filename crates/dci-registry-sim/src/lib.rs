//! A DCI registry server for tests and benchmarks: one HTTP process serving a
//! CRVS, an IBR and a DR registry over NDJSON record files, plus a synthetic
//! population generator.
//!
//! * [`Simulator::start`] binds one loopback port and serves each registry under
//!   its prefix (`/crvs`, `/ibr`, `/dr`): OAuth2 client-credentials tokens, a JWKS,
//!   signed `sync/search` (idtype-value, predicate, sort, pagination), IBR
//!   `sync/enrolled` and DR `sync/disabled`;
//! * each registry speaks a dialect [`Profile`] (`spdci`, `opencrvs`, `openg2p`,
//!   `openspp`): its search path, its signatures (Ed25519 signing strings,
//!   compact or detached RS256 JWS) and its error bodies;
//! * [`FaultConfig`] injects latency, HTTP errors, hangs, malformed bodies,
//!   rejected items and bad signatures, deterministically by seed, and a
//!   [`Misbehaviour`] makes a hostile registry that lies in signed answers,
//!   redirects or sends huge bodies;
//! * [`SimStats`] counts messages, items and HTTP statuses (also `GET /sim/stats`);
//! * [`population::generate`] writes a beneficiary list and matching registry
//!   files of any size, deterministically by seed.
//!
//! It speaks the protocol through `dci-protocol` only, never through the DCI
//! client crates, so that a client bug and a server bug cannot cancel out.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dci_registry_sim::SimError> {
//! use dci_registry_sim::{RegistryKind, SimConfig, Simulator};
//!
//! let sim = Simulator::start(SimConfig::default()).await?; // the committed fixture, ephemeral port
//! println!("CRVS at {}", sim.base_url(RegistryKind::Crvs));
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod auth;
mod config;
mod data;
mod engine;
mod error;
mod faults;
mod fixture;
mod keys;
mod kind;
mod misbehaviour;
pub mod population;
mod predicate;
mod server;
mod stats;

pub use config::{
    ClientCredentials, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FaultConfig, KeySeed, Misbehaviour, RegistryConfig,
    SimConfig,
};
pub use data::RegistryData;
pub use dci_protocol::Profile;
pub use error::{LoadError, SimError};
pub use fixture::{FixturePerson, fixture_beneficiaries, fixture_dir, fixture_persons, markdown_table};
pub use kind::RegistryKind;
pub use server::Simulator;
pub use stats::{Counter, EndpointStats, ItemOutcomes, RegistryStats, SimStats};
