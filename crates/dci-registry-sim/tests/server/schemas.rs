//! Responses validate against the official OpenAPI schemas (skipped when the
//! reference files are absent).

use dci_conformance::{Api, Spec, assert_valid};
use dci_protocol::{PredicateItem, Query, SearchCriteria, YesNoCriteria, attribute};
use dci_registry_sim::RegistryKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::yes_no::yes_no_body;

fn mixed_search(uin: &str) -> Value {
    let paged =
        SearchCriteria::new(Query::Predicate(vec![PredicateItem::single(attribute("birth_date").ge("1900-01-01"))]))
            .with_pagination(2, 1);
    let mut body = search(vec![id_item("found", "UIN", uin), id_item("missing", "UIN", "0"), item("paged", paged)]);
    let items = body["message"]["search_request"].as_array_mut().expect("items");
    items.push(json!({"reference_id": "bad", "timestamp": now().to_string(), "search_criteria": {"query_type": "graphql", "query": {}}}));
    body["header"]["total_count"] = json!(4);
    body
}

#[tokio::test]
async fn search_responses_validate_against_each_registry_schema() {
    let Some(spec) = Spec::load() else { return };
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Crvs).await;
    for (kind, api, uin) in [(RegistryKind::Crvs, Api::Crvs, "800010000"), (RegistryKind::Ibr, Api::Ibr, "800170000")] {
        let response = search_ok(&sim, kind, &token, &mixed_search(uin)).await;
        assert!(!records(answer_for(&response, "found")).is_empty());
        assert_eq!(answer_for(&response, "bad")["status"], "rjct");
        assert_valid(
            spec.check_response(api, "/registry/sync/search", "default", &response),
            "search response",
            &response,
        );

        let mut rejected = mixed_search(uin);
        rejected["header"]["total_count"] = json!(9);
        let response = search_ok(&sim, kind, &token, &rejected).await;
        assert_eq!(response["header"]["status"], "rjct");
        assert_valid(spec.check_response(api, "/registry/sync/search", "default", &response), "rejection", &response);
    }
    // The DR file still types reg_records as one object (CRVS, IBR and the newest text: an array).
    // We write the array: that must be the only difference.
    let response = search_ok(&sim, RegistryKind::Dr, &token, &mixed_search("800070000")).await;
    assert!(!records(answer_for(&response, "found")).is_empty());
    let header = spec.component(Api::Dr, "MsgCallbackHeader_V1.0.0");
    assert_valid(spec.validate(Api::Dr, &header, &response["header"]), "DR response header", &response["header"]);
    let errors = spec.check_component(Api::Dr, "SearchResponse", &response["message"]).expect_err("object vs array");
    assert!(errors.iter().all(|e| e.contains("/data/reg_records") && e.contains("object")), "{errors:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn yes_no_token_and_error_bodies_validate() {
    let Some(spec) = Spec::load() else { return };
    let sim = fixture().await;
    let token_response: Value = http()
        .post(format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Dr)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_valid(
        spec.check_response(Api::Authz, "/oauth2/client/token", "200", &token_response),
        "token",
        &token_response,
    );
    let token = token_response["access_token"].as_str().unwrap().to_owned();

    let body = yes_no_body("disabled_criteria", YesNoCriteria::disabled("800070000"));
    let disabled = post(&sim, RegistryKind::Dr, "/registry/sync/disabled", &token, &body).await.json();
    assert_valid(spec.check_response(Api::Dr, "/registry/sync/disabled", "default", &disabled), "disabled", &disabled);

    let body = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled("800040000", Some("CCT")));
    let enrolled = post(&sim, RegistryKind::Ibr, "/registry/sync/enrolled", &token, &body).await.json();
    // upstream puts a bare EnrolledResponse where the response envelope belongs: check the parts
    assert_valid(spec.check_component(Api::Ibr, "EnrolledResponse", &enrolled["message"]), "enrolled", &enrolled);
    let header = spec.component(Api::Ibr, "MsgCallbackHeader_V1.0.0");
    assert_valid(spec.validate(Api::Ibr, &header, &enrolled["header"]), "enrolled header", &enrolled["header"]);

    let unauthorized = post(&sim, RegistryKind::Crvs, "/registry/sync/search", "nope", &search(vec![])).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    let error = unauthorized.json();
    assert_valid(spec.check_response(Api::Crvs, "/registry/sync/search", "401", &error), "401 body", &error);
    sim.shutdown().await;
}
