//! Sync search (`POST /registry/sync/search`): request and response messages.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codes::{QueryType, SearchReasonCode, SortOrder, Status};
use crate::query::Query;
use crate::time::{DciTimestamp, opt_timestamp};
use crate::tolerant::{one_or_many, opt_count, opt_object, opt_text, text};

/// Registry types (`reg_type`) of the three registries this project speaks to.
pub mod reg_type {
    /// Civil registration and vital statistics.
    pub const CIVIL: &str = "ns:org:RegistryType:Civil";
    /// Integrated beneficiary registry.
    pub const IBR: &str = "ns:org:RegistryType:IBR";
    /// Disability registry.
    pub const DR: &str = "ns:org:RegistryType:DR";
}

/// Record types (`reg_record_type`).
pub mod record_type {
    /// A CRVS person.
    pub const PERSON: &str = "spdci-extensions-dci:Person";
    /// An IBR beneficiary (an enrolment of a member or group in a programme).
    pub const BENEFICIARY: &str = "spdci-extensions-dci:Beneficiary";
    /// A disability-registry person.
    pub const DISABLED_PERSON: &str = "spdci-extensions-dci:DisabledPerson";
}

/// The `message` of a search request: one or more search items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// Business transaction id, chosen by the sender.
    #[serde(default, deserialize_with = "text")]
    pub transaction_id: String,
    /// The items; a single object is read as a list of one.
    #[serde(deserialize_with = "one_or_many")]
    pub search_request: Vec<SearchRequestItem>,
}

/// One search in a search request, answered by the response item with the same `reference_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchRequestItem {
    /// Unique within the message; matches the answer to the question.
    #[serde(default, deserialize_with = "text")]
    pub reference_id: String,
    /// When the item was written.
    #[serde(default, deserialize_with = "opt_timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DciTimestamp>,
    /// What to search for.
    pub search_criteria: SearchCriteria,
    /// ISO 639-3 language code.
    #[serde(default, deserialize_with = "opt_locale", skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

/// What a search item asks for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchCriteria {
    /// Criteria version, `1.0.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The registry type, e.g. [`reg_type::CIVIL`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reg_type: Option<String>,
    /// The record type wanted, e.g. [`record_type::PERSON`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reg_record_type: Option<String>,
    /// How to read `query`.
    pub query_type: QueryType,
    /// The query.
    pub query: Query,
    /// Sort order of the results.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<Sort>,
    /// Which page of the results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// Consent object, passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Value>,
    /// Authorisation object, passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize: Option<Value>,
}

impl SearchCriteria {
    /// Criteria for `query` with the query type it implies.
    pub fn new(query: Query) -> Self {
        SearchCriteria {
            version: Some(crate::header::PROTOCOL_VERSION.to_owned()),
            reg_type: None,
            reg_record_type: None,
            query_type: query.query_type(),
            query,
            sort: Vec::new(),
            pagination: None,
            consent: None,
            authorize: None,
        }
    }

    /// Sets the registry and record types.
    pub fn for_registry(mut self, reg_type: &str, reg_record_type: &str) -> Self {
        self.reg_type = Some(reg_type.to_owned());
        self.reg_record_type = Some(reg_record_type.to_owned());
        self
    }

    /// Sets the page.
    pub fn with_pagination(mut self, page_size: u32, page_number: u32) -> Self {
        self.pagination = Some(Pagination { page_size, page_number });
        self
    }

    /// Adds a sort key.
    pub fn sorted_by(mut self, attribute_name: impl Into<String>, sort_order: SortOrder) -> Self {
        self.sort.push(Sort { attribute_name: attribute_name.into(), sort_order });
        self
    }
}

impl<'de> Deserialize<'de> for SearchCriteria {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default, deserialize_with = "opt_text")]
            version: Option<String>,
            #[serde(default, deserialize_with = "opt_text")]
            reg_type: Option<String>,
            #[serde(default, deserialize_with = "opt_text")]
            reg_record_type: Option<String>,
            #[serde(default, deserialize_with = "opt_text")]
            query_type: Option<String>,
            query: Option<Value>,
            #[serde(default, deserialize_with = "one_or_many")]
            sort: Vec<Sort>,
            #[serde(default, deserialize_with = "opt_object")]
            pagination: Option<Pagination>,
            #[serde(default, deserialize_with = "opt_object")]
            consent: Option<Value>,
            #[serde(default, deserialize_with = "opt_object")]
            authorize: Option<Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let declared = raw.query_type.as_deref().map(QueryType::parse);
        let query = raw.query.ok_or_else(|| serde::de::Error::missing_field("query"))?;
        let query = Query::from_value(query, declared.as_ref()).map_err(serde::de::Error::custom)?;
        // Write the query type the query's shape says: a predicate list sent as
        // `expression` (as official samples do) is written back as `predicate`.
        let query_type = match (&declared, &query) {
            (Some(QueryType::Graphql), _) | (Some(QueryType::Other(_)), Query::Expression { .. }) => {
                declared.unwrap_or(QueryType::Expression)
            }
            _ => query.query_type(),
        };
        Ok(SearchCriteria {
            version: raw.version,
            reg_type: raw.reg_type,
            reg_record_type: raw.reg_record_type,
            query_type,
            query,
            sort: raw.sort,
            pagination: raw.pagination,
            consent: raw.consent,
            authorize: raw.authorize,
        })
    }
}

/// A sort key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    /// The attribute sorted on.
    pub attribute_name: String,
    /// The direction.
    #[serde(default = "ascending")]
    pub sort_order: SortOrder,
}

fn ascending() -> SortOrder {
    SortOrder::Asc
}

/// The page asked for; pages count from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Records per page.
    #[serde(deserialize_with = "count_u32")]
    pub page_size: u32,
    /// Page number, from 1.
    #[serde(default = "first_page", deserialize_with = "count_u32")]
    pub page_number: u32,
}

fn first_page() -> u32 {
    1
}

fn count_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let count = opt_count(deserializer)?.unwrap_or(0);
    u32::try_from(count).map_err(serde::de::Error::custom)
}

/// The page returned, with the number of records matching in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePagination {
    /// Records per page.
    #[serde(default, deserialize_with = "count_u32")]
    pub page_size: u32,
    /// Page number, from 1.
    #[serde(default = "first_page", deserialize_with = "count_u32")]
    pub page_number: u32,
    /// Records matching the query, on all pages; `None` when the registry left
    /// it blank (as the spec's samples do), which is not "no records".
    #[serde(default, deserialize_with = "opt_count")]
    pub total_count: Option<u64>,
}

impl ResponsePagination {
    /// Whether the registry says pages follow this one (`false` when it does not say).
    pub fn has_more(&self) -> bool {
        self.total_count
            .is_some_and(|total| self.page_size > 0 && u64::from(self.page_number) * u64::from(self.page_size) < total)
    }
}

/// An ISO 639-3 language code (`eng`), normalised from the two-letter and
/// capitalised forms seen in samples (`en`, `Eng`, `EN/GB`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Locale(String);

impl Locale {
    /// English.
    pub fn english() -> Self {
        Locale("eng".into())
    }

    /// Normalises a language code; `None` for a blank one.
    pub fn parse(text: &str) -> Option<Self> {
        let language = text.trim().split(['/', '-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        if language.is_empty() {
            return None;
        }
        let three = match language.as_str() {
            "en" => "eng",
            "fr" => "fra",
            "es" => "spa",
            "pt" => "por",
            "ar" => "ara",
            "sw" => "swa",
            "th" => "tha",
            "fil" | "tl" => "fil",
            "id" => "ind",
            "bn" => "ben",
            "hi" => "hin",
            "de" => "deu",
            "ru" => "rus",
            "zh" => "zho",
            other => other,
        };
        Some(Locale(three.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Locale {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = text(deserializer)?;
        Locale::parse(&text).ok_or_else(|| serde::de::Error::custom("empty locale"))
    }
}

fn opt_locale<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Locale>, D::Error> {
    Ok(opt_text(deserializer)?.and_then(|text| Locale::parse(&text)))
}

/// The `message` of a search response, generic over the record type
/// (`serde_json::Value` by default, or a typed record such as
/// [`crate::records::CrvsPerson`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: DeserializeOwned", serialize = "R: Serialize"))]
pub struct SearchResponse<R = Value> {
    /// Echo of the request's transaction id.
    #[serde(default, deserialize_with = "text")]
    pub transaction_id: String,
    /// The responder's id for this transaction.
    #[serde(default, deserialize_with = "text")]
    pub correlation_id: String,
    /// One item per request item, matched by `reference_id` (never by position).
    #[serde(default, deserialize_with = "one_or_many")]
    pub search_response: Vec<SearchResponseItem<R>>,
}

/// The answer to one search item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: DeserializeOwned", serialize = "R: Serialize"))]
pub struct SearchResponseItem<R = Value> {
    /// The request item's `reference_id`.
    #[serde(default, deserialize_with = "text")]
    pub reference_id: String,
    /// When the answer was written.
    #[serde(default, deserialize_with = "opt_timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DciTimestamp>,
    /// `succ` or `rjct` (or, tolerated, anything else).
    pub status: Status,
    /// Why the item was rejected.
    #[serde(default, deserialize_with = "opt_reason", skip_serializing_if = "Option::is_none")]
    pub status_reason_code: Option<SearchReasonCode>,
    /// Human-readable reason.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status_reason_message: Option<String>,
    /// The records found.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub data: Option<SearchData<R>>,
    /// The page returned.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub pagination: Option<ResponsePagination>,
    /// ISO 639-3 language code.
    #[serde(default, deserialize_with = "opt_locale", skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

fn opt_reason<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SearchReasonCode>, D::Error> {
    Ok(opt_text(deserializer)?.map(|text| SearchReasonCode::parse(&text)))
}

impl<R> SearchResponseItem<R> {
    /// A successful answer carrying `records`.
    pub fn success(reference_id: impl Into<String>, timestamp: DciTimestamp, data: SearchData<R>) -> Self {
        SearchResponseItem {
            reference_id: reference_id.into(),
            timestamp: Some(timestamp),
            status: Status::Success,
            status_reason_code: None,
            status_reason_message: None,
            data: Some(data),
            pagination: None,
            locale: Some(Locale::english()),
        }
    }

    /// A rejected answer.
    pub fn rejected(
        reference_id: impl Into<String>,
        timestamp: DciTimestamp,
        code: SearchReasonCode,
        message: impl Into<String>,
    ) -> Self {
        SearchResponseItem {
            reference_id: reference_id.into(),
            timestamp: Some(timestamp),
            status: Status::Rejected,
            status_reason_code: Some(code),
            status_reason_message: Some(crate::header::truncate_reason(message.into())),
            data: None,
            pagination: None,
            locale: Some(Locale::english()),
        }
    }

    /// The records, empty when the item carries none.
    pub fn records(&self) -> &[R] {
        self.data.as_ref().map(|data| data.reg_records.as_slice()).unwrap_or_default()
    }
}

/// The records of one answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: DeserializeOwned", serialize = "R: Serialize"))]
pub struct SearchData<R = Value> {
    /// Data version.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Registry type.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reg_type: Option<String>,
    /// Record type.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub reg_record_type: Option<String>,
    /// The records: an array in the newest text, a single object in older ones.
    #[serde(default, deserialize_with = "one_or_many")]
    pub reg_records: Vec<R>,
}

impl<R> SearchData<R> {
    /// Records of `reg_type` / `reg_record_type`.
    pub fn new(reg_type: &str, reg_record_type: &str, reg_records: Vec<R>) -> Self {
        SearchData {
            version: Some(crate::header::PROTOCOL_VERSION.to_owned()),
            reg_type: Some(reg_type.to_owned()),
            reg_record_type: Some(reg_record_type.to_owned()),
            reg_records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_single_request_item_and_a_single_record_are_read_as_lists() {
        let request: SearchRequest = serde_json::from_value(json!({
            "transaction_id": "T",
            "search_request": {"reference_id": "R", "timestamp": "", "search_criteria": {"query_type": "idtype-value", "query": {"type": "UIN", "value": "1"}}, "locale": "en"}
        }))
        .expect("request");
        assert_eq!(request.search_request.len(), 1);
        assert_eq!(request.search_request[0].locale, Some(Locale::english()));

        let response: SearchResponse = serde_json::from_value(json!({
            "transaction_id": "T", "correlation_id": "C",
            "search_response": [{"reference_id": "R", "status": "succ", "data": {"reg_records": {"a": 1}}, "pagination": {"page_size": 10, "page_number": 1, "total_count": ""}}]
        }))
        .expect("response");
        assert_eq!(response.search_response[0].records(), &[json!({"a": 1})]);
        assert_eq!(response.search_response[0].pagination.map(|p| p.total_count), Some(None));
    }

    #[test]
    fn pagination_knows_when_more_pages_follow() {
        let page = |page_number, total_count| ResponsePagination { page_size: 10, page_number, total_count };
        assert!(page(1, Some(11)).has_more());
        assert!(!page(2, Some(11)).has_more());
        assert!(!page(1, Some(10)).has_more());
        assert!(!page(1, None).has_more(), "a blank total says nothing");
    }
}
