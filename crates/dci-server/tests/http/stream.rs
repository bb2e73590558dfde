//! `POST /v1/evaluate` with NDJSON.

use serde_json::{Value, json};

use crate::common::*;

async fn stream(h: &Harness, body: String) -> (u16, String, String) {
    let response =
        h.post("/v1/evaluate").header("content-type", "application/x-ndjson").body(body).send().await.expect("send");
    let status = response.status().as_u16();
    let kind = response.headers()["content-type"].to_str().expect("type").to_owned();
    (status, kind, response.text().await.expect("text"))
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("an NDJSON line")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_line_per_input_line_in_order_then_the_summary() {
    let h = start_with(
        Default::default(),
        |_| {},
        |c| {
            c.limits.ndjson_chunk = 3;
            c.limits.max_members = 2;
        },
    )
    .await;
    let mut body = json!({"rules": {"poor": POOR, "elderly": ELDERLY}, "as_of": AS_OF}).to_string() + "\n";
    let households = fixture();
    for household in &households[..5] {
        body += &(household.to_string() + "\n");
    }
    body += "{\"id\": \"broken\", \n"; // line 7: malformed
    body += "\n"; // blank: skipped
    body += "\"text\"\r\n"; // line 9: not an object
    body += &json!({"id": "BIG", "members": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}).to_string();
    body += "\n";
    body += &households[5].to_string(); // last line, no newline
    let (status, kind, text) = stream(&h, body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "application/x-ndjson");
    let out = lines(&text);
    assert_eq!(out.len(), 9 + 1, "{text}");
    for (i, household) in households[..5].iter().enumerate() {
        assert_eq!(out[i]["id"], household["id"]);
    }
    assert_eq!(out[0]["outcomes"]["poor"]["outcome"], "eligible");
    assert_eq!(out[1]["outcomes"]["elderly"]["outcome"], "ineligible");
    assert_eq!((out[5]["line"].as_u64(), out[5]["error"]["code"].as_str()), (Some(7), Some("invalid_beneficiary")));
    assert_eq!(out[6]["line"], 9);
    assert_eq!(out[7]["line"], 10);
    assert!(out[7]["error"]["message"].as_str().expect("message").contains("household members"));
    assert_eq!(out[8]["id"], households[5]["id"]);
    let summary = &out[9]["summary"];
    assert_eq!((summary["items"].as_u64(), summary["invalid"].as_u64()), (Some(9), Some(3)));
    assert_eq!(summary["chunks"], 3);
    assert_eq!(summary["rules"][0]["rule"], "elderly"); // json! sorts keys
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_with_the_options_line_are_ordinary_errors() {
    let h = start_with(Default::default(), |_| {}, |c| c.limits.max_line_bytes = 200).await;
    let cases = [
        ("", 422, "invalid_request"),
        ("{\"rule\": \n{\"id\": \"A\"}\n", 400, "malformed_json"),
        ("{\"id\": \"A\"}\n{\"id\": \"B\"}\n", 422, "invalid_request"),
        ("{\"rule\": \"dci.crvs.is_alve\"}\n{\"id\": \"A\"}\n", 422, "invalid_rule"),
        ("{\"rule\": \"true\", \"as_of\": \"tomorrow\"}\n", 422, "invalid_request"),
    ];
    for (body, status, expected) in cases {
        let (got, kind, text) = stream(&h, body.to_owned()).await;
        assert_eq!(got, status, "{body:?}: {text}");
        assert_eq!(kind, "application/json");
        assert_eq!(code(&serde_json::from_str(&text).expect("json")), expected, "{body:?}");
    }
    // the malformed options line: its line and column
    let (_, _, text) = stream(&h, "\n\n{\"rule\" \"true\"}\n".to_owned()).await;
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (body["error"]["details"]["line"].as_u64(), body["error"]["details"]["column"].as_u64()),
        (Some(3), Some(9))
    );
    // an overlong beneficiary line is an item error; the lines around it are decided
    let long = json!({"id": "LONG", "note": "x".repeat(300)}).to_string();
    let (status, _, text) =
        stream(&h, format!("{{\"rule\": \"true\"}}\n{{\"id\": \"A\"}}\n{long}\n{{\"id\": \"B\"}}")).await;
    assert_eq!(status, 200);
    let out = lines(&text);
    assert_eq!(out[0]["id"], "A");
    assert_eq!(out[1]["line"], 3);
    assert!(out[1]["error"]["message"].as_str().expect("message").contains("longer than 200 bytes"));
    assert_eq!(out[2]["id"], "B");
    assert_eq!(out[3]["summary"]["items"], 3);
    h.stop().await;
}
