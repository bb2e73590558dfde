//! Answering DCI messages: envelope checks, search items, the yes/no checks,
//! and signed responses. Pure CPU work, no I/O: the server runs it on a
//! blocking thread.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dci_protocol::records::{DisabilityRecord, IbrBeneficiary, Reading};
use dci_protocol::signing::{RegistryKeys, Signer, Verifier};
use dci_protocol::{DciTimestamp, Envelope, PredicateItem};
use dci_protocol::{
    DisabledAnswer, DisabledRequest, DisabledResponse, EnrolledAnswer, EnrolledRequest, EnrolledResponse, ErrorCode,
    HeaderReasonCode, HttpErrorResponse, Locale, MEMBER_IDENTIFIER, PERSON_IDENTIFIER, PROGRAMME_IDENTIFIER,
    Pagination, Query, QueryType, RequestHeader, ResponseHeader, ResponsePagination, SearchCriteria, SearchData,
    SearchReasonCode, SearchResponse, SearchResponseItem, Sort, Status, YesNoCriteria, action,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::faults::{ItemRejecter, ServeFaults};
use crate::misbehaviour::{asked_values, rewrite_search};
use crate::predicate::{Invalid, Predicate, SortKeys};
use crate::{Misbehaviour, RegistryData, RegistryKind};

/// An HTTP answer, with what it means for the counters.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// Items read from the request.
    pub(crate) items: u64,
    /// Items answered `succ`.
    pub(crate) succ: u64,
    /// Items answered `rjct`.
    pub(crate) rjct: u64,
}

impl Reply {
    /// An HTTP error with a spec error body `{"errors": [{code, message}]}`.
    pub(crate) fn error(status: u16, code: ErrorCode, message: impl Into<String>) -> Reply {
        let body = serde_json::to_vec(&HttpErrorResponse::single(code, message)).unwrap_or_default();
        Reply { status, body, items: 0, succ: 0, rjct: 0 }
    }

    fn ok(body: Vec<u8>) -> Reply {
        Reply { status: 200, body, items: 0, succ: 0, rjct: 0 }
    }
}

/// Limits a registry enforces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_items_per_message: usize,
    pub(crate) max_page_size: u32,
    pub(crate) max_records_per_item: usize,
}

/// The message ids a registry saw recently, to refuse duplicates; bounded,
/// sharded so that concurrent messages rarely wait for each other.
pub(crate) struct RecentIds {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hasher: RandomState,
}

#[derive(Default)]
struct Shard {
    set: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
}

const SHARDS: usize = 16;

impl RecentIds {
    pub(crate) fn new(capacity: usize) -> Self {
        RecentIds {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            hasher: RandomState::new(),
        }
    }

    /// Remembers `id`; false when it was already remembered.
    pub(crate) fn insert(&self, id: &str) -> bool {
        if self.per_shard == 0 {
            return true;
        }
        let shard = (self.hasher.hash_one(id) as usize) % SHARDS;
        let mut shard = self.shards[shard].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if shard.set.contains(id) {
            return false;
        }
        let id: Arc<str> = Arc::from(id);
        shard.set.insert(id.clone());
        shard.order.push_back(id);
        if shard.order.len() > self.per_shard
            && let Some(oldest) = shard.order.pop_front()
        {
            shard.set.remove(&oldest);
        }
        true
    }
}

/// Everything one registry needs to answer messages.
pub(crate) struct Engine {
    pub(crate) kind: RegistryKind,
    pub(crate) profile: dci_protocol::Profile,
    pub(crate) data: Arc<RegistryData>,
    pub(crate) sender_id: String,
    pub(crate) limits: Limits,
    /// Signs responses (absent when responses are not signed).
    pub(crate) signer: Option<Arc<dyn Signer>>,
    /// Signs with the right key id but the wrong key (`bad_signature_rate`).
    pub(crate) wrong_signer: Arc<dyn Signer>,
    /// Verifies request signatures (absent when they are not checked).
    pub(crate) verifier: Option<Arc<RegistryKeys>>,
    pub(crate) recent: RecentIds,
    pub(crate) id_prefix: String,
    pub(crate) serial: AtomicU64,
}

/// A request envelope whose header could be read.
struct Incoming {
    header: RequestHeader,
    message: Value,
}

type ItemError = (SearchReasonCode, String);

const ENROLLED: &str = "enrolled_criteria";
const DISABLED: &str = "disabled_criteria";

fn invalid(code: SearchReasonCode) -> impl Fn(Invalid) -> ItemError {
    move |Invalid(message)| (code.clone(), message)
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn encoded(body: Result<Vec<u8>, serde_json::Error>) -> Reply {
    match body {
        Ok(body) => Reply::ok(body),
        Err(error) => Reply::error(500, ErrorCode::ServiceUnavailable, format!("cannot encode the response: {error}")),
    }
}

/// The search response message as JSON, the records moved (not copied) into it.
fn search_message(
    transaction_id: String,
    correlation_id: String,
    answers: Vec<SearchResponseItem<Value>>,
) -> Result<Value, serde_json::Error> {
    let mut items = Vec::with_capacity(answers.len());
    for mut answer in answers {
        let records = answer.data.as_mut().map(|data| std::mem::take(&mut data.reg_records));
        let mut item = serde_json::to_value(&answer)?;
        if let (Some(records), Some(data)) = (records, item.get_mut("data")) {
            data["reg_records"] = Value::Array(records);
        }
        items.push(item);
    }
    let empty = SearchResponse::<Value> { transaction_id, correlation_id, search_response: Vec::new() };
    let mut message = serde_json::to_value(empty)?;
    message["search_response"] = Value::Array(items);
    Ok(message)
}

/// A search hit on its way into the answer.
struct Hit {
    position: u32,
    keys: Vec<Option<Value>>,
    record: Option<Value>,
}

impl Engine {
    fn next_id(&self, what: &str) -> String {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        format!("{}-{what}-{serial}", self.id_prefix)
    }

    fn answer_header(&self, request: &RequestHeader, status: Status, completed: u64) -> ResponseHeader {
        let mut header =
            ResponseHeader::answering(request, self.next_id("msg"), DciTimestamp::now(), status, completed);
        if header.sender_id.is_none() {
            header.sender_id = Some(self.sender_id.clone());
        }
        header
    }

    /// The `reg_type` this registry serves, in its dialect.
    fn reg_type(&self) -> &'static str {
        self.profile.reg_type(self.kind.reg_type())
    }

    /// Serialises a response envelope, signed when the registry signs.
    fn respond<M: Serialize>(&self, header: &ResponseHeader, message: &M, bad_signature: bool) -> Reply {
        if self.signer.is_none() {
            return encoded(serde_json::to_vec(&Envelope::new(header, message)));
        }
        match serde_json::to_value(message) {
            Ok(message) => self.respond_value(header, message, bad_signature),
            Err(error) => encoded(Err(error)),
        }
    }

    /// Serialises a response envelope whose message is already JSON, signed
    /// (over exactly these values) when the registry signs.
    fn respond_value(&self, header: &ResponseHeader, message: Value, bad_signature: bool) -> Reply {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            signature: Option<String>,
            header: &'a Value,
            message: &'a Value,
        }
        let header = match serde_json::to_value(header) {
            Ok(header) => header,
            Err(error) => return encoded(Err(error)),
        };
        let signature = match &self.signer {
            None => None,
            Some(signer) => {
                let signer = if bad_signature { &self.wrong_signer } else { signer };
                match signer.sign(&header, &message, DciTimestamp::now().unix_seconds()) {
                    Ok(signature) => Some(signature),
                    // A registry that signs never answers unsigned.
                    Err(error) => {
                        return Reply::error(500, ErrorCode::ServiceUnavailable, format!("cannot sign: {error}"));
                    }
                }
            }
        };
        encoded(serde_json::to_vec(&Out { signature, header: &header, message: &message }))
    }

    /// Reads the envelope: JSON, shape, signature, header.
    fn read(&self, body: &[u8]) -> Result<Incoming, Reply> {
        let bad = |message: String| Reply::error(400, ErrorCode::RequestBad, message);
        let document: Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("the request body is not JSON: {e}")))?;
        let Value::Object(mut document) = document else {
            return Err(bad("the request body must be an object {signature, header, message}".into()));
        };
        let header = document
            .remove("header")
            .or_else(|| document.remove("headers"))
            .ok_or_else(|| bad("the request has no header".into()))?;
        let message = document.remove("message").ok_or_else(|| bad("the request has no message".into()))?;
        if let Some(verifier) = &self.verifier {
            let signature = document.get("signature").and_then(Value::as_str);
            let now = DciTimestamp::now().unix_seconds();
            verifier
                .verify(signature, &header, &message, now)
                .map_err(|e| Reply::error(403, e.error_code(), format!("request signature: {e}")))?;
        }
        let header: RequestHeader = serde::Deserialize::deserialize(&header)
            .map_err(|e| bad(format!("the request header cannot be read: {e}")))?;
        if header.is_msg_encrypted {
            return Err(Reply::error(
                400,
                ErrorCode::EncryptionInvalid,
                "encrypted messages (is_msg_encrypted: true) are not supported by this registry",
            ));
        }
        Ok(Incoming { header, message })
    }

    /// The first reason to reject the whole message, if any. Remembers the
    /// message id of a message that passes.
    fn header_problem(&self, header: &RequestHeader, items: usize) -> Option<(HeaderReasonCode, String)> {
        if let Some(problem) = header.problems(action::SEARCH).into_iter().next() {
            return Some(problem);
        }
        let declared = header.total_count.unwrap_or_default();
        if declared != items as u64 {
            return Some((
                HeaderReasonCode::TotalCountInvalid,
                format!("header.total_count is {declared} but the message carries {items} item(s)"),
            ));
        }
        if items > self.limits.max_items_per_message {
            return Some((
                HeaderReasonCode::TotalCountLimitExceeded,
                format!(
                    "{items} items in one message; this registry accepts at most {}",
                    self.limits.max_items_per_message
                ),
            ));
        }
        if !self.recent.insert(&header.message_id) {
            return Some((
                HeaderReasonCode::MessageIdDuplicate,
                format!("message_id {:?} was already received", header.message_id),
            ));
        }
        None
    }

    /// `POST /registry/sync/search`.
    pub(crate) fn search(&self, body: &[u8], faults: &ServeFaults) -> Reply {
        let Incoming { header, message } = match self.read(body) {
            Ok(incoming) => incoming,
            Err(reply) => return reply,
        };
        let Value::Object(mut message) = message else {
            return Reply::error(
                400,
                ErrorCode::RequestBad,
                "message must be an object {transaction_id, search_request}",
            );
        };
        let transaction_id = text_of(message.get("transaction_id")).unwrap_or_default();
        let items = match message.remove("search_request") {
            Some(Value::Array(items)) => items,
            Some(item @ Value::Object(_)) => vec![item],
            _ => return Reply::error(400, ErrorCode::RequestBad, "message.search_request is missing or not a list"),
        };
        let count = items.len();
        let correlation_id = self.next_id("corr");
        if let Some((code, reason)) = self.header_problem(&header, count) {
            let header = self.answer_header(&header, Status::Rejected, 0).rejected(code, reason);
            let message = SearchResponse::<Value> { transaction_id, correlation_id, search_response: Vec::new() };
            let mut reply = self.respond(&header, &message, faults.bad_signature);
            reply.items = count as u64;
            return reply;
        }
        let now = DciTimestamp::now();
        let mut seen: HashSet<String> = HashSet::with_capacity(count);
        let mut rejecter = ItemRejecter::new(faults);
        let misbehaviour = faults.misbehaviour.as_ref();
        let asked: Vec<Vec<String>> = match misbehaviour {
            Some(Misbehaviour::ForeignRecords) => items.iter().map(asked_values).collect(),
            _ => Vec::new(),
        };
        let default_page = match misbehaviour {
            Some(Misbehaviour::PagedAnswers { page_size, .. }) => Some(*page_size),
            _ => None,
        };
        let answers: Vec<SearchResponseItem<Value>> =
            items.into_iter().map(|item| self.answer_item(item, &mut seen, &mut rejecter, now, default_page)).collect();
        // The counters keep what the engine answered, before any lie.
        let succ = answers.iter().filter(|a| a.status == Status::Success).count() as u64;
        let header = self.answer_header(&header, Status::Success, count as u64);
        let mut reply = match search_message(transaction_id, correlation_id, answers) {
            Ok(mut message) => {
                if let Some(misbehaviour) = misbehaviour {
                    rewrite_search(misbehaviour, &mut message, &asked, &self.data);
                }
                let mut reply = self.respond_value(&header, message, faults.bad_signature);
                if let Some(Misbehaviour::DuplicateKey { field, first }) = misbehaviour {
                    reply.body = duplicate_key(&reply.body, field, first);
                }
                reply
            }
            Err(error) => encoded(Err(error)),
        };
        reply.items = count as u64;
        reply.succ = succ;
        reply.rjct = count as u64 - succ;
        reply
    }

    fn answer_item(
        &self,
        item: Value,
        seen: &mut HashSet<String>,
        rejecter: &mut Option<ItemRejecter>,
        now: DciTimestamp,
        default_page: Option<u32>,
    ) -> SearchResponseItem<Value> {
        let reject = |reference_id: &str, code: SearchReasonCode, message: String| {
            SearchResponseItem::rejected(reference_id, now, code, message)
        };
        let Value::Object(mut item) = item else {
            return reject("", SearchReasonCode::ReferenceIdInvalid, "a search_request item must be an object".into());
        };
        let Some(reference_id) = text_of(item.get("reference_id")) else {
            return reject("", SearchReasonCode::ReferenceIdInvalid, "reference_id is missing or blank".into());
        };
        if !seen.insert(reference_id.clone()) {
            let message = format!("reference_id {reference_id:?} appears more than once in this message");
            return reject(&reference_id, SearchReasonCode::ReferenceIdDuplicate, message);
        }
        match item.get("timestamp") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) if text.trim().is_empty() => {}
            Some(Value::String(text)) if DciTimestamp::parse_lenient(text).is_ok() => {}
            Some(other) => {
                let message = format!("timestamp {other} is not an RFC 3339 timestamp");
                return reject(&reference_id, SearchReasonCode::TimestampInvalid, message);
            }
        }
        if rejecter.as_mut().is_some_and(ItemRejecter::reject) {
            return reject(&reference_id, SearchReasonCode::FilterInvalid, "injected fault".into());
        }
        let locale = item.get("locale").and_then(Value::as_str).and_then(Locale::parse);
        let criteria = match item.remove("search_criteria") {
            Some(Value::Object(criteria)) => criteria,
            _ => {
                let message = "search_criteria is missing or not an object".to_owned();
                return reject(&reference_id, SearchReasonCode::SearchCriteriaInvalid, message);
            }
        };
        let mut answer = match self.find(criteria, default_page) {
            Ok((records, pagination)) => {
                let data = SearchData::new(self.reg_type(), self.kind.record_type(), records);
                let mut answer = SearchResponseItem::success(reference_id, now, data);
                answer.pagination = pagination;
                answer
            }
            Err((code, message)) => reject(&reference_id, code, message),
        };
        if let Some(locale) = locale {
            answer.locale = Some(locale);
        }
        answer
    }

    /// Runs one search criteria: the records of the page asked for (or of the
    /// first page of `default_page` records, when given and none was asked
    /// for), and the page.
    fn find(
        &self,
        mut criteria: Map<String, Value>,
        default_page: Option<u32>,
    ) -> Result<(Vec<Value>, Option<ResponsePagination>), ItemError> {
        let sort = read_sort(criteria.remove("sort"))?;
        let sort = SortKeys::compile(self.kind, &sort).map_err(invalid(SearchReasonCode::SortInvalid))?;
        let pagination = self
            .read_pagination(criteria.remove("pagination"))?
            .or_else(|| default_page.map(|page_size| Pagination { page_size: page_size.max(1), page_number: 1 }));
        let criteria_invalid = |message: String| (SearchReasonCode::SearchCriteriaInvalid, message);
        for (field, expected) in [("reg_type", self.reg_type()), ("reg_record_type", self.kind.record_type())] {
            if let Some(given) = text_of(criteria.get(field))
                && !given.trim().eq_ignore_ascii_case(expected)
            {
                return Err(criteria_invalid(format!(
                    "{field} {given:?} is not served here: this is the {} registry ({expected})",
                    self.kind.as_str().to_uppercase()
                )));
            }
        }
        if let Some(declared) = text_of(criteria.get("query_type")) {
            match QueryType::parse(&declared) {
                QueryType::IdTypeValue | QueryType::Predicate | QueryType::Expression => {}
                _ => {
                    return Err(criteria_invalid(format!(
                        "query_type {declared:?} is not supported (idtype-value or predicate)"
                    )));
                }
            }
        }
        let criteria: SearchCriteria = serde_json::from_value(Value::Object(criteria))
            .map_err(|e| criteria_invalid(format!("search_criteria: {e}")))?;
        match criteria.query {
            Query::IdTypeValue { id_type, value } => {
                if id_type.trim().is_empty() {
                    return Err(criteria_invalid("query.type (the identifier type) is blank".into()));
                }
                let positions = self.data.lookup(&id_type, &value);
                self.collect(positions.iter().copied(), |_| true, &sort, pagination)
            }
            Query::Predicate(items) => self.predicate(&items, &sort, pagination),
            Query::Expression { .. } => {
                Err(criteria_invalid("expression queries are not supported by this simulator".into()))
            }
        }
    }

    fn predicate(
        &self,
        items: &[PredicateItem],
        sort: &SortKeys,
        pagination: Option<Pagination>,
    ) -> Result<(Vec<Value>, Option<ResponsePagination>), ItemError> {
        let predicate = Predicate::compile(self.kind, items).map_err(invalid(SearchReasonCode::FilterInvalid))?;
        let everything = 0..self.data.len() as u32;
        self.collect(everything, |record| predicate.matches(record), sort, pagination)
    }

    /// Reads the candidate records, keeps the matching ones, sorts and pages
    /// them. Memory stays bounded by the page (or the per-item limit): records
    /// outside the page are not kept, only their sort keys.
    fn collect(
        &self,
        candidates: impl Iterator<Item = u32>,
        matches: impl Fn(&Value) -> bool,
        sort: &SortKeys,
        pagination: Option<Pagination>,
    ) -> Result<(Vec<Value>, Option<ResponsePagination>), ItemError> {
        let limit = self.limits.max_records_per_item;
        let window = pagination.map(|p| {
            let start = (u64::from(p.page_number) - 1) * u64::from(p.page_size);
            (start, start + u64::from(p.page_size))
        });
        let mut hits: Vec<Hit> = Vec::new();
        let mut total: u64 = 0;
        for position in candidates {
            let Some(record) = self.data.record(position as usize) else { continue };
            if !matches(&record) {
                continue;
            }
            let keep = match window {
                None => true,
                Some(_) if !sort.is_empty() => false,
                Some((start, end)) => (start..end).contains(&total),
            };
            total += 1;
            if window.is_none() && total > limit as u64 {
                return Err((
                    SearchReasonCode::TooManyRecordsFound,
                    format!("more than {limit} records match; ask for them page by page (pagination)"),
                ));
            }
            if keep || !sort.is_empty() {
                let keys = if sort.is_empty() { Vec::new() } else { sort.keys_of(&record) };
                hits.push(Hit { position, keys, record: keep.then_some(record) });
            }
        }
        if !sort.is_empty() {
            hits.sort_by(|a, b| sort.compare(&a.keys, &b.keys));
        }
        let Some(page) = pagination else {
            return Ok((hits.into_iter().filter_map(|hit| hit.record).collect(), None));
        };
        let records: Vec<Value> = if sort.is_empty() {
            hits.into_iter().filter_map(|hit| hit.record).collect()
        } else {
            let start =
                usize::try_from((u64::from(page.page_number) - 1) * u64::from(page.page_size)).unwrap_or(usize::MAX);
            hits.into_iter()
                .skip(start)
                .take(page.page_size as usize)
                .filter_map(|hit| hit.record.or_else(|| self.data.record(hit.position as usize)))
                .collect()
        };
        let pagination =
            ResponsePagination { page_size: page.page_size, page_number: page.page_number, total_count: Some(total) };
        Ok((records, Some(pagination)))
    }

    fn read_pagination(&self, value: Option<Value>) -> Result<Option<Pagination>, ItemError> {
        let invalid = |message: String| (SearchReasonCode::PaginationInvalid, message);
        let Some(value) = value.filter(|v| !is_blank(v)) else { return Ok(None) };
        let page: Pagination = serde_json::from_value(value).map_err(|e| invalid(format!("pagination: {e}")))?;
        if page.page_size == 0 || page.page_number == 0 {
            return Err(invalid(format!(
                "page_size {} and page_number {} must both be at least 1 (pages count from 1)",
                page.page_size, page.page_number
            )));
        }
        if page.page_size > self.limits.max_page_size {
            return Err(invalid(format!(
                "page_size {} is larger than this registry's maximum {}",
                page.page_size, self.limits.max_page_size
            )));
        }
        Ok(Some(page))
    }

    /// Reads a yes/no envelope up to its criteria; `Err` is the complete reply.
    fn yes_no_criteria(&self, body: &[u8], field: &str) -> Result<(RequestHeader, String, YesNoCriteria), Reply> {
        let Incoming { header, message } = self.read(body)?;
        let transaction_id = text_of(message.get("transaction_id")).unwrap_or_default();
        if let Some((code, reason)) = self.header_problem(&header, 1) {
            return Err(self.yes_no_rejection(&header, transaction_id, code, reason, field));
        }
        let criteria = if field == ENROLLED {
            serde_json::from_value::<EnrolledRequest>(message).map(|request| request.enrolled_criteria)
        } else {
            serde_json::from_value::<DisabledRequest>(message).map(|request| request.disabled_criteria)
        };
        let criteria = criteria.map_err(|e| {
            let answer = format!("the {field} cannot be read: {e}");
            self.yes_no_item_rejection(&header, transaction_id.clone(), answer, field)
        })?;
        Ok((header, transaction_id, criteria))
    }

    fn yes_no_rejection(
        &self,
        request: &RequestHeader,
        transaction_id: String,
        code: HeaderReasonCode,
        reason: String,
        field: &str,
    ) -> Reply {
        let header = self.answer_header(request, Status::Rejected, 0).rejected(code, reason);
        let correlation_id = self.next_id("corr");
        let mut reply = if field == ENROLLED {
            let message = EnrolledResponse { transaction_id, correlation_id, enrolled_response: Vec::new() };
            self.respond(&header, &message, false)
        } else {
            let message = DisabledResponse { transaction_id, correlation_id, disabled_response: Vec::new() };
            self.respond(&header, &message, false)
        };
        reply.items = 1;
        reply
    }

    fn yes_no_item_rejection(
        &self,
        request: &RequestHeader,
        transaction_id: String,
        why: String,
        field: &str,
    ) -> Reply {
        let now = DciTimestamp::now();
        let header = self.answer_header(request, Status::Success, 1);
        let correlation_id = self.next_id("corr");
        let mut reply = if field == ENROLLED {
            let answer = EnrolledAnswer::rejected(transaction_id.clone(), now, why);
            let message = EnrolledResponse { transaction_id, correlation_id, enrolled_response: vec![answer] };
            self.respond(&header, &message, false)
        } else {
            let answer = DisabledAnswer::rejected(transaction_id.clone(), now, why);
            let message = DisabledResponse { transaction_id, correlation_id, disabled_response: vec![answer] };
            self.respond(&header, &message, false)
        };
        reply.items = 1;
        reply.rjct = 1;
        reply
    }

    /// `POST /registry/sync/enrolled` (IBR): yes when the person has an active
    /// enrolment (in the programme, when one is named). The answer's
    /// `reference_id` is the request's `transaction_id`.
    pub(crate) fn enrolled(&self, body: &[u8], faults: &ServeFaults) -> Reply {
        const FIELD: &str = ENROLLED;
        let (header, transaction_id, criteria) = match self.yes_no_criteria(body, FIELD) {
            Ok(parts) => parts,
            Err(reply) => return reply,
        };
        let Some(person) = criteria.equal_value(PERSON_IDENTIFIER) else {
            let why = format!("enrolled_criteria.query names no {PERSON_IDENTIFIER} {{\"eq\": ...}}");
            return self.yes_no_item_rejection(&header, transaction_id, why, FIELD);
        };
        if ItemRejecter::new(faults).as_mut().is_some_and(ItemRejecter::reject) {
            return self.yes_no_item_rejection(&header, transaction_id, "injected fault".into(), FIELD);
        }
        let programme = criteria.equal_value(PROGRAMME_IDENTIFIER);
        let enrolled = self.data.lookup_any_type(&person).into_iter().any(|position| {
            let record = self.data.record_text(position as usize).unwrap_or("{}");
            serde_json::from_str::<IbrBeneficiary>(record).is_ok_and(|beneficiary| {
                beneficiary.enrolments().iter().any(|enrolment| {
                    enrolment.is_active()
                        && programme.as_deref().is_none_or(|p| enrolment.programme_id.as_deref() == Some(p))
                })
            })
        });
        let now = DciTimestamp::now();
        let answer = EnrolledAnswer::new(transaction_id.clone(), now, enrolled);
        let response_header = self.answer_header(&header, Status::Success, 1);
        let message =
            EnrolledResponse { transaction_id, correlation_id: self.next_id("corr"), enrolled_response: vec![answer] };
        let mut reply = self.respond(&response_header, &message, faults.bad_signature);
        reply.items = 1;
        reply.succ = 1;
        reply
    }

    /// `POST /registry/sync/disabled` (DR): yes when a record of the person
    /// states a disability ([`dci_protocol::records::DisabilityFacts::has_disability`]).
    /// The answer's `reference_id` is the request's `transaction_id`.
    pub(crate) fn disabled(&self, body: &[u8], faults: &ServeFaults) -> Reply {
        const FIELD: &str = DISABLED;
        let (header, transaction_id, criteria) = match self.yes_no_criteria(body, FIELD) {
            Ok(parts) => parts,
            Err(reply) => return reply,
        };
        let Some(person) = criteria.equal_value(MEMBER_IDENTIFIER) else {
            let why = format!("disabled_criteria.query names no {MEMBER_IDENTIFIER} {{\"eq\": ...}}");
            return self.yes_no_item_rejection(&header, transaction_id, why, FIELD);
        };
        if ItemRejecter::new(faults).as_mut().is_some_and(ItemRejecter::reject) {
            return self.yes_no_item_rejection(&header, transaction_id, "injected fault".into(), FIELD);
        }
        let disabled = self.data.lookup_any_type(&person).into_iter().any(|position| {
            let record = self.data.record_text(position as usize).unwrap_or("{}");
            serde_json::from_str::<DisabilityRecord>(record)
                .is_ok_and(|record| record.facts().has_disability == Reading::Value(true))
        });
        let now = DciTimestamp::now();
        let answer = DisabledAnswer::new(transaction_id.clone(), now, disabled);
        let response_header = self.answer_header(&header, Status::Success, 1);
        let message =
            DisabledResponse { transaction_id, correlation_id: self.next_id("corr"), disabled_response: vec![answer] };
        let mut reply = self.respond(&response_header, &message, faults.bad_signature);
        reply.items = 1;
        reply.succ = 1;
        reply
    }
}

/// Reads `sort`: a list of `{attribute_name, sort_order}` or a single one.
fn read_sort(value: Option<Value>) -> Result<Vec<Sort>, ItemError> {
    let invalid = |message: String| (SearchReasonCode::SortInvalid, message);
    let items = match value {
        None => return Ok(Vec::new()),
        Some(value) if is_blank(&value) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(item @ Value::Object(_)) => vec![item],
        Some(other) => {
            return Err(invalid(format!("sort must be a list of {{attribute_name, sort_order}}, found {other}")));
        }
    };
    items
        .into_iter()
        .filter(|item| !is_blank(item))
        .map(|item| serde_json::from_value::<Sort>(item).map_err(|e| invalid(format!("sort: {e}"))))
        .collect()
}

/// `body` with every key `"field":` given twice, `first` before the true
/// value. Keys are found as the compact encoding writes them (`"field":`),
/// which no string value's text can hold unescaped.
fn duplicate_key(body: &[u8], field: &str, first: &Value) -> Vec<u8> {
    let (Ok(key), Ok(first)) = (serde_json::to_vec(field), serde_json::to_vec(first)) else { return body.to_vec() };
    let mut pattern = key.clone();
    pattern.push(b':');
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut at = 0;
    while let Some(found) = body[at..].windows(pattern.len()).position(|window| window == pattern.as_slice()) {
        let start = at + found;
        out.extend_from_slice(&body[at..start]);
        out.extend_from_slice(&pattern);
        out.extend_from_slice(&first);
        out.push(b',');
        out.extend_from_slice(&pattern);
        at = start + pattern.len();
    }
    out.extend_from_slice(&body[at..]);
    out
}
