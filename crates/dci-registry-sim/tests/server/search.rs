use dci_protocol::{
    Condition, PredicateExpression, PredicateItem, Query, SearchCriteria, SortOrder, attribute, records::IbrBeneficiary,
};
use dci_registry_sim::{RegistryKind, SimConfig};
use serde_json::{Value, json};

use crate::common::*;

fn uins(item: &Value) -> Vec<String> {
    records(item)
        .iter()
        .map(|record| record["identifier"][0]["identifier_value"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn idtype_value_finds_every_record_of_a_person_and_nothing_else() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let body = search(vec![
        id_item("hit", "UIN", "800010000"),
        id_item("miss", "UIN", "999999999"),
        id_item("lower-case-type", "uin", "800020000"),
        id_item("national-id", "NATIONAL_ID", "NID-0018-0"),
        id_item("wrong-type", "BRN", "800010000"),
    ]);
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &body).await;
    let hit = answer_for(&response, "hit");
    assert_eq!(hit["status"], "succ");
    assert_eq!(hit["data"]["reg_type"], "ns:org:RegistryType:Civil");
    assert_eq!(hit["data"]["reg_record_type"], "spdci-extensions-dci:Person");
    assert_eq!(records(hit).len(), 1);
    assert_eq!(records(hit)[0]["birth_date"], "1950-03-02");
    assert!(hit.get("pagination").is_none(), "no pagination asked, none given");
    let miss = answer_for(&response, "miss");
    assert_eq!(miss["status"], "succ");
    assert!(records(miss).is_empty());
    assert_eq!(records(answer_for(&response, "lower-case-type"))[0]["death_date"], "2025-06-10");
    assert_eq!(records(answer_for(&response, "national-id")).len(), 1);
    assert!(records(answer_for(&response, "wrong-type")).is_empty());

    // IBR: one record per programme, all returned
    let response = search_ok(&sim, RegistryKind::Ibr, &token, &search(vec![id_item("paul", "UIN", "800170000")])).await;
    let found = records(answer_for(&response, "paul"));
    let programmes: Vec<String> = found
        .iter()
        .flat_map(|r| serde_json::from_value::<IbrBeneficiary>(r.clone()).unwrap().enrolments())
        .map(|e| format!("{}:{:?}", e.programme_id.clone().unwrap_or_default(), e.status.as_ref().map(|s| s.label())))
        .collect();
    assert_eq!(programmes, vec!["OAP:Some(\"Active\")", "FSP:Some(\"Active\")", "CCT:Some(\"Graduated\")"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_response_answers_the_request_header() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let mut body = search(vec![id_item("R-1", "UIN", "800010000")]);
    body["message"]["search_request"][0]["locale"] = json!("fr");
    let request_id = body["header"]["message_id"].clone();
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &body).await;
    let header = &response["header"];
    assert_eq!(header["action"], "on-search");
    assert_eq!(header["status"], "succ");
    assert_eq!(header["total_count"], 1);
    assert_eq!(header["completed_count"], 1);
    assert_eq!(header["sender_id"], "registry.test");
    assert_eq!(header["receiver_id"], "elig.test");
    assert!(header["message_id"].as_str().is_some_and(|id| !id.is_empty()) && header["message_id"] != request_id);
    assert_eq!(response["message"]["transaction_id"], "T-1");
    assert!(response["message"]["correlation_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(answer_for(&response, "R-1")["locale"], "fra");

    // without a receiver_id in the request, the registry names itself
    body["header"].as_object_mut().unwrap().remove("receiver_id");
    body["header"]["message_id"] = json!(message_id());
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &body).await;
    assert_eq!(response["header"]["sender_id"], "crvs.registry-sim");
    sim.shutdown().await;
}

fn population() -> Vec<Value> {
    vec![
        person("1001", "1950-03-02", "female", "Kisumu", None),
        person("1002", "1960-06-15", "male", "Mombasa", Some("2020-01-01")),
        person("1003", "1975-12-31T22:00:00+00:00", "female", "Nakuru", None),
        person("1004", "1990-01-01", "other", "Kisumu", None),
        person("1005", "2001-11-30", "male", "Mombasa", Some("2024-05-05")),
        json!({"identifier": [{"identifier_type": "UIN", "identifier_value": "1006"}], "sex": "female", "birth_place": {"name": "Kisumu"}}),
    ]
}

fn predicate(items: Vec<PredicateItem>) -> SearchCriteria {
    SearchCriteria::new(Query::Predicate(items))
}

fn one(expression: PredicateExpression) -> SearchCriteria {
    predicate(vec![PredicateItem::single(expression)])
}

#[tokio::test]
async fn predicates_apply_each_operator_condition_and_dotted_path() {
    let sim = with_crvs(population(), SimConfig::default()).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let cases: Vec<(&str, SearchCriteria, Vec<&str>)> = vec![
        ("gt", one(attribute("birth_date").gt("1975-12-31")), vec!["1004", "1005"]),
        ("lt", one(attribute("birth_date").lt("1960-06-15")), vec!["1001"]),
        ("eq-date-time-on-its-day", one(attribute("birth_date").eq("1975-12-31")), vec!["1003"]),
        ("ge", one(attribute("birth_date").ge("1990-01-01")), vec!["1004", "1005"]),
        ("le", one(attribute("birth_date").le("1960-06-15")), vec!["1001", "1002"]),
        ("in", one(attribute("sex").is_in(["male", "other"])), vec!["1002", "1004", "1005"]),
        (
            "date-range",
            predicate(vec![PredicateItem::and(
                attribute("birth_date").ge("1955-01-01"),
                attribute("birth_date").le("1995-12-31"),
            )]),
            vec!["1002", "1003", "1004"],
        ),
        ("dotted", one(attribute("birth_place.name").eq("Kisumu")), vec!["1001", "1004", "1006"]),
        (
            "or",
            predicate(vec![PredicateItem::or(attribute("sex").eq("other"), attribute("death_date").le("2021-01-01"))]),
            vec!["1002", "1004"],
        ),
        (
            "and-not",
            predicate(vec![PredicateItem::and_not(
                attribute("birth_place.name").eq("Mombasa"),
                attribute("death_date").ge("2022-01-01"),
            )]),
            vec!["1002"],
        ),
        (
            "not-alone",
            predicate(vec![PredicateItem {
                seq_num: Some(1),
                expression1: attribute("sex").eq("female"),
                condition: Some(Condition::Not),
                expression2: None,
            }]),
            vec!["1002", "1004", "1005"],
        ),
        (
            "missing-attribute-never-matches",
            predicate(vec![PredicateItem {
                seq_num: None,
                expression1: attribute("death_date").le("2100-01-01"),
                condition: Some(Condition::Not),
                expression2: None,
            }]),
            vec!["1001", "1003", "1004", "1006"],
        ),
        (
            "items-are-anded",
            predicate(vec![
                PredicateItem::single(attribute("sex").eq("female")).with_seq(2),
                PredicateItem::single(attribute("birth_place.name").eq("Kisumu")).with_seq(1),
            ]),
            vec!["1001", "1006"],
        ),
    ];
    let items = cases.iter().map(|(name, criteria, _)| item(name, criteria.clone())).collect();
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &search(items)).await;
    for (name, _, expected) in &cases {
        let answer = answer_for(&response, name);
        assert_eq!(answer["status"], "succ", "{name}: {answer}");
        assert_eq!(uins(answer), *expected, "{name}");
    }
    sim.shutdown().await;
}

fn births() -> Vec<Value> {
    // 25 people born 1980-01-01 .. 1980-01-25, stored out of order, one as a date-time
    (0..25)
        .map(|i| (i * 7) % 25 + 1)
        .map(|day| {
            let birth = if day == 13 { "1980-01-13T05:00:00Z".to_owned() } else { format!("1980-01-{day:02}") };
            person(&format!("{day}"), &birth, "female", "Kisumu", None)
        })
        .collect()
}

#[tokio::test]
async fn sorting_and_pagination_count_from_one_with_the_total() {
    let sim = with_crvs(births(), SimConfig::default()).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let everyone = || one(attribute("birth_date").ge("1900-01-01"));
    let page = |n| everyone().sorted_by("birth_date", SortOrder::Desc).with_pagination(10, n);
    let items = vec![
        item("p1", page(1)),
        item("p2", page(2)),
        item("p3", page(3)),
        item("p4", page(4)),
        item("asc", everyone().sorted_by("birth_date", SortOrder::Asc)),
        item("unsorted-p2", everyone().with_pagination(10, 2)),
    ];
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &search(items)).await;
    let days =
        |name: &str| -> Vec<u32> { uins(answer_for(&response, name)).iter().map(|d| d.parse().unwrap()).collect() };
    assert_eq!(days("p1"), (16..=25).rev().collect::<Vec<_>>());
    assert_eq!(days("p2"), (6..=15).rev().collect::<Vec<_>>());
    assert_eq!(days("p3"), (1..=5).rev().collect::<Vec<_>>());
    assert!(days("p4").is_empty(), "a page past the end is empty");
    for (name, number) in [("p1", 1), ("p3", 3), ("p4", 4)] {
        assert_eq!(
            answer_for(&response, name)["pagination"],
            json!({"page_size": 10, "page_number": number, "total_count": 25})
        );
    }
    assert_eq!(days("asc"), (1..=25).collect::<Vec<_>>());
    let stored: Vec<u32> = (0..25).map(|i| (i * 7) % 25 + 1).collect();
    assert_eq!(days("unsorted-p2"), stored[10..20].to_vec(), "without sort, pages follow storage order");
    sim.shutdown().await;
}

#[tokio::test]
async fn too_many_matches_without_pagination_are_refused() {
    let sim = with_crvs(births(), SimConfig { max_records_per_item: 5, ..SimConfig::default() }).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let everyone = || one(attribute("birth_date").ge("1900-01-01"));
    let items = vec![
        item("all", everyone()),
        item("paged", everyone().with_pagination(5, 2)),
        item("few", one(attribute("birth_date").le("1980-01-03"))),
    ];
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &search(items)).await;
    assert_eq!(answer_for(&response, "all")["status_reason_code"], "rjct.search.too_many_records_found");
    assert_eq!(records(answer_for(&response, "paged")).len(), 5);
    assert_eq!(answer_for(&response, "paged")["pagination"]["total_count"], 25);
    assert_eq!(records(answer_for(&response, "few")).len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_item_is_rejected_with_its_own_code_while_its_siblings_succeed() {
    let sim = with_crvs(births(), SimConfig::default()).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let ts = now().to_string();
    let by_id = json!({"query_type": "idtype-value", "query": {"type": "UIN", "value": "7"}});
    let pred = |expression: Value| json!({"query_type": "predicate", "query": [{"expression1": expression}]});
    let with = |criteria: Value, extra: Value| {
        let mut criteria = criteria;
        for (key, value) in extra.as_object().unwrap() {
            criteria[key] = value.clone();
        }
        criteria
    };
    let items = vec![
        json!({"reference_id": "ok", "timestamp": ts, "search_criteria": by_id}),
        json!({"timestamp": ts, "search_criteria": by_id}),
        json!({"reference_id": "dup", "timestamp": ts, "search_criteria": by_id}),
        json!({"reference_id": "dup", "timestamp": ts, "search_criteria": by_id}),
        json!({"reference_id": "bad-ts", "timestamp": "yesterday", "search_criteria": by_id}),
        json!({"reference_id": "no-criteria", "timestamp": ts}),
        json!({"reference_id": "no-query", "timestamp": ts, "search_criteria": {"query_type": "idtype-value"}}),
        json!({"reference_id": "graphql", "timestamp": ts, "search_criteria": {"query_type": "graphql", "query": {"type": "UIN", "value": "7"}}}),
        json!({"reference_id": "expression", "timestamp": ts, "search_criteria": {"query_type": "expression", "query": {"type": "ns:org:QueryType:NoSql", "value": {"expression": {}}}}}),
        json!({"reference_id": "other-registry", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"reg_type": "ns:org:RegistryType:IBR"}))}),
        json!({"reference_id": "unknown-attribute", "timestamp": ts, "search_criteria": pred(json!({"attribute_name": "shoe_size", "operator": "eq", "attribute_value": 42}))}),
        json!({"reference_id": "unknown-operator", "timestamp": ts, "search_criteria": pred(json!({"attribute_name": "sex", "operator": "like", "attribute_value": "f%"}))}),
        json!({"reference_id": "type-mismatch", "timestamp": ts, "search_criteria": pred(json!({"attribute_name": "birth_date", "operator": "gt", "attribute_value": 5}))}),
        json!({"reference_id": "bad-sort", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"sort": [{"attribute_name": "birth_date", "sort_order": "sideways"}]}))}),
        json!({"reference_id": "sort-unknown", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"sort": [{"attribute_name": "shoe_size"}]}))}),
        json!({"reference_id": "page-zero", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"pagination": {"page_size": 10, "page_number": 0}}))}),
        json!({"reference_id": "page-huge", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"pagination": {"page_size": 5000, "page_number": 1}}))}),
        json!({"reference_id": "page-text", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"pagination": {"page_size": "many"}}))}),
        json!({"reference_id": "ok-2", "timestamp": ts, "search_criteria": with(by_id.clone(), json!({"reg_type": "ns:org:RegistryType:Civil"}))}),
    ];
    let count = items.len();
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &search_raw(items)).await;
    let answers = response["message"]["search_response"].as_array().unwrap();
    assert_eq!(answers.len(), count, "one answer per item");
    assert_eq!(response["header"]["status"], "succ");
    assert_eq!(response["header"]["completed_count"], count);
    let code = |reference_id: &str| answer_for(&response, reference_id)["status_reason_code"].clone();
    for ok in ["ok", "ok-2"] {
        assert_eq!(answer_for(&response, ok)["status"], "succ");
        assert_eq!(uins(answer_for(&response, ok)), vec!["7"]);
    }
    let missing: Vec<&Value> = answers.iter().filter(|a| a["reference_id"] == "").collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["status_reason_code"], "rjct.reference_id.invalid");
    let dups: Vec<&Value> = answers.iter().filter(|a| a["reference_id"] == "dup").collect();
    assert_eq!(dups[0]["status"], "succ");
    assert_eq!(dups[1]["status_reason_code"], "rjct.reference_id.duplicate");
    assert_eq!(code("bad-ts"), "rjct.timestamp.invalid");
    for criteria in ["no-criteria", "no-query", "graphql", "expression", "other-registry"] {
        assert_eq!(code(criteria), "rjct.search_criteria.invalid", "{criteria}");
    }
    assert!(
        answer_for(&response, "expression")["status_reason_message"].as_str().unwrap().contains("expression queries")
    );
    for filter in ["unknown-attribute", "unknown-operator", "type-mismatch"] {
        assert_eq!(code(filter), "rjct.filter.invalid", "{filter}");
    }
    assert_eq!(code("bad-sort"), "rjct.sort.invalid");
    assert_eq!(code("sort-unknown"), "rjct.sort.invalid");
    for page in ["page-zero", "page-huge", "page-text"] {
        assert_eq!(code(page), "rjct.pagination.invalid", "{page}");
    }
    let rejected = answers.iter().filter(|a| a["status"] == "rjct").count();
    assert_eq!(rejected, count - 3);
    assert!(answers.iter().filter(|a| a["status"] == "rjct").all(|a| a.get("data").is_none()));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_predicate_list_sent_as_expression_is_read_by_its_shape() {
    let sim = with_crvs(births(), SimConfig::default()).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let criteria = json!({"query_type": "expression", "query": [{"seq_num": 1,
        "expression1": {"attribute_name": "birth_date", "operator": "le", "attribute_value": "1980-01-02"}}]});
    let body =
        search_raw(vec![json!({"reference_id": "R", "timestamp": now().to_string(), "search_criteria": criteria})]);
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &body).await;
    assert_eq!(uins(answer_for(&response, "R")).len(), 2);
    sim.shutdown().await;
}
