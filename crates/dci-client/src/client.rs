//! [`DciClient`]: search, batched search, pagination, yes/no checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dci_protocol::records::{Identified, Identifier};
use dci_protocol::signing::{Ed25519Signer, JwsForm, JwsSigner, Signer};
use dci_protocol::{
    DciTimestamp, DisabledRequest, DisabledResponse, EnrolledRequest, EnrolledResponse, Locale, Query, RequestHeader,
    ResponsePagination, SearchCriteria, SearchReasonCode, SearchRequest, SearchRequestItem, SearchResponseItem, Status,
    YesNo, YesNoCriteria, action,
};
use dci_protocol::{StrictError, from_str_strict, one_line};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::budget::RetryBudget;
use crate::config::{DataSource, SigningScheme};
use crate::error::ClientError;
use crate::http::{Answer, Limits};
use crate::inner::{Counters, Inner};
use crate::token::TokenCache;

/// A snapshot of a client's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// DCI messages sent (one per `search_many` batch, page or yes/no check).
    pub messages: u64,
    /// Search items sent.
    pub items: u64,
    /// HTTP requests to data endpoints, retries included.
    pub http_requests: u64,
    /// Retries after transient failures.
    pub retries: u64,
    /// Token requests.
    pub token_requests: u64,
    /// Answers to search items that were not used: a status that is not final, no
    /// data, an unreadable or ambiguous record or one of someone else, a
    /// `reference_id` repeated or not sent.
    pub unusable_items: u64,
    /// Messages that timed out and were sent again as two halves.
    pub split_messages: u64,
}

/// Messages of one call under way (sent, waiting to be retried, or queued for
/// a slot on the wire) per `max_in_flight` slot.
const MESSAGES_UNDER_WAY_PER_SLOT: usize = 4;

/// An async client of one DCI registry. Cheap to clone; clones share the
/// connection pool, the token and the counters.
#[derive(Clone)]
pub struct DciClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DciClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DciClient").field("source", &self.inner.source).finish_non_exhaustive()
    }
}

/// The answer to one search item.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<R> {
    /// The records of the page returned.
    pub records: Vec<R>,
    /// The page, when the registry said.
    pub pagination: Option<ResponsePagination>,
}

/// The message of a search response, its items kept as text: each is read
/// on its own, so that an item too deep or ambiguous to read fails only itself.
#[derive(serde::Deserialize)]
struct RawSearchResponse {
    #[serde(default, deserialize_with = "raw_items")]
    search_response: Vec<Box<RawValue>>,
}

/// `search_response` as a list of item texts: an array, a single object, or
/// nothing (`null`, `""`); blank items are dropped.
fn raw_items<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Box<RawValue>>, D::Error> {
    use serde::Deserialize;
    let Some(raw) = Option::<Box<RawValue>>::deserialize(deserializer)? else { return Ok(Vec::new()) };
    let blank =
        |text: &str| matches!(text.trim(), "null" | "{}" | "[]") || text.trim().trim_matches('"').trim().is_empty();
    match raw.get().trim_start().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?;
            Ok(items.into_iter().filter(|item| !blank(item.get())).collect())
        }
        Some(b'{') => Ok(if blank(raw.get()) { Vec::new() } else { vec![raw] }),
        _ if blank(raw.get()) => Ok(Vec::new()),
        _ => Err(serde::de::Error::custom("search_response is neither a list nor an object")),
    }
}

/// Whether a record is blank: null, an empty object or list, or blank text.
fn is_blank_record(record: &Value) -> bool {
    match record {
        Value::Null => true,
        Value::Object(fields) => fields.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

/// The `reference_id` of an item's text, read without building the item.
fn reference_of(item: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        reference_id: Option<Value>,
    }
    match serde_json::from_str::<Probe>(item.get()).ok()?.reference_id? {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// One search item: its criteria, and the person it asks about when known.
type Question = (SearchCriteria, Option<Identifier>);

/// Whether a record belongs to the person asked about.
type Belongs<R> = dyn Fn(&R, &Identifier) -> bool + Sync;

/// Why the answer to one item is not used.
#[derive(Debug)]
enum ItemProblem {
    /// The registry rejected the item.
    Rejected(SearchReasonCode, String),
    /// The answer cannot be trusted or read.
    Unusable(String),
    /// The answer gives a key twice.
    Ambiguous(String),
    /// The answer holds a record of someone other than the person asked about.
    Foreign(String),
}

impl ItemProblem {
    fn into_error(self, reference_id: &str, request: &str, source: &DataSource) -> ClientError {
        let (registry, request, reference_id) = (source.registry, request.to_owned(), reference_id.to_owned());
        // The registry's text goes into the error on one line, bounded (`one_line`).
        match self {
            ItemProblem::Rejected(code, message) => {
                let code = match code {
                    SearchReasonCode::Other(text) => SearchReasonCode::Other(one_line(&text)),
                    known => known,
                };
                ClientError::Rejected { registry, request, reference_id, code, message: one_line(&message) }
            }
            ItemProblem::Ambiguous(message) => ClientError::Ambiguous { registry, request, reference_id, message },
            ItemProblem::Unusable(message) | ItemProblem::Foreign(message) => {
                ClientError::ItemUnusable { registry, request, reference_id, message }
            }
        }
    }
}

/// What the pages of one person's answer say is left to fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NextPage {
    /// Nothing: the answer is whole.
    None,
    /// This page, of this size.
    Page { number: u32, size: u32 },
}

/// The page after `found`, by its pagination, given the records `received`
/// in all and those of the last page read; `Err` when the registry says it
/// holds more than it gave and gives no way to ask for the rest.
fn next_page<R>(found: &Found<R>, received: usize, last_page: usize) -> Result<NextPage, String> {
    let Some(page) = found.pagination else { return Ok(NextPage::None) };
    let next = || page.page_number.checked_add(1).map(|number| NextPage::Page { number, size: page.page_size });
    match page.total_count {
        Some(total) if received as u64 >= total => Ok(NextPage::None),
        Some(total) if page.page_size == 0 => Err(format!(
            "the registry holds {total} records, gave {received}, and names no page size to ask the rest by"
        )),
        Some(total) if u64::from(page.page_number) * u64::from(page.page_size) >= total => Err(format!(
            "the registry holds {total} records and gave {received}, the last page (page {} of {} records) included",
            page.page_number, page.page_size
        )),
        Some(_) => next().ok_or_else(|| "the registry's page number cannot grow".to_owned()),
        // No total: a full page may have a next one.
        None if page.page_size > 0 && last_page >= page.page_size as usize => {
            next().ok_or_else(|| "the registry's page number cannot grow".to_owned())
        }
        None => Ok(NextPage::None),
    }
}

/// Why `page`, asked as page `number` of one person's answer, cannot be
/// added to it: another page given, or an empty page where more were stated.
fn page_fits<R>(page: &Found<R>, number: u32) -> Result<(), String> {
    if let Some(answered) = page.pagination.map(|p| p.page_number).filter(|answered| *answered != number) {
        return Err(format!(
            "asked for page {number}, the registry answered page {answered}: it does not give the pages of a \
             person's answer"
        ));
    }
    if page.records.is_empty() && page.pagination.is_some_and(|p| p.total_count.is_some()) {
        return Err(format!("page {number} is empty although the registry said it holds more records"));
    }
    Ok(())
}

/// The next page each person's answer needs, as `(person, page number,
/// page size)`; a person whose answer cannot be continued fails (`incomplete`).
fn pages_wanted<R>(
    results: &mut [Result<Found<R>, ClientError>],
    received: &[usize],
    last_page: &[usize],
    incomplete: &impl Fn(usize, String) -> ClientError,
) -> Vec<(usize, u32, u32)> {
    let mut wanted = Vec::new();
    for (index, result) in results.iter_mut().enumerate() {
        let Ok(found) = result else { continue };
        match next_page(found, received[index], last_page[index]) {
            Ok(NextPage::None) => {}
            Ok(NextPage::Page { number, size }) => wanted.push((index, number, size)),
            Err(message) => *result = Err(incomplete(index, message)),
        }
    }
    wanted
}

/// Keeps one of each identical record of `found`; why not, when fewer
/// distinct records remain than the largest total the registry `stated`.
fn keep_distinct<R: Serialize>(found: &mut Found<R>, stated: Option<u64>) -> Result<(), String> {
    found.records = distinct(std::mem::take(&mut found.records));
    match stated {
        Some(total) if (found.records.len() as u64) < total => {
            Err(format!("the registry said it holds {total} records and gave {} distinct ones", found.records.len()))
        }
        _ => Ok(()),
    }
}

/// `records` with identical ones once, compared by their normalised text:
/// linear in the records (a registry repeating page 1 gives each twice).
fn distinct<R: Serialize>(records: Vec<R>) -> Vec<R> {
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut unique: Vec<R> = Vec::with_capacity(records.len());
    for record in records {
        let text = serde_json::to_string(&record).unwrap_or_default();
        if text.is_empty() || seen.insert(text) {
            unique.push(record);
        }
    }
    unique
}

/// Identifier value a connection check searches for when no
/// `probe_identifier` is configured; no real person has it.
pub const PROBE_IDENTIFIER: &str = "elig-connection-test";

/// The signer of our requests to `source`, as its `signing` says.
fn request_signer(source: &DataSource) -> Result<Option<Box<dyn Signer>>, String> {
    let signing = &source.signing;
    let form = match signing.scheme {
        None | Some(SigningScheme::None) => return Ok(None),
        Some(SigningScheme::Ed25519) => {
            let key = signing
                .key
                .as_ref()
                .ok_or("signing.scheme is ed25519 but signing.key is not set")?
                .resolve("signing.key")?;
            let signer = Ed25519Signer::from_base64_seed(&source.sender_id, &signing.key_id, key.expose())
                .map_err(|e| format!("signing.key: {e}"))?;
            return Ok(Some(Box::new(signer)));
        }
        Some(SigningScheme::Jws) => JwsForm::Compact,
        Some(SigningScheme::JwsDetached) => JwsForm::Detached,
    };
    let pem = match (&signing.key, &signing.key_file) {
        (Some(key), None) => key.resolve("signing.key")?.expose().as_bytes().to_vec(),
        (None, Some(path)) => std::fs::read(path).map_err(|e| format!("signing.key_file {}: {e}", path.display()))?,
        (Some(_), Some(_)) => return Err("signing: set key or key_file, not both".into()),
        (None, None) => return Err("a JWS signing.scheme needs signing.key (PEM) or signing.key_file".into()),
    };
    let kid = Some(signing.key_id.as_str()).filter(|kid| !kid.is_empty());
    let signer =
        JwsSigner::from_pem(form, &pem, signing.algorithm.as_deref(), kid).map_err(|e| format!("signing key: {e}"))?;
    Ok(Some(Box::new(signer)))
}

/// A search message about to be sent, and how its answers are matched.
struct Outgoing {
    /// Names the message in errors: `search message <id> (<n> items)`.
    request: String,
    /// The reference id of each item, in the batch's order.
    references: Vec<String>,
    header: RequestHeader,
    message: SearchRequest,
}

impl DciClient {
    /// A client for `source`: resolves its secrets and builds its HTTP connection pool.
    pub fn new(source: DataSource) -> Result<Self, ClientError> {
        let source = source.with_profile_defaults();
        let config = |message: String| ClientError::Config { registry: source.registry, message };
        if source.batch_size == 0 || source.max_in_flight == 0 {
            return Err(config("batch_size and max_in_flight must be at least 1".into()));
        }
        let secret = source.client_secret.resolve("client_secret").map_err(config)?;
        let signer = request_signer(&source).map_err(config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(source.timeouts.connect_ms))
            .pool_max_idle_per_host(source.max_in_flight.max(1) * 2)
            .tcp_nodelay(true)
            // No redirect is followed: a registry that redirects would receive our secret
            // (token endpoint) or the identifiers searched elsewhere. See `http::refuse_redirect`.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("elig-dci-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {e}")))?;
        let source_retry = source.retry.clone();
        let in_flight = source.max_in_flight.min(tokio::sync::Semaphore::MAX_PERMITS);
        Ok(DciClient {
            inner: Arc::new(Inner {
                tokens: TokenCache::new(secret),
                source,
                http,
                signer,
                verifier: tokio::sync::RwLock::new(None),
                jwks_fetched: std::sync::Mutex::new(None),
                stats: Counters::default(),
                retry_budget: RetryBudget::new(source_retry.budget_ratio, source_retry.budget_reserve),
                in_flight: tokio::sync::Semaphore::new(in_flight),
                permission: std::sync::Mutex::new(None),
            }),
        })
    }

    /// The data source.
    pub fn source(&self) -> &DataSource {
        &self.inner.source
    }

    /// The counters so far.
    pub fn stats(&self) -> ClientStats {
        let counters = &self.inner.stats;
        ClientStats {
            messages: counters.messages.load(Ordering::Relaxed),
            items: counters.items.load(Ordering::Relaxed),
            http_requests: counters.http_requests.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            token_requests: self.inner.tokens.requests.load(Ordering::Relaxed),
            unusable_items: counters.unusable.load(Ordering::Relaxed),
            split_messages: counters.splits.load(Ordering::Relaxed),
        }
    }

    /// Searches with one criteria.
    pub async fn search<R: DeserializeOwned + Send>(&self, criteria: SearchCriteria) -> Result<Found<R>, ClientError> {
        self.search_many(vec![criteria]).await.pop().unwrap_or_else(|| {
            Err(ClientError::Protocol {
                registry: self.inner.source.registry,
                request: "search".into(),
                message: "no answer".into(),
            })
        })
    }

    /// Searches with many criteria: messages of at most `batch_size` items, at
    /// most `max_in_flight` messages at once, answers matched by `reference_id`.
    /// Returns one result per criteria, in input order; a rejected or unusable
    /// item fails only itself (see [`DciClient::search_people`] for answers
    /// checked against the person asked about).
    pub async fn search_many<R: DeserializeOwned + Send>(
        &self,
        criteria: Vec<SearchCriteria>,
    ) -> Vec<Result<Found<R>, ClientError>> {
        let asked = criteria.into_iter().map(|criteria| (criteria, None)).collect();
        self.search_batches(asked, &|_: &R, _: &Identifier| true).await
    }

    /// Looks each person up by one identifier (`idtype-value`), in batched
    /// messages as [`DciClient::search_many`]. Every record of an answer must
    /// belong to the person asked about (one of its identifiers is the one
    /// searched): an answer with a record of someone else fails its item.
    ///
    /// An answer is whole or an error: where the registry says a person has
    /// more records than it returned (`pagination`), the following pages are
    /// asked for, at most `max_pages` in all, else the person's answer is
    /// [`ClientError::Incomplete`]. Records given twice, identical, count once.
    pub async fn search_people<R: DeserializeOwned + Serialize + Identified + Send>(
        &self,
        identifiers: &[Identifier],
    ) -> Vec<Result<Found<R>, ClientError>> {
        let source = &self.inner.source;
        let registry = source.registry;
        let criteria = |id: &Identifier| {
            SearchCriteria::new(Query::id(id.identifier_type.as_str(), id.identifier_value.as_str()))
                .for_registry(source.search_reg_type(), registry.record_type())
        };
        let belongs = |record: &R, asked: &Identifier| record.belongs_to(asked);
        let asked = identifiers.iter().map(|id| (criteria(id), Some(id.clone()))).collect();
        let mut results = self.search_batches(asked, &belongs).await;
        // Records received so far per person, duplicates included, as the registry counts them.
        let mut received: Vec<usize> = results.iter().map(|r| r.as_ref().map_or(0, |f| f.records.len())).collect();
        // Records of the last page read per person: without a total, only a full page may have a next one.
        let mut last_page = received.clone();
        // The largest total the registry stated per person, on any page: checked against the distinct
        // records received at the end, whatever later pages said (or left out).
        let total_of = |found: &Found<R>| found.pagination.and_then(|p| p.total_count);
        let mut stated: Vec<Option<u64>> = results.iter().map(|r| r.as_ref().ok().and_then(total_of)).collect();
        let incomplete = |index: usize, message: String| ClientError::Incomplete {
            registry,
            request: "search".into(),
            reference_id: format!("{} {}", identifiers[index].identifier_type, identifiers[index].identifier_value),
            message,
        };
        let mut pages_read: u32 = 1;
        loop {
            let wanted = pages_wanted(&mut results, &received, &last_page, &incomplete);
            if wanted.is_empty() {
                break;
            }
            if pages_read >= source.max_pages {
                for (index, _, _) in wanted {
                    let message =
                        format!("the registry holds more records than {} pages (max_pages) give", source.max_pages);
                    results[index] = Err(incomplete(index, message));
                }
                break;
            }
            pages_read += 1;
            let asked = wanted
                .iter()
                .map(|&(index, number, size)| {
                    let id = &identifiers[index];
                    (criteria(id).with_pagination(size, number), Some(id.clone()))
                })
                .collect();
            let pages = self.search_batches::<R>(asked, &belongs).await;
            for ((index, number, _), page) in wanted.into_iter().zip(pages) {
                let Ok(found) = &mut results[index] else { continue };
                let page = match page {
                    Err(error) => {
                        results[index] = Err(error);
                        continue;
                    }
                    Ok(page) => page,
                };
                if let Err(message) = page_fits(&page, number) {
                    results[index] = Err(incomplete(index, message));
                    continue;
                }
                stated[index] = stated[index].max(total_of(&page));
                received[index] += page.records.len();
                last_page[index] = page.records.len();
                found.records.extend(page.records);
                // A page without pagination is the last one the registry gives.
                found.pagination = page.pagination;
            }
        }
        for (index, result) in results.iter_mut().enumerate() {
            if let Ok(found) = result
                && let Err(message) = keep_distinct(found, stated[index])
            {
                *result = Err(incomplete(index, message));
            }
        }
        results
    }

    async fn search_batches<R: DeserializeOwned + Send>(
        &self,
        asked: Vec<Question>,
        belongs: &Belongs<R>,
    ) -> Vec<Result<Found<R>, ClientError>> {
        let source = &self.inner.source;
        let total = asked.len();
        let mut batches: Vec<(usize, Vec<Question>)> = Vec::new();
        let mut asked = asked.into_iter();
        let mut start = 0;
        loop {
            let batch: Vec<_> = asked.by_ref().take(source.batch_size).collect();
            if batch.is_empty() {
                break;
            }
            let len = batch.len();
            batches.push((start, batch));
            start += len;
        }
        let mut results: Vec<Option<Result<Found<R>, ClientError>>> = (0..total).map(|_| None).collect();
        let mut answers = stream::iter(batches)
            .map(|(start, batch)| async move {
                // The call's deadline starts when its message is sent, not when it was queued.
                let limits = Limits::of(source);
                (start, self.search_splitting::<R>(&batch, belongs, limits).await)
            })
            // More messages under way than on the wire: those waiting to be retried
            // leave their slots (`Inner::in_flight`) to the others.
            .buffer_unordered(source.max_in_flight.saturating_mul(MESSAGES_UNDER_WAY_PER_SLOT));
        while let Some((start, batch_results)) = answers.next().await {
            for (offset, result) in batch_results.into_iter().enumerate() {
                results[start + offset] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    Err(ClientError::Protocol {
                        registry: source.registry,
                        request: "search".into(),
                        message: "no answer".into(),
                    })
                })
            })
            .collect()
    }

    /// Sends `batch` in one message; when that message times out, or is signed
    /// but cannot be read whole to check it, sends its halves instead (at once),
    /// down to single items, so that one identifier the registry is slow for,
    /// or one record nested too deep, leaves only itself unanswered. The call's
    /// deadline is shared out among the levels of halving still possible.
    fn search_splitting<'a, R: DeserializeOwned + Send>(
        &'a self,
        batch: &'a [Question],
        belongs: &'a Belongs<R>,
        limits: Limits,
    ) -> futures::future::BoxFuture<'a, Vec<Result<Found<R>, ClientError>>> {
        Box::pin(async move {
            let splittable = batch.len() > 1;
            let limits = Limits { retry_timeouts: !splittable, ..limits };
            match self.search_message::<R>(batch, belongs, limits).await {
                Ok(results) => results,
                Err(ClientError::Timeout { .. } | ClientError::Unverifiable { .. })
                    if splittable && Instant::now() < limits.deadline =>
                {
                    self.inner.stats.splits.fetch_add(1, Ordering::Relaxed);
                    let (first, second) = batch.split_at(batch.len() / 2);
                    // Levels of halving left to reach single items: each gets an equal share of the time left.
                    let levels = u32::BITS - (batch.len() as u32 - 1).leading_zeros();
                    let left = limits.deadline.saturating_duration_since(Instant::now());
                    let share = Limits { request_timeout: limits.request_timeout.min(left / levels.max(1)), ..limits };
                    let (mut a, b) = futures::join!(
                        self.search_splitting(first, belongs, share),
                        self.search_splitting(second, belongs, share)
                    );
                    a.extend(b);
                    a
                }
                Err(error) => batch.iter().map(|_| Err(error.clone())).collect(),
            }
        })
    }

    /// Sends one search message carrying `batch`; one result per item, or the
    /// message's own failure.
    async fn search_message<R: DeserializeOwned>(
        &self,
        batch: &[Question],
        belongs: &Belongs<R>,
        limits: Limits,
    ) -> Result<Vec<Result<Found<R>, ClientError>>, ClientError> {
        let inner = &self.inner;
        let outgoing = self.outgoing(batch);
        inner.stats.messages.fetch_add(1, Ordering::Relaxed);
        inner.stats.items.fetch_add(outgoing.references.len() as u64, Ordering::Relaxed);
        let (path, request) = (&inner.source.paths.search, &outgoing.request);
        let answer: Answer<RawSearchResponse> =
            inner.exchange_within(path, request, &outgoing.header, &outgoing.message, limits).await?;
        let answered = self.by_reference(answer.message.search_response, &outgoing.references);
        let results = self.read_answers(&outgoing, answered, batch, belongs);
        let failed = results
            .iter()
            .filter(|r| matches!(r, Err(ClientError::ItemUnusable { .. } | ClientError::Ambiguous { .. })))
            .count();
        inner.stats.unusable.fetch_add(failed as u64, Ordering::Relaxed);
        Ok(results)
    }

    /// The search message for `batch`: one item per question, each with a
    /// reference id made of the message id and its position.
    fn outgoing(&self, batch: &[Question]) -> Outgoing {
        let message_id = uuid::Uuid::new_v4().to_string();
        let request = format!("search message {message_id} ({} items)", batch.len());
        let now = DciTimestamp::now();
        let references: Vec<String> = (0..batch.len()).map(|i| format!("{message_id}-{i}")).collect();
        // Why the registry is asked, on every item that does not say it already.
        let purpose = self.inner.source.purpose.as_ref().map(|purpose| purpose.objects(&now.to_string()));
        let items = batch
            .iter()
            .zip(&references)
            .map(|((criteria, _), reference_id)| {
                let mut search_criteria = criteria.clone();
                if let Some((authorize, consent)) = &purpose {
                    search_criteria.authorize.get_or_insert_with(|| authorize.clone());
                    search_criteria.consent.get_or_insert_with(|| consent.clone());
                }
                SearchRequestItem {
                    reference_id: reference_id.clone(),
                    timestamp: Some(now),
                    search_criteria,
                    locale: Some(Locale::english()),
                }
            })
            .collect::<Vec<_>>();
        let header = self.header(&message_id, now, items.len());
        let message = SearchRequest { transaction_id: message_id, search_request: items };
        Outgoing { request, references, header, message }
    }

    /// Each answer given to the item whose reference_id it carries; one
    /// carrying a reference_id we did not send, or none, is ignored (and counted).
    fn by_reference(&self, answers: Vec<Box<RawValue>>, references: &[String]) -> Vec<Vec<Box<RawValue>>> {
        let position: HashMap<&str, usize> =
            references.iter().enumerate().map(|(index, reference)| (reference.as_str(), index)).collect();
        let mut answered: Vec<Vec<Box<RawValue>>> = (0..references.len()).map(|_| Vec::new()).collect();
        for item in answers {
            match reference_of(&item).as_deref().and_then(|r| position.get(r)) {
                Some(&index) => answered[index].push(item),
                None => {
                    self.inner.stats.unusable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        answered
    }

    /// One result per question from its answers. A record of someone else,
    /// or a reference_id answered twice, means the registry does not match its
    /// answers to our questions: then no answer of this message is used (an
    /// empty "no record" answer carries no identity that could be checked).
    fn read_answers<R: DeserializeOwned>(
        &self,
        outgoing: &Outgoing,
        answered: Vec<Vec<Box<RawValue>>>,
        batch: &[Question],
        belongs: &Belongs<R>,
    ) -> Vec<Result<Found<R>, ClientError>> {
        let (source, request) = (&self.inner.source, &outgoing.request);
        let unusable = |reference_id: &str, message: String| ClientError::ItemUnusable {
            registry: source.registry,
            request: request.clone(),
            reference_id: reference_id.to_owned(),
            message,
        };
        let mut mismatched = false;
        let mut results: Vec<Result<Found<R>, ClientError>> = outgoing
            .references
            .iter()
            .zip(answered)
            .zip(batch)
            .map(|((reference_id, mut answers), (_, identity))| match answers.len() {
                0 => Err(ClientError::Protocol {
                    registry: source.registry,
                    request: request.clone(),
                    message: format!("no answer for reference_id {reference_id}"),
                }),
                1 => {
                    let Some(answer) = answers.pop() else { unreachable!("one answer") };
                    self.read_item(&answer, identity.as_ref(), belongs).map_err(|problem| {
                        mismatched |= matches!(problem, ItemProblem::Foreign(_));
                        problem.into_error(reference_id, request, source)
                    })
                }
                n => {
                    mismatched = true;
                    Err(unusable(reference_id, format!("the registry answered this reference_id {n} times")))
                }
            })
            .collect();
        if mismatched {
            for (result, reference_id) in results.iter_mut().zip(&outgoing.references) {
                if result.is_ok() {
                    *result = Err(unusable(
                        reference_id,
                        "another answer of this message was given for someone else: the registry's answers are \
                         not matched to the questions"
                            .into(),
                    ));
                }
            }
        }
        results
    }

    /// Reads one answered item: only a final, successful status with its
    /// records (an empty list is "no record") is an answer; the item must give
    /// each key once, and every record must be readable and, when the person
    /// asked about is known, theirs.
    fn read_item<R: DeserializeOwned>(
        &self,
        item: &RawValue,
        asked: Option<&Identifier>,
        belongs: &Belongs<R>,
    ) -> Result<Found<R>, ItemProblem> {
        let item = from_str_strict(item.get()).map_err(|error| match error {
            StrictError::DuplicateKey(key) => ItemProblem::Ambiguous(format!(
                "the key `{key}` is given twice in one object: the answer says two things and neither is used"
            )),
            StrictError::Unreadable(message) => ItemProblem::Unusable(format!("unreadable answer: {message}")),
        })?;
        let has_records = item.pointer("/data/reg_records").is_some_and(|records| !records.is_null());
        // Only an explicit empty list proves the person is not there: blank records
        // (`[null]`, `[{}]`, `[""]`, `{}`), which the tolerant reader drops, prove nothing.
        let blank_records = match item.pointer("/data/reg_records") {
            Some(Value::Array(records)) => records.iter().any(is_blank_record),
            Some(other) => is_blank_record(other) && !other.is_null(),
            None => false,
        };
        if blank_records {
            return Err(ItemProblem::Unusable("a blank record (null, {} or \"\") where a record was expected".into()));
        }
        let item: SearchResponseItem<Value> =
            serde_json::from_value(item).map_err(|e| ItemProblem::Unusable(format!("unreadable answer: {e}")))?;
        match &item.status {
            Status::Success => {}
            Status::Rejected => {
                return Err(ItemProblem::Rejected(
                    item.status_reason_code.clone().unwrap_or(SearchReasonCode::Other("unspecified".into())),
                    item.status_reason_message.clone().unwrap_or_default(),
                ));
            }
            other => {
                return Err(ItemProblem::Unusable(format!(
                    "status {} is not a final answer",
                    one_line(other.as_str())
                )));
            }
        }
        let Some(data) = item.data else {
            return Err(ItemProblem::Unusable("status succ without data".into()));
        };
        if !has_records {
            return Err(ItemProblem::Unusable("data without reg_records".into()));
        }
        let mut records = Vec::with_capacity(data.reg_records.len());
        for (index, record) in data.reg_records.into_iter().enumerate() {
            let record: R = serde_json::from_value(record)
                .map_err(|e| ItemProblem::Unusable(format!("record {index} is unreadable: {e}")))?;
            if let Some(asked) = asked
                && !belongs(&record, asked)
            {
                return Err(ItemProblem::Foreign(format!(
                    "record {index} is not the person asked about ({} {})",
                    asked.identifier_type, asked.identifier_value
                )));
            }
            records.push(record);
        }
        Ok(Found { records, pagination: item.pagination })
    }

    /// Follows the pages of one search until the last, at most `max_pages`.
    pub async fn search_all_pages<R: DeserializeOwned + Send>(
        &self,
        criteria: SearchCriteria,
        page_size: u32,
    ) -> Result<Vec<R>, ClientError> {
        let source = &self.inner.source;
        let mut records = Vec::new();
        for page in 1..=source.max_pages {
            let found: Found<R> = self.search(criteria.clone().with_pagination(page_size, page)).await?;
            let count = found.records.len();
            let more = match found.pagination {
                Some(_) => match next_page(&found, records.len() + count, count) {
                    Ok(next) => next != NextPage::None,
                    Err(message) => {
                        return Err(ClientError::Incomplete {
                            registry: source.registry,
                            request: "paginated search".into(),
                            reference_id: format!("page {page}"),
                            message,
                        });
                    }
                },
                None => count as u32 >= page_size && count > 0,
            };
            records.extend(found.records);
            if !more {
                return Ok(records);
            }
        }
        Err(ClientError::TooManyPages {
            registry: source.registry,
            request: "paginated search".into(),
            max_pages: source.max_pages,
        })
    }

    /// IBR: whether `person_id` is enrolled (in `programme_id`, if given), via `/registry/sync/enrolled`.
    pub async fn enrolled(&self, person_id: &str, programme_id: Option<&str>) -> Result<bool, ClientError> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let message = EnrolledRequest {
            transaction_id: message_id.clone(),
            enrolled_criteria: YesNoCriteria::enrolled(person_id, programme_id),
        };
        let path = self.inner.source.paths.enrolled.clone();
        let answer: Answer<EnrolledResponse> = self.yes_no(&path, "enrolled", &message_id, &message).await?;
        self.same_transaction(&message_id, "enrolled", &answer.message.transaction_id)?;
        let answers = answer
            .message
            .enrolled_response
            .into_iter()
            .map(|a| (a.status, a.status_reason_message, a.enrolled_status));
        self.single_answer(&message_id, "enrolled", answers)
    }

    /// DR: whether `person_id` is registered as disabled, via `/registry/sync/disabled`.
    pub async fn disabled(&self, person_id: &str) -> Result<bool, ClientError> {
        let message_id = uuid::Uuid::new_v4().to_string();
        let message = DisabledRequest {
            transaction_id: message_id.clone(),
            disabled_criteria: YesNoCriteria::disabled(person_id),
        };
        let path = self.inner.source.paths.disabled.clone();
        let answer: Answer<DisabledResponse> = self.yes_no(&path, "disabled", &message_id, &message).await?;
        self.same_transaction(&message_id, "disabled", &answer.message.transaction_id)?;
        let answers = answer
            .message
            .disabled_response
            .into_iter()
            .map(|a| (a.status, a.status_reason_message, a.disabled_status));
        self.single_answer(&message_id, "disabled", answers)
    }

    async fn yes_no<B: serde::Serialize, M: DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
        message_id: &str,
        message: &B,
    ) -> Result<Answer<M>, ClientError> {
        let now = DciTimestamp::now();
        let header = self.header(message_id, now, 1);
        self.inner.stats.messages.fetch_add(1, Ordering::Relaxed);
        self.inner.exchange(path, &format!("{what} message {message_id}"), &header, message).await
    }

    /// A yes/no answer names no person: only its `transaction_id` ties it to
    /// our question, so an answer for another transaction (a signed answer
    /// replayed) is refused. An answer without one is taken as ours.
    fn same_transaction(&self, message_id: &str, what: &str, answered: &str) -> Result<(), ClientError> {
        if answered.is_empty() || answered == message_id {
            return Ok(());
        }
        Err(ClientError::Protocol {
            registry: self.inner.source.registry,
            request: format!("{what} message {message_id}"),
            message: format!("the answer is for transaction {:?}, not ours", one_line(answered)),
        })
    }

    fn single_answer(
        &self,
        message_id: &str,
        what: &str,
        mut answers: impl Iterator<Item = (Status, Option<String>, YesNo)>,
    ) -> Result<bool, ClientError> {
        let registry = self.inner.source.registry;
        let request = format!("{what} message {message_id}");
        match answers.next() {
            None => Err(ClientError::Protocol { registry, request, message: "no answer in the response".into() }),
            Some((Status::Rejected, reason, _)) => Err(ClientError::Rejected {
                registry,
                request,
                reference_id: message_id.to_owned(),
                code: dci_protocol::SearchReasonCode::Other("rjct".into()),
                message: reason.unwrap_or_default(),
            }),
            Some((_, _, answer)) => Option::<bool>::from(answer.clone()).ok_or_else(|| ClientError::Protocol {
                registry,
                request,
                message: format!("{what}_status {answer} is not yes or no"),
            }),
        }
    }

    /// Obtains a token (or reuses the current one): whether the registry's
    /// token endpoint accepts our credentials.
    pub async fn check_token(&self) -> Result<(), ClientError> {
        self.inner.tokens.get(&self.inner.http, &self.inner.source, None).await.map(|_| ())
    }

    /// The public key our requests to this registry are signed with (when
    /// `signing` is configured), for the registry to verify them.
    pub fn public_jwk(&self) -> Option<dci_protocol::Jwk> {
        self.inner.signer.as_ref().map(|signer| signer.public_jwk())
    }

    /// What the client shares with its calls, for the connection check.
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    fn header(&self, message_id: &str, now: DciTimestamp, items: usize) -> RequestHeader {
        let source = &self.inner.source;
        let mut header = RequestHeader::new(message_id, now, action::SEARCH, source.sender_id.clone(), items as u64);
        header.receiver_id = source.receiver_id.clone();
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RegistryType, SecretSource};

    fn item(records: &str) -> Box<RawValue> {
        let text = format!(r#"{{"reference_id": "r", "status": "succ", "data": {{"reg_records": {records}}}}}"#);
        RawValue::from_string(text).expect("JSON")
    }

    #[test]
    fn only_an_explicit_empty_list_proves_the_person_is_not_there() {
        let source = DataSource::new(RegistryType::Crvs, "http://127.0.0.1:9", "id", SecretSource::Value("s".into()));
        let client = DciClient::new(source).expect("client");
        let belongs: &Belongs<Value> = &|_, _| true;
        for blank in ["[null]", "[{}]", r#"[""]"#, "[[]]", r#"[{"a": 1}, null]"#, "{}", r#""""#, r#"" ""#, "null"] {
            let read = client.read_item::<Value>(&item(blank), None, belongs);
            assert!(matches!(read, Err(ItemProblem::Unusable(_))), "{blank}: {read:?}");
        }
        let read = client.read_item::<Value>(&item("[]"), None, belongs);
        assert!(matches!(read, Ok(ref found) if found.records.is_empty()), "{read:?}");
        let read = client.read_item::<Value>(&item(r#"[{"a": 1}]"#), None, belongs);
        assert!(matches!(read, Ok(ref found) if found.records.len() == 1), "{read:?}");
    }
}
