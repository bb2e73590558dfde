//! The `elig` binary end to end: every command, exit codes, outputs.

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn elig() -> Command {
    let mut command = Command::cargo_bin("elig").expect("binary");
    command.env_remove("CI").current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_commands_and_usage_errors_exit_2() {
    let output = elig().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let commands =
        ["demo", "check", "eval", "diff", "test", "explain", "registry", "gen", "serve", "playground", "bench"];
    for command in commands {
        assert!(stdout(&output).contains(command), "{command} missing from --help");
    }
    for command in commands {
        let help = elig().args([command, "--help"]).output().expect("runs");
        assert!(stdout(&help).contains("Example"), "{command} --help has an example");
    }
    let output = elig().args(["eval", "--rule", "true"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "missing --beneficiaries is a usage error");
}

#[test]
fn check_reports_invalid_rules_with_a_caret_and_exit_3() {
    let output = elig().args(["check", "poverty_score >= 0.7 and\n  dci.ibr.program_cnt == 0"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let text = stdout(&output);
    assert!(text.contains("error[unknown_metric] at 2:3"), "{text}");
    assert!(text.contains("^^^^^^^^^^^^^^^^^^^"), "{text}");
    assert!(text.contains("did you mean `dci.ibr.program_count`?"), "{text}");

    let output = elig().args(["check", "--file", "fixtures/rules.toml", "--format", "json"]).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("json");
    assert_eq!(report.as_array().map(Vec::len), Some(4));
    assert_eq!(report[0]["registries"]["registrant"], serde_json::json!(["dr", "ibr"]));
    assert_eq!(report[3]["registries"]["members"], serde_json::json!(["dr"]));
}

/// `check --data` gives fields the types of sample beneficiaries, and `[fields]` in the
/// configuration declares them: a type slip is refused, a field no sample has is warned about.
#[test]
fn check_knows_the_fields_from_sample_data_and_from_the_configuration() {
    let data = ["check", "--data", "fixtures/beneficiaries.ndjson"];
    let output = elig().args(data).arg("age >= 60").output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "a warning does not make the rule invalid");
    let text = stdout(&output);
    assert!(text.contains("warning[unknown_field] at 1:1"), "{text}");
    assert!(text.contains("write `age_years(r.birthdate)`"), "{text}");
    let output = elig().args(data).arg("birthdate < date('1960-01-01')").output().expect("runs");
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout(&output).contains("write `date(birthdate)`"), "{}", stdout(&output));

    let (_dir, config) = config_file("[fields]\nbirthdate = \"date\"\nhousehold_size = \"int\"\n");
    let output = elig().args(["check", "--config"]).arg(&config).arg("household_size > 'four'").output().expect("runs");
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout(&output).contains("error[type_mismatch]"), "{}", stdout(&output));
    let (_dir, config) = config_file("[fields]\nbirthdate = \"day\"\n");
    let output = elig().args(["check", "--config"]).arg(&config).arg("true").output().expect("runs");
    let said = stderr(&output);
    assert!(!output.status.success() && said.contains("birthdate") && said.contains("date"), "{said}");
}

fn decisions(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

#[test]
fn eval_over_the_fixture_matches_the_expected_outcomes() {
    let output = elig()
        .args([
            "eval",
            "--rules",
            "fixtures/rules.toml",
            "--beneficiaries",
            "fixtures/beneficiaries.ndjson",
            "--as-of",
            "2026-01-01",
            "--simulator",
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("built-in simulator"), "says it uses the simulator: {}", stderr(&output));
    let results = decisions(&stdout(&output));
    assert_eq!(results.len(), 35);
    let outcome = |id: &str, rule: &str| {
        let result = results.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("{id}"));
        result["outcomes"][rule]["outcome"].as_str().unwrap_or_default().to_owned()
    };
    // fixtures/README.md: expected outcomes
    assert_eq!(outcome("HH-0007", "disabled_not_enrolled"), "eligible");
    assert_eq!(outcome("HH-0008", "disabled_not_enrolled"), "ineligible");
    assert_eq!(outcome("HH-0003", "elderly_alive"), "undetermined");
    assert_eq!(outcome("HH-0023", "poor_not_enrolled"), "error");
    assert_eq!(outcome("HH-0024", "household_disability"), "eligible");
    assert_eq!(outcome("HH-0027", "household_disability"), "undetermined");
    let count = |rule: &str, wanted: &str| results.iter().filter(|r| r["outcomes"][rule]["outcome"] == wanted).count();
    assert_eq!(
        [
            count("disabled_not_enrolled", "eligible"),
            count("elderly_alive", "eligible"),
            count("poor_not_enrolled", "eligible"),
            count("household_disability", "eligible")
        ],
        [5, 11, 14, 5]
    );
}

#[test]
fn a_malformed_line_is_reported_with_its_number_and_the_others_are_decided() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("people.ndjson");
    std::fs::write(
        &input,
        "{\"id\": \"A\", \"poverty_score\": 0.9}\n{\"id\": \"B\", \"poverty_score\": \n\n{\"poverty_score\": 0.1}\n{\"id\": \"D\", \"poverty_score\": 0.1}\n{\"id\": \"E\", \"poverty_score\": 0.9, \"members\": [{\"sex\": \"F\", \"sex\": \"M\"}]}\n",
    )
    .expect("write");
    let out = dir.path().join("decisions.csv");
    let output = elig()
        .args(["eval", "--rule", "poverty_score >= 0.7", "--beneficiaries"])
        .arg(&input)
        .args(["--format", "csv", "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let csv = std::fs::read_to_string(&out).expect("output");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "id,rule,rule_reason");
    assert_eq!(rows[1], "A,eligible,");
    assert!(rows[2].contains("line 2") && rows[2].contains("invalid JSON"), "{}", rows[2]);
    assert!(rows[3].contains("line 4: id: is missing"), "{}", rows[3]);
    assert_eq!(rows[4], "D,ineligible,");
    // The rule reads no member, yet a bad member is its household's error.
    assert!(rows[5].contains("line 6: members[0].sex: is given twice"), "{}", rows[5]);
    assert!(stderr(&output).contains("(3 unreadable)"), "{}", stderr(&output));

    let json = elig()
        .args(["eval", "--rule", "poverty_score >= 0.7", "--format", "json", "--explain", "--beneficiaries"])
        .arg(&input)
        .output()
        .expect("runs");
    let array: Value = serde_json::from_str(&stdout(&json)).expect("a JSON array");
    assert_eq!(array.as_array().map(Vec::len), Some(5));
    assert_eq!(array[1]["line"], 2);
    assert_eq!(array[0]["outcomes"]["rule"]["clauses"][0]["value"], true);
}

#[test]
fn eval_reads_a_json_array_and_refuses_an_invalid_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("people.json");
    std::fs::write(&input, r#"[{"id": "A", "poverty_score": 0.9}, {"id": "B", "poverty_score": 0.2}]"#).expect("write");
    let output =
        elig().args(["eval", "--rule", "poverty_score >= 0.7", "--beneficiaries"]).arg(&input).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let results = decisions(&stdout(&output));
    assert_eq!(results[1]["outcomes"]["rule"]["outcome"], "ineligible");
    let output =
        elig().args(["eval", "--rule", "poverty_score >=", "--beneficiaries"]).arg(&input).output().expect("runs");
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("error[syntax]"));
}

#[test]
fn rule_tests_pass_and_a_failing_one_shows_its_diff() {
    let output = elig().args(["test", "fixtures/rule-tests"]).output().expect("runs");
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("0 failed"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wrong.yaml");
    std::fs::write(
        &file,
        "rule: poverty_score >= 0.7\nas_of: 2026-01-01\ncases:\n  - name: expects the wrong thing\n    beneficiary: { id: A, poverty_score: 0.2 }\n    expect: eligible\n    clauses: [true]\n",
    )
    .expect("write");
    let output = elig().arg("test").arg(&file).output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL  expects the wrong thing"), "{text}");
    assert!(text.contains("outcome: expected eligible, got ineligible"), "{text}");
    assert!(text.contains("clauses: expected [true], got [false]"), "{text}");
}

#[test]
fn explain_shows_clauses_and_where_each_metric_came_from() {
    let output = elig()
        .args([
            "explain",
            "--rule",
            "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
            "--beneficiary",
            "HH-0003",
            "--as-of",
            "2026-01-01",
            "--simulator",
        ])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("HH-0003 — rule \"rule\": UNDETERMINED"), "{text}");
    assert!(text.contains("age_years(r.birthdate) >= 60  true: aged 67 (born 1958-04-05)"), "{text}");
    assert!(text.contains("reason: Undetermined: the civil registry has no record for this person's UIN."), "{text}");
    assert!(text.contains("used: age_years(r.birthdate) = 67, r.birthdate = \"1958-04-05\""), "{text}");
    assert!(text.contains("unknown: the registry has no record of this person — not in the registry"), "{text}");
}

#[test]
fn gen_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["a", "b"] {
        let output = elig()
            .args(["gen", "--households", "50", "--seed", "9", "--out"])
            .arg(dir.path().join(name))
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", stderr(&output));
    }
    for file in ["beneficiaries.ndjson", "crvs.ndjson", "ibr.ndjson", "dr.ndjson"] {
        let a = std::fs::read(dir.path().join("a").join(file)).expect("a");
        let b = std::fs::read(dir.path().join("b").join(file)).expect("b");
        assert!(!a.is_empty());
        assert_eq!(a, b, "{file} differs between two runs with the same seed");
    }
}

#[test]
fn demo_prints_the_summary_table_and_explanations() {
    let output = elig().arg("demo").output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for name in [
        "disabled_not_enrolled",
        "elderly_alive",
        "poor_not_enrolled",
        "household_disability",
        "round trips",
        "cache hits",
        "clauses",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
}

#[tokio::test]
async fn the_registry_serves_tokens_and_searches() {
    let (_registry, address) = registry(&["--port", "0"]);
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("http://{address}/crvs/oauth2/client/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "elig-demo"),
            ("client_secret", "elig-demo-secret"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let access = token["access_token"].as_str().expect("token").to_owned();
    let body = serde_json::json!({
        "header": {"version": "1.0.0", "message_id": "m1", "message_ts": "2026-01-01T00:00:00+00:00", "action": "search", "sender_id": "test", "total_count": 1},
        "message": {"transaction_id": "t1", "search_request": [{"reference_id": "r1", "timestamp": "2026-01-01T00:00:00+00:00",
            "search_criteria": {"query_type": "idtype-value", "query": {"type": "UIN", "value": "800010000"}}}]}
    });
    let answer: Value = http
        .post(format!("http://{address}/crvs/registry/sync/search"))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["message"]["search_response"][0]["data"]["reg_records"][0]["name"]["given_name"], "Amina");
}

#[test]
fn a_cache_file_makes_the_second_run_ask_no_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("facts.bin");
    let run = |stats: &str| {
        let output = elig()
            .args([
                "eval",
                "--rules",
                "fixtures/rules.toml",
                "--beneficiaries",
                "fixtures/beneficiaries.ndjson",
                "--as-of",
                "2026-01-01",
                "--simulator",
            ])
            .arg("--cache-file")
            .arg(&cache)
            .arg("--stats-json")
            .arg(dir.path().join(stats))
            .output()
            .expect("runs");
        assert!(output.status.success(), "{}", stderr(&output));
        let report: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(stats)).expect("stats")).expect("json");
        (stdout(&output), report)
    };
    let (first, cold) = run("cold.json");
    let (second, warm) = run("warm.json");
    assert_eq!(first, second, "same decisions");
    let fetched = |report: &Value| {
        report["stats"]["registries"]
            .as_array()
            .expect("registries")
            .iter()
            .map(|r| r["fetched"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert!(fetched(&cold) > 50);
    assert_eq!(fetched(&warm), 0, "everything came from the cache file");
    assert!(warm["cache"]["loaded"].as_u64().unwrap_or(0) > 50);
    assert!(warm["peak_rss_bytes"].as_u64().unwrap_or(0) > 0);

    std::fs::write(&cache, b"not a cache").expect("writes");
    let output = elig()
        .args([
            "eval",
            "--rule",
            "dci.crvs.is_alive",
            "--beneficiaries",
            "fixtures/beneficiaries.ndjson",
            "--simulator",
        ])
        .arg("--cache-file")
        .arg(&cache)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("not an elig fact cache"), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "nothing is decided without the cache the user asked for");
}

/// Kills the child process when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `elig registry` with `args`, running until dropped, and the address its banner names.
/// A deployment configuration `text` written to `elig.toml` in a folder of its own (kept while
/// the folder is).
fn config_file(text: impl AsRef<[u8]>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("elig.toml");
    std::fs::write(&config, text).expect("write");
    (dir, config)
}

fn registry<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (KillOnDrop, String) {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("elig"))
        .arg("registry")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("banner");
    let address =
        first.split("http://").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("address").to_owned();
    (KillOnDrop(child), address)
}

/// Starts `elig serve` on a free loopback port with `args` and `envs`; the
/// address it listens on (from its banner or, with `--config`, its log line).
fn serve(args: &[&std::ffi::OsStr], envs: &[(&str, String)]) -> (KillOnDrop, String) {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("elig"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().map(|(name, value)| (name, value)))
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let child = KillOnDrop(child);
    let address = loop {
        let line = lines.next().expect("the address before the stream ends").expect("utf-8");
        let rest = line.strip_prefix("elig serve: listening on http://").or_else(|| line.split("addr=").nth(1));
        if let Some(rest) = rest {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining the logs so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

#[tokio::test]
async fn serve_answers_the_evaluate_api_with_an_api_key() {
    let refused = elig()
        .args(["serve", "--simulator", "--bind", "127.0.0.1:0"])
        .env_remove("ELIG_API_KEY")
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("ELIG_API_KEY"), "{}", stderr(&refused));

    let (child, address) = serve(&["--simulator".as_ref()], &[("ELIG_API_KEY", "test-key".to_owned())]);
    let http = reqwest::Client::new();
    let health = http.get(format!("http://{address}/healthz")).send().await.expect("healthz");
    assert!(health.status().is_success());
    let body = serde_json::json!({
        "rule": "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
        "as_of": "2026-01-01",
        "beneficiaries": [
            {"id": "HH-0001", "identifiers": [{"type": "UIN", "value": "800010000"}], "birthdate": "1950-03-02"},
            {"id": "NO-ID", "birthdate": "1950-03-02"},
        ],
    });
    let unauthorised = http.post(format!("http://{address}/v1/evaluate")).json(&body).send().await.expect("post");
    assert_eq!(unauthorised.status(), 401);
    let answer: Value = http
        .post(format!("http://{address}/v1/evaluate"))
        .bearer_auth("test-key")
        .json(&body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["results"][0]["id"], "HH-0001");
    assert_eq!(answer["results"][0]["outcomes"]["rule"]["outcome"], "eligible", "{answer}");
    assert_eq!(answer["results"][1]["outcomes"]["rule"]["outcome"], "undetermined", "{answer}");
    assert_eq!(answer["results"][1]["outcomes"]["rule"]["missing"][0]["cause"], "no_identifier", "{answer}");
    drop(child);
}

#[test]
fn deep_and_costly_rules_are_refused_by_check_and_eval_without_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("people.ndjson");
    std::fs::write(&input, "{\"id\": \"A\"}\n").expect("write");
    let chain = format!("{} > 0", vec!["1"; 2000].join(" + "));
    let mut nested = "true".to_owned();
    for variable in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
        nested = format!("[0,1,2,3,4,5,6,7,8,9].all({variable}, {nested})");
    }
    for (rule, code) in [(chain, "too_deep"), (nested, "cost_too_high")] {
        let output = elig().args(["check", &rule]).output().expect("runs");
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        assert!(stdout(&output).contains(&format!("error[{code}]")), "{}", stdout(&output));
        let output = elig().args(["eval", "--rule", &rule, "--beneficiaries"]).arg(&input).output().expect("runs");
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        assert!(stderr(&output).contains(&format!("error[{code}]")), "{}", stderr(&output));
    }
    let output =
        elig().args(["check", "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60"]).output().expect("runs");
    assert!(stdout(&output).contains("cost: at most"), "{}", stdout(&output));
}

#[test]
fn a_rules_file_past_its_size_limit_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.toml");
    let line = format!("r{{}} = \"{}\"\n", vec!["true"; 1_000].join(" && "));
    let text: String = (0..300).map(|i| line.replace("{}", &i.to_string())).collect();
    std::fs::write(&rules, text).expect("write");
    let output = elig().args(["check", "--file"]).arg(&rules).output().expect("runs");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("a rules file is at most 1048576 bytes"), "{}", stderr(&output));
}

#[test]
fn ctrl_c_writes_the_decisions_made_so_far_and_says_the_output_is_partial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("people.ndjson");
    let list: Vec<u32> = (0..3000).collect();
    let lines: Vec<String> =
        (0..400).map(|i| serde_json::json!({"id": format!("P{i}"), "xs": list}).to_string()).collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    let out = dir.path().join("out.ndjson");
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("elig"))
        .args(["eval", "--rule", "r.xs.all(a, r.xs.all(b, a != b || a == b))", "--chunk-size", "4", "--out"])
        .arg(&out)
        .arg("--beneficiaries")
        .arg(&input)
        .env_remove("CI")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let interrupted =
        StdCommand::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs").success();
    assert!(interrupted);
    let output = child.wait_with_output().expect("ends");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("output is partial"), "{}", stderr(&output));
    assert!(stderr(&output).contains("the chunk in progress is dropped"), "{}", stderr(&output));
    let written = decisions(&std::fs::read_to_string(&out).expect("output"));
    assert!(written.len() < 400, "stopped early: {} decisions", written.len());
    assert_eq!(written.len() % 4, 0, "whole chunks only");
    for (i, decision) in written.iter().enumerate() {
        assert_eq!(decision["id"], format!("P{i}"));
        assert_eq!(decision["outcomes"]["rule"]["code"], "budget_exceeded");
    }
}

#[test]
fn the_registry_listens_where_its_config_says_unless_a_flag_says_otherwise() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sim.toml");
    std::fs::write(&config, format!("bind = \"127.0.0.1:{free}\"\n")).expect("write");
    let config = config.as_os_str();
    assert_eq!(
        registry(&[std::ffi::OsStr::new("--config"), config]).1,
        format!("127.0.0.1:{free}"),
        "the config's bind"
    );
    let (_, other) = registry(&[std::ffi::OsStr::new("--config"), config, "--port".as_ref(), "0".as_ref()]);
    assert_ne!(other, format!("127.0.0.1:{free}"), "--port overrides the config");
}

#[test]
fn a_registry_that_refuses_our_credentials_is_named_with_its_cause_and_exit_4() {
    let (registry, address) = registry(&["--port", "0"]);
    let (_dir, config) = config_file(format!(
        "[[registry]]\nregistry = \"crvs\"\nbase_url = \"http://{address}/crvs\"\nclient_id = \"elig-demo\"\n\
             client_secret = {{ value = \"not-the-secret\" }}\nretry = {{ max_attempts = 1 }}\n"
    ));
    let output = elig()
        .args(["eval", "--rule", "dci.crvs.is_alive == true", "--as-of", "2026-01-01", "--config"])
        .arg(&config)
        .args(["--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .output()
        .expect("runs");
    drop(registry);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains("registry crvs failed"), "{errors}");
    assert!(errors.contains("authentication failed"), "names the cause: {errors}");
    assert!(!errors.contains("not-the-secret"), "never the secret: {errors}");
    assert_eq!(decisions(&stdout(&output)).len(), 35, "every decision is written");
}

/// `elig registries check` passes every step against the simulator (exit 0), and names the
/// failing step with the registry's words for a wrong secret (exit 4), never the secret.
#[test]
fn registries_check_names_each_step_and_the_failing_one() {
    let output = elig().args(["registries", "check", "--simulator", "--format", "json"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let reports: Vec<Value> = serde_json::from_str(&stdout(&output)).expect("JSON");
    let registries: Vec<&str> = reports.iter().filter_map(|r| r["registry"].as_str()).collect();
    assert_eq!(registries, ["crvs", "ibr", "dr"]);
    for report in &reports {
        let steps: Vec<&str> =
            report["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
        assert_eq!(steps, ["reach", "token", "jwks", "search", "signature", "permission"], "{report}");
    }

    let (registry, address) = registry(&["--port", "0"]);
    let (_dir, config) = config_file(format!(
        "[[registry]]\nregistry = \"crvs\"\nbase_url = \"http://{address}/crvs\"\nclient_id = \"elig-demo\"\n\
             client_secret = {{ value = \"not-the-secret\" }}\n\n[[registry]]\nregistry = \"ibr\"\n\
             base_url = \"http://{address}/ibr\"\nclient_id = \"elig-demo\"\nclient_secret = {{ value = \"elig-demo-secret\" }}\n"
    ));
    let output = elig().args(["registries", "check", "--config"]).arg(&config).output().expect("runs");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("✘ token") && text.contains("refused client \"elig-demo\""), "{text}");
    assert!(text.contains("hint: check client_id and client_secret"), "{text}");
    assert!(text.contains("✔ permission"), "the IBR passes: {text}");
    assert!(!text.contains("not-the-secret") && !stderr(&output).contains("not-the-secret"), "{text}");
    let only =
        elig().args(["registries", "check", "--registry", "ibr", "--config"]).arg(&config).output().expect("runs");
    assert_eq!(only.status.code(), Some(0), "{}", stdout(&only));
    let unknown =
        elig().args(["registries", "check", "--registry", "dr", "--config"]).arg(&config).output().expect("runs");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("configured: crvs, ibr"), "{}", stderr(&unknown));
    drop(registry);
}

/// `elig registry --profile NAME` speaks a registry's dialect, and a `[[registry]]` entry with
/// the same `profile` passes every step of the check, verifying its JWS signatures.
#[test]
fn registries_check_passes_against_a_simulator_speaking_each_jws_profile() {
    for profile in ["opencrvs", "openg2p"] {
        let (registry, address) = registry(&["--port", "0", "--profile", profile]);
        let (_dir, config) = config_file(format!(
            "[[registry]]\nregistry = \"crvs\"\nprofile = \"{profile}\"\nverify_responses = true\n\
                 base_url = \"http://{address}/crvs\"\nclient_id = \"elig-demo\"\n\
                 client_secret = {{ value = \"elig-demo-secret\" }}\n"
        ));
        let output = elig().args(["registries", "check", "--format", "json", "--config"]).arg(&config).output();
        let output = output.expect("runs");
        assert_eq!(output.status.code(), Some(0), "{profile}: {}", stdout(&output));
        let reports: Vec<Value> = serde_json::from_str(&stdout(&output)).expect("JSON");
        let jwks = &reports[0]["steps"][2];
        assert_eq!(jwks["step"], "jwks");
        assert!(jwks["detail"].as_str().is_some_and(|keys| keys.contains("(RS256)")), "{profile}: {jwks}");
        drop(registry);
    }
}

#[test]
fn a_line_that_is_not_utf8_is_its_own_error_and_every_other_line_is_decided() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("people.ndjson");
    let mut bytes = Vec::new();
    for i in 1..=15_000 {
        if i == 12_001 {
            bytes.extend_from_slice(b"{\"id\":\"B\xff\"}\n");
        } else {
            bytes.extend_from_slice(format!("{{\"id\":\"P{i}\"}}\n").as_bytes());
        }
    }
    std::fs::write(&input, bytes).expect("write");
    let output = elig().args(["eval", "--rule", "true", "--beneficiaries"]).arg(&input).output().expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let results = decisions(&stdout(&output));
    assert_eq!(results.len(), 15_000, "one result per line");
    assert_eq!(results[12_000]["line"], 12_001);
    assert_eq!(results[12_000]["error"]["code"], "invalid_beneficiary");
    assert!(results[12_000]["error"]["message"].as_str().expect("message").contains("UTF-8"));
    assert_eq!(results[14_999]["id"], "P15000");
    assert_eq!(results[14_999]["outcomes"]["rule"]["outcome"], "eligible");
}

/// `elig eval` and `elig serve` with one `[cache.redis]`: what the CLI run
/// fetched, the server answers without asking any registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_run_warms_a_server_through_the_shared_redis() {
    let Some(redis) = test_services::RedisServer::start() else { return };
    let (_registry, address) = registry(&["--port", "0"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("elig.toml");
    let mut toml = String::new();
    for id in ["crvs", "ibr", "dr"] {
        toml += &format!(
            "[[registry]]\nregistry = \"{id}\"\nbase_url = \"http://{address}/{id}\"\nclient_id = \"elig-demo\"\n\
             client_secret = {{ value = \"elig-demo-secret\" }}\n\n"
        );
    }
    toml += &format!(
        "[cache]\nencryption_key = {{ env = \"TEST_CACHE_KEY\" }}\n\n[cache.redis]\nurl = \"{}\"\n\
         key_secret = {{ env = \"TEST_KEY_SECRET\" }}\n\n[server]\n\
         api_keys = [{{ env = \"ELIG_API_KEY\", scopes = [\"evaluate\", \"explain\"] }}]\n",
        redis.url()
    );
    std::fs::write(&config, toml).expect("write");
    let keys = [("TEST_CACHE_KEY", "3c".repeat(32)), ("TEST_KEY_SECRET", "a secret long enough".to_owned())];
    let rule = "dci.crvs.is_alive == true and dci.ibr.is_enrolled == false";

    let output = elig()
        .args(["eval", "--rule", rule, "--as-of", "2026-01-01", "--config"])
        .arg(&config)
        .args(["--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .envs(keys.clone())
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let from_cli = decisions(&stdout(&output));
    let http = reqwest::Client::new();
    let asked = || async {
        let stats: Value =
            http.get(format!("http://{address}/sim/stats")).send().await.expect("stats").json().await.expect("json");
        ["crvs", "ibr", "dr"].iter().map(|r| stats[r]["items"].as_u64().unwrap_or(0)).sum::<u64>()
    };
    let after_cli = asked().await;
    assert!(after_cli > 0, "the CLI run asked the registries");

    let mut envs = keys.to_vec();
    envs.push(("ELIG_API_KEY", "test-key".to_owned()));
    let (child, server) = serve(&["--config".as_ref(), config.as_os_str()], &envs);
    let beneficiaries: Vec<Value> = std::fs::read_to_string("fixtures/beneficiaries.ndjson")
        .expect("fixture")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    let body = serde_json::json!({"rule": rule, "as_of": "2026-01-01", "beneficiaries": beneficiaries});
    let answer: Value = http
        .post(format!("http://{server}/v1/evaluate"))
        .bearer_auth("test-key")
        .json(&body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(asked().await, after_cli, "the server asked no registry: the CLI run had warmed Redis");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), from_cli.len());
    for (served, written) in results.iter().zip(&from_cli) {
        assert_eq!(served["id"], written["id"]);
        assert_eq!(
            served["outcomes"]["rule"]["outcome"], written["outcomes"]["rule"]["outcome"],
            "{served} vs {written}"
        );
    }
    drop(child);
}

/// The outcome of `rule` for each beneficiary of the fixture, from `elig eval`, and the
/// registry round trips it took.
fn eval_outcomes(rule: &str) -> (Vec<(String, String)>, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let stats = dir.path().join("stats.json");
    let output = elig()
        .args(["eval", "--rule", rule, "--beneficiaries", "fixtures/beneficiaries.ndjson", "--as-of", "2026-01-01"])
        .arg("--simulator")
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let outcomes = decisions(&stdout(&output))
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_owned(),
                d["outcomes"]["rule"]["outcome"].as_str().expect("outcome").to_owned(),
            )
        })
        .collect();
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats).expect("stats")).expect("JSON");
    (outcomes, round_trips(&stats["stats"]))
}

fn round_trips(stats: &Value) -> u64 {
    stats["registries"].as_array().expect("registries").iter().map(|r| r["round_trips"].as_u64().unwrap_or(0)).sum()
}

/// How a change of outcome is counted (the definition the diff documents).
fn change(old: &str, new: &str) -> &'static str {
    match (old, new) {
        _ if old == new => "unchanged",
        (_, "undetermined") => "to_undetermined",
        ("undetermined", _) => "from_undetermined",
        (_, "eligible") => "gained",
        ("eligible", _) => "lost",
        _ => "other",
    }
}

#[test]
fn diff_counts_agree_with_two_eval_runs_and_ask_no_more_than_the_costlier_rule() {
    let old = "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false";
    let new = "dci.dr.has_disability == true and dci.dr.disability_level >= 2 and dci.ibr.is_enrolled == false";
    let (old_outcomes, old_trips) = eval_outcomes(old);
    let (new_outcomes, new_trips) = eval_outcomes(new);
    let mut expected = serde_json::Map::new();
    let mut changed = Vec::new();
    for ((id, before), (same_id, after)) in old_outcomes.iter().zip(&new_outcomes) {
        assert_eq!(id, same_id);
        let kind = change(before, after);
        let count = expected.get(kind).and_then(Value::as_u64).unwrap_or(0);
        expected.insert(kind.to_owned(), Value::from(count + 1));
        if kind != "unchanged" {
            changed.push((id.clone(), kind));
        }
    }
    assert!(!changed.is_empty(), "the rules differ for someone");

    // The old rule by name from the rules file, the new one inline.
    let output = elig()
        .args(["diff", "--old-file", "fixtures/rules.toml", "--old-name", "disabled_not_enrolled", "--new", new])
        .args(["--beneficiaries", "fixtures/beneficiaries.ndjson", "--as-of", "2026-01-01", "--format", "ndjson"])
        .arg("--simulator")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = decisions(&stdout(&output));
    let (last, rows) = lines.split_last().expect("lines");
    for kind in ["gained", "lost", "to_undetermined", "from_undetermined", "other", "unchanged"] {
        assert_eq!(
            last["counts"][kind].as_u64().unwrap_or(0),
            expected.get(kind).and_then(Value::as_u64).unwrap_or(0),
            "{kind}: {last}"
        );
    }
    let listed: Vec<(String, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_str().expect("id").to_owned(), r["change"].as_str().expect("change")))
        .collect();
    let changed: Vec<(String, &str)> = changed.into_iter().collect();
    assert_eq!(listed, changed);
    // Read in chunks of 4, as a JSON array from stdin: the same rows, at the same input positions.
    let array =
        serde_json::to_string(&decisions(&std::fs::read_to_string("fixtures/beneficiaries.ndjson").expect("fixture")))
            .expect("JSON");
    let chunked = elig()
        .args(["diff", "--old", old, "--new", new, "--beneficiaries", "-", "--as-of", "2026-01-01"])
        .args(["--format", "ndjson", "--chunk-size", "4", "--simulator"])
        .write_stdin(array)
        .output()
        .expect("runs");
    assert!(chunked.status.success(), "{}", stderr(&chunked));
    let chunked = decisions(&stdout(&chunked));
    let (chunked_last, chunked_rows) = chunked.split_last().expect("lines");
    assert_eq!(
        (chunked_rows, &chunked_last["counts"]),
        (rows, &last["counts"]),
        "chunks and input form change nothing"
    );
    // The clause whose value differs is named with both values.
    let level = rows[0]["clauses"].as_array().expect("clauses");
    assert!(level.iter().any(|c| c["clause"] == "dci.dr.disability_level >= 2" && c["new"] == true), "{}", rows[0]);
    // One pass: a fact fetched for one rule serves the other.
    let trips = round_trips(&last["summary"]);
    assert!(trips <= old_trips.max(new_trips), "diff {trips} round trips, rules alone {old_trips} and {new_trips}");

    // The table and CSV say the same.
    let diff_as = |format: &str| {
        let fixture = ["--beneficiaries", "fixtures/beneficiaries.ndjson", "--as-of", "2026-01-01"];
        elig()
            .args(["diff", "--old", old, "--new", new])
            .args(fixture)
            .args(["--format", format, "--simulator"])
            .output()
            .expect("runs")
    };
    let text = stdout(&diff_as("table"));
    let gained = expected.get("gained").and_then(Value::as_u64).unwrap_or(0);
    assert!(text.contains(&format!("{gained:>9}  gain eligibility")), "{text}");
    let csv = diff_as("csv");
    let csv = stdout(&csv);
    assert!(csv.starts_with("index,id,change,old,new,clauses\n"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + rows.len(), "{csv}");
}

#[test]
fn diff_needs_a_rule_name_for_a_file_of_several_and_refuses_an_invalid_rule() {
    let output = elig()
        .args([
            "diff",
            "--old-file",
            "fixtures/rules.toml",
            "--new",
            "true",
            "--beneficiaries",
            "fixtures/beneficiaries.ndjson",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("holds 4 rules (disabled_not_enrolled, elderly_alive"), "{}", stderr(&output));
    let output = elig()
        .args([
            "diff",
            "--old",
            "true",
            "--new",
            "dci.crvs.is_alve == true",
            "--beneficiaries",
            "fixtures/beneficiaries.ndjson",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("rule \"new\" is invalid"), "{}", stderr(&output));
}

/// `elig serve` with its standard error closed (a log reader that went away)
/// still starts and answers: writing its banner does not end it. SIGTERM (what
/// systemd and Kubernetes send) stops it in order, with exit status 0.
#[tokio::test]
async fn serve_keeps_answering_when_its_standard_error_is_closed_and_stops_on_sigterm() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("address").port();
    let address = format!("127.0.0.1:{port}");
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("elig"))
        .args(["serve", "--simulator", "--bind", &address])
        .env("ELIG_API_KEY", "test-key")
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(writer)
        .spawn()
        .expect("starts");
    let mut child = KillOnDrop(child);
    let http = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..100 {
        if let Some(status) = child.0.try_wait().expect("waits") {
            panic!("elig serve ended with {status} when its standard error was closed");
        }
        if http.get(format!("http://{address}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "elig serve never answered on {address}");
    // A request is logged too (to the closed standard error): still answered.
    let again = http.get(format!("http://{address}/healthz")).send().await.expect("answers");
    assert!(again.status().is_success());
    assert!(child.0.try_wait().expect("waits").is_none(), "still running");
    let sent = StdCommand::new("kill").args(["-TERM", &child.0.id().to_string()]).status().expect("kill runs");
    assert!(sent.success());
    let mut status = None;
    for _ in 0..100 {
        status = child.0.try_wait().expect("waits");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("elig serve stops within 10 s of SIGTERM");
    assert!(status.success(), "an orderly stop: {status}");
}

/// Rules reading registries are not decided against a stand-in nobody asked
/// for: without --config or --simulator the command refuses (exit 2), naming
/// both; a rule reading none runs as before.
#[test]
fn without_registries_a_rule_reading_them_is_refused_not_decided() {
    let output = elig()
        .args(["eval", "--rule", "dci.dr.has_disability == false and dci.ibr.is_enrolled == false"])
        .args(["--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "no decision: {}", stdout(&output));
    let said = stderr(&output);
    assert!(said.contains("--config") && said.contains("--simulator") && said.contains("`rule`"), "{said}");
    for command in [
        &["explain", "--rule", "dci.crvs.is_alive", "--beneficiary", "HH-0001"][..],
        &["diff", "--old", "true", "--new", "dci.crvs.is_alive", "--beneficiaries", "fixtures/beneficiaries.ndjson"][..],
    ] {
        let output = elig().args(command).output().expect("runs");
        assert_eq!(output.status.code(), Some(2), "{command:?}: {}", stderr(&output));
    }
    let both = elig()
        .args(["eval", "--rule", "dci.crvs.is_alive", "--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .args(["--simulator", "--config", "elig.toml"])
        .output()
        .expect("runs");
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    let plain = elig()
        .args(["eval", "--rule", "poverty_score >= 0.7", "--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .output()
        .expect("runs");
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(decisions(&stdout(&plain)).len(), 35);
}

/// The summary and the stats JSON name who answered for each registry, the
/// built-in simulator included.
#[test]
fn the_summary_and_the_stats_name_who_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    let output = elig()
        .args(["eval", "--rule", "dci.crvs.is_alive == true", "--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .args(["--simulator", "--stats-json"])
        .arg(&stats)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("crvs answered by built-in simulator"), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&std::fs::read(&stats).expect("stats")).expect("json");
    let crvs = &report["stats"]["registries"][0];
    assert_eq!(crvs["registry"], "crvs");
    assert!(crvs["answered_by"].as_str().is_some_and(|by| by.starts_with("built-in simulator")), "{crvs}");
}

/// `elig serve` does not start without registries: neither without --config
/// and --simulator, nor with a configuration naming none.
#[test]
fn serve_without_registries_does_not_start() {
    let output =
        elig().args(["serve", "--bind", "127.0.0.1:0"]).env("ELIG_API_KEY", "test-key").output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--simulator"), "{}", stderr(&output));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("elig.toml");
    std::fs::write(
        &config,
        "[server]\nbind = \"127.0.0.1:0\"\napi_keys = [{ env = \"ELIG_API_KEY\", scopes = [\"evaluate\"] }]\n",
    )
    .expect("writes");
    let output = elig().args(["serve", "--config"]).arg(&config).env("ELIG_API_KEY", "k").output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("names no registry"), "{}", stderr(&output));
}

/// A registry whose enrolment statuses are outside the code list: `elig eval`
/// leaves the decisions that need them undetermined, exits 4, and counts the
/// cause per registry in its summary and its `--stats-json`.
#[test]
fn eval_counts_unrecognised_values_per_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim_config = dir.path().join("sim.toml");
    std::fs::write(
        &sim_config,
        "[ibr.faults]\nmisbehaviour = { kind = \"field_value\", field = \"enrollment_status\", value = \"approved\" }\n",
    )
    .expect("write");
    let (_registry, address) =
        registry(&[std::ffi::OsStr::new("--config"), sim_config.as_os_str(), "--port".as_ref(), "0".as_ref()]);
    let config = dir.path().join("elig.toml");
    std::fs::write(
        &config,
        format!(
            "[[registry]]\nregistry = \"ibr\"\nbase_url = \"http://{address}/ibr\"\nclient_id = \"elig-demo\"\n\
             client_secret = {{ value = \"elig-demo-secret\" }}\n"
        ),
    )
    .expect("write");
    let stats = dir.path().join("stats.json");
    let output = elig()
        .args(["eval", "--rule", "poverty_score >= 0.7 and dci.ibr.program_count == 0", "--as-of", "2026-01-01"])
        .arg("--config")
        .arg(&config)
        .args(["--beneficiaries", "fixtures/beneficiaries.ndjson", "--stats-json"])
        .arg(&stats)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("unrecognised_value"), "{}", stderr(&output));
    let hh15 = decisions(&stdout(&output)).into_iter().find(|d| d["id"] == "HH-0015").expect("HH-0015");
    assert_eq!(
        hh15["outcomes"]["rule"]["missing"],
        serde_json::json!([{"name": "dci.ibr.program_count", "cause": "unrecognised_value"}])
    );
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats).expect("stats")).expect("JSON");
    let ibr = stats["stats"]["registries"].as_array().expect("registries").iter().find(|r| r["registry"] == "ibr");
    let counted = ibr.and_then(|r| r["failures"]["unrecognised_value"].as_u64());
    assert!(counted.is_some_and(|n| n > 0), "{}", stats["stats"]["registries"]);
}

/// `elig audit find` finds the records naming a person, in the log and its
/// rotated files, with the secret the identifiers were hashed under; a person
/// never looked up gives exit code 1.
#[test]
fn audit_find_names_the_requests_that_looked_a_person_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.ndjson");
    let secret = dci_client::Secret::new("an audit secret of some length");
    let record = |route: &str, people: &[(&str, &str)]| {
        let identifiers: Vec<String> =
            people.iter().map(|(kind, value)| dci_server::audit::identifier_hash(&secret, kind, value)).collect();
        serde_json::json!({"time": "2026-12-07T10:00:00.000Z", "key": "officer", "route": route,
            "rules_sha256": ["00"], "as_of": "2026-12-07", "beneficiaries": people.len(), "registries": {},
            "identifiers": identifiers})
        .to_string()
            + "\n"
    };
    std::fs::write(dir.path().join("audit.ndjson.1"), record("POST /v1/explain", &[("UIN", "800020000")])).expect("w");
    std::fs::write(&log, record("POST /v1/evaluate", &[("UIN", "800020000"), ("UIN", "800030000")])).expect("w");
    let find = |identifier: &str| {
        elig()
            .args(["audit", "find", "--secret-env", "TEST_AUDIT_SECRET", "--identifier", identifier, "--log"])
            .arg(&log)
            .env("TEST_AUDIT_SECRET", "an audit secret of some length")
            .output()
            .expect("runs")
    };
    let output = find("uin:800020000");
    assert!(output.status.success(), "{}", stderr(&output));
    let routes: Vec<String> = stdout(&output)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("JSON")["route"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert_eq!(routes, ["POST /v1/explain", "POST /v1/evaluate"], "oldest first, the rotated file included");
    assert!(stderr(&output).contains("audit records naming UIN:800020000: 2"), "{}", stderr(&output));
    assert_eq!(find("UIN:800030000").status.code(), Some(0));
    let nobody = find("UIN:800010000");
    assert_eq!((nobody.status.code(), stdout(&nobody).is_empty()), (Some(1), true));
    assert_eq!(find("800020000").status.code(), Some(2), "an identifier without its type is a usage error");
}
