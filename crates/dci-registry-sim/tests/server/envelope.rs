use dci_registry_sim::{RegistryKind, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn one_item() -> Value {
    search(vec![id_item("R-1", "UIN", "800010000")])
}

/// Sends `body` and returns the header of the 200 response, checking the whole message was rejected.
async fn rejected_header(sim: &dci_registry_sim::Simulator, token: &str, body: &Value) -> Value {
    let response = search_ok(sim, RegistryKind::Crvs, token, body).await;
    assert_eq!(response["header"]["status"], "rjct", "{response}");
    assert_eq!(response["message"]["search_response"], json!([]), "a rejected message answers no item");
    response["header"].clone()
}

#[tokio::test]
async fn header_problems_reject_the_whole_message_with_the_spec_code() {
    let sim = start(SimConfig { max_items_per_message: 3, ..SimConfig::default() }).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "rjct.message_id.invalid",
            Box::new(|b| {
                b["header"].as_object_mut().unwrap().remove("message_id");
            }),
        ),
        ("rjct.message_ts.invalid", Box::new(|b| b["header"]["message_ts"] = json!("last tuesday"))),
        ("rjct.action.not_supported", Box::new(|b| b["header"]["action"] = json!("subscribe"))),
        (
            "rjct.action.invalid",
            Box::new(|b| {
                b["header"].as_object_mut().unwrap().remove("action");
            }),
        ),
        ("rjct.version.invalid", Box::new(|b| b["header"]["version"] = json!("0.9"))),
        ("rjct.total_count.invalid", Box::new(|b| b["header"]["total_count"] = json!(2))),
        (
            "rjct.total_count.invalid",
            Box::new(|b| {
                b["header"].as_object_mut().unwrap().remove("total_count");
            }),
        ),
    ];
    for (code, change) in cases {
        let mut body = one_item();
        change(&mut body);
        let header = rejected_header(&sim, &token, &body).await;
        assert_eq!(header["status_reason_code"], code, "{header}");
        assert!(header["status_reason_message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let four = search((0..4).map(|i| id_item(&format!("R-{i}"), "UIN", "1")).collect());
    let header = rejected_header(&sim, &token, &four).await;
    assert_eq!(header["status_reason_code"], "rjct.total_count.limit_exceeded");
    let three = search((0..3).map(|i| id_item(&format!("R-{i}"), "UIN", "1")).collect());
    assert_eq!(search_ok(&sim, RegistryKind::Crvs, &token, &three).await["header"]["status"], "succ");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_message_id_is_accepted_once() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let body = one_item();
    assert_eq!(search_ok(&sim, RegistryKind::Crvs, &token, &body).await["header"]["status"], "succ");
    let header = rejected_header(&sim, &token, &body).await;
    assert_eq!(header["status_reason_code"], "rjct.message_id.duplicate");
    // each registry keeps its own record of message ids
    assert_eq!(search_ok(&sim, RegistryKind::Dr, &token, &body).await["header"]["status"], "succ");
    sim.shutdown().await;
}

#[tokio::test]
async fn unreadable_bodies_get_400_with_the_position_of_the_error() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let path = "/registry/sync/search";
    let broken =
        post_bytes(&sim, RegistryKind::Crvs, path, Some(&token), b"{\"header\": {\n  \"version\": }".to_vec()).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(broken.error_code(), "err.request.bad");
    let message = broken.json()["errors"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("line 2") && message.contains("column"), "{message}");

    for body in [json!([1, 2]), json!({"message": {}}), json!({"header": {}})] {
        let answer = post(&sim, RegistryKind::Crvs, path, &token, &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.error_code(), "err.request.bad");
    }
    let mut encrypted = one_item();
    encrypted["header"]["is_msg_encrypted"] = json!(true);
    encrypted["message"] = json!({"header": {"alg": "RSA-OAEP"}, "ciphertext": "..."});
    let answer = post(&sim, RegistryKind::Crvs, path, &token, &encrypted).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "err.encryption.invalid");

    let unknown = post(&sim, RegistryKind::Crvs, "/registry/sync/nothing", &token, &one_item()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "err.request.not_found");
    sim.shutdown().await;
}
