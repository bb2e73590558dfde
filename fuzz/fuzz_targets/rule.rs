//! Rule text → compile → evaluate (with explanations) on sample households,
//! registry values at hand: a diagnostic or a decision, never a crash.
#![no_main]

use dci_eligibility::{EvaluationOptions, ItemResult};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let world = &*common::WORLD;
    match world.engine.compiler().compile("fuzz", text) {
        Err(error) => {
            assert!(!error.diagnostics.is_empty());
            for diagnostic in &error.diagnostics {
                assert!(diagnostic.line >= 1 && diagnostic.column >= 1);
                let _ = diagnostic.render();
            }
        }
        Ok(rule) => {
            let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(common::as_of()) };
            let households = common::households();
            let count = households.len();
            let result = world.runtime.block_on(world.engine.evaluate_batch(&[rule], households, &options));
            assert_eq!(result.items.len(), count);
            for item in &result.items {
                if let ItemResult::Decided { decisions, .. } = item {
                    assert_eq!(decisions.len(), 1);
                }
            }
        }
    }
});
