//! The SQL dialect check: every statement shape the ClickHouse store sends
//! ([`dnsledger_store_clickhouse::schema::dialect_probe`]) must run unchanged on a *current*
//! ClickHouse engine, checked in-process with chDB (no server) through the test venv's Python
//! (`DNSLEDGER_TEST_PYTHON`, with `chdb` installed by scripts/test.sh), and on the 18.16
//! server of Debian 12 that scripts/clickhouse.sh starts (`DNSLEDGER_TEST_CLICKHOUSE`).
//! Both runs also check what the statements return: the row inserted through the `Null` table
//! comes back aggregated from the materialized view, and the schema version reads back.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use dnsledger_store_clickhouse::schema::dialect_probe;

/// Runs the statements read from stdin (separated by NUL bytes) one after the other in one
/// chDB session on a temporary directory, so DDL persists from statement to statement.
/// Prints `version\t<engine version>`, then `ok\t<i>\t<hex of the output>` per statement, or
/// `fail\t<i>\t<chDB's error>` and exits 1 at the first that fails. Exits 3 when chdb cannot
/// be imported.
const CHDB_RUNNER: &str = r#"
import sys, tempfile
try:
    from chdb import session
except Exception as e:
    sys.stderr.write("chdb is not importable: %r\n" % (e,))
    sys.exit(3)

def fail(i, message):
    print("fail\t%d\t%s" % (i, " ".join(str(message).split())), flush=True)
    sys.exit(1)

statements = [s for s in sys.stdin.buffer.read().decode("utf-8").split("\0") if s]
with tempfile.TemporaryDirectory(prefix="dnsledger-chdb-") as path:
    sess = session.Session(path)
    try:
        version = sess.query("SELECT version()", "TabSeparated").bytes().decode().strip()
        print("version\t" + version, flush=True)
        for i, sql in enumerate(statements):
            try:
                result = sess.query(sql, "TabSeparated")
            except Exception as e:
                fail(i, e)
            if result.has_error():
                fail(i, result.error_message())
            print("ok\t%d\t%s" % (i, result.bytes().hex()), flush=True)
    finally:
        sess.close()
"#;

/// What a run of statements gave.
#[derive(Debug)]
struct Run {
    /// The engine's `version()`.
    version: String,
    /// The output of each statement that ran, in order.
    outputs: Vec<Vec<u8>>,
    /// The first statement that failed: its index and the engine's error.
    failure: Option<(usize, String)>,
}

fn python() -> String {
    match std::env::var("DNSLEDGER_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "DNSLEDGER_TEST_PYTHON is not set: this test needs a Python with chdb (`pip install chdb`); \
             scripts/test.sh sets up target/test-venv and exports it"
        ),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex output from the chdb runner: {s:?}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from the runner")).collect()
}

/// Runs `statements` in one chDB session.
fn run_in_chdb(statements: &[String]) -> Run {
    for s in statements {
        assert!(!s.contains('\0'), "a statement contains a NUL byte, which the runner uses as separator: {s:?}");
    }
    let python = python();
    let mut child = Command::new(&python)
        .args(["-c", CHDB_RUNNER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} (DNSLEDGER_TEST_PYTHON): {e}"));
    child.stdin.take().expect("stdin").write_all(statements.join("\0").as_bytes()).expect("write statements");
    let out = child.wait_with_output().expect("wait for the chdb runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!("{python} cannot import chdb (run scripts/test.sh, or `{python} -m pip install chdb`): {stderr}");
    }
    let mut run = Run { version: String::new(), outputs: Vec::new(), failure: None };
    for line in stdout.lines() {
        let mut fields = line.splitn(3, '\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("version"), Some(v), None) => run.version = v.to_string(),
            (Some("ok"), Some(i), Some(hex)) => {
                assert_eq!(i.parse::<usize>().ok(), Some(run.outputs.len()), "statements out of order: {line}");
                run.outputs.push(unhex(hex));
            }
            (Some("fail"), Some(i), Some(error)) => {
                run.failure = Some((i.parse().expect("statement index"), error.to_string()));
            }
            _ => panic!("unexpected line from the chdb runner: {line:?}\nstderr: {stderr}"),
        }
    }
    assert!(!run.version.is_empty(), "the chdb runner printed no engine version (exit {}): {stderr}", out.status);
    match &run.failure {
        Some(_) => assert_eq!(out.status.code(), Some(1), "runner exit status after a failure; stderr: {stderr}"),
        None => assert!(
            out.status.success() && run.outputs.len() == statements.len(),
            "the chdb runner stopped after {} of {} statements (exit {}): {stderr}",
            run.outputs.len(),
            statements.len(),
            out.status
        ),
    }
    run
}

/// Runs `statements` one by one on the ClickHouse server at `url` over HTTP.
fn run_on_server(url: &str, statements: &[String]) -> Run {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let post = |sql: &str| -> Result<Vec<u8>, String> {
        let mut resp = agent.post(url).send(sql.as_bytes()).map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_vec().map_err(|e| format!("{url}: {e}"))?;
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim()))
        }
    };
    let version = post("SELECT version()").unwrap_or_else(|e| panic!("ClickHouse at {url} does not answer: {e}"));
    let mut run =
        Run { version: String::from_utf8_lossy(&version).trim().to_string(), outputs: Vec::new(), failure: None };
    for (i, sql) in statements.iter().enumerate() {
        match post(sql) {
            Ok(out) => run.outputs.push(out),
            Err(e) => {
                run.failure = Some((i, e));
                break;
            }
        }
    }
    run
}

/// Fails with the statement and the engine's error if any statement failed.
fn assert_all_ran(engine: &str, statements: &[String], run: &Run) {
    if let Some((i, error)) = &run.failure {
        panic!(
            "statement {} of {} does not run on {engine} {}:\n  {}\nerror: {error}",
            i + 1,
            statements.len(),
            run.version,
            statements[*i]
        );
    }
    assert_eq!(run.outputs.len(), statements.len());
}

/// The output of the single statement that `pick` selects.
fn output_of<'a>(statements: &[String], run: &'a Run, what: &str, pick: impl Fn(&str) -> bool) -> &'a [u8] {
    let found: Vec<usize> = statements.iter().enumerate().filter(|(_, s)| pick(s)).map(|(i, _)| i).collect();
    assert_eq!(found.len(), 1, "expected exactly one {what} statement in the probe, found {found:?}");
    &run.outputs[found[0]]
}

/// The results every engine must give for the probe: the schema version it recorded, and the
/// one inserted row (key `\x01a`, count 2) read back through the `-Merge` scan in RowBinary.
fn assert_probe_results(engine: &str, statements: &[String], run: &Run) {
    let version = output_of(statements, run, "schema-version", |s| s.starts_with("SELECT max(version)"));
    assert_eq!(String::from_utf8_lossy(version).trim(), "1", "{engine}: schema version read back");
    let scan = output_of(statements, run, "scan", |s| {
        s.starts_with("SELECT key, sumMerge(count)") && s.contains("GROUP BY key") && s.contains("FORMAT RowBinary")
    });
    // RowBinary: the key as a length-prefixed string, then sumMerge(count) as a little-endian u64.
    let mut expected = vec![2u8, 0x01, b'a'];
    expected.extend_from_slice(&2u64.to_le_bytes());
    assert!(
        scan.starts_with(&expected),
        "{engine}: the scan did not return the inserted row aggregated by the materialized view; got {scan:02x?}"
    );
}

#[test]
fn every_statement_the_store_sends_runs_on_a_current_engine() {
    let statements = dialect_probe("dnsledger_probe");
    assert!(statements.len() > 5, "the probe lists too few statements: {statements:?}");
    let run = run_in_chdb(&statements);
    println!("chDB engine {}: {} statements ran", run.version, statements.len());
    assert_all_ran("chDB", &statements, &run);
    assert_probe_results("chDB", &statements, &run);
}

#[test]
fn every_statement_the_store_sends_runs_on_clickhouse_18_16() {
    let url = common::single_node();
    let db = common::fresh_database("dialect");
    let statements = dialect_probe(&db);
    let run = run_on_server(&url, &statements);
    common::drop_database(&url, &db);
    println!("ClickHouse {} at {url}: {} statements ran", run.version, statements.len());
    assert_all_ran("ClickHouse", &statements, &run);
    assert_probe_results("ClickHouse", &statements, &run);
}

/// The check has teeth: statements a current engine rejects are reported with the engine's
/// error and their position, including 18.16-only syntax the store must not use.
#[test]
fn the_chdb_check_reports_the_first_statement_a_current_engine_rejects() {
    let statements: Vec<String> = [
        "CREATE DATABASE IF NOT EXISTS probe_fail",
        "CREATE TABLE probe_fail.t (k String) ENGINE = MergeTree() ORDER BY k",
        "SELECT count() FROM probe_fail.t FORMAT TabSeparated",
        // the MergeTree syntax 18.16 accepts and current releases refuse
        "CREATE TABLE probe_fail.old (d Date, k String) ENGINE = MergeTree(d, (k), 8192)",
        "SELECT 1",
    ]
    .map(String::from)
    .to_vec();
    let run = run_in_chdb(&statements);
    assert_eq!(run.outputs.len(), 3, "the statements before the bad one ran");
    assert_eq!(run.outputs[2], b"0\n");
    let (index, error) = run.failure.expect("the old MergeTree syntax must be rejected");
    assert_eq!(index, 3);
    assert!(error.contains("Code:"), "chDB's error is reported: {error}");

    let run = run_in_chdb(&["SELECT no_such_function_in_clickhouse(1)".to_string()]);
    let (index, error) = run.failure.expect("an unknown function must be rejected");
    assert_eq!(index, 0);
    assert!(error.contains("no_such_function_in_clickhouse"), "{error}");
}
