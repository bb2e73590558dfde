use dci_protocol::{
    DisabledRequest, DisabledResponse, EnrolledRequest, EnrolledResponse, RequestEnvelope, ResponseEnvelope, Status,
    YesNo, YesNoCriteria,
};
use dci_registry_sim::RegistryKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// An enrolled or disabled request envelope; the transaction id is `T-<person>`.
pub fn yes_no_body(field: &str, criteria: YesNoCriteria) -> Value {
    let transaction_id = format!("T-{}", message_id());
    if field == "enrolled_criteria" {
        serde_json::to_value(RequestEnvelope::new(
            header(1),
            EnrolledRequest { transaction_id, enrolled_criteria: criteria },
        ))
    } else {
        serde_json::to_value(RequestEnvelope::new(
            header(1),
            DisabledRequest { transaction_id, disabled_criteria: criteria },
        ))
    }
    .expect("json")
}

async fn enrolled(
    sim: &dci_registry_sim::Simulator,
    token: &str,
    person: &str,
    programme: Option<&str>,
) -> (Status, YesNo) {
    let body = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled(person, programme));
    let answer = post(sim, RegistryKind::Ibr, "/registry/sync/enrolled", token, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let response: ResponseEnvelope<EnrolledResponse> = serde_json::from_str(&answer.text).expect("response");
    assert_eq!(response.header.status, Status::Success);
    assert_eq!(response.message.transaction_id, body["message"]["transaction_id"]);
    let only = &response.message.enrolled_response[0];
    assert_eq!(response.message.enrolled_response.len(), 1);
    assert_eq!(only.reference_id, response.message.transaction_id, "answered under the transaction id");
    (only.status.clone(), only.enrolled_status.clone())
}

async fn disabled(sim: &dci_registry_sim::Simulator, token: &str, person: &str) -> YesNo {
    let body = yes_no_body("disabled_criteria", YesNoCriteria::disabled(person));
    let answer = post(sim, RegistryKind::Dr, "/registry/sync/disabled", token, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let response: ResponseEnvelope<DisabledResponse> = serde_json::from_str(&answer.text).expect("response");
    assert_eq!(response.message.disabled_response[0].status, Status::Success);
    response.message.disabled_response[0].disabled_status.clone()
}

#[tokio::test]
async fn enrolled_is_yes_only_for_an_active_enrolment() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Ibr).await;
    let yes = (Status::Success, YesNo::Yes);
    let no = (Status::Success, YesNo::No);
    assert_eq!(enrolled(&sim, &token, "800040000", None).await, yes, "active CCT");
    assert_eq!(enrolled(&sim, &token, "800040000", Some("CCT")).await, yes);
    assert_eq!(enrolled(&sim, &token, "800040000", Some("OAP")).await, no, "not in that programme");
    assert_eq!(enrolled(&sim, &token, "800150000", None).await, no, "suspended");
    assert_eq!(enrolled(&sim, &token, "800160000", None).await, no, "graduated");
    assert_eq!(enrolled(&sim, &token, "800020000", None).await, no, "deceased status");
    assert_eq!(enrolled(&sim, &token, "800170000", Some("FSP")).await, yes, "one of several programmes");
    assert_eq!(enrolled(&sim, &token, "800170000", Some("CCT")).await, no, "the graduated one");
    assert_eq!(enrolled(&sim, &token, "NID-0018-0", None).await, yes, "by NATIONAL_ID");
    assert_eq!(enrolled(&sim, &token, "999999999", None).await, no, "unknown person");

    let mut nameless = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled("x", None));
    nameless["message"]["enrolled_criteria"]["query"] =
        json!({"programme_identifier.program.programme_identifier": {"eq": "CG"}});
    let answer = post(&sim, RegistryKind::Ibr, "/registry/sync/enrolled", &token, &nameless).await;
    assert_eq!(answer.json()["message"]["enrolled_response"][0]["status"], "rjct");

    let elsewhere = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled("800040000", None));
    assert_eq!(
        post(&sim, RegistryKind::Crvs, "/registry/sync/enrolled", &token, &elsewhere).await.status,
        StatusCode::NOT_FOUND
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn disabled_is_yes_only_when_a_record_states_a_disability() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Dr).await;
    assert_eq!(disabled(&sim, &token, "800070000").await, YesNo::Yes, "WG mobility 3");
    assert_eq!(disabled(&sim, &token, "800090000").await, YesNo::Yes, "WG hearing 2");
    assert_eq!(disabled(&sim, &token, "800110000").await, YesNo::Yes, "PWD approved");
    assert_eq!(disabled(&sim, &token, "800100000").await, YesNo::No, "WG severity 1 only");
    assert_eq!(disabled(&sim, &token, "800120000").await, YesNo::No, "PWD expired");
    assert_eq!(disabled(&sim, &token, "800130000").await, YesNo::No, "PWD pending");
    assert_eq!(disabled(&sim, &token, "800010000").await, YesNo::No, "not in the DR");

    let mut body = yes_no_body("disabled_criteria", YesNoCriteria::disabled("800070000"));
    body["header"]["total_count"] = json!(2);
    let answer = post(&sim, RegistryKind::Dr, "/registry/sync/disabled", &token, &body).await;
    assert_eq!(answer.json()["header"]["status_reason_code"], "rjct.total_count.invalid");
    sim.shutdown().await;
}
