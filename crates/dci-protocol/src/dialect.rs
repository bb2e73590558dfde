//! Dialect profiles: what the registries in the wild do differently from the
//! DCI specification, each with the public source it was read from. The
//! client takes its defaults from here and the simulator speaks each one.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::signing::JwsForm;

/// The dialect a registry speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The DCI specification (the `dci-spec` OpenAPI files): `/registry/sync/search`,
    /// form-encoded tokens, errors as `{"errors": [{code, message}]}`.
    #[default]
    Spdci,
    /// OpenCRVS's DCI gateway (`opencrvs/dci-crvs-api`, `packages/http-api/src`):
    /// search at `/registry/sync/search`, the token proxied at
    /// `/oauth2/client/token` with its query string (`routes.ts`); answers
    /// signed with compact RS256 JWS, `kid` the key's thumbprint (`crypto/sign.ts`),
    /// requests verified the same way (`crypto/verify.ts`); errors
    /// `{"error": {"code", "message"}}` (`error.ts`); births searched as
    /// `ocrvs:registry_type:birth` by `NID`, `BRN` or `DRN`
    /// (`packages/dci-opencrvs-bridge/src/dci-to-opencrvs/dci-to-opencrvs.ts`).
    Opencrvs,
    /// OpenG2P's registry partner API: search at `/dci/sync/search` (older
    /// deployments `/dci/registry/sync/search`), detached RS256 JWS over the
    /// canonical JSON of `{header, message}`.
    Openg2p,
    /// OpenSPP2's DCI server (`OpenSPP/OpenSPP2`, `spp_dci_server`): the
    /// registry under `/social/registry` (`models/fastapi_endpoint_dci.py`,
    /// `routers/search.py`), the JWKS at the root (`routers/jwks.py`), Ed25519
    /// signing strings (`routers/search.py`), and FastAPI's `{"detail"}` turned
    /// into `{"message": {"ack_status": "ERR", "error": {"code": "err.<status>",
    /// "message"}}}` by `DCIErrorResponseMiddleware` (`models/fastapi_endpoint_dci.py`).
    Openspp,
}

/// How a profile's registry signs its answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileSignature {
    /// OpenSPP's Ed25519 signing string.
    Ed25519,
    /// A JWS, compact or detached.
    Jws(JwsForm),
}

impl Profile {
    /// Every profile, in documentation order.
    pub const ALL: [Profile; 4] = [Profile::Spdci, Profile::Opencrvs, Profile::Openg2p, Profile::Openspp];

    /// The name written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Spdci => "spdci",
            Profile::Opencrvs => "opencrvs",
            Profile::Openg2p => "openg2p",
            Profile::Openspp => "openspp",
        }
    }

    /// The profile named `name` (any case).
    pub fn parse(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|profile| profile.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The sync search path.
    pub fn search_path(self) -> &'static str {
        match self {
            Profile::Spdci | Profile::Opencrvs => "/registry/sync/search",
            Profile::Openg2p => "/dci/sync/search",
            Profile::Openspp => "/social/registry/sync/search",
        }
    }

    /// Whether the token request travels in the query string.
    pub fn token_in_query(self) -> bool {
        self == Profile::Opencrvs
    }

    /// How the registry signs, and how it expects signed requests.
    pub fn signature(self) -> ProfileSignature {
        match self {
            Profile::Spdci | Profile::Openspp => ProfileSignature::Ed25519,
            Profile::Opencrvs => ProfileSignature::Jws(JwsForm::Compact),
            Profile::Openg2p => ProfileSignature::Jws(JwsForm::Detached),
        }
    }

    /// The `reg_type` searched where the specification says `spec_reg_type`.
    pub fn reg_type(self, spec_reg_type: &'static str) -> &'static str {
        match self {
            Profile::Opencrvs if spec_reg_type == crate::reg_type::CIVIL => "ocrvs:registry_type:birth",
            _ => spec_reg_type,
        }
    }

    /// Identifier types the registry searches by, most preferred first.
    pub fn id_types(self) -> &'static [&'static str] {
        match self {
            Profile::Opencrvs => &["NID", "BRN", "DRN"],
            _ => &["UIN", "DRN", "NATIONAL_ID", "NID", "BRN"],
        }
    }

    /// An HTTP error body as the registry writes it; `code` is the DCI error
    /// code the specification's shape carries.
    pub fn error_body(self, status: u16, code: &str, message: &str) -> Value {
        match self {
            Profile::Spdci | Profile::Openg2p => json!({"errors": [{"code": code, "message": message}]}),
            Profile::Opencrvs => json!({"error": {"code": status, "message": message}}),
            Profile::Openspp => json!({"message": {
                "ack_status": "ERR",
                "timestamp": crate::DciTimestamp::now().to_string(),
                "error": {"code": format!("err.{status}"), "message": message},
            }}),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
