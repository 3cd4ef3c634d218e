//! Helpers for end-to-end tests: run the real `dnsledger` binary, start servers on loopback,
//! talk HTTP to them.

#![allow(dead_code)]

pub mod corpus;
pub mod pcap;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dnsledger"))
}

/// Runs the binary with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("running dnsledger")
}

/// Runs and asserts success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "dnsledger {:?} failed: {}\nstdout:{}\nstderr:{}",
        args,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A running `dnsledger serve`.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `dnsledger serve` on a free loopback port with extra args and waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_at(data_dir, "127.0.0.1:0", extra)
    }

    /// Starts `dnsledger serve` listening on `listen` and waits until it listens.
    pub fn start_at(data_dir: &Path, listen: &str, extra: &[&str]) -> Server {
        let mut child = bin()
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting dnsledger serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let url = loop {
            assert!(Instant::now() < deadline, "server did not start: {seen:?}");
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(rest) = l.split("listening on ").nth(1) {
                        break rest.trim().to_string();
                    }
                    seen.push(l);
                }
                _ => panic!("server exited before listening: {seen:?}"),
            }
        };
        // keep draining stderr so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }

    /// Sends SIGKILL and waits for the process to go.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to 30 s for a clean exit; returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // a failing test must not leave a server running
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP agent that returns non-2xx responses instead of erroring.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// GET `url`; returns (status, body).
pub fn get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().expect("GET");
    let status = r.status().as_u16();
    (status, r.body_mut().with_config().limit(1 << 30).read_to_string().expect("body"))
}

/// POST `body` to `url`; returns (status, body).
pub fn post(url: &str, body: &[u8]) -> Result<(u16, String), ureq::Error> {
    let mut r = agent().post(url).send(body)?;
    let status = r.status().as_u16();
    Ok((status, r.body_mut().read_to_string()?))
}

/// GET a native lookup and parse its JSON document.
pub fn lookup(base: &str, path: &str) -> serde_json::Value {
    let (status, body) = get(&format!("{base}/api/v1/lookup/{path}"));
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("lookup JSON")
}

/// The value of one series (its full name with labels) in a Prometheus metrics text; 0 if absent.
pub fn figure(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
