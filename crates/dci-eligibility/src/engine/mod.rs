//! Deciding: [`crate::Engine`] screens, fetches what is still needed, binds
//! each household's values and evaluates, metered, on a bounded pool.

pub(crate) mod batch;
pub(crate) mod bind;
pub(crate) mod evaluate;
pub(crate) mod explain;
pub(crate) mod functions;
pub(crate) mod logic;
pub(crate) mod meter;
pub(crate) mod metered;
pub(crate) mod native;
pub mod pool;
pub(crate) mod reason;
pub(crate) mod table;
pub(crate) mod unknown;
