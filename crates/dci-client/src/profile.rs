//! A registry entry's defaults from its dialect profile ([`Profile`], with the
//! source each default comes from); every one can be overridden in the entry.

use dci_protocol::signing::JwsForm;
use dci_protocol::{Profile, ProfileSignature};

use crate::config::{DataSource, SigningScheme, TokenEncoding};

/// The scheme our requests are signed with under `profile` when a key is set
/// and no scheme is named: the one the registry signs and verifies with.
pub fn signing_scheme(profile: Profile) -> SigningScheme {
    match profile.signature() {
        ProfileSignature::Ed25519 => SigningScheme::Ed25519,
        ProfileSignature::Jws(JwsForm::Compact) => SigningScheme::Jws,
        ProfileSignature::Jws(JwsForm::Detached) => SigningScheme::JwsDetached,
    }
}

impl DataSource {
    /// Fills what the entry left unset (an empty path, no `id_type_priority`,
    /// no `token_encoding`, no `reg_type`, and, except under `spdci`, a signing
    /// key without a scheme) with its profile's defaults. Idempotent;
    /// [`crate::DciClient::new`] calls it.
    pub fn with_profile_defaults(mut self) -> Self {
        let profile = self.profile;
        let paths = &mut self.paths;
        for (path, default) in [
            (&mut paths.search, profile.search_path()),
            (&mut paths.enrolled, "/registry/sync/enrolled"),
            (&mut paths.disabled, "/registry/sync/disabled"),
            (&mut paths.token, "/oauth2/client/token"),
            (&mut paths.jwks, "/.well-known/jwks.json"),
        ] {
            if path.trim().is_empty() {
                *path = default.to_owned();
            }
        }
        if self.id_type_priority.is_empty() {
            self.id_type_priority = profile.id_types().iter().map(|id| (*id).to_owned()).collect();
        }
        let encoding = if profile.token_in_query() { TokenEncoding::Query } else { TokenEncoding::Form };
        self.token_encoding.get_or_insert(encoding);
        self.reg_type.get_or_insert_with(|| profile.reg_type(self.registry.reg_type()).to_owned());
        let keyed = self.signing.key.is_some() || self.signing.key_file.is_some();
        if self.signing.scheme.is_none() && keyed {
            if profile == Profile::Spdci {
                // The specification names no scheme: a key alone signs nothing, as it always did.
                tracing::warn!(
                    registry = %self.registry,
                    "signing has a key but no scheme: requests are not signed (write scheme = \"ed25519\", \"jws\" or \"jws-detached\")"
                );
            } else {
                self.signing.scheme = Some(signing_scheme(profile));
            }
        }
        self
    }
}
