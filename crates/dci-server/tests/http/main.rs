//! The API over real HTTP: a server on 127.0.0.1:0 in this process, the
//! registry simulator behind it, reqwest in front.

mod api;
mod common;
mod evaluate;
mod hardening;
mod limits;
mod outage;
mod safety;
mod stream;
