//! Every documented example runs: the `curl` examples of the server README,
//! run as written by `sh` against `elig serve --simulator`, each answered 2xx.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "doc-examples-key-0123456789";

/// `elig serve --simulator` on a free port, stopped when dropped.
struct Served {
    child: Child,
    address: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let port = test_services::free_port().expect("a free port");
    let address = format!("127.0.0.1:{port}");
    let child = Command::new(assert_cmd::cargo::cargo_bin("elig"))
        .args(["serve", "--simulator", "--bind", &address])
        .env("ELIG_API_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("elig serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(Instant::now() < deadline, "elig serve did not listen on {address}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Served { child, address }
}

/// The `sh` code blocks of `markdown` that call curl.
fn curl_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```sh" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let block = block.join("\n");
        if block.contains("curl ") {
            blocks.push(block);
        }
    }
    blocks
}

#[test]
fn the_server_readmes_curl_examples_run_as_written() {
    if !test_services::available("curl") {
        return;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/dci-server/README.md"))
        .expect("the server README");
    let blocks = curl_blocks(&readme);
    assert!(blocks.len() >= 3, "the README's examples: {blocks:?}");
    let served = serve();
    let dir = tempfile::tempdir().expect("tempdir");
    // What the examples read: the committed fixture under the name they use.
    std::fs::copy(dci_registry_sim::fixture_beneficiaries(), dir.path().join("beneficiaries.ndjson")).expect("copy");
    for block in blocks {
        // Each call also writes its status on a line of its own, read below.
        let script = format!(
            "curl() {{ command curl -w '\\nHTTP %{{http_code}}\\n' \"$@\"; }}\n{}",
            block.replace("localhost:8080", &served.address)
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("KEY", KEY)
            .current_dir(dir.path())
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{block}\n{}", String::from_utf8_lossy(&output.stderr));
        let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
        for written in ["decisions.ndjson"] {
            if let Ok(mut file) = std::fs::File::open(dir.path().join(written)) {
                file.read_to_string(&mut said).expect("reads");
                std::fs::remove_file(dir.path().join(written)).expect("removes");
            }
        }
        let statuses: Vec<&str> = said.lines().filter_map(|line| line.strip_prefix("HTTP ")).collect();
        let calls = block.matches("curl ").count();
        assert_eq!(statuses.len(), calls, "one status per call of\n{block}\n{said}");
        assert!(statuses.iter().all(|status| status.starts_with('2')), "{statuses:?} for\n{block}\n{said}");
    }
}

/// The README's simulator example: a token, then a search, with curl against
/// `elig registry` (started here; the block's `elig` lines start servers).
#[test]
fn the_readmes_simulator_example_runs_as_written() {
    if !test_services::available("curl") {
        return;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let block = curl_blocks(&readme)
        .into_iter()
        .find(|block| block.contains("oauth2/client/token"))
        .expect("the README's simulator example");
    let port = test_services::free_port().expect("a free port");
    let mut registry = Command::new(assert_cmd::cargo::cargo_bin("elig"))
        .args(["registry", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("elig registry starts");
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(Instant::now() < deadline, "elig registry did not listen on {address}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let script: Vec<&str> = block.lines().filter(|line| !line.starts_with("elig ")).collect();
    let script = script.join("\n").replace("127.0.0.1:8500", &address);
    let output = Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
    let _ = registry.kill();
    let _ = registry.wait();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{script}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(said.contains("\"access_token\""), "the token: {said}");
    assert!(said.contains("search_response") && said.contains("800010000"), "the search found the person: {said}");
}
