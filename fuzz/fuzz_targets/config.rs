//! `elig.toml`: read, checked, and an engine built from it (without network).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = toml::from_str::<dci_server::Config>(text) else { return };
    let _ = format!("{config:?}");
    let _ = dci_eligibility::Engine::from_config(&config.engine);
});
