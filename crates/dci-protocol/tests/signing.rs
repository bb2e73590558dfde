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

/// JWS, compact (OpenCRVS) and detached (OpenG2P), with keys made by `openssl`.
mod jws {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use dci_protocol::signing::{JwsForm, JwsSigner, RegistryKeys, SignatureError, Signer, Verifier};
    use dci_protocol::{Jwk, Jwks};
    use serde_json::{Value, json};
    use sha2::Digest as _;

    use super::{CREATED, header, message};

    const CASES: [(&str, Option<&str>, &str); 4] =
        [("RSA", None, "RS256"), ("RSA", Some("PS256"), "PS256"), ("EC", None, "ES256"), ("ED25519", None, "EdDSA")];

    fn keys_of(jwks: Vec<Jwk>) -> RegistryKeys {
        RegistryKeys::from_jwks(&Jwks { keys: jwks })
    }

    fn part(jws: &str, index: usize) -> Value {
        let text = jws.split('.').nth(index).expect("a part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
    }

    #[test]
    fn each_algorithm_and_form_verifies_and_refuses_a_changed_message() {
        for (kind, wanted, alg) in CASES {
            let Some(pem) = test_services::openssl_private_key(kind) else { return };
            for form in [JwsForm::Compact, JwsForm::Detached] {
                let signer = JwsSigner::from_pem(form, &pem, wanted, Some("key-1")).expect("a signer");
                let jws = signer.sign(&header(), &message(), CREATED).expect("signs");
                assert_eq!(part(&jws, 0), json!({"alg": alg, "kid": "key-1"}), "{alg} {form:?}");
                assert_eq!(jws.split('.').nth(1).is_some_and(str::is_empty), form == JwsForm::Detached);
                let keys = keys_of(vec![signer.public_jwk()]);
                assert_eq!(keys.verify(Some(&jws), &header(), &message(), CREATED), Ok(()), "{alg} {form:?}");
                let mut changed = message();
                changed["search_request"][0]["reference_id"] = json!("R-2");
                assert_eq!(keys.verify(Some(&jws), &header(), &changed, CREATED), Err(SignatureError::Invalid));
                let other = test_services::openssl_private_key(kind).expect("a second key");
                let rekeyed = JwsSigner::from_pem(form, &other, wanted, Some("key-1")).expect("a signer");
                let forged = rekeyed.sign(&header(), &message(), CREATED).expect("signs");
                assert_eq!(keys.verify(Some(&forged), &header(), &message(), CREATED), Err(SignatureError::Invalid));
                assert_eq!(keys.verify(None, &header(), &message(), CREATED), Err(SignatureError::Missing));
            }
        }
    }

    #[test]
    fn the_compact_payload_is_the_answer_and_the_default_kid_its_rfc7638_thumbprint() {
        let Some(pem) = test_services::openssl_private_key("RSA") else { return };
        let signer = JwsSigner::from_pem(JwsForm::Compact, &pem, None, None).expect("a signer");
        let jws = signer.sign(&header(), &message(), CREATED).expect("signs");
        assert_eq!(part(&jws, 1), json!({"header": header(), "message": message()}));
        let jwk = signer.public_jwk();
        let (n, e) = (jwk.other["n"].as_str().expect("n"), jwk.other["e"].as_str().expect("e"));
        let members = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let thumbprint = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(members.as_bytes()));
        assert_eq!(signer.kid(), thumbprint);
        assert_eq!(jwk.kid.as_deref(), Some(&thumbprint[..]));
        assert_eq!((jwk.alg.as_deref(), jwk.key_use.as_deref()), (Some("RS256"), Some("sig")));
        // A payload that is another answer is refused even though the signature over it is good.
        let other = JwsSigner::from_pem(JwsForm::Compact, &pem, None, None).expect("a signer");
        let mut elsewhere = header();
        elsewhere["message_id"] = json!("M-2");
        let replayed = other.sign(&elsewhere, &message(), CREATED).expect("signs");
        let keys = keys_of(vec![jwk]);
        assert_eq!(keys.verify(Some(&replayed), &header(), &message(), CREATED), Err(SignatureError::Invalid));
    }

    /// The detached payload is the canonical JSON, so key order on the wire does not matter,
    /// and a signature made by `openssl dgst` over our signing input verifies.
    #[test]
    fn a_detached_signature_made_by_openssl_verifies() {
        let Some(pem) = test_services::openssl_private_key("RSA") else { return };
        let signer = JwsSigner::from_pem(JwsForm::Detached, &pem, None, Some("g2p")).expect("a signer");
        let protected = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"g2p"}"#);
        let canonical = dci_protocol::signing::canonical_json(&json!({"message": message(), "header": header()}));
        let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(canonical));
        let dir = tempfile::tempdir().expect("a private folder");
        std::fs::write(dir.path().join("key.pem"), &pem).expect("the key");
        std::fs::write(dir.path().join("input"), &input).expect("the input");
        let output = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-sign", "key.pem", "input"])
            .current_dir(dir.path())
            .output()
            .expect("openssl runs");
        assert!(output.status.success());
        let jws = format!("{protected}..{}", URL_SAFE_NO_PAD.encode(output.stdout));
        let keys = keys_of(vec![signer.public_jwk()]);
        assert_eq!(keys.verify(Some(&jws), &header(), &message(), CREATED), Ok(()));
        assert_eq!(signer.sign(&header(), &message(), CREATED).expect("signs"), jws, "RS256 is deterministic");
    }

    /// Keys that are not what they claim are never used: an Ed25519 key of
    /// the wrong length, an EC key off P-256; an encryption key under the
    /// signing kid does not displace the signing key.
    #[test]
    fn malformed_keys_in_a_jwks_are_skipped_not_trusted() {
        let Some(pem) = test_services::openssl_private_key("ED25519") else { return };
        let signer = JwsSigner::from_pem(JwsForm::Compact, &pem, None, Some("k")).expect("a signer");
        let jws = signer.sign(&header(), &message(), CREATED).expect("signs");
        let mut short = signer.public_jwk();
        short.x = Some("AAAA".into());
        let keys = keys_of(vec![short]);
        assert!(keys.is_empty());
        assert_eq!(
            keys.verify(Some(&jws), &header(), &message(), CREATED),
            Err(SignatureError::UnknownKey("k".into()))
        );
        let mut encryption_first = signer.public_jwk();
        encryption_first.key_use = None;
        encryption_first.alg = Some("RSA-OAEP-256".into());
        let keys = keys_of(vec![encryption_first, signer.public_jwk()]);
        assert_eq!(keys.verify(Some(&jws), &header(), &message(), CREATED), Ok(()), "the signing key is kept");
        let mut other_curve = signer.public_jwk();
        other_curve.kty = "EC".into();
        other_curve.crv = Some("P-384".into());
        assert!(keys_of(vec![other_curve]).is_empty());
    }

    #[test]
    fn keys_are_chosen_by_kid_use_and_algorithm() {
        let Some(pem) = test_services::openssl_private_key("RSA") else { return };
        let signer = JwsSigner::from_pem(JwsForm::Compact, &pem, Some("PS256"), Some("k")).expect("a signer");
        let jws = signer.sign(&header(), &message(), CREATED).expect("signs");
        let verify = |jwk: Jwk| keys_of(vec![jwk]).verify(Some(&jws), &header(), &message(), CREATED);
        let mut encryption = signer.public_jwk();
        encryption.key_use = Some("enc".into());
        assert_eq!(verify(encryption), Err(SignatureError::UnknownKey("k".into())), "use: enc is no signing key");
        let mut renamed = signer.public_jwk();
        renamed.kid = Some("other".into());
        assert_eq!(verify(renamed), Err(SignatureError::UnknownKey("k".into())));
        let mut other_alg = signer.public_jwk();
        other_alg.alg = Some("RS256".into());
        assert!(matches!(verify(other_alg), Err(SignatureError::InvalidKey(_))), "alg must match the key");
        let keys = keys_of(vec![signer.public_jwk()]);
        for alg in ["none", "HS256"] {
            let protected = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
            let rest = jws.split_once('.').expect("parts").1;
            let result = keys.verify(Some(&format!("{protected}.{rest}")), &header(), &message(), CREATED);
            assert_eq!(result, Err(SignatureError::UnsupportedAlgorithm(alg.into())));
        }
        assert!(matches!(keys.verify(Some("a.b"), &header(), &message(), CREATED), Err(SignatureError::Malformed(_))));
        let later = CREATED + 3_600;
        assert!(matches!(keys.verify(Some(&jws), &header(), &message(), later), Err(SignatureError::Expired { .. })));
        let earlier = CREATED - 3_600;
        let result = keys.verify(Some(&jws), &header(), &message(), earlier);
        assert!(matches!(result, Err(SignatureError::NotYetValid { .. })), "{result:?}");
        assert!(
            JwsSigner::from_pem(JwsForm::Compact, &pem, Some("ES256"), None).is_err(),
            "an RSA key is no ES256 key"
        );
        assert!(JwsSigner::from_pem(JwsForm::Compact, b"not a key", None, None).is_err());
        assert!(!format!("{signer:?}").contains("PRIVATE"), "Debug never shows the key");
    }
}
