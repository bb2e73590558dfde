//! Middleware: authentication, evaluation slots, Prometheus telemetry, panic catching.

pub(crate) mod admission;
pub(crate) mod auth;
pub(crate) mod head;
pub(crate) mod panic;
pub(crate) mod telemetry;
