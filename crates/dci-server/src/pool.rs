//! CPU work (parsing, compiling, rendering) on the engine's pools, awaited
//! without blocking a tokio worker (see [`dci_eligibility::pool`]).

pub(crate) use dci_eligibility::pool::{Lane, on_pool};
