//! The registry clients against a hostile registry (the simulator's
//! misbehaviours, signed with its honest key) over loopback HTTP: whatever it
//! answers, a lookup is either the truth or a failure, nothing is sent
//! elsewhere, and nothing crashes.

use std::time::Duration;

use dci_client::{ClientError, DataSource, DciClient, ErrorKind, RegistryType, SecretSource};
use dci_client_crvs::CrvsClient;
use dci_client_dr::DrClient;
use dci_client_ibr::IbrClient;
use dci_protocol::records::Identifier;
use dci_registry_sim::{FaultConfig, Misbehaviour, RegistryKind, SimConfig, Simulator};

/// The fixture's persons (registrants and members), by UIN.
fn fixture_identifiers() -> Vec<Identifier> {
    let text = std::fs::read_to_string(dci_registry_sim::fixture_beneficiaries()).expect("fixture");
    let mut identifiers = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let household: serde_json::Value = serde_json::from_str(line).expect("json");
        let members = household["members"].as_array().cloned().unwrap_or_default();
        for person in std::iter::once(&household).chain(members.iter()) {
            if let Some(uin) = person["identifiers"][0]["value"].as_str() {
                identifiers.push(Identifier::new("UIN", uin));
            }
        }
    }
    // One person no registry knows: "not found" must be proved, not assumed.
    identifiers.push(Identifier::new("UIN", "999999999"));
    identifiers
}

fn source(sim: &Simulator, kind: RegistryKind) -> DataSource {
    let registry = match kind {
        RegistryKind::Crvs => RegistryType::Crvs,
        RegistryKind::Ibr => RegistryType::Ibr,
        RegistryKind::Dr => RegistryType::Dr,
    };
    let mut source =
        DataSource::new(registry, sim.base_url(kind), "elig-demo", SecretSource::Value("elig-demo-secret".into()));
    source.verify_responses = true;
    source.batch_size = 10;
    source.retry.max_attempts = 1;
    source
}

/// What one client answered for each person: found, not found, or failed.
#[derive(Debug, PartialEq)]
enum Answer {
    Found(String),
    NotFound,
    Failed(ErrorKind),
}

fn answer<T: std::fmt::Debug>(result: Result<Option<T>, ClientError>) -> Answer {
    match result {
        Ok(Some(value)) => Answer::Found(format!("{value:?}")),
        Ok(None) => Answer::NotFound,
        Err(error) => Answer::Failed(error.kind()),
    }
}

async fn lookups(sim: &Simulator, kind: RegistryKind, identifiers: &[Identifier]) -> Vec<Answer> {
    let client = DciClient::new(source(sim, kind)).expect("client");
    match kind {
        RegistryKind::Crvs => CrvsClient::new(client).persons(identifiers).await.into_iter().map(answer).collect(),
        RegistryKind::Ibr => {
            IbrClient::new(client).enrolments_of_many(identifiers).await.into_iter().map(answer).collect()
        }
        RegistryKind::Dr => {
            DrClient::new(client).disability_of_many(identifiers).await.into_iter().map(answer).collect()
        }
    }
}

fn item_misbehaviours() -> Vec<Misbehaviour> {
    vec![
        Misbehaviour::ForeignRecords,
        Misbehaviour::SwappedReferences,
        Misbehaviour::DuplicateReferences,
        Misbehaviour::PendingItems,
        Misbehaviour::ReceivedItems,
        Misbehaviour::UnknownStatus,
        Misbehaviour::NullStatus,
        Misbehaviour::NullData,
        Misbehaviour::MissingData,
        Misbehaviour::MalformedRecord,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_registry_gives_the_truth_or_a_failure_never_a_wrong_answer() {
    let identifiers = fixture_identifiers();
    let honest = Simulator::start(SimConfig::default()).await.expect("simulator");
    for kind in [RegistryKind::Crvs, RegistryKind::Ibr, RegistryKind::Dr] {
        let truth = lookups(&honest, kind, &identifiers).await;
        assert!(truth.iter().all(|a| !matches!(a, Answer::Failed(_))), "{kind:?}: the honest run fails nothing");
        assert!(truth.iter().any(|a| matches!(a, Answer::Found(_))), "{kind:?}: someone is found");
        assert_eq!(truth.last(), Some(&Answer::NotFound));
        for misbehaviour in item_misbehaviours() {
            let liar = Simulator::start(
                SimConfig::default()
                    .with_faults(kind, FaultConfig { misbehaviour: Some(misbehaviour.clone()), ..Default::default() }),
            )
            .await
            .expect("simulator");
            let said = lookups(&liar, kind, &identifiers).await;
            let mut failed = 0;
            for ((person, told), true_answer) in identifiers.iter().zip(&said).zip(&truth) {
                match told {
                    Answer::Failed(kind) => {
                        assert_eq!(*kind, ErrorKind::Protocol);
                        failed += 1;
                    }
                    other => assert_eq!(other, true_answer, "{kind:?} {misbehaviour:?}: {person:?}"),
                }
            }
            match misbehaviour {
                // Only the items with the unreadable record fail; the rest of each message is read.
                Misbehaviour::MalformedRecord => {
                    assert!(failed > 0 && failed < identifiers.len(), "{kind:?}: {failed} failed")
                }
                // Lies about whose answer is whose: a message whose answers were all "no record"
                // (swapped, they still are) may stand; any other is distrusted whole.
                Misbehaviour::SwappedReferences | Misbehaviour::ForeignRecords => {
                    assert!(failed > 0, "{kind:?} {misbehaviour:?}: {failed} failed")
                }
                _ => assert_eq!(failed, identifiers.len(), "{kind:?} {misbehaviour:?}: every answer distrusted"),
            }
            liar.shutdown().await;
        }
    }
    honest.shutdown().await;
}

/// A listener standing for "another host": it counts the connections it gets.
async fn elsewhere() -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let counting = tokio::spawn(async move {
        let mut connections = 0;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await {
            connections += 1;
        }
        connections
    });
    (format!("http://{address}/steal"), counting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_refused_and_nothing_is_sent_to_their_location() {
    for token_endpoint in [true, false] {
        let (location, connections) = elsewhere().await;
        let misbehaviour = if token_endpoint {
            Misbehaviour::RedirectToken { location: location.clone() }
        } else {
            Misbehaviour::RedirectSearch { location: location.clone() }
        };
        let sim =
            Simulator::start(SimConfig::default().with_faults(
                RegistryKind::Crvs,
                FaultConfig { misbehaviour: Some(misbehaviour), ..Default::default() },
            ))
            .await
            .expect("simulator");
        let client = CrvsClient::new(DciClient::new(source(&sim, RegistryKind::Crvs)).expect("client"));
        let error = client.person(&Identifier::new("UIN", "800010000")).await.expect_err("refused");
        assert!(matches!(error, ClientError::Redirected { status: 307, .. }), "{error}");
        assert!(error.to_string().contains(&location), "names the Location: {error}");
        assert!(!error.to_string().contains("elig-demo-secret"), "{error}");
        assert_eq!(connections.await.expect("listener"), 0, "nothing went to {location}");
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_token_lifetime_is_clamped_not_a_crash() {
    let sim = Simulator::start(SimConfig::default().with_faults(
        RegistryKind::Crvs,
        FaultConfig { misbehaviour: Some(Misbehaviour::HugeTokenLifetime), ..Default::default() },
    ))
    .await
    .expect("simulator");
    let client = DciClient::new(source(&sim, RegistryKind::Crvs)).expect("client");
    let crvs = CrvsClient::new(client.clone());
    for _ in 0..3 {
        let person = crvs.person(&Identifier::new("UIN", "800010000")).await.expect("answered");
        assert!(person.is_some());
    }
    assert_eq!(client.stats().token_requests, 1, "the token is reused");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_bound_fails_its_message_without_being_read_whole() {
    let sim = Simulator::start(SimConfig::default().with_faults(
        RegistryKind::Dr,
        FaultConfig { misbehaviour: Some(Misbehaviour::HugeBody { bytes: 50_000_000 }), ..Default::default() },
    ))
    .await
    .expect("simulator");
    let mut limited = source(&sim, RegistryKind::Dr);
    limited.max_response_bytes = Some(200_000);
    let dr = DrClient::new(DciClient::new(limited).expect("client"));
    let identifiers = fixture_identifiers();
    for result in dr.disability_of_many(&identifiers[..5]).await {
        let error = result.expect_err("too large");
        assert!(matches!(error, ClientError::ResponseTooLarge { limit: 200_000, .. }), "{error}");
        assert_eq!(error.kind(), ErrorKind::TooLarge);
    }
    // The default bound (batch_size × 64 KiB, at least 1 MiB) refuses 50 MB too.
    let dr = DrClient::new(DciClient::new(source(&sim, RegistryKind::Dr)).expect("client"));
    let error = dr.disability_of_many(&identifiers[..1]).await.remove(0).expect_err("too large");
    assert_eq!(error.kind(), ErrorKind::TooLarge, "{error}");
    sim.shutdown().await;
}

/// What a lookup of HH-0001's registrant fails with when the registry answers `misbehaviour`.
async fn failure_under(misbehaviour: Misbehaviour) -> ClientError {
    let sim = Simulator::start(SimConfig::default().with_faults(
        RegistryKind::Crvs,
        FaultConfig { misbehaviour: Some(misbehaviour.clone()), ..Default::default() },
    ))
    .await
    .expect("simulator");
    let client = DciClient::new(source(&sim, RegistryKind::Crvs)).expect("client");
    let error = CrvsClient::new(client)
        .person(&Identifier::new("UIN", "800010000"))
        .await
        .expect_err(&format!("{misbehaviour:?} fails the lookup"));
    sim.shutdown().await;
    error
}

/// Error bodies in each shape registries write: the failure says, on one line,
/// what the registry said (once), with the right kind, and never a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_says_what_the_registry_said() {
    use Misbehaviour::{DataAnswer, TokenAnswer};
    let data = |status: u16, body: &str| DataAnswer { status, body: body.into(), retry_after: None };
    let token = |status: u16, body: &str| TokenAnswer { status, body: body.into() };
    let cases: Vec<(Misbehaviour, ErrorKind, &str)> = vec![
        (data(403, r#"{"detail": "Not enough permissions"}"#), ErrorKind::Http, "Not enough permissions"),
        (
            data(422, r#"{"detail": [{"loc": ["body", "header"], "msg": "field required", "type": "missing"}]}"#),
            ErrorKind::Http,
            "field required",
        ),
        (
            data(400, r#"{"error": {"code": "err.request.bad", "message": "sender_id is unknown"}}"#),
            ErrorKind::Http,
            "err.request.bad: sender_id is unknown",
        ),
        (
            data(500, r#"{"errors": [{"code": "E42", "message": "database unavailable"}]}"#),
            ErrorKind::Http,
            "database unavailable",
        ),
        (data(502, "upstream crashed while reading the civil register"), ErrorKind::Http, "upstream crashed"),
        (
            data(
                200,
                r#"{"message": {"ack_status": "ERR", "error": {"code": "err.sys", "message": "index rebuilding"}}}"#,
            ),
            ErrorKind::Protocol,
            "index rebuilding",
        ),
        (
            data(200, r#"{"message": {"ack_status": "ACK", "correlation_id": "c-1"}}"#),
            ErrorKind::Protocol,
            "asynchronously",
        ),
        (
            token(200, r#"{"error": "invalid_client", "error_description": "Client authentication failed"}"#),
            ErrorKind::Auth,
            "Client authentication failed",
        ),
        (
            token(401, r#"{"error": "invalid_client", "error_description": "Unknown client elig-demo"}"#),
            ErrorKind::Auth,
            "Unknown client elig-demo",
        ),
        (
            token(200, r#"{"access_token": "abc\r\nX-Injected: 1", "token_type": "bearer", "expires_in": 300}"#),
            ErrorKind::Auth,
            "line break",
        ),
    ];
    for (misbehaviour, kind, words) in cases {
        let error = failure_under(misbehaviour.clone()).await;
        let text = error.to_string();
        assert_eq!(error.kind(), kind, "{misbehaviour:?}: {text}");
        assert!(text.contains(words), "{misbehaviour:?}: {text}");
        assert_eq!(text.matches(words).count(), 1, "said once: {text}");
        assert!(!text.contains('\n') && !text.contains('\r'), "one line: {text:?}");
        assert!(!text.contains("elig-demo-secret") && !text.contains("builder error"), "{text}");
    }
}

/// A token lifetime in any shape (negative, text, fractional, a unit) is
/// clamped: the registry stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lifetime_in_any_shape_is_clamped_and_the_registry_used() {
    for expires_in in
        [serde_json::json!(-100), serde_json::json!("-5"), serde_json::json!(3599.5), serde_json::json!("1h")]
    {
        let sim = Simulator::start(SimConfig::default().with_faults(
            RegistryKind::Crvs,
            FaultConfig {
                misbehaviour: Some(Misbehaviour::TokenLifetime { expires_in: expires_in.clone() }),
                ..Default::default()
            },
        ))
        .await
        .expect("simulator");
        let client = DciClient::new(source(&sim, RegistryKind::Crvs)).expect("client");
        let person = CrvsClient::new(client).person(&Identifier::new("UIN", "800010000")).await;
        assert!(matches!(person, Ok(Some(_))), "{expires_in}: {person:?}");
        sim.shutdown().await;
    }
}
