//! The API over real HTTP: a server on 127.0.0.1:0 in this process, the
//! registry simulator behind it, reqwest in front.

mod access;
mod api;
mod common;
mod contract;
mod evaluate;
mod generated;
mod hardening;
mod lanes;
mod limits;
mod outage;
mod safety;
mod schema;
mod shared;
mod stream;
mod workbench;
