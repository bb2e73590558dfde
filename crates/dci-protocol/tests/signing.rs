//! The OpenSPP Ed25519 signature scheme: known answer, round trip, and every way to fail.

use dci_protocol::signing::{
    Ed25519Signer, Ed25519Verifier, SignatureError, SignatureParams, Signer, Verifier, digest, jwk_from_verifying_key,
    verifying_key_from_jwk,
};
use dci_protocol::{ErrorCode, Jwks};
use serde_json::{Value, json};

const CREATED: i64 = 1_768_039_200; // 2026-01-10T10:00:00Z

fn header() -> Value {
    json!({"version": "1.0.0", "message_id": "M-1", "message_ts": "2026-01-10T10:00:00+00:00", "action": "search",
           "sender_id": "elig.example.org", "total_count": 1, "is_msg_encrypted": false})
}

fn message() -> Value {
    json!({"transaction_id": "T-1", "search_request": [{"reference_id": "R-1", "timestamp": "2026-01-10T10:00:00+00:00",
           "search_criteria": {"query_type": "idtype-value", "query": {"type": "UIN", "value": "847951632"}}}]})
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::new("elig.example.org", "key-1", &[7u8; 32])
}

fn verifier() -> Ed25519Verifier {
    let mut verifier = Ed25519Verifier::new();
    verifier.add_key(signer().kid(), signer().verifying_key());
    verifier
}

/// Expected values computed independently with Python's `cryptography` and
/// `json.dumps(..., sort_keys=True, separators=(",", ":"))`.
#[test]
fn known_answer() {
    assert_eq!(digest(&header(), &message()), "2ULeI+D72hpKdjjkCR+FeIj2YSAqeFzCkn3RUyF82O8=");
    let field = signer().sign(&header(), &message(), CREATED).expect("signs");
    assert_eq!(
        field,
        "namespace=\"dci\", kidId=\"elig.example.org|key-1|ed25519\", algorithm=\"ed25519\", created=\"1768039200\", \
         expires=\"1768039500\", headers=\"(created) (expires) digest\", \
         signature=\"rbkmqqK5Kr6+FJDZjNvRKSRuPwQw8cwAY/RTsCc+40VPNk4/jq7tBC1W4nK+IY9WugIGcQudHB4w3N+XVt2DDw==\""
    );
    assert_eq!(signer().jwk().x.as_deref(), Some("6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"));
}

#[test]
fn round_trip_within_the_validity_window() {
    let field = signer().sign(&header(), &message(), CREATED).expect("signs");
    for now in [CREATED - 60, CREATED, CREATED + 300, CREATED + 360] {
        verifier().verify(Some(&field), &header(), &message(), now).unwrap_or_else(|e| panic!("at {now}: {e}"));
    }
    // The digest does not depend on the order keys were written in.
    let reordered: Value = serde_json::from_str(
        r#"{"total_count": 1, "sender_id": "elig.example.org", "is_msg_encrypted": false,
        "action": "search", "message_ts": "2026-01-10T10:00:00+00:00", "message_id": "M-1", "version": "1.0.0"}"#,
    )
    .expect("json");
    verifier().verify(Some(&field), &reordered, &message(), CREATED).expect("order-independent");
}

#[test]
fn tampering_expiry_keys_and_malformed_fields_are_rejected() {
    let field = signer().sign(&header(), &message(), CREATED).expect("signs");
    let check =
        |field: Option<&str>, header: &Value, message: &Value, now: i64| verifier().verify(field, header, message, now);

    let mut tampered_header = header();
    tampered_header["sender_id"] = json!("mallory");
    assert_eq!(check(Some(&field), &tampered_header, &message(), CREATED), Err(SignatureError::Invalid));

    let mut tampered_message = message();
    tampered_message["search_request"][0]["search_criteria"]["query"]["value"] = json!("000000000");
    assert_eq!(check(Some(&field), &header(), &tampered_message, CREATED), Err(SignatureError::Invalid));

    assert!(matches!(check(Some(&field), &header(), &message(), CREATED + 361), Err(SignatureError::Expired { .. })));
    assert!(matches!(
        check(Some(&field), &header(), &message(), CREATED - 61),
        Err(SignatureError::NotYetValid { .. })
    ));

    let impostor = Ed25519Signer::new("elig.example.org", "key-1", &[8u8; 32])
        .sign(&header(), &message(), CREATED)
        .expect("signs");
    assert_eq!(check(Some(&impostor), &header(), &message(), CREATED), Err(SignatureError::Invalid));
    let unknown = Ed25519Signer::new("elig.example.org", "key-2", &[7u8; 32])
        .sign(&header(), &message(), CREATED)
        .expect("signs");
    assert!(matches!(check(Some(&unknown), &header(), &message(), CREATED), Err(SignatureError::UnknownKey(_))));

    assert_eq!(check(None, &header(), &message(), CREATED), Err(SignatureError::Missing));
    assert_eq!(check(Some("  "), &header(), &message(), CREATED), Err(SignatureError::Missing));
    for malformed in [
        "garbage",
        "kidId=\"only-one-part\", created=\"1\", expires=\"2\", signature=\"AA==\"",
        "kidId=\"a|b|ed25519\", created=\"soon\", expires=\"2\", signature=\"AA==\"",
        "kidId=\"a|b|ed25519\", created=\"1\", expires=\"2\"",
        "kidId=\"a|b|ed25519\", created=\"1\", expires=\"2\", headers=\"digest\", signature=\"AA==\"",
        "kidId=\"a|b|ed25519\", created=\"1\", expires=\"2\", signature=\"unterminated",
    ] {
        assert!(matches!(SignatureParams::parse(malformed), Err(SignatureError::Malformed(_))), "{malformed}");
    }
    let short = field.replace("signature=\"rbkm", "signature=\"AAAA").replace("DDw==", "");
    assert!(check(Some(&short), &header(), &message(), CREATED).is_err());

    assert_eq!(SignatureError::Missing.error_code(), ErrorCode::SignatureMissing);
    assert_eq!(SignatureError::Invalid.error_code(), ErrorCode::SignatureInvalid);
}

#[test]
fn kid_is_parsed_and_the_sample_prefix_is_accepted() {
    let field = format!("Signature:  {}", signer().sign(&header(), &message(), CREATED).expect("signs"));
    let params = SignatureParams::parse(&field).expect("parses");
    assert_eq!(
        (params.sender_id.as_str(), params.key_id.as_str(), params.algorithm.as_str()),
        ("elig.example.org", "key-1", "ed25519")
    );
    verifier().verify(Some(&field), &header(), &message(), CREATED).expect("prefix accepted");
}

#[test]
fn public_keys_round_trip_through_jwk_and_jwks() {
    let jwk = jwk_from_verifying_key("s|k|ed25519", &signer().verifying_key());
    assert_eq!((jwk.kty.as_str(), jwk.crv.as_deref(), jwk.alg.as_deref()), ("OKP", Some("Ed25519"), Some("EdDSA")));
    assert_eq!(verifying_key_from_jwk(&jwk).expect("reads"), signer().verifying_key());

    let jwks: Jwks = serde_json::from_value(json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "n": "AQAB", "e": "AQAB"},
        serde_json::to_value(signer().jwk()).expect("json")
    ]}))
    .expect("jwks");
    assert_eq!(jwks.keys[0].other.get("n"), Some(&json!("AQAB")), "unknown members are kept");
    let verifier = Ed25519Verifier::from_jwks(&jwks);
    let field = signer().sign(&header(), &message(), CREATED).expect("signs");
    verifier.verify(Some(&field), &header(), &message(), CREATED).expect("verifies with the JWKS key");
    let mut broken = signer().jwk();
    broken.x = Some("not a key".into());
    assert!(verifying_key_from_jwk(&broken).is_err());
}
