//! DCI responses as a registry may send them: any document, search responses
//! with CRVS, IBR and DR records (both DR shapes), records mapped to facts,
//! and the envelope's signature checked against a registry's key.
#![no_main]

use std::sync::LazyLock;

use dci_protocol::records::{CrvsPerson, DisabilityRecord, IbrBeneficiary, Identified};
use dci_protocol::signing::{Ed25519Signer, Ed25519Verifier, Verifier};
use dci_protocol::{DciDocument, Jwks, ResponseEnvelope, SearchResponse};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static VERIFIER: LazyLock<Ed25519Verifier> = LazyLock::new(|| {
    let signer = Ed25519Signer::from_base64_seed("registry", "key-1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .expect("signer");
    Ed25519Verifier::from_jwks(&Jwks { keys: vec![signer.jwk()] })
});

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<DciDocument>(data);
    if let Ok(response) = serde_json::from_slice::<ResponseEnvelope<SearchResponse<CrvsPerson>>>(data) {
        for item in response.message.search_response {
            for person in item.data.map(|d| d.reg_records).unwrap_or_default() {
                let _ = (person.is_alive(), person.identifiers());
            }
        }
    }
    if let Ok(response) = serde_json::from_slice::<ResponseEnvelope<SearchResponse<IbrBeneficiary>>>(data) {
        for item in response.message.search_response {
            for record in item.data.map(|d| d.reg_records).unwrap_or_default() {
                let _ = (record.enrolments(), record.identifiers());
            }
        }
    }
    if let Ok(response) = serde_json::from_slice::<ResponseEnvelope<SearchResponse<DisabilityRecord>>>(data) {
        for item in response.message.search_response {
            for record in item.data.map(|d| d.reg_records).unwrap_or_default() {
                let _ = (record.facts(), record.identifiers());
            }
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let signature = value.get("signature").and_then(Value::as_str);
        let header = value.get("header").cloned().unwrap_or(Value::Null);
        let message = value.get("message").cloned().unwrap_or(Value::Null);
        let _ = VERIFIER.verify(signature, &header, &message, 1_767_225_600);
    }
});
