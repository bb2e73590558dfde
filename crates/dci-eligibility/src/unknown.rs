//! Unknown values travel through CEL as errors of one recognisable shape:
//! CEL's `&&` and `||` absorb errors commutatively (`false && <error>` is
//! `false`), which is exactly the three-valued logic unknowns need.

use cel::ExecutionError;
use dci_metrics::UnknownCause;

/// The pseudo-function name marking an unknown.
pub(crate) const UNKNOWN_MARKER: &str = "elig.unknown";

/// An error meaning "`name` is unknown because `cause`".
pub(crate) fn unknown_error(cause: UnknownCause, name: &str) -> ExecutionError {
    ExecutionError::FunctionError { function: UNKNOWN_MARKER.to_owned(), message: format!("{}|{name}", cause.as_str()) }
}

/// The cause and name of an unknown-marker error.
pub(crate) fn as_unknown(error: &ExecutionError) -> Option<(UnknownCause, &str)> {
    match error {
        ExecutionError::FunctionError { function, message } if function == UNKNOWN_MARKER => {
            let (cause, name) = message.split_once('|')?;
            Some((cause_named(cause)?, name))
        }
        _ => None,
    }
}

fn cause_named(name: &str) -> Option<UnknownCause> {
    use UnknownCause::*;
    [
        NotFetched,
        RegistryError,
        Timeout,
        Rejected,
        NoIdentifier,
        NotFound,
        RegistryUnavailable,
        NotRecorded,
        MissingField,
        NullValue,
    ]
    .into_iter()
    .find(|cause| cause.as_str() == name)
}
