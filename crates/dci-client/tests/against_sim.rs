//! The client against the registry simulator over loopback HTTP: batching,
//! tokens, retries, timeouts, faults, signatures, errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dci_client::{ClientError, DataSource, DciClient, ErrorKind, Found, RegistryType, SecretSource};
use dci_protocol::{PredicateItem, Query, SearchCriteria, attribute};
use dci_registry_sim::{FaultConfig, Misbehaviour, RegistryData, RegistryKind, SimConfig, Simulator};
use serde_json::{Value, json};

fn person(uin: usize) -> Value {
    json!({
        "identifier": [{"identifier_type": "UIN", "identifier_value": format!("U{uin:05}")}],
        "name": {"given_name": "Person", "surname": format!("{uin}")},
        "sex": if uin.is_multiple_of(2) { "female" } else { "male" },
        "birth_date": format!("19{:02}-01-15", 40 + uin % 60),
    })
}

async fn simulator(people: usize, configure: impl FnOnce(SimConfig) -> SimConfig) -> Simulator {
    let records = (0..people).map(person).collect();
    let data = RegistryData::from_records(RegistryKind::Crvs, records).expect("records load");
    let config = configure(
        SimConfig::default()
            .with_data(data)
            .with_data(RegistryData::empty(RegistryKind::Ibr))
            .with_data(RegistryData::empty(RegistryKind::Dr)),
    );
    Simulator::start(config).await.expect("simulator starts")
}

fn source(sim: &Simulator) -> DataSource {
    let mut source = DataSource::new(
        RegistryType::Crvs,
        sim.base_url(RegistryKind::Crvs),
        "elig-demo",
        SecretSource::Value("elig-demo-secret".into()),
    );
    source.retry.initial_backoff_ms = 10;
    source.retry.max_backoff_ms = 50;
    source
}

fn by_uin(uin: usize) -> SearchCriteria {
    SearchCriteria::new(Query::id("UIN", format!("U{uin:05}")))
}

#[tokio::test]
async fn a_thousand_lookups_in_batches_of_a_hundred_make_ten_messages() {
    let sim = simulator(1000, |c| c).await;
    let client = DciClient::new(source(&sim)).expect("client");
    let results: Vec<Result<Found<Value>, ClientError>> = client.search_many((0..1000).map(by_uin).collect()).await;
    assert_eq!(results.len(), 1000);
    for (uin, result) in results.iter().enumerate() {
        let found = result.as_ref().expect("found");
        assert_eq!(found.records.len(), 1);
        assert_eq!(
            found.records[0]["identifier"][0]["identifier_value"],
            format!("U{uin:05}"),
            "answers are in input order"
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.crvs.endpoints.search.messages, 10);
    assert_eq!(stats.crvs.endpoints.search.items, 1000);
    assert_eq!(client.stats().messages, 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hundred_concurrent_first_calls_make_one_token_request() {
    let sim = simulator(10, |c| c).await;
    let client = DciClient::new(source(&sim)).expect("client");
    let calls = (0..100).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.search::<Value>(by_uin(i % 10)).await })
    });
    for call in calls {
        call.await.expect("task").expect("search");
    }
    assert_eq!(sim.stats().crvs.endpoints.token.messages, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_replaced_transparently() {
    let sim = simulator(10, |mut c| {
        c.token_lifetime_secs = 1;
        c
    })
    .await;
    let client = DciClient::new(source(&sim)).expect("client");
    client.search::<Value>(by_uin(1)).await.expect("first");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    client.search::<Value>(by_uin(2)).await.expect("after expiry");
    assert_eq!(sim.stats().crvs.endpoints.token.messages, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_error_that_never_shows_the_secret() {
    let sim = simulator(1, |c| c).await;
    let secret = "s3cr3t-that-must-not-leak";
    let mut wrong = source(&sim);
    wrong.client_secret = SecretSource::Value(secret.into());
    let client = DciClient::new(wrong.clone()).expect("client");
    let error = client.search::<Value>(by_uin(0)).await.expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Auth);
    for text in [error.to_string(), format!("{error:?}"), format!("{wrong:?}"), format!("{client:?}")] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn transient_failures_are_retried_and_retry_after_is_honoured() {
    let sim = simulator(5, |c| c).await;
    let client = DciClient::new(source(&sim)).expect("client");
    sim.set_faults(
        RegistryKind::Crvs,
        FaultConfig { fail_next: vec![500, 503], retry_after_secs: 1, ..Default::default() },
    );
    let started = Instant::now();
    let found: Found<Value> = client.search(by_uin(3)).await.expect("retried until success");
    assert_eq!(found.records.len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(1), "the 503's Retry-After of 1 s is waited for");
    assert_eq!(client.stats().retries, 2);
    let stats = sim.stats();
    assert_eq!(stats.crvs.http_status.get(&500), Some(&1));
    assert_eq!(stats.crvs.http_status.get(&503), Some(&1));

    sim.set_faults(RegistryKind::Crvs, FaultConfig { fail_next: vec![429], retry_after_secs: 1, ..Default::default() });
    let started = Instant::now();
    client.search::<Value>(by_uin(3)).await.expect("after 429");
    assert!(started.elapsed() >= Duration::from_secs(1));

    // 4xx other than 401/429 is not retried
    sim.set_faults(RegistryKind::Crvs, FaultConfig { fail_next: vec![400], ..Default::default() });
    let error = client.search::<Value>(by_uin(3)).await.expect_err("400 is final");
    assert!(matches!(error, ClientError::Http { status: 400, .. }), "{error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hanging_registry_times_out_within_the_deadline() {
    let sim = simulator(5, |c| c).await;
    let mut source = source(&sim);
    source.timeouts.request_ms = 200;
    source.timeouts.call_deadline_ms = 700;
    let client = DciClient::new(source).expect("client");
    client.search::<Value>(by_uin(1)).await.expect("warm token");
    sim.set_faults(RegistryKind::Crvs, FaultConfig { hang_rate: 1.0, ..Default::default() });
    let started = Instant::now();
    let error = client.search::<Value>(by_uin(1)).await.expect_err("hangs");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by the call deadline, took {:?}", started.elapsed());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_malformed_body_is_a_protocol_error() {
    let sim = simulator(5, |c| c).await;
    let client = DciClient::new(source(&sim)).expect("client");
    sim.set_faults(RegistryKind::Crvs, FaultConfig { malformed_rate: 1.0, ..Default::default() });
    let error = client.search::<Value>(by_uin(1)).await.expect_err("malformed");
    assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
    assert!(error.to_string().contains("crvs"), "names the registry: {error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rejected_item_fails_only_itself() {
    let sim = simulator(5, |c| c).await;
    let client = DciClient::new(source(&sim)).expect("client");
    let bad = SearchCriteria::new(Query::Expression {
        language: "ns:org:QueryType:NoSql".into(),
        value: json!({"expression": {}}),
    });
    let results = client.search_many::<Value>(vec![by_uin(1), bad, by_uin(2)]).await;
    assert!(results[0].is_ok() && results[2].is_ok());
    match &results[1] {
        Err(ClientError::Rejected { code, .. }) => assert_eq!(code.as_str(), "rjct.search_criteria.invalid"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn response_signatures_are_verified_against_the_jwks() {
    let sim = simulator(5, |c| c).await;
    let mut verifying = source(&sim);
    verifying.verify_responses = true;
    let client = DciClient::new(verifying).expect("client");
    client.search::<Value>(by_uin(1)).await.expect("a good signature verifies");
    sim.set_faults(RegistryKind::Crvs, FaultConfig { bad_signature_rate: 1.0, ..Default::default() });
    let error = client.search::<Value>(by_uin(1)).await.expect_err("a bad signature is refused");
    assert_eq!(error.kind(), ErrorKind::Signature, "{error}");
    sim.shutdown().await;
}

#[tokio::test]
async fn pages_are_followed_and_the_connection_test_passes() {
    let sim = simulator(120, |c| c).await;
    let client = DciClient::new(source(&sim)).expect("client");
    let born_1940s = SearchCriteria::new(Query::Predicate(vec![PredicateItem::and(
        attribute("birth_date").ge("1940-01-01"),
        attribute("birth_date").le("1949-12-31"),
    )]));
    let records: Vec<Value> = client.search_all_pages(born_1940s, 7).await.expect("all pages");
    assert_eq!(records.len(), 20, "uin % 60 in 0..10 → 1940s, twice over 120 people");
    let report = client.check().await;
    assert!(report.passed(), "{report:#?}");

    let mut capped = source(&sim);
    capped.max_pages = 2;
    let capped = DciClient::new(capped).expect("client");
    let all =
        SearchCriteria::new(Query::Predicate(vec![PredicateItem::single(attribute("birth_date").ge("1900-01-01"))]));
    let error = capped.search_all_pages::<Value>(all, 10).await.expect_err("more than two pages");
    assert!(matches!(error, ClientError::TooManyPages { max_pages: 2, .. }));
    sim.shutdown().await;
}

/// Requests the client writes validate against the official request schemas;
/// every search carries the configured purpose (`authorize`) and consent reference (`consent`).
#[tokio::test]
async fn requests_validate_against_the_openapi_files() {
    let Some(spec) = dci_conformance::Spec::load() else { return };
    let captured: Arc<std::sync::Mutex<Vec<(String, Value)>>> = Arc::default();
    let sink = captured.clone();
    let app = axum::Router::new()
        .route(
            "/oauth2/client/token",
            axum::routing::post(|| async { axum::Json(json!({"access_token": "t", "token_type": "bearer", "expires_in": 60})) }),
        )
        .fallback(move |uri: axum::http::Uri, axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push((uri.path().to_owned(), body.clone()));
                let header = json!({"message_id": "x", "message_ts": "2026-01-10T10:00:00+00:00", "action": "on-search", "status": "succ"});
                let message = if uri.path().ends_with("enrolled") {
                    json!({"transaction_id": body["message"]["transaction_id"], "correlation_id": "c", "enrolled_response": [{"reference_id": "t", "timestamp": "2026-01-10T10:00:00+00:00", "status": "succ", "enrolled_status": "yes"}]})
                } else if uri.path().ends_with("disabled") {
                    json!({"transaction_id": body["message"]["transaction_id"], "correlation_id": "c", "disabled_response": [{"reference_id": "t", "timestamp": "2026-01-10T10:00:00+00:00", "status": "succ", "disabled_status": "no"}]})
                } else {
                    let items: Vec<Value> = body["message"]["search_request"].as_array().map(|items| items.iter().map(|i| json!({"reference_id": i["reference_id"], "status": "succ"})).collect()).unwrap_or_default();
                    json!({"transaction_id": "t", "correlation_id": "c", "search_response": items})
                };
                axum::Json(json!({"header": header, "message": message}))
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut source =
        DataSource::new(RegistryType::Ibr, format!("http://{address}"), "c", SecretSource::Value("s".into()));
    source.signing = dci_client::SigningConfig {
        scheme: Some(dci_client::SigningScheme::Ed25519),
        key_id: "k1".into(),
        key: Some(SecretSource::Value("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".into())),
        ..Default::default()
    };
    source.purpose = Some(dci_client::SearchPurpose {
        text: "Old Age Pension: eligibility check".into(),
        code: Some("OAP-ELIGIBILITY".into()),
        ref_uri: Some("https://social.example.gov/purposes".into()),
        consent_ref: Some("https://social.example.gov/legal/oap-act#s12".into()),
    });
    let client = DciClient::new(source).expect("client");
    client
        .search_many::<Value>(vec![
            by_uin(1),
            SearchCriteria::new(Query::Predicate(vec![PredicateItem::single(attribute("sex").eq("male"))]))
                .with_pagination(10, 2),
        ])
        .await;
    assert!(client.enrolled("U00001", Some("CG")).await.expect("enrolled"));
    assert!(!client.disabled("U00001").await.expect("disabled"));
    let captured = captured.lock().expect("lock").clone();
    assert_eq!(captured.len(), 3);
    for (path, body) in &captured {
        assert!(body["signature"].as_str().is_some_and(|s| s.contains("kidId=\"elig|k1|ed25519\"")), "signed: {body}");
        let (api, operation) = match path.as_str() {
            "/registry/sync/enrolled" => (dci_conformance::Api::Ibr, "/registry/sync/enrolled"),
            "/registry/sync/disabled" => (dci_conformance::Api::Dr, "/registry/sync/disabled"),
            _ => (dci_conformance::Api::Ibr, "/registry/sync/search"),
        };
        dci_conformance::assert_valid(spec.check_request(api, operation, body), path, body);
        for item in body["message"]["search_request"].as_array().into_iter().flatten() {
            let criteria = &item["search_criteria"];
            assert_eq!(criteria["authorize"]["purpose"]["code"], "OAP-ELIGIBILITY", "{criteria}");
            assert_eq!(criteria["authorize"]["purpose"]["text"], "Old Age Pension: eligibility check");
            assert_eq!(criteria["consent"]["@type"], "Consent");
            assert_eq!(criteria["consent"]["purpose"]["ref_uri"], "https://social.example.gov/legal/oap-act#s12");
        }
    }
    let searched = captured.iter().filter(|(path, _)| path.ends_with("search")).count();
    assert_eq!(searched, 1, "the search message carries both criteria");
}

/// The steps a check ran, as `step:passed`.
fn steps(report: &dci_client::RegistryCheck) -> Vec<String> {
    report.steps.iter().map(|s| format!("{}:{}", s.step.as_str(), if s.passed { "ok" } else { "failed" })).collect()
}

/// The connection check passes every step against an honest registry, and
/// names the failing step, with the registry's words, for a wrong secret, a
/// 403 on search, a bad signature and an unreachable host; no secret is printed.
#[tokio::test]
async fn the_connection_check_names_the_failing_step_in_the_registrys_words() {
    let sim = simulator(5, |c| c).await;
    let mut verifying = source(&sim);
    verifying.verify_responses = true;
    let report = DciClient::new(verifying.clone()).expect("client").check().await;
    assert_eq!(
        steps(&report),
        ["reach:ok", "token:ok", "jwks:ok", "search:ok", "signature:ok", "permission:ok"],
        "{report:#?}"
    );
    assert!(report.steps[3].detail.contains("0 record(s)"), "{report:#?}");

    let mut wrong = source(&sim);
    wrong.client_secret = SecretSource::Value("not-the-secret".into());
    let report = DciClient::new(wrong).expect("client").check().await;
    assert_eq!(steps(&report), ["reach:ok", "token:failed"]);
    let said = &report.steps[1].detail;
    assert!(said.contains("refused client") && !said.contains("not-the-secret"), "{said}");

    let forbidden = Misbehaviour::DataAnswer {
        status: 403,
        body: r#"{"detail": "client elig-demo may not search this registry"}"#.into(),
        retry_after: None,
    };
    sim.set_faults(RegistryKind::Crvs, FaultConfig { misbehaviour: Some(forbidden), ..Default::default() });
    let report = DciClient::new(source(&sim)).expect("client").check().await;
    assert_eq!(steps(&report), ["reach:ok", "token:ok", "search:ok", "permission:failed"], "{report:#?}");
    let said = &report.steps[3].detail;
    assert!(said.contains("not permitted to search") && said.contains("may not search this registry"), "{said}");

    sim.set_faults(RegistryKind::Crvs, FaultConfig { bad_signature_rate: 1.0, ..Default::default() });
    let report = DciClient::new(verifying).expect("client").check().await;
    assert_eq!(steps(&report), ["reach:ok", "token:ok", "jwks:ok", "search:ok", "signature:failed"], "{report:#?}");

    // A scope asked for and not granted fails the token step, naming it.
    let narrower = Misbehaviour::TokenAnswer {
        status: 200,
        body: r#"{"access_token": "t", "token_type": "bearer", "expires_in": 300, "scope": "registry.read"}"#.into(),
    };
    sim.set_faults(RegistryKind::Crvs, FaultConfig { misbehaviour: Some(narrower), ..Default::default() });
    let mut scoped = source(&sim);
    scoped.scope = Some("registry.read registry.search".into());
    let report = DciClient::new(scoped).expect("client").check().await;
    assert_eq!(steps(&report), ["reach:ok", "token:failed"], "{report:#?}");
    assert!(report.steps[1].detail.contains("\"registry.search\" was asked for and not granted"), "{report:#?}");

    // Port 1: nothing listens there (a freed ephemeral port could be taken by another test).
    let mut unreachable = source(&sim);
    unreachable.base_url = "http://127.0.0.1:1/crvs".to_owned();
    let report = DciClient::new(unreachable).expect("client").check().await;
    assert_eq!(steps(&report), ["reach:failed"]);
    assert!(report.steps[0].hint.as_deref().is_some_and(|hint| hint.contains("DNS")), "{report:#?}");
    sim.shutdown().await;
}

/// Each dialect profile against the simulator speaking it: paths, token
/// encoding, signatures (Ed25519 strings, compact and detached JWS) and error bodies.
mod profiles {
    use dci_client::{ClientError, DataSource, DciClient, Profile, SecretSource};
    use dci_protocol::records::{CrvsPerson, Identifier};
    use dci_registry_sim::{FaultConfig, RegistryKind, SimConfig, Simulator};

    use super::{simulator, source, steps};

    const PEOPLE: usize = 30;

    fn speaking(sim: &Simulator, profile: Profile) -> DataSource {
        let mut source = source(sim);
        source.profile = profile;
        source.verify_responses = true;
        // The test people have UINs; OpenCRVS's default types (NID, BRN, DRN) are overridden.
        source.id_type_priority = vec!["UIN".into()];
        source
    }

    fn identifiers() -> Vec<Identifier> {
        (0..PEOPLE).map(|uin| Identifier::new("UIN", format!("U{uin:05}"))).collect()
    }

    async fn records(client: &DciClient) -> Vec<Vec<CrvsPerson>> {
        let found = client.search_people::<CrvsPerson>(&identifiers()).await;
        found.into_iter().map(|result| result.expect("an answer").records).collect()
    }

    /// Signed answers verify under every profile and give exactly the records
    /// an unsigned honest registry gives; the connection check passes.
    #[tokio::test]
    async fn every_profile_verifies_and_answers_as_an_unsigned_honest_registry() {
        let honest = simulator(PEOPLE, |config| SimConfig { sign_responses: false, ..config }).await;
        let expected = records(&DciClient::new(source(&honest)).expect("client")).await;
        assert!(expected.iter().all(|found| found.len() == 1));
        for profile in Profile::ALL {
            let sim = simulator(PEOPLE, |config| config.with_profile(profile)).await;
            let client = DciClient::new(speaking(&sim, profile)).expect("client");
            assert_eq!(records(&client).await, expected, "{profile}");
            let report = client.check().await;
            let all = ["reach:ok", "token:ok", "jwks:ok", "search:ok", "signature:ok", "permission:ok"];
            assert_eq!(steps(&report), all, "{profile}: {report:#?}");
            // A client of another dialect asks at the wrong path, and is told so.
            if profile.search_path() != Profile::Spdci.search_path() {
                let mut stranger = speaking(&sim, profile);
                stranger.profile = Profile::Spdci;
                let report = DciClient::new(stranger).expect("client").check().await;
                assert_eq!(steps(&report).get(3).map(String::as_str), Some("search:failed"), "{report:#?}");
            }
            sim.shutdown().await;
        }
        honest.shutdown().await;
    }

    /// An answer signed with another key under the registry's key id is
    /// refused, whatever the form of signature; so is one with a changed message.
    #[tokio::test]
    async fn rekeyed_answers_are_refused_under_every_profile() {
        for profile in Profile::ALL {
            let rekeyed = FaultConfig { bad_signature_rate: 1.0, ..FaultConfig::default() };
            let sim =
                simulator(PEOPLE, |config| config.with_profile(profile).with_faults(RegistryKind::Crvs, rekeyed)).await;
            let client = DciClient::new(speaking(&sim, profile)).expect("client");
            for result in client.search_people::<CrvsPerson>(&identifiers()[..3]).await {
                let error = result.expect_err("a re-keyed answer");
                assert!(matches!(error, ClientError::Signature { .. }), "{profile}: {error}");
            }
            sim.shutdown().await;
        }
    }

    /// A wrong secret is reported in the registry's own words, whatever shape its error body has.
    #[tokio::test]
    async fn errors_are_read_in_each_dialect() {
        for profile in Profile::ALL {
            let sim = simulator(1, |config| config.with_profile(profile)).await;
            let mut wrong = speaking(&sim, profile);
            wrong.client_secret = SecretSource::Value("not-the-secret".into());
            let report = DciClient::new(wrong).expect("client").check().await;
            assert_eq!(steps(&report), ["reach:ok", "token:failed"], "{profile}");
            let said = &report.steps[1].detail;
            assert!(said.contains("wrong client_secret") && !said.contains("not-the-secret"), "{profile}: {said}");
            sim.shutdown().await;
        }
    }

    /// Our requests signed as JWS (compact for OpenCRVS, detached for OpenG2P)
    /// with a key made by `openssl` verify at a registry that checks them
    /// against our published key; signed with another key they are refused.
    #[tokio::test]
    async fn requests_signed_as_jws_verify_at_the_registry() {
        for profile in [Profile::Opencrvs, Profile::Openg2p] {
            let Some(pem) = test_services::openssl_private_key("RSA") else { return };
            let Some(other) = test_services::openssl_private_key("RSA") else { return };
            let pem = String::from_utf8(pem).expect("PEM is text");
            let signing = |sim: &Simulator, pem: &str| {
                let mut source = speaking(sim, profile);
                source.signing.key = Some(SecretSource::Value(pem.to_owned()));
                source
            };
            let published = {
                let probe = DciClient::new(signing_for_key(&pem, profile)).expect("client");
                probe.public_jwk().expect("a signing key")
            };
            let sim = simulator(PEOPLE, |config| SimConfig {
                verify_request_signatures: true,
                client_keys: vec![published],
                ..config.with_profile(profile)
            })
            .await;
            let client = DciClient::new(signing(&sim, &pem)).expect("client");
            assert!(
                client.search_people::<CrvsPerson>(&identifiers()[..2]).await.iter().all(Result::is_ok),
                "{profile}"
            );
            let stranger = DciClient::new(signing(&sim, &String::from_utf8(other).expect("PEM"))).expect("client");
            let error = stranger.search_people::<CrvsPerson>(&identifiers()[..1]).await.remove(0).expect_err("refused");
            assert!(error.to_string().contains("signature"), "{profile}: {error}");
            sim.shutdown().await;
        }
    }

    fn signing_for_key(pem: &str, profile: Profile) -> DataSource {
        let mut source = DataSource::new(
            dci_client::RegistryType::Crvs,
            "http://127.0.0.1:1",
            "elig-demo",
            SecretSource::Value("s".into()),
        );
        source.profile = profile;
        source.signing.key = Some(SecretSource::Value(pem.to_owned()));
        source
    }
}

/// A yes/no answer names no person: one for another transaction (a genuine
/// answer replayed) is refused, not read as the answer to our question.
#[tokio::test]
async fn a_yes_no_answer_for_another_transaction_is_refused() {
    let replayed = Misbehaviour::DataAnswer {
        status: 200,
        body: r#"{"header": {"version": "1.0.0", "message_id": "m", "message_ts": "2026-01-01T00:00:00+00:00",
                  "action": "on-enrolled", "status": "succ", "total_count": 1, "completed_count": 1},
                  "message": {"transaction_id": "an-earlier-question", "correlation_id": "c",
                  "enrolled_response": [{"reference_id": "r", "status": "succ", "enrolled_status": "yes"}]}}"#
            .into(),
        retry_after: None,
    };
    let sim = simulator(1, |config| {
        config.with_faults(RegistryKind::Ibr, FaultConfig { misbehaviour: Some(replayed), ..Default::default() })
    })
    .await;
    let mut ibr = source(&sim);
    ibr.registry = RegistryType::Ibr;
    ibr.base_url = sim.base_url(RegistryKind::Ibr);
    let error = DciClient::new(ibr).expect("client").enrolled("U00001", None).await.expect_err("refused");
    assert!(error.to_string().contains("\"an-earlier-question\", not ours"), "{error}");
    sim.shutdown().await;
}
