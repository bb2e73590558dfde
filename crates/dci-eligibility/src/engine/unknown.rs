//! Unknown values travel through CEL as errors of a recognisable shape:
//! CEL's `&&` and `||` absorb errors commutatively (`false && <error>` is
//! `false`), which is exactly the three-valued logic unknowns need.
//!
//! Two shapes, because `cel` 0.15's `ExecutionError` has no variant an
//! embedder can use for its own error:
//!
//! * A null argument of a library function (rare) is a `FunctionError` of the
//!   pseudo-function [`UNKNOWN_FUNCTION`], its message carrying the cause and
//!   the name of what is unknown.
//! * A registry value read on the hot path (once per person and metric in a
//!   cold batch) must not allocate, and every variant that carries text holds
//!   an owned `String`, except `NoSuchKey(Arc<String>)` and
//!   `UndeclaredReference(Arc<String>)`, which could share one `Arc` per cause;
//!   but `has(x.f)` turns `NoSuchKey` into `false`, which would make an
//!   unknown registry value silently false. So the marker is
//!   `InvalidArgumentCount { expected: MARKER_ARITY, actual: cause }`: no
//!   function of ours or of CEL's takes 3,776,708,608 arguments, and CEL
//!   passes the error through unchanged. The name and cause are also noted by
//!   the evaluation's tracker, which is what explanations read.

use cel::ExecutionError;
use dci_metrics::UnknownCause;

/// The pseudo-function name marking an unknown that carries its description.
const UNKNOWN_FUNCTION: &str = "elig.unknown";
/// The argument count of the allocation-free marker: no function has it.
const MARKER_ARITY: usize = 0xE11C_0000;

/// An error meaning "`name` is unknown because `cause`".
pub(crate) fn unknown_error(cause: UnknownCause, name: &str) -> ExecutionError {
    ExecutionError::FunctionError {
        function: UNKNOWN_FUNCTION.to_owned(),
        message: format!("{}|{name}", cause.as_str()),
    }
}

/// An allocation-free error meaning "unknown because `cause`"; the name is noted elsewhere.
pub(crate) fn unknown_marker(cause: UnknownCause) -> ExecutionError {
    let index = UnknownCause::ALL.iter().position(|c| *c == cause).unwrap_or(0);
    ExecutionError::InvalidArgumentCount { expected: MARKER_ARITY, actual: index }
}

/// The cause, and the name when the error carries one, of an unknown.
pub(crate) fn as_unknown(error: &ExecutionError) -> Option<(UnknownCause, Option<&str>)> {
    match error {
        ExecutionError::InvalidArgumentCount { expected: MARKER_ARITY, actual } => {
            UnknownCause::ALL.get(*actual).map(|c| (*c, None))
        }
        ExecutionError::FunctionError { function, message } if function == UNKNOWN_FUNCTION => {
            let (cause, name) = message.split_once('|')?;
            Some((UnknownCause::ALL.into_iter().find(|c| c.as_str() == cause)?, Some(name)))
        }
        _ => None,
    }
}
