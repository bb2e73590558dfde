//! The example deployments (`deploy/`: compose and Kubernetes) stay in step with
//! the server they run: every file parses, every configuration is read as the
//! server reads it, every secret it names is provided, every probe hits a route
//! served without a key. No container runtime or cluster runs here, so the checks
//! are structural.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_norway::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The environment variables a configuration reads secrets from (`{ env = "NAME" }`).
fn env_names(config: &str) -> BTreeSet<String> {
    config.split("env = \"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect()
}

/// Every YAML document of `path`.
fn documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

fn of_kind<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("a {kind} named {name}"))
}

fn server_config(text: &str, what: &str) -> dci_server::Config {
    let config: dci_server::Config = toml::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(config.engine.registries.len(), 3, "{what}");
    let redis = config.engine.cache.redis.as_ref().expect("[cache.redis]");
    assert!(redis.url.starts_with("redis://") && redis.password.is_some(), "{what}");
    assert!(config.engine.cache.encryption_key.is_some(), "{what}: facts are sealed at rest");
    assert!(config.engine.purpose.is_some(), "{what}: every search says why it is made");
    assert!(config.server.api_keys.iter().all(|key| key.scopes.as_ref().is_some_and(|s| !s.is_empty())), "{what}");
    assert!(config.server.audit.is_some(), "{what}: [server.audit]");
    config
}

#[test]
fn the_compose_deployment_runs_as_shipped() {
    let config_text = read("deploy/elig.toml");
    let config = server_config(&config_text, "deploy/elig.toml");
    assert!(config.server.audit.as_ref().and_then(|a| a.file.as_ref()).is_some(), "audit records go to a file");
    // As shipped, the registries are the simulator the compose file runs.
    assert!(config.engine.registries.iter().all(|r| r.base_url.starts_with("http://registries:8500/")));

    // Every secret the configuration reads is in the env file, and nothing else is asked of the user.
    let example = read("deploy/.env.example");
    let provided: BTreeSet<String> = example
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .collect();
    assert_eq!(env_names(&config_text), provided, "deploy/.env.example gives exactly what elig.toml reads");

    let mut compose = documents("deploy/compose.yaml").remove(0);
    compose.apply_merge().expect("YAML merge keys");
    let services = &compose["services"];
    for name in ["redis", "registries", "elig-1", "elig-2", "balancer"] {
        assert!(services[name].is_mapping(), "service {name}");
    }
    let open = dci_server::open_paths();
    for replica in ["elig-1", "elig-2"] {
        let service = &services[replica];
        assert_eq!(service["env_file"][0].as_str(), Some(".env"), "{replica}: secrets from the env file");
        assert!(service["environment"].is_null(), "{replica}: no secret written in the compose file");
        let probe: Vec<&str> =
            service["healthcheck"]["test"].as_sequence().expect("test").iter().filter_map(Value::as_str).collect();
        let url = probe.iter().find(|arg| arg.starts_with("http://")).expect("a URL");
        assert!(open.iter().any(|path| url.ends_with(path)) && url.ends_with("/readyz"), "{url}");
        assert!(service["depends_on"]["registries"]["condition"].as_str() == Some("service_healthy"));
    }
    // Each replica rotates its own audit file: no volume holding one is shared.
    let audit_volume = |replica: &str| {
        services[replica]["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .filter_map(Value::as_str)
            .find(|v| v.ends_with(":/var/log/elig"))
            .map(str::to_owned)
    };
    assert!(audit_volume("elig-1").is_some() && audit_volume("elig-1") != audit_volume("elig-2"));
    let redis = serde_norway::to_string(&services["redis"]).expect("yaml");
    assert!(!redis.contains("--requirepass"), "the Redis password is not on a command line");
    assert_eq!(services["redis"]["env_file"][0].as_str(), Some(".env"));

    let ignored = read(".dockerignore");
    assert!(ignored.lines().any(|line| line.trim() == "target/"), "the build output is not sent as build context");
    assert!(ignored.lines().any(|line| line.trim() == "deploy/.env"), "nor the secrets");
    let dockerfile = read("deploy/Dockerfile");
    assert!(dockerfile.contains("COPY fixtures/registries /usr/share/elig/fixtures/registries"));
    for registry in ["crvs", "ibr", "dr"] {
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/registries/{registry}.ndjson")).exists());
    }
}

#[test]
fn the_kubernetes_manifests_fit_the_server() {
    let elig = documents("deploy/kubernetes/elig.yaml");
    let secret = documents("deploy/kubernetes/secret.example.yaml").remove(0);
    let keys: BTreeSet<String> = secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();

    let config_text = of_kind(&elig, "ConfigMap", "elig-config")["data"]["elig.toml"].as_str().expect("elig.toml");
    let config = server_config(config_text, "the elig-config ConfigMap");
    assert!(env_names(config_text).is_subset(&keys), "the Secret holds every secret the configuration reads");
    assert_eq!(keys, env_names(&read("deploy/elig.toml")), "the same secrets as the compose deployment");

    let deployment = of_kind(&elig, "Deployment", "elig");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], secret["metadata"]["name"]);
    assert_eq!(container["ports"][0]["containerPort"].as_u64(), Some(u64::from(config.server.bind.port())));
    let open = dci_server::open_paths();
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let probed = container[probe]["httpGet"]["path"].as_str().expect("a path");
        assert_eq!(probed, path, "{probe}");
        assert!(open.contains(&probed), "{probe}: {probed} answers without a key");
    }
    let mounted = container["volumeMounts"][0]["mountPath"].as_str().expect("mount");
    let command: Vec<&str> =
        container["command"].as_sequence().expect("command").iter().filter_map(Value::as_str).collect();
    assert_eq!(command, ["elig", "serve", "--config", &format!("{mounted}/elig.toml")]);
    assert_eq!(pod["volumes"][0]["configMap"]["name"], "elig-config");

    let autoscaler = of_kind(&elig, "HorizontalPodAutoscaler", "elig");
    assert_eq!(autoscaler["spec"]["scaleTargetRef"]["name"], deployment["metadata"]["name"]);
    assert_eq!(autoscaler["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert_eq!(of_kind(&elig, "Service", "elig")["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);

    // Redis and the simulator at the addresses the configuration names; no password on a command line.
    let redis = documents("deploy/kubernetes/redis.yaml");
    let redis_url = config.engine.cache.redis.as_ref().map(|r| r.url.clone()).unwrap_or_default();
    assert!(redis_url.contains(&format!(
        "//{}:",
        of_kind(&redis, "Service", "elig-redis")["metadata"]["name"].as_str().unwrap_or("?")
    )));
    assert!(!read("deploy/kubernetes/redis.yaml").contains("--requirepass"));
    let registries = documents("deploy/kubernetes/registries.yaml");
    let service = of_kind(&registries, "Service", "elig-registries");
    let port = service["spec"]["ports"][0]["port"].as_u64().expect("port");
    assert!(
        config.engine.registries.iter().all(|r| r.base_url.starts_with(&format!("http://elig-registries:{port}/")))
    );
}
