//! Compiling: a rule's text becomes a checked, costed [`crate::Rule`]. Pure:
//! no registry and no beneficiary is read here.

pub(crate) mod callable;
pub(crate) mod cel_macros;
pub(crate) mod compile;
pub(crate) mod cost;
pub(crate) mod diagnostic;
pub(crate) mod dialect;
pub(crate) mod field_types;
pub(crate) mod native_form;
pub(crate) mod patterns;
pub(crate) mod registry_path;
pub(crate) mod slips;
pub(crate) mod syntax;
pub(crate) mod validate;
