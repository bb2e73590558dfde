//! The example deployment (`deploy/`) stays in step with the configuration it shows.

#[test]
fn the_example_deployment_config_is_read_as_the_server_reads_it() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/elig.toml")).expect("deploy/elig.toml");
    let config: dci_server::Config = toml::from_str(&text).expect("a valid elig.toml");
    assert_eq!(config.engine.registries.len(), 3);
    let redis = config.engine.cache.redis.as_ref().expect("[cache.redis]");
    assert!(redis.url.starts_with("redis://") && redis.password.is_some());
    assert!(config.engine.cache.encryption_key.is_some(), "facts are sealed at rest");
    // Every key says what it may do; every environment variable the file names is passed to the replicas.
    assert!(config.server.api_keys.iter().all(|key| key.scopes.as_ref().is_some_and(|s| !s.is_empty())));
    let audit = config.server.audit.as_ref().expect("[server.audit]");
    assert!(config.engine.purpose.is_some(), "every search says why it is made");
    assert!(audit.file.is_some(), "audit records go to a file");
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/compose.yaml")).expect("compose");
    for service in ["redis:", "elig-1:", "elig-2:", "balancer:"] {
        assert!(compose.contains(service), "{service}");
    }
    let named = config.server.api_keys.iter().filter_map(|key| key.env.as_deref());
    for variable in named.chain(["ELIG_AUDIT_SECRET"]) {
        assert!(compose.contains(&format!("- {variable}\n")), "compose.yaml passes {variable} to the replicas");
    }
}
