//! Messages this crate writes validate against the official OpenAPI schemas.

use dci_conformance::{Api, Spec, assert_valid};
use dci_protocol::{
    DciTimestamp, DisabledRequest, EnrolledAnswer, EnrolledRequest, EnrolledResponse, ErrorCode, HttpErrorResponse,
    PredicateItem, Query, RequestEnvelope, RequestHeader, ResponseEnvelope, ResponseHeader, SearchCriteria, SearchData,
    SearchReasonCode, SearchRequest, SearchRequestItem, SearchResponse, SearchResponseItem, SortOrder, Status,
    TokenResponse, YesNoCriteria, action, attribute, record_type, reg_type,
};
use serde_json::{Value, json};

fn ts() -> DciTimestamp {
    DciTimestamp::parse_strict("2026-01-10T10:00:00+00:00").expect("timestamp")
}

fn search_request(reg: &str, record: &str) -> RequestEnvelope<SearchRequest> {
    let by_id = SearchRequestItem {
        reference_id: "R-1".into(),
        timestamp: Some(ts()),
        search_criteria: SearchCriteria::new(Query::id("UIN", "847951632")).for_registry(reg, record),
        locale: Some(dci_protocol::Locale::english()),
    };
    let by_predicate = SearchRequestItem {
        reference_id: "R-2".into(),
        timestamp: Some(ts()),
        search_criteria: SearchCriteria::new(Query::Predicate(vec![PredicateItem::and(
            attribute("birth_date").ge("2020-01-01"),
            attribute("birth_date").le("2020-12-31"),
        )]))
        .for_registry(reg, record)
        .sorted_by("birth_date", SortOrder::Desc)
        .with_pagination(50, 1),
        locale: None,
    };
    let header =
        RequestHeader::new("M-1", ts(), action::SEARCH, "elig.example.org", 2).with_receiver("registry.example.org");
    let mut envelope = RequestEnvelope::new(
        header,
        SearchRequest { transaction_id: "T-1".into(), search_request: vec![by_id, by_predicate] },
    );
    envelope.signature = Some("namespace=\"dci\", kidId=\"a|b|ed25519\", algorithm=\"ed25519\", created=\"1\", expires=\"301\", headers=\"(created) (expires) digest\", signature=\"AA==\"".into());
    envelope
}

fn search_response(reg: &str, record: &str) -> ResponseEnvelope<SearchResponse> {
    let request = search_request(reg, record);
    let found = SearchResponseItem::success(
        "R-1",
        ts(),
        SearchData::new(
            reg,
            record,
            vec![json!({"identifier": [{"identifier_type": "UIN", "identifier_value": "847951632"}]})],
        ),
    );
    let mut paged = SearchResponseItem::success("R-2", ts(), SearchData::new(reg, record, vec![]));
    paged.pagination = Some(dci_protocol::ResponsePagination { page_size: 50, page_number: 1, total_count: Some(0) });
    let rejected = SearchResponseItem::rejected("R-3", ts(), SearchReasonCode::SearchCriteriaInvalid, "bad query");
    let header = ResponseHeader::answering(&request.header, "M-2", ts(), Status::Success, 3);
    ResponseEnvelope::new(
        header,
        SearchResponse {
            transaction_id: "T-1".into(),
            correlation_id: "C-1".into(),
            search_response: vec![found, paged, rejected],
        },
    )
}

#[test]
fn search_requests_and_responses_validate_for_every_registry() {
    let Some(spec) = Spec::load() else { return };
    for (api, reg, record) in [
        (Api::Crvs, reg_type::CIVIL, record_type::PERSON),
        (Api::Ibr, reg_type::IBR, record_type::BENEFICIARY),
        (Api::Dr, reg_type::DR, record_type::DISABLED_PERSON),
    ] {
        let request = serde_json::to_value(search_request(reg, record)).expect("json");
        assert_valid(spec.check_request(api, "/registry/sync/search", &request), "search request", &request);
        let response = serde_json::to_value(search_response(reg, record)).expect("json");
        if api == Api::Dr {
            continue; // see below
        }
        assert_valid(
            spec.check_response(api, "/registry/sync/search", "default", &response),
            "search response",
            &response,
        );
    }
}

/// The DR file still types `reg_records` as a single object, where the CRVS and
/// IBR files (and the newest text) have an array. We write the array; that must
/// be the only difference.
#[test]
fn dr_search_responses_differ_from_the_dr_file_only_in_reg_records() {
    let Some(spec) = Spec::load() else { return };
    let response = serde_json::to_value(search_response(reg_type::DR, record_type::DISABLED_PERSON)).expect("json");
    let errors =
        spec.check_component(Api::Dr, "SearchResponse", &response["message"]).expect_err("the DR file wants an object");
    assert!(errors.iter().all(|e| e.contains("/data/reg_records") && e.contains("object")), "{errors:?}");
    let header = spec.component(Api::Dr, "MsgCallbackHeader_V1.0.0");
    assert_valid(spec.validate(Api::Dr, &header, &response["header"]), "DR response header", &response["header"]);
}

#[test]
fn a_rejected_header_validates() {
    let Some(spec) = Spec::load() else { return };
    let mut response = search_response(reg_type::CIVIL, record_type::PERSON);
    response.header =
        response.header.rejected(dci_protocol::HeaderReasonCode::TotalCountInvalid, "total_count 2 but 3 items");
    response.message.search_response.clear();
    let response = serde_json::to_value(response).expect("json");
    assert_valid(spec.check_response(Api::Crvs, "/registry/sync/search", "default", &response), "rejection", &response);
}

#[test]
fn enrolled_and_disabled_checks_validate() {
    let Some(spec) = Spec::load() else { return };
    let header = RequestHeader::new("M-3", ts(), action::SEARCH, "elig", 1);
    let enrolled = RequestEnvelope::new(
        header.clone(),
        EnrolledRequest {
            transaction_id: "T".into(),
            enrolled_criteria: YesNoCriteria::enrolled("847951632", Some("CG")),
        },
    );
    let enrolled = serde_json::to_value(enrolled).expect("json");
    assert_valid(spec.check_request(Api::Ibr, "/registry/sync/enrolled", &enrolled), "enrolled request", &enrolled);

    let answer = EnrolledResponse {
        transaction_id: "T".into(),
        correlation_id: "C".into(),
        enrolled_response: vec![EnrolledAnswer::new("T", ts(), true)],
    };
    let answer = serde_json::to_value(answer).expect("json");
    assert_valid(spec.check_component(Api::Ibr, "EnrolledResponse", &answer), "enrolled response", &answer);
    assert_eq!(answer["enrolled_response"][0]["enrolled_status"], "yes");

    let disabled = RequestEnvelope::new(
        header,
        DisabledRequest { transaction_id: "T".into(), disabled_criteria: YesNoCriteria::disabled("847951632") },
    );
    let disabled = serde_json::to_value(disabled).expect("json");
    assert_valid(spec.check_request(Api::Dr, "/registry/sync/disabled", &disabled), "disabled request", &disabled);
}

#[test]
fn token_and_error_bodies_validate() {
    let Some(spec) = Spec::load() else { return };
    let token = TokenResponse {
        access_token: "t".into(),
        token_type: "bearer".into(),
        expires_in: Some(dci_protocol::ExpiresIn::Seconds(3600.0)),
        scope: None,
    };
    let token: Value = serde_json::to_value(token).expect("json");
    assert_valid(spec.check_response(Api::Authz, "/oauth2/client/token", "200", &token), "token response", &token);
    let request = json!({"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"});
    assert_valid(spec.check_request(Api::Authz, "/oauth2/client/token", &request), "token request", &request);

    let error =
        serde_json::to_value(HttpErrorResponse::single(ErrorCode::RequestUnauthorized, "token expired")).expect("json");
    assert_valid(spec.check_response(Api::Crvs, "/registry/sync/search", "401", &error), "error body", &error);
}

#[test]
fn schema_checks_catch_a_broken_message() {
    let Some(spec) = Spec::load() else { return };
    let mut broken = serde_json::to_value(search_request(reg_type::CIVIL, record_type::PERSON)).expect("json");
    broken["header"]["total_count"] = json!("2");
    broken["message"]["search_request"][0]["locale"] = json!("en");
    let errors = spec.check_request(Api::Crvs, "/registry/sync/search", &broken).expect_err("must be invalid");
    assert!(errors.iter().any(|e| e.contains("total_count")), "{errors:?}");
}
