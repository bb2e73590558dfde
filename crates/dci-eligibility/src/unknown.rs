//! Unknown values travel through CEL as errors of a recognisable shape:
//! CEL's `&&` and `||` absorb errors commutatively (`false && <error>` is
//! `false`), which is exactly the three-valued logic unknowns need.
//!
//! A registry value read on the hot path becomes an allocation-free marker
//! (the name and cause are noted by the evaluation's tracker instead); a null
//! argument of a library function carries its description in the error.

use cel::ExecutionError;
use dci_metrics::UnknownCause;

/// The pseudo-function name marking an unknown that carries its description.
const UNKNOWN_MARKER: &str = "elig.unknown";
/// `InvalidArgumentCount { expected: MARKER_ARITY, .. }` marks an allocation-free unknown.
const MARKER_ARITY: usize = 0xE11C_0000;

const CAUSES: [UnknownCause; 11] = [
    UnknownCause::NotFetched,
    UnknownCause::RegistryError,
    UnknownCause::Timeout,
    UnknownCause::Rejected,
    UnknownCause::NoIdentifier,
    UnknownCause::NotFound,
    UnknownCause::RegistryUnavailable,
    UnknownCause::NotRecorded,
    UnknownCause::MissingField,
    UnknownCause::NullValue,
    UnknownCause::ResponseTooLarge,
];

/// An error meaning "`name` is unknown because `cause`".
pub(crate) fn unknown_error(cause: UnknownCause, name: &str) -> ExecutionError {
    ExecutionError::FunctionError { function: UNKNOWN_MARKER.to_owned(), message: format!("{}|{name}", cause.as_str()) }
}

/// An allocation-free error meaning "unknown because `cause`"; the name is noted elsewhere.
pub(crate) fn unknown_marker(cause: UnknownCause) -> ExecutionError {
    let index = CAUSES.iter().position(|c| *c == cause).unwrap_or(0);
    ExecutionError::InvalidArgumentCount { expected: MARKER_ARITY, actual: index }
}

/// The cause, and the name when the error carries one, of an unknown.
pub(crate) fn as_unknown(error: &ExecutionError) -> Option<(UnknownCause, Option<&str>)> {
    match error {
        ExecutionError::InvalidArgumentCount { expected: MARKER_ARITY, actual } => {
            CAUSES.get(*actual).map(|c| (*c, None))
        }
        ExecutionError::FunctionError { function, message } if function == UNKNOWN_MARKER => {
            let (cause, name) = message.split_once('|')?;
            Some((CAUSES.into_iter().find(|c| c.as_str() == cause)?, Some(name)))
        }
        _ => None,
    }
}
