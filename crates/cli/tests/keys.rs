//! End-to-end: `dnsledger key add/list/rotate/remove` through the binary; the key file never
//! holds a secret, and the printed secrets authenticate against it.

mod common;

use common::{bin, ok, run};

/// The only stdout line of `key add`/`key rotate`: the secret.
fn secret_of(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must be the secret alone: {stdout:?}");
    let s = lines[0].to_string();
    assert!(s.starts_with("dnsl_") && s.len() >= 45, "{s}");
    s
}

fn assert_no_secret(file: &std::path::Path, secrets: &[&str]) {
    let text = std::fs::read_to_string(file).expect("key file");
    for s in secrets {
        // neither the whole token nor its secret part (after `dnsl_<id>_`)
        assert!(!text.contains(s) && !text.contains(&s[14..]), "secret in key file:\n{text}");
    }
}

#[test]
fn key_add_list_rotate_remove() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.toml");
    let f = file.to_str().expect("utf-8");

    let out =
        run(&["key", "add", "alice", "--limit", "1000", "--burst", "10/5m", "--expires", "+30d", "--keys-file", f]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alice = secret_of(&String::from_utf8(out.stdout).expect("utf-8"));
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("created key \"alice\"") && note.contains("only this once"), "{note}");
    assert!(!note.contains(&alice), "{note}");

    // the env variable names the file too
    let out = bin()
        .args(["key", "add", "bot", "--results-max", "500", "--offset-max", "0", "--no-flex"])
        .env("DNSLEDGER_KEYS_FILE", &file)
        .output()
        .expect("running dnsledger");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bot = secret_of(&String::from_utf8(out.stdout).expect("utf-8"));
    assert_ne!(alice, bot);
    assert_no_secret(&file, &[&alice, &bot]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let table = ok(&["key", "list", "--keys-file", f]);
    assert!(table.starts_with("NAME"), "{table}");
    let alice_row = table.lines().find(|l| l.starts_with("alice ")).expect("alice listed");
    assert!(alice_row.contains("1000") && alice_row.contains("10/300s") && alice_row.contains("active"), "{table}");
    let bot_row = table.lines().find(|l| l.starts_with("bot ")).expect("bot listed");
    assert!(bot_row.contains("unlimited") && bot_row.contains("500") && bot_row.contains("n/a"), "{table}");
    assert!(!table.contains(&alice[14..]) && !table.contains("sha256"), "{table}");
    let json = ok(&["key", "list", "--json", "--keys-file", f]);
    let rows: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "alice");
    assert_eq!(rows[0]["daily_limit"], 1000);
    assert_eq!(rows[1]["flex"], false);
    assert!(!json.contains("hash"), "{json}");

    // the printed secrets are the ones the file verifies
    let keys = dnsledger_keys::KeyStore::load(&file).expect("load");
    assert_eq!(keys.authenticate(&alice).expect("alice").name(), "alice");
    assert_eq!(keys.authenticate(&bot).expect("bot").name(), "bot");

    let out = run(&["key", "rotate", "alice", "--keys-file", f]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alice2 = secret_of(&String::from_utf8(out.stdout).expect("utf-8"));
    assert_ne!(alice, alice2);
    assert_no_secret(&file, &[&alice, &alice2, &bot]);
    let keys = dnsledger_keys::KeyStore::load(&file).expect("load");
    assert!(keys.authenticate(&alice).is_none(), "the old secret must stop working");
    assert!(keys.authenticate(&alice2).is_some());

    let out = run(&["key", "remove", "bot", "--keys-file", f]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let table = ok(&["key", "list", "--keys-file", f]);
    assert!(table.contains("alice") && !table.contains("bot"), "{table}");
    assert!(dnsledger_keys::KeyStore::load(&file).expect("load").authenticate(&bot).is_none());
}

#[test]
fn key_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys.toml");
    let f = file.to_str().expect("utf-8");
    let err = |args: &[&str]| {
        let out = bin().args(args).env_remove("DNSLEDGER_KEYS_FILE").output().expect("running dnsledger");
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["key", "list"]);
    assert!(e.contains("--keys-file") && e.contains("DNSLEDGER_KEYS_FILE"), "{e}");
    let e = err(&["key", "list", "--keys-file", f]);
    assert!(e.contains("no key file"), "{e}");
    ok(&["key", "add", "a", "--keys-file", f]);
    let e = err(&["key", "add", "a", "--keys-file", f]);
    assert!(e.contains("\"a\" exists already"), "{e}");
    let e = err(&["key", "add", "bad name", "--keys-file", f]);
    assert!(e.contains("invalid key name"), "{e}");
    let e = err(&["key", "add", "b", "--expires", "30d", "--keys-file", f]);
    assert!(e.contains("+30d"), "{e}");
    let e = err(&["key", "add", "b", "--burst", "10", "--keys-file", f]);
    assert!(e.contains("N/SECONDS"), "{e}");
    let e = err(&["key", "remove", "nope", "--keys-file", f]);
    assert!(e.contains("no key named \"nope\""), "{e}");
    std::fs::write(&file, "[[key]]\nname = \"x\"\nid = 5\n").expect("write");
    let e = err(&["key", "list", "--keys-file", f]);
    assert!(e.contains("keys.toml:3:"), "{e}");
}
