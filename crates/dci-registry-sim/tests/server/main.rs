//! The simulator over real loopback HTTP: tokens, search, envelope checks,
//! signatures, the yes/no checks, faults, counters and schema conformance.

mod common;

mod auth;
mod envelope;
mod faults;
mod hostile;
mod schemas;
mod search;
mod signatures;
mod stats;
mod yes_no;
