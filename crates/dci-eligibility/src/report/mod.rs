//! What comes out: decisions and statistics, rule comparisons, rule-test files.

pub mod diff;
pub(crate) mod results;
pub mod rule_tests;
