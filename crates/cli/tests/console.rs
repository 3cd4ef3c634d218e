//! End-to-end: the web console served by `dnsledger serve`, driven in a real headless Chromium
//! (Debian's `chromium`, through `playwright-core` from `web/node_modules`) by
//! `web/e2e/console.e2e.mjs`: log in with an API key, search a name, see the resolutions table,
//! the timeline and the pivot graph, expand a node, open the analyses by deep link, filter by
//! sensor (on the server), export MISP/STIX/CSV, run a lookback (pasted and uploaded), create
//! and edit a watchlist and see the alert of a record ingested after it. Screenshots
//! go to `<target dir>/console-e2e/`. A missing Node.js or Chromium fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, ok, Server};

/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;
const D: u64 = 86_400;

fn line(ts: u64, name: &str, ty: &str, rdata: &str) -> String {
    format!("{ts}.000000||10.0.0.1||10.0.0.53||IN||{name}||{ty}||{rdata}||300||1\n")
}

/// Two sensors' logs: www.example.com moves from 192.0.2.10 to 198.51.100.20 in July;
/// shop.example.net shares 198.51.100.20 and also uses 203.0.113.77, where mail.example.org
/// lives (three and four hops from www.example.com); a campaign of .test domains on two
/// addresses and one name server; bank.test's delegation moves to a never-seen provider.
fn corpus(dir: &Path) -> (PathBuf, PathBuf) {
    let (mut a, mut b) = (String::new(), String::new());
    for d in (0..180).step_by(7) {
        a += &line(T0 + d * D + 3600, "www.example.com.", "A", "192.0.2.10");
        b += &line(T0 + d * D + 7200, "www.example.com.", "AAAA", "2001:db8::10");
        a += &line(T0 + d * D + 60, "example.com.", "NS", "ns1.example.net.");
    }
    for d in (185..330).step_by(5) {
        b += &line(T0 + d * D + 1800, "www.example.com.", "A", "198.51.100.20");
    }
    a += &line(T0 + 200 * D, "shop.example.net.", "A", "198.51.100.20");
    a += &line(T0 + 210 * D, "shop.example.net.", "A", "203.0.113.77");
    a += &line(T0 + 215 * D, "mail.example.org.", "A", "203.0.113.77");
    let t = T0 + 200 * D;
    for name in ["www.kit-alpha.test.", "kit-beta.test.", "cdn.kit-gamma.test."] {
        for ip in ["198.51.100.10", "198.51.100.11"] {
            b += &line(t, name, "A", ip);
        }
    }
    for d in ["kit-alpha.test.", "kit-beta.test.", "kit-gamma.test."] {
        b += &line(t, d, "NS", "ns1.bulletproof.test.");
    }
    a += &line(T0, "bank.test.", "NS", "ns1.goodprovider.test.");
    a += &line(T0 + 150 * D, "bank.test.", "NS", "ns1.goodprovider.test.");
    a += &line(T0 + 205 * D, "bank.test.", "NS", "ns1.attacker.test.");
    a += &line(T0 + 205 * D, "ns1.attacker.test.", "A", "203.0.113.53");
    let (pa, pb) = (dir.join("fra.log"), dir.join("nyc.log"));
    std::fs::write(&pa, a).expect("write log");
    std::fs::write(&pb, b).expect("write log");
    (pa, pb)
}

/// The Cargo target directory this test runs from (`<target>/debug/deps/console-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target directory above the test executable").to_path_buf()
}

#[test]
fn console_in_headless_chromium() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let chromium = std::env::var("DNSLEDGER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: the console's end-to-end test needs Debian's chromium \
         (scripts/test.sh installs it through scripts/deps.sh --test)"
    );
    let node = Command::new("node").arg("--version").output().unwrap_or_else(|e| {
        panic!("cannot run node: the console's browser test needs Node.js 20 or later (scripts/deps.sh): {e}")
    });
    let version = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "node {version}: playwright-core, which drives the browser, needs Node.js 20 or later");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "web/node_modules/playwright-core is missing: the console's build (crates/console/build.rs) runs `npm ci` in web/"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let d = data.to_str().expect("utf-8");
    let (fra, nyc) = corpus(dir.path());
    ok(&["import", "--format", "passivedns", "--sensor", "fra-1", "--data-dir", d, fra.to_str().expect("utf-8"), "-q"]);
    ok(&["import", "--format", "passivedns", "--sensor", "nyc-1", "--data-dir", d, nyc.to_str().expect("utf-8"), "-q"]);
    let keys = dir.path().join("keys.toml");
    let k = keys.to_str().expect("utf-8");
    // an admin key: the test also writes watchlists
    let key = ok(&["key", "add", "analyst", "--admin", "--keys-file", k]).trim().to_string();
    let server = Server::start(&data, &["--keys-file", k]);

    // the console is public (it holds no data); the API behind it and the other routes are as before
    let (status, html) = get(&format!("{}/", server.url));
    assert_eq!(status, 200);
    assert!(html.contains("console/app.js"), "{html}");
    assert_eq!(get(&format!("{}/healthz", server.url)), (200, "ok\n".to_string()));
    let (status, spec) = get(&format!("{}/openapi.json", server.url));
    assert!(status == 200 && spec.contains("\"openapi\""), "{status}");
    assert_eq!(get(&format!("{}/api/v1/lookup/rrset/name/www.example.com", server.url)).0, 401);

    let shots = target_dir().join("console-e2e");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg("e2e/console.e2e.mjs")
        .current_dir(&web)
        .env("DNSLEDGER_URL", &server.url)
        .env("E2E_API_KEY", &key)
        .env("E2E_NAME", "www.example.com")
        .env("E2E_EXPECT", "192.0.2.10|198.51.100.20|2001:db8::10|fra-1|nyc-1")
        .env("E2E_EXPAND", "example.org")
        .env("E2E_SINCE", "2024-07-01")
        .env("E2E_DETECT", "bank.test")
        .env("E2E_IP", "198.51.100.10")
        .env("E2E_SHARED", "kit-beta.test")
        .env("E2E_SENSOR", "nyc-1")
        .env("E2E_SENSOR_SAW", "2001:db8::10")
        .env("E2E_SENSOR_NOT", "192.0.2.10")
        .env("E2E_LOOKBACK", "www.example.com|203.0.113.77")
        .env("E2E_DORMANT", "bank.test")
        .env("E2E_REVIVED_SINCE", "2024-05-01")
        .env("E2E_WATCH", "*.example.net")
        .env("E2E_WATCH_HIT", "new.example.net")
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (Node.js is needed for the console's test): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the console's browser test failed ({}):\n{stdout}\n{stderr}", out.status);
    for f in [
        "01-login.png",
        "02-resolutions.png",
        "03-timeline.png",
        "04-graph.png",
        "06-graph-expanded.png",
        "07-detections.png",
        "12-sensor-filter.png",
        "13-exports.png",
        "14-lookback.png",
        "15-lookback-upload.png",
        "16-watchlist-alerts.png",
        "17-dormancy.png",
    ] {
        let png = std::fs::read(shots.join(f)).unwrap_or_else(|e| panic!("screenshot {f}: {e}"));
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{f}: {} bytes", png.len());
    }
    assert!(server.terminate(), "the server did not stop cleanly");
}
