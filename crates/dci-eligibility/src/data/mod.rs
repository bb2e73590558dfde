//! Reading beneficiaries: JSON lines, arrays and streams into [`crate::Beneficiary`] values.

pub(crate) mod beneficiary;
pub mod io;
pub mod stream;
