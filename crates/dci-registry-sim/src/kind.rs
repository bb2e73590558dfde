//! The three registries the simulator serves.

use std::fmt;

use dci_protocol::{record_type, reg_type};
use serde::{Deserialize, Serialize};

/// One of the registries served: civil registration (CRVS), integrated
/// beneficiary registry (IBR) or disability registry (DR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    /// Civil registration and vital statistics.
    Crvs,
    /// Integrated beneficiary registry.
    Ibr,
    /// Disability registry.
    Dr,
}

impl RegistryKind {
    /// All three, in the order CRVS, IBR, DR.
    pub const ALL: [RegistryKind; 3] = [RegistryKind::Crvs, RegistryKind::Ibr, RegistryKind::Dr];

    /// `crvs`, `ibr` or `dr`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryKind::Crvs => "crvs",
            RegistryKind::Ibr => "ibr",
            RegistryKind::Dr => "dr",
        }
    }

    /// The default URL prefix: `/crvs`, `/ibr`, `/dr`.
    pub fn default_prefix(self) -> &'static str {
        match self {
            RegistryKind::Crvs => "/crvs",
            RegistryKind::Ibr => "/ibr",
            RegistryKind::Dr => "/dr",
        }
    }

    /// The record file name in a data directory: `crvs.ndjson`, ...
    pub fn file_name(self) -> &'static str {
        match self {
            RegistryKind::Crvs => "crvs.ndjson",
            RegistryKind::Ibr => "ibr.ndjson",
            RegistryKind::Dr => "dr.ndjson",
        }
    }

    /// The DCI `reg_type`.
    pub fn reg_type(self) -> &'static str {
        match self {
            RegistryKind::Crvs => reg_type::CIVIL,
            RegistryKind::Ibr => reg_type::IBR,
            RegistryKind::Dr => reg_type::DR,
        }
    }

    /// The DCI `reg_record_type` of the records served.
    pub fn record_type(self) -> &'static str {
        match self {
            RegistryKind::Crvs => record_type::PERSON,
            RegistryKind::Ibr => record_type::BENEFICIARY,
            RegistryKind::Dr => record_type::DISABLED_PERSON,
        }
    }

    /// The default sender id the registry signs as (`crvs.registry-sim`, ...).
    pub fn default_sender_id(self) -> &'static str {
        match self {
            RegistryKind::Crvs => "crvs.registry-sim",
            RegistryKind::Ibr => "ibr.registry-sim",
            RegistryKind::Dr => "dr.registry-sim",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            RegistryKind::Crvs => 0,
            RegistryKind::Ibr => 1,
            RegistryKind::Dr => 2,
        }
    }
}

impl fmt::Display for RegistryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
