//! The DCI (Digital Convergence Initiative) registry wire protocol, as pure
//! data and crypto: no I/O, no async, no clock.
//!
//! * [`Envelope`] with [`RequestHeader`] / [`ResponseHeader`], generic over the message;
//! * sync search ([`SearchRequest`], [`SearchResponse`]) with [`Query`] builders
//!   for `idtype-value` and `predicate`;
//! * the IBR enrolled and DR disabled yes/no checks ([`EnrolledRequest`], ...);
//! * acknowledgements, HTTP error bodies, OAuth2 tokens and JWKS;
//! * registry [`records`] (CRVS person, IBR beneficiary, both DR shapes) with
//!   their normalised views;
//! * [`signing`]: the OpenSPP Ed25519 signature scheme.
//!
//! **Tolerant reading, exact writing**: every type reads the older and sloppier
//! forms the specs, samples and real servers use (counts as strings, lists as
//! single objects, `""` for absent, British spellings, numeric codes or text
//! labels) and writes the newest spec form.
//!
//! ```
//! use dci_protocol::{Query, SearchCriteria, SearchRequest, SearchRequestItem, DciTimestamp, reg_type, record_type};
//!
//! let ts = DciTimestamp::parse_strict("2026-01-10T10:00:00+00:00").unwrap();
//! let item = SearchRequestItem {
//!     reference_id: "R-1".into(),
//!     timestamp: Some(ts),
//!     search_criteria: SearchCriteria::new(Query::id("UIN", "847951632"))
//!         .for_registry(reg_type::CIVIL, record_type::PERSON),
//!     locale: None,
//! };
//! let message = SearchRequest { transaction_id: "T-1".into(), search_request: vec![item] };
//! let json = serde_json::to_value(&message).unwrap();
//! assert_eq!(json["search_request"][0]["search_criteria"]["query_type"], "idtype-value");
//! ```

mod ack;
mod auth;
mod codes;
mod dialect;
mod document;
mod enrolled;
mod envelope;
mod header;
mod query;
pub mod records;
mod search;
pub mod signing;
mod strict;
mod time;
mod tolerant;
mod words;

pub use ack::{Ack, AckResponse, ErrorBody, HttpErrorResponse};
pub use auth::{CLIENT_CREDENTIALS, ExpiresIn, Jwk, Jwks, TokenRequest, TokenResponse};
pub use codes::{
    AckStatus, Condition, ErrorCode, HeaderReasonCode, Operator, QueryType, SearchReasonCode, SortOrder, Status, YesNo,
};
pub use dialect::{Profile, ProfileSignature};
pub use document::{AnyHeader, AnyMessage, DciDocument};
pub use enrolled::{
    DisabledAnswer, DisabledRequest, DisabledResponse, EnrolledAnswer, EnrolledRequest, EnrolledResponse,
    MEMBER_IDENTIFIER, PERSON_IDENTIFIER, PROGRAMME_IDENTIFIER, YesNoCriteria,
};
pub use envelope::{Envelope, RequestEnvelope, ResponseEnvelope};
pub use header::{PROTOCOL_VERSION, RequestHeader, ResponseHeader, action, on_action, truncate_reason};
pub use query::{AttributeRef, PredicateExpression, PredicateItem, Query, QueryError, attribute};
pub use search::{
    Locale, Pagination, ResponsePagination, SearchCriteria, SearchData, SearchRequest, SearchRequestItem,
    SearchResponse, SearchResponseItem, Sort, record_type, reg_type,
};
pub use strict::{StrictError, from_str_strict};
pub use time::{DciDate, DciTimestamp, TimestampError};
pub use tolerant::one_or_many;
pub use words::{MAX_WORDS_CHARS, acknowledgement, one_line, registry_words, words_of};
