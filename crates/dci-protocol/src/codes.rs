//! Status values and reason / error codes of the DCI specs.
//!
//! Every code type keeps codes it does not know in an `Other` variant: a
//! registry speaking a newer or older dialect never makes a message unreadable.

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A code this crate does not know, kept as written.
            Other(String),
        }

        impl $name {
            /// Every variant with what may be written for it: the code, then its labels.
            pub const TABLE: &'static [(Self, &'static [&'static str])] =
                &[ $( (Self::$variant, &[$text $(, $alias)*]), )* ];

            /// The code as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(text) => text,
                }
            }

            /// Reads a code; matching ignores ASCII case and surrounding space.
            pub fn parse(text: &str) -> Self {
                let trimmed = text.trim();
                $(
                    if trimmed.eq_ignore_ascii_case($text) $(|| trimmed.eq_ignore_ascii_case($alias))* {
                        return Self::$variant;
                    }
                )*
                Self::Other(trimmed.to_owned())
            }

            /// Whether this is a code the spec defines.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = crate::tolerant::text(deserializer)?;
                Ok(Self::parse(&text))
            }
        }
    };
}

pub(crate) use code_enum;

code_enum! {
    /// Processing status of a message or of one item (`rcvd`, `pdng`, `succ`, `rjct`).
    Status {
        /// Received.
        Received = "rcvd",
        /// Pending.
        Pending = "pdng",
        /// Successful.
        Success = "succ" | "success",
        /// Rejected.
        Rejected = "rjct" | "rejected",
    }
}

code_enum! {
    /// Reasons for rejecting a whole message, given in the response header.
    HeaderReasonCode {
        /// Unsupported protocol version.
        VersionInvalid = "rjct.version.invalid",
        /// A `message_id` seen before, or missing.
        MessageIdDuplicate = "rjct.message_id.duplicate",
        /// `message_ts` missing or not RFC 3339 with an offset.
        MessageTsInvalid = "rjct.message_ts.invalid",
        /// `action` missing or wrong for the endpoint.
        ActionInvalid = "rjct.action.invalid",
        /// `action` valid but not supported by this registry.
        ActionNotSupported = "rjct.action.not_supported",
        /// `total_count` missing or not the number of items.
        TotalCountInvalid = "rjct.total_count.invalid",
        /// More items in one message than the registry accepts.
        TotalCountLimitExceeded = "rjct.total_count.limit_exceeded",
        /// Too many errors in the message.
        ErrorsTooMany = "rjct.errors.too_many",
    }
}

code_enum! {
    /// Reasons for rejecting one search item, given in its response item.
    SearchReasonCode {
        /// `reference_id` missing or malformed.
        ReferenceIdInvalid = "rjct.reference_id.invalid",
        /// `reference_id` used twice in one message.
        ReferenceIdDuplicate = "rjct.reference_id.duplicate",
        /// Item `timestamp` missing or malformed.
        TimestampInvalid = "rjct.timestamp.invalid",
        /// `search_criteria` malformed (query type, query shape).
        SearchCriteriaInvalid = "rjct.search_criteria.invalid",
        /// A predicate or filter the registry cannot apply.
        FilterInvalid = "rjct.filter.invalid",
        /// A sort the registry cannot apply.
        SortInvalid = "rjct.sort.invalid",
        /// Pagination out of range or malformed.
        PaginationInvalid = "rjct.pagination.invalid",
        /// The query matches more records than the registry returns.
        TooManyRecordsFound = "rjct.search.too_many_records_found",
    }
}

code_enum! {
    /// Transport-level error codes (`err.*`), used in acknowledgements and HTTP error bodies.
    ErrorCode {
        /// Malformed request.
        RequestBad = "err.request.bad",
        /// Missing or invalid credentials.
        RequestUnauthorized = "err.request.unauthorized",
        /// Credentials valid but not allowed.
        RequestForbidden = "err.request.forbidden",
        /// Unknown endpoint or resource.
        RequestNotFound = "err.request.not_found",
        /// The request took too long.
        RequestTimeout = "err.request.timeout",
        /// Unsupported protocol version.
        VersionNotSupported = "err.version.not_supported",
        /// Rate limited.
        TooManyRequests = "err.request.too_many_requests",
        /// Unknown sender.
        SenderIdInvalid = "err.sender_id.invalid",
        /// Invalid callback URI.
        SenderUriInvalid = "err.sender_uri.invalid",
        /// Unknown receiver.
        ReceiverIdInvalid = "err.receiver_id.invalid",
        /// The message has no signature but one is required.
        SignatureMissing = "err.signature.missing",
        /// The signature does not verify.
        SignatureInvalid = "err.signature.invalid",
        /// The message could not be decrypted.
        EncryptionInvalid = "err.encryption.invalid",
        /// The service is unavailable.
        ServiceUnavailable = "err.service.unavailable",
    }
}

code_enum! {
    /// Acknowledgement status of an asynchronous request.
    AckStatus {
        /// Accepted; a callback will follow.
        Ack = "ACK",
        /// Accepted; no callback will follow.
        Nack = "NACK",
        /// Rejected; see the error.
        Err = "ERR",
    }
}

code_enum! {
    /// A yes/no answer (`enrolled_status`, `disabled_status`).
    YesNo {
        /// Yes.
        Yes = "yes" | "true",
        /// No.
        No = "no" | "false",
    }
}

code_enum! {
    /// `query_type` of a search criteria.
    QueryType {
        /// `{type, value}` identifier lookup.
        IdTypeValue = "idtype-value",
        /// A registry-specific expression.
        Expression = "expression",
        /// A list of attribute predicates.
        Predicate = "predicate",
        /// GraphQL.
        Graphql = "graphql",
    }
}

code_enum! {
    /// Operator of a predicate expression.
    Operator {
        /// Greater than.
        Gt = "gt",
        /// Less than.
        Lt = "lt",
        /// Equal.
        Eq = "eq",
        /// Greater than or equal.
        Ge = "ge",
        /// Less than or equal.
        Le = "le",
        /// Member of a list.
        In = "in",
    }
}

code_enum! {
    /// How two predicate expressions combine.
    Condition {
        /// Both hold.
        And = "and",
        /// Either holds.
        Or = "or",
        /// The first holds and the second does not (or, alone, the first does not).
        Not = "not",
    }
}

code_enum! {
    /// Sort direction.
    SortOrder {
        /// Ascending.
        Asc = "asc",
        /// Descending.
        Desc = "desc",
    }
}

impl From<YesNo> for Option<bool> {
    fn from(answer: YesNo) -> Self {
        match answer {
            YesNo::Yes => Some(true),
            YesNo::No => Some(false),
            YesNo::Other(_) => None,
        }
    }
}

impl From<bool> for YesNo {
    fn from(answer: bool) -> Self {
        if answer { YesNo::Yes } else { YesNo::No }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_unknown_codes_are_kept() {
        let code: SearchReasonCode = serde_json::from_str("\"rjct.filter.invalid\"").expect("code");
        assert_eq!(code, SearchReasonCode::FilterInvalid);
        assert_eq!(serde_json::to_string(&code).expect("json"), "\"rjct.filter.invalid\"");

        let unknown: ErrorCode = serde_json::from_str("\"err.quota.exhausted\"").expect("code");
        assert_eq!(unknown, ErrorCode::Other("err.quota.exhausted".into()));
        assert!(!unknown.is_known());
        assert_eq!(serde_json::to_string(&unknown).expect("json"), "\"err.quota.exhausted\"");
    }

    #[test]
    fn status_accepts_long_spellings_and_numbers() {
        assert_eq!(Status::parse("success"), Status::Success);
        assert_eq!(Status::parse(" RJCT "), Status::Rejected);
        let numeric: HeaderReasonCode = serde_json::from_str("200").expect("code");
        assert_eq!(numeric, HeaderReasonCode::Other("200".into()));
    }
}
