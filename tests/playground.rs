//! The playground in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, started by the test on a loopback port) against
//! `elig playground`. Every count the page shows is checked against the CLI.
//! On a failure the page is saved as `target/playground-failure.png`.

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use test_services::ChromeDriver;

const KEY: &str = "playground-test-key";
const AS_OF: &str = "2026-01-01";
const NEW_RULE: &str = "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60";
const OLD_RULE: &str = "dci.crvs.is_alive == true and age_years(r.birthdate) >= 65";
const WAIT: Duration = Duration::from_secs(20);

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Fails the session (which then saves a screenshot) unless `condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

fn elig() -> Command {
    let mut command = Command::cargo_bin("elig").expect("binary");
    command.env_remove("CI").current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// `elig playground` on a free port; the page's URL from its first line.
struct Playground {
    child: std::process::Child,
    url: String,
}

impl Playground {
    fn start(extra: &[&str]) -> Playground {
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("elig"))
            .args(["playground", "--bind", "127.0.0.1:0"])
            .args(extra)
            .env("ELIG_API_KEY", KEY)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("elig playground starts");
        let mut first = String::new();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
        lines.read_line(&mut first).expect("its first line");
        // Keep reading, so that the playground never writes into a closed pipe.
        std::thread::spawn(move || lines.lines().for_each(drop));
        let url = first.split("open ").nth(1).expect("the URL").trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/playground"), "{first}");
        Playground { child, url }
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The counts `elig eval` gives for `rule` over the fixture.
fn eval_counts(rule: &str) -> Value {
    let output = elig()
        .args(["eval", "--rule", rule, "--beneficiaries", "fixtures/beneficiaries.ndjson", "--as-of", AS_OF])
        .arg("--simulator")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut counts = json!({"eligible": 0, "ineligible": 0, "undetermined": 0, "error": 0});
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let result: Value = serde_json::from_str(line).expect("a JSON line");
        let outcome = result["outcomes"]["rule"]["outcome"].as_str().expect("an outcome").to_owned();
        counts[&outcome] = json!(counts[&outcome].as_u64().unwrap_or(0) + 1);
    }
    counts
}

/// The counts `elig diff` gives from `old` to `new` over the fixture.
fn diff_counts(old: &str, new: &str) -> Value {
    let output = elig()
        .args(["diff", "--old", old, "--new", new, "--beneficiaries", "fixtures/beneficiaries.ndjson"])
        .args(["--as-of", AS_OF, "--format", "ndjson", "--simulator"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let last: Value = serde_json::from_str(text.lines().last().expect("a line")).expect("JSON");
    last["counts"].clone()
}

async fn find(client: &Client, css: &str) -> Result<Element, Failure> {
    Ok(client.wait().at_most(WAIT).for_element(Locator::Css(css)).await?)
}

/// Waits until `script` (a function body returning a value) returns something truthy; that value.
async fn until(client: &Client, what: &str, script: &str) -> Result<Value, Failure> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let value = client.execute(script, vec![]).await?;
        if !matches!(&value, Value::Null | Value::Bool(false)) && value != json!("") {
            return Ok(value);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replaces a text field's content by typing, as a user would.
async fn type_into(client: &Client, css: &str, text: &str) -> Result<(), Failure> {
    let field = find(client, css).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

/// The counts a `.counts` block shows, by its `data-*` attribute.
async fn shown_counts(client: &Client, block: &str, attribute: &str) -> Result<Value, Failure> {
    let script = format!(
        "const out = {{}}; for (const e of document.querySelectorAll('#{block} [data-{attribute}]')) \
         {{ out[e.dataset.{attribute}] = Number(e.querySelector('b').textContent.replace(/[^0-9]/g, '')); }} return out;"
    );
    Ok(client.execute(&script, vec![]).await?)
}

/// The browser's console entries of level SEVERE (errors, failed loads, CSP violations).
async fn console_errors(client: &Client) -> Result<Vec<Value>, Failure> {
    let log = client.issue_cmd(BrowserLog).await?;
    Ok(log.as_array().cloned().unwrap_or_default().into_iter().filter(|entry| entry["level"] == "SEVERE").collect())
}

/// ChromeDriver's `POST /session/{id}/se/log` for the browser's console.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

async fn session(driver: &ChromeDriver) -> Client {
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": driver.chromium(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,900", "--no-first-run", "--no-default-browser-check"],
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url())
        .await
        .expect("a Chromium session")
}

/// What a user of the playground does, checked against the CLI at each step.
async fn the_authoring_session(client: &Client, playground: &Playground) -> Result<(), Failure> {
    client.goto(&playground.url).await?;
    // The key: asked once, kept for the tab, never in the URL.
    find(client, "#api-key").await?.send_keys(KEY).await?;
    find(client, "#api-key-save").await?.click().await?;
    until(client, "the key to be taken", "return document.getElementById('api-key-form').hidden").await?;
    ensure!(!client.current_url().await?.as_str().contains(KEY), "the key is never in the URL");

    // Each data source's status, as the server checked it.
    let sources = until(
        client,
        "the data sources",
        "const items = [...document.querySelectorAll('#sources-list .source')]; \
         return items.length === 3 && items.map((i) => i.dataset.registry + ':' + i.dataset.passed).join(' ');",
    )
    .await?;
    ensure!(sources.as_str() == Some("crvs:true ibr:true dr:true"), "{sources}");

    // A misspelled metric is marked at its place, with the suggestion.
    type_into(client, "#rule", "age_years(r.birthdate) >= 60 and\ndci.crvs.is_alve == true").await?;
    let diagnostic = until(
        client,
        "the diagnostic",
        "const d = document.querySelector('#diagnostics .diagnostic[data-code=unknown_metric]'); \
         return d && {line: d.dataset.line, column: d.dataset.column, text: d.textContent};",
    )
    .await?;
    ensure!((diagnostic["line"].as_str(), diagnostic["column"].as_str()) == (Some("2"), Some("1")), "{diagnostic}");
    let text = diagnostic["text"].as_str().unwrap_or_default();
    ensure!(text.starts_with("2:1") && text.contains("did you mean `dci.crvs.is_alive`?"), "{text}");

    // The fixture, evaluated: the counts `elig eval` gives.
    type_into(client, "#rule", NEW_RULE).await?;
    until(client, "the rule to be valid", "return document.getElementById('rule-state').textContent === 'valid';")
        .await?;
    client
        .execute(
            "const d = document.getElementById('as-of'); d.value = arguments[0]; \
             d.dispatchEvent(new Event('input', {bubbles: true})); d.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(AS_OF)],
        )
        .await?;
    until(client, "the samples", "return /35/.test(document.getElementById('input-count').textContent);").await?;

    // The loaded households give the fields their types: a field none of them has is warned about.
    type_into(client, "#rule", "age >= 60").await?;
    let warning = until(
        client,
        "the unknown field",
        "const d = document.querySelector('#diagnostics .diagnostic[data-code=unknown_field]'); return d && d.textContent;",
    )
    .await?;
    ensure!(warning.as_str().unwrap_or_default().contains("age_years(r.birthdate)"), "{warning}");
    type_into(client, "#rule", NEW_RULE).await?;
    until(client, "the rule to be valid", "return document.getElementById('rule-state').textContent === 'valid';")
        .await?;
    find(client, "#evaluate").await?.click().await?;
    until(client, "the results", "return document.querySelectorAll('#results tbody tr[data-id]').length === 35;")
        .await?;
    let shown = shown_counts(client, "counts", "outcome").await?;
    let expected = eval_counts(NEW_RULE);
    for outcome in ["eligible", "ineligible", "undetermined", "error"] {
        ensure!(shown[outcome] == expected[outcome], "{outcome}: page {shown}, elig eval {expected}");
    }
    // After Evaluate the focus is on the results' summary.
    let focused = client.execute("return document.activeElement && document.activeElement.id;", vec![]).await?;
    ensure!(focused == json!("results-summary"), "focus after Evaluate: {focused}");

    // Every decision says why in words, in the table and in its explanation, with the values used.
    const DEAD: &str = "Ineligible: the civil registry records this person as not alive.";
    let reason = client
        .execute(
            "return document.querySelector(\"#results tbody tr[data-id='HH-0002'] td.detail\").textContent;",
            vec![],
        )
        .await?;
    ensure!(reason == json!(DEAD), "HH-0002's reason in the table: {reason}");
    find(client, "#results tbody tr[data-id='HH-0002']").await?.click().await?;
    let explained = until(
        client,
        "HH-0002's explanation",
        "const s = document.getElementById('explanation'); \
         return !s.hidden && s.textContent.includes('HH-0002') && document.getElementById('explanation-reason').textContent \
           && {reason: document.getElementById('explanation-reason').textContent, \
               clauses: document.getElementById('explanation-clauses').tBodies[0].textContent};",
    )
    .await?;
    ensure!(explained["reason"] == json!(DEAD), "{explained}");
    let heading = client.execute("return document.getElementById('explanation-heading').textContent;", vec![]).await?;
    ensure!(heading == json!("HH-0002 (John Mwangi) — ineligible"), "{heading}");
    let clauses = explained["clauses"].as_str().unwrap_or_default();
    ensure!(
        clauses.contains("aged 80 (born 1945-07-14)")
            && clauses.contains("used: age_years(r.birthdate) = 80, r.birthdate = \"1945-07-14\""),
        "the age and the birthdate it came from: {clauses}"
    );

    // One explanation, clause by clause, with each metric's source.
    find(client, "#results tbody tr[data-id='HH-0003']").await?.click().await?;
    let explained = until(
        client,
        "the explanation",
        "const s = document.getElementById('explanation'); \
         return !s.hidden && document.querySelectorAll('#explanation-metrics tbody tr').length > 0 && s.textContent;",
    )
    .await?;
    let explained = explained.as_str().unwrap_or_default();
    ensure!(explained.contains("HH-0003") && explained.contains("dci.crvs.is_alive == true"), "{explained}");
    ensure!(explained.contains("the civil registry has no record for this person's UIN"), "{explained}");

    // The same with the keyboard: Enter on a row explains it and takes the focus there.
    let row = find(client, "#results tbody tr[data-id='HH-0001']").await?;
    client.execute("arguments[0].focus();", vec![serde_json::to_value(&row)?]).await?;
    row.send_keys(&fantoccini::key::Key::Enter.to_string()).await?;
    let focused = until(
        client,
        "the explanation by keyboard",
        "const s = document.getElementById('explanation'); \
         return s.textContent.includes('HH-0001') && document.activeElement && document.activeElement.id;",
    )
    .await?;
    ensure!(focused == json!("explanation-heading"), "focus after Enter: {focused}");

    // Results of a rule that has since changed are marked out of date, until it is back.
    find(client, "#rule").await?.send_keys(" ").await?;
    let stale = until(
        client,
        "the out-of-date mark",
        "const n = document.getElementById('results-stale'); return !n.hidden && n.textContent;",
    )
    .await?;
    ensure!(stale.as_str().unwrap_or_default().contains("the editor has changed since"), "{stale}");
    type_into(client, "#rule", NEW_RULE).await?;
    until(client, "no out-of-date mark", "return document.getElementById('results-stale').hidden;").await?;

    // The comparison: the counts `elig diff` gives.
    type_into(client, "#compare-rule", OLD_RULE).await?;
    until(
        client,
        "the compared rule to be valid",
        "return document.getElementById('compare-rule-state').textContent === 'valid';",
    )
    .await?;
    find(client, "#compare").await?.click().await?;
    until(client, "the comparison", "return document.querySelectorAll('#diff-counts [data-change]').length >= 6;")
        .await?;
    let shown = shown_counts(client, "diff-counts", "change").await?;
    let expected = diff_counts(OLD_RULE, NEW_RULE);
    for change in ["gained", "lost", "to_undetermined", "from_undetermined", "other", "unchanged"] {
        ensure!(shown[change] == expected[change], "{change}: page {shown}, elig diff {expected}");
    }
    ensure!(expected["gained"].as_u64() > Some(0), "the comparison shows a change: {expected}");
    // A threshold changed in place is one row with both values; the row opens both decisions.
    let changes = client
        .execute(
            "return [...document.querySelectorAll(\"#diff-table tr[data-id='HH-0005'] .clause-changes li\")].map((li) => li.textContent);",
            vec![],
        )
        .await?;
    ensure!(
        changes == json!(["age_years(r.birthdate) >= 65 → age_years(r.birthdate) >= 60 false → true"]),
        "{changes}"
    );
    find(client, "#diff-table tr[data-id='HH-0005']").await?.click().await?;
    let sides = until(
        client,
        "both decisions",
        "const o = document.getElementById('diff-explanation-old').textContent; \
         const n = document.getElementById('diff-explanation-new').textContent; \
         return o.includes('Ineligible') && n.includes('Eligible') && {old: o, new: n};",
    )
    .await?;
    ensure!(
        sides["old"]
            .as_str()
            .unwrap_or_default()
            .contains("aged 60 (born 1966-01-01), where the rule needs at least 65"),
        "{sides}"
    );
    ensure!(
        sides["new"].as_str().unwrap_or_default().contains("Eligible: alive per the civil registry, aged 60"),
        "{sides}"
    );

    // The export: a test file that `elig test` passes unchanged.
    find(client, "#export").await?.click().await?;
    let yaml = until(client, "the test file", "return document.getElementById('export-text').value;").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("exported.yaml");
    std::fs::write(&file, yaml.as_str().unwrap_or_default())?;
    let output = elig().arg("test").arg(&file).output()?;
    let report = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "elig test on the exported file:\n{report}");
    ensure!(report.contains("35 passed, 0 failed"), "{report}");

    // A pasted list with a bad line: the good lines are decided, the bad one is named by its line.
    let pasted = "{\"id\": \"P-1\", \"birthdate\": \"1950-01-01\"}\n\
                  {\"id\": \"P-2\", \"birthdate\": \"1990-01-01\",}\n\
                  {\"id\": \"P-3\", \"birthdate\": \"1940-01-01\"}\n\
                  {\"birthdate\": \"1940-01-01\"}";
    client
        .execute(
            "const s = document.getElementById('input-source'); s.value = 'paste'; \
             s.dispatchEvent(new Event('change', {bubbles: true})); \
             const t = document.getElementById('input-text'); t.value = arguments[0]; \
             t.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![json!(pasted)],
        )
        .await?;
    let count = until(
        client,
        "the pasted count",
        "const c = document.getElementById('input-count').textContent; return /3 beneficiaries pasted/.test(c) && c;",
    )
    .await?;
    ensure!(count.as_str().unwrap_or_default().contains("line 2: a comma before `}`"), "{count}");
    find(client, "#evaluate").await?.click().await?;
    let summary = until(
        client,
        "the pasted results",
        "return document.querySelectorAll('#results tbody tr[data-id]').length === 3 && \
         document.getElementById('results-summary').textContent;",
    )
    .await?;
    ensure!(summary.as_str().unwrap_or_default().contains("1 line could not be read (line 2"), "{summary}");
    // A line the server cannot read is named by its line, not by its place in the request.
    let unread = client
        .execute(
            "return document.querySelector(\"#results tbody tr[data-id='line 4'] td.detail\").textContent;",
            vec![],
        )
        .await?;
    ensure!(unread.as_str().unwrap_or_default().starts_with("line 4: "), "{unread}");
    ensure!(!unread.as_str().unwrap_or_default().contains("beneficiaries["), "{unread}");

    // A reload keeps the rules, the input choice and the date (never the data).
    let kept =
        "return ['rule', 'compare-rule', 'input-source', 'as-of'].map((id) => document.getElementById(id).value);";
    let before = client.execute(kept, vec![]).await?;
    client.refresh().await?;
    let after = until(
        client,
        "the page after a reload",
        &format!("return document.getElementById('rule') && (() => {{ {kept} }})();"),
    )
    .await?;
    ensure!(before == after, "kept {before} but found {after} after a reload");
    ensure!(after[2] == "paste" && after[3] == AS_OF, "{after}");
    ensure!(
        client.execute("return document.getElementById('input-text').value;", vec![]).await? == "",
        "the pasted data is not kept"
    );

    // A link holds the rules (never the data or the key) and opens the page with them.
    find(client, "#copy-link").await?.click().await?;
    let hash = until(client, "the link", "return window.location.hash;").await?;
    ensure!(!hash.as_str().unwrap_or_default().contains(KEY), "no key in the link");
    client.execute("window.localStorage.clear();", vec![]).await?;
    client.refresh().await?;
    let linked = until(
        client,
        "the linked rules",
        "const r = document.getElementById('rule'); return r && [r.value, document.getElementById('compare-rule').value];",
    )
    .await?;
    ensure!(linked == json!([NEW_RULE, OLD_RULE]), "{linked}");

    // The examples menu offers the seed rules by name; Ctrl+Z brings the previous rule back,
    // and undo works across an accepted completion.
    let example = until(
        client,
        "the examples",
        "const m = document.getElementById('examples'); return m.options.length === 5 && m.options[2].text;",
    )
    .await?;
    ensure!(example.as_str().unwrap_or_default().starts_with("elderly alive — "), "{example}");
    client
        .execute(
            "const m = document.getElementById('examples'); m.selectedIndex = 3; m.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await?;
    let rule = client.execute("return document.getElementById('rule').value;", vec![]).await?;
    ensure!(rule == json!("poverty_score >= 0.7 and dci.ibr.program_count == 0"), "{rule}");
    let undo = format!("{}z", fantoccini::key::Key::Control);
    find(client, "#rule").await?.send_keys(&undo).await?;
    until(client, "the rule back", &format!("return document.getElementById('rule').value === {};", json!(NEW_RULE)))
        .await?;
    type_into(client, "#rule", "dci.crvs.is_al").await?;
    until(client, "the suggestions", "return !document.getElementById('completions').hidden;").await?;
    find(client, "#rule").await?.send_keys(&fantoccini::key::Key::Tab.to_string()).await?;
    until(client, "the completion", "return document.getElementById('rule').value === 'dci.crvs.is_alive';").await?;
    find(client, "#rule").await?.send_keys(&undo).await?;
    let undone = until(
        client,
        "the completion undone",
        "const v = document.getElementById('rule').value; return v !== 'dci.crvs.is_alive' && [v];",
    )
    .await?;
    ensure!(undone == json!(["dci.crvs.is_al"]), "{undone}");
    type_into(client, "#rule", NEW_RULE).await?;

    // On a phone (390 px): the results right below the editor; the tables are cards, none
    // scrolls sideways, and each reason is in view.
    client.set_window_size(390, 844).await?;
    client
        .execute(
            "const s = document.getElementById('input-source'); s.value = 'fixture'; \
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await?;
    until(client, "the samples", "return /35/.test(document.getElementById('input-count').textContent);").await?;
    find(client, "#evaluate").await?.click().await?;
    until(client, "the results", "return document.querySelectorAll('#results tbody tr[data-id]').length === 35;")
        .await?;
    find(client, "#results tbody tr[data-id='HH-0002']").await?.click().await?;
    until(client, "the explanation", "return document.getElementById('explanation-reason').textContent;").await?;
    let narrow = client
        .execute(
            "const width = document.documentElement.clientWidth; \
             const wide = [...document.querySelectorAll('.table-wrap, table.data')] \
               .filter((e) => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map((e) => e.id || e.className); \
             const cell = document.querySelector(\"#results tbody tr[data-id='HH-0002'] td.detail\").getBoundingClientRect(); \
             const top = (id) => document.getElementById(id).getBoundingClientRect().top; \
             const past = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > width + 1) \
               .slice(0, 5).map((e) => `${e.tagName} ${e.id} ${e.className}`); \
             return {page: document.documentElement.scrollWidth <= width || past, wide, \
                     reason: cell.width > 100 && cell.left >= 0 && cell.right <= width, \
                     order: top('editor-panel') < top('results-panel') && top('results-panel') < top('inputs-panel'), \
                     boxes: [...document.querySelectorAll('.select-row')].every((b) => b.getBoundingClientRect().height >= 24)};",
            vec![],
        )
        .await?;
    ensure!(
        narrow == json!({"page": true, "wide": [], "reason": true, "order": true, "boxes": true}),
        "at 390 px: {narrow}"
    );
    // The first stop of the tab order skips to the results.
    let skip = client
        .execute(
            "const first = document.querySelector('body a, body button, body input, body select, body textarea'); \
             const target = document.querySelector(first.getAttribute('href') || '#none'); \
             return [first.textContent, target && target.id, target && target.tabIndex];",
            vec![],
        )
        .await?;
    ensure!(skip == json!(["Skip to the results", "results-summary", -1]), "{skip}");
    client.set_window_size(1366, 900).await?;

    let errors = console_errors(client).await?;
    ensure!(errors.is_empty(), "the console has errors: {errors:#?}");

    // The README's picture: `ELIG_PLAYGROUND_SCREENSHOT=docs/playground.png cargo test --test playground`.
    if let Some(path) = std::env::var_os("ELIG_PLAYGROUND_SCREENSHOT") {
        client.set_window_size(1366, 1300).await?;
        find(client, "#results tbody tr[data-id='HH-0002']").await?.click().await?;
        until(client, "the explanation", "return document.getElementById('explanation-reason').textContent;").await?;
        client.execute("window.scrollTo(0, document.getElementById('inputs-panel').offsetTop - 330);", vec![]).await?;
        std::fs::write(path, client.screenshot().await?)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_author_writes_evaluates_explains_compares_and_exports_in_a_real_browser() {
    let Some(driver) = ChromeDriver::start() else { return };
    let playground = Playground::start(&[]);
    let client = session(&driver).await;
    let outcome = the_authoring_session(&client, &playground).await;
    if outcome.is_err() {
        let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/playground-failure.png");
        if let Ok(png) = client.screenshot().await {
            let _ = std::fs::write(&shot, png);
            eprintln!("screenshot of the failure: {}", shot.display());
        }
    }
    let _ = client.close().await;
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// A key that may only evaluate (a service's): the page shows outcomes and what was missing,
/// and hides the explanation, the comparison, the export and the data sources it may not use.
async fn the_service_session(client: &Client, playground: &Playground) -> Result<(), Failure> {
    client.goto(&playground.url).await?;
    find(client, "#api-key").await?.send_keys(KEY).await?;
    find(client, "#api-key-save").await?.click().await?;
    let state = until(client, "what the key may do", "return /evaluate$/.test(document.getElementById('api-key-state').textContent) && document.getElementById('api-key-state').textContent;").await?;
    ensure!(state == json!("API key “demo” set for this tab: evaluate"), "{state}");
    let hidden = client
        .execute("return ['compare-panel', 'diff-panel', 'export-panel', 'sources'].map((id) => document.getElementById(id).hidden);", vec![])
        .await?;
    ensure!(hidden == json!([true, true, true, true]), "{hidden}");
    type_into(client, "#rule", NEW_RULE).await?;
    until(client, "the rule to be valid", "return document.getElementById('rule-state').textContent === 'valid';")
        .await?;
    until(client, "the samples", "return /35/.test(document.getElementById('input-count').textContent);").await?;
    find(client, "#evaluate").await?.click().await?;
    until(client, "the results", "return document.querySelectorAll('#results tbody tr[data-id]').length === 35;")
        .await?;
    let reason = client
        .execute(
            "return document.querySelector(\"#results tbody tr[data-id='HH-0003'] td.detail\").textContent;",
            vec![],
        )
        .await?;
    ensure!(reason == json!("dci.crvs.is_alive (not_found)"), "the cause, not a registry value: {reason}");
    find(client, "#results tbody tr[data-id='HH-0002']").await?.click().await?;
    let explained = client.execute("return document.getElementById('explanation').hidden;", vec![]).await?;
    ensure!(explained == json!(true), "no explanation for this key");
    let errors = console_errors(client).await?;
    ensure!(errors.is_empty(), "the console has errors: {errors:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_key_sees_outcomes_only_in_a_real_browser() {
    let Some(driver) = ChromeDriver::start() else { return };
    let playground = Playground::start(&["--scopes", "evaluate"]);
    let client = session(&driver).await;
    let outcome = the_service_session(&client, &playground).await;
    let _ = client.close().await;
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
