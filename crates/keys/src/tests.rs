//! Tests of [`KeyStore`]: authentication, quotas, `rate_limit`, files and persistence.

use super::*;

/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;

fn store() -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let ks = KeyStore::load_or_empty(dir.path().join("keys.toml")).unwrap();
    (dir, ks)
}

fn limited(n: u64) -> KeyOptions {
    KeyOptions { daily_limit: Some(n), ..KeyOptions::default() }
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<KeyStore>();
    check::<std::sync::Arc<KeyStore>>();
}

#[test]
fn authentication_accepts_only_the_right_token() {
    let (_d, ks) = store();
    assert!(ks.is_empty());
    let a = ks.add("alice", &KeyOptions::default()).unwrap();
    let b = ks.add("bob", &KeyOptions::default()).unwrap();
    assert_eq!(ks.len(), 2);
    assert!(a.starts_with("dnsl_") && a.len() == 46, "{a}");
    assert_eq!(ks.authenticate(&a).unwrap().name(), "alice");
    assert_eq!(ks.authenticate(&b).unwrap().name(), "bob");
    // alice's id with bob's secret, a changed last character, garbage, empty
    let a_id = &a[..14];
    let mixed = format!("{a_id}{}", &b[14..]);
    let mut tampered = a.clone();
    tampered.pop();
    tampered.push(if a.ends_with('a') { 'b' } else { 'a' });
    for bad in [mixed.as_str(), &tampered, "dnsl_zzzzzzzz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "secret", ""] {
        assert_eq!(ks.authenticate(bad), None, "{bad}");
    }
    // neither token is in the file
    let text = std::fs::read_to_string(ks.path()).unwrap();
    assert!(!text.contains(&a[14..]) && !text.contains(&b[14..]), "{text}");
    assert!(text.contains("hash = \"sha256:"), "{text}");
    assert_eq!(ks.key_ref("alice").unwrap().name(), "alice");
    assert_eq!(ks.key_ref("carol"), None);
}

#[test]
fn daily_quota_is_exhausted_after_n_queries_and_refusals_are_not_counted() {
    let (_d, ks) = store();
    let t = ks.add("k", &limited(3)).unwrap();
    let k = ks.authenticate(&t).unwrap();
    for i in 0..3 {
        ks.charge(&k, T0 + i).unwrap();
    }
    for i in 0..5 {
        let d = ks.charge(&k, T0 + 10 + i).unwrap_err();
        assert_eq!(d, Denied { status: 429, message: "Error: Quota exhausted".into() });
    }
    assert_eq!(ks.list()[0].name, "k");
    assert!(ks.rate_limit_json(&k, T0 + 20).contains("\"remaining\":0"));
    // unlimited keys are never refused
    let u = ks.authenticate(&ks.add("u", &KeyOptions::default()).unwrap()).unwrap();
    for i in 0..1000 {
        ks.charge(&u, T0 + i).unwrap();
    }
}

#[test]
fn daily_quota_resets_at_utc_midnight() {
    let (_d, ks) = store();
    let k = ks.authenticate(&ks.add("k", &limited(2)).unwrap()).unwrap();
    let before_midnight = T0 + DAY - 2;
    ks.charge(&k, before_midnight).unwrap();
    ks.charge(&k, before_midnight + 1).unwrap();
    assert_eq!(ks.charge(&k, T0 + DAY - 1).unwrap_err().status, 429);
    let json = ks.rate_limit_json(&k, T0 + DAY - 1);
    assert_eq!(json, format!("{{\"rate\":{{\"reset\":{},\"limit\":2,\"remaining\":0,\"results_max\":1000000,\"offset_max\":1000000}}}}\n", T0 + DAY));
    // 00:00:00 UTC: a new day
    ks.charge(&k, T0 + DAY).unwrap();
    let json = ks.rate_limit_json(&k, T0 + DAY);
    assert!(
        json.starts_with(&format!("{{\"rate\":{{\"reset\":{},\"limit\":2,\"remaining\":1,", T0 + 2 * DAY)),
        "{json}"
    );
    ks.charge(&k, T0 + DAY + 5).unwrap();
    assert_eq!(ks.charge(&k, T0 + DAY + 6).unwrap_err().status, 429);
    // a clock stepping back into the previous day does not refill the quota
    assert_eq!(ks.charge(&k, T0 + DAY - 10).unwrap_err().status, 429);
}

#[test]
fn burst_window_slides() {
    let (_d, ks) = store();
    let opts = KeyOptions { burst: Some((3, 60)), ..KeyOptions::default() };
    let k = ks.authenticate(&ks.add("k", &opts).unwrap()).unwrap();
    ks.charge(&k, T0).unwrap();
    ks.charge(&k, T0 + 10).unwrap();
    ks.charge(&k, T0 + 20).unwrap();
    let d = ks.charge(&k, T0 + 30).unwrap_err();
    assert_eq!(d, Denied { status: 429, message: "Error: Burst quota exhausted".into() });
    assert_eq!(ks.charge(&k, T0 + 59).unwrap_err().status, 429);
    // the first query leaves the window at T0 + 60
    ks.charge(&k, T0 + 60).unwrap();
    assert_eq!(ks.charge(&k, T0 + 61).unwrap_err().status, 429);
    ks.charge(&k, T0 + 70).unwrap();
    ks.charge(&k, T0 + 80).unwrap();
    // refused burst queries did not count against the day
    assert_eq!(ks.list()[0].used_today, 0, "list() counts against the real clock's day");
    let used = lock(&ks.usage).get("k").unwrap().used;
    assert_eq!(used, 6);
}

#[test]
fn daily_and_burst_quotas_combine() {
    let (_d, ks) = store();
    let opts = KeyOptions { daily_limit: Some(3), burst: Some((2, 100)), ..KeyOptions::default() };
    let k = ks.authenticate(&ks.add("k", &opts).unwrap()).unwrap();
    ks.charge(&k, T0).unwrap();
    ks.charge(&k, T0 + 1).unwrap();
    assert_eq!(ks.charge(&k, T0 + 2).unwrap_err().message, "Error: Burst quota exhausted");
    ks.charge(&k, T0 + 100).unwrap();
    assert_eq!(ks.charge(&k, T0 + 500).unwrap_err().message, "Error: Quota exhausted");
}

#[test]
fn expired_disabled_and_removed_keys_are_refused() {
    let (_d, ks) = store();
    let opts = KeyOptions { expires: Some(T0 + 100), ..KeyOptions::default() };
    let e = ks.authenticate(&ks.add("exp", &opts).unwrap()).unwrap();
    ks.charge(&e, T0 + 99).unwrap();
    assert_eq!(ks.charge(&e, T0 + 100).unwrap_err(), Denied { status: 401, message: "Error: Quota is expired".into() });
    let dis = ks.add("dis", &KeyOptions { disabled: true, ..KeyOptions::default() }).unwrap();
    let dk = ks.authenticate(&dis).unwrap();
    assert_eq!(ks.charge(&dk, T0).unwrap_err(), Denied { status: 403, message: "Error: API key disabled".into() });
    ks.remove("exp").unwrap();
    assert_eq!(ks.charge(&e, T0).unwrap_err().status, 403);
    assert_eq!(ks.limits(&e), Limits { results_max: 0, offset_max: None, flex: false });
    assert_eq!(ks.rate_limit_json(&e, T0), "{\"rate\":{\"reset\":\"n/a\",\"limit\":0,\"remaining\":0}}\n");
}

#[test]
fn rate_limit_json_has_the_three_dnsdb_shapes() {
    let (_d, ks) = store();
    ks.set_server_results_max(50_000);
    let daily = ks.authenticate(&ks.add("daily", &limited(1000)).unwrap()).unwrap();
    let unlimited = ks.authenticate(&ks.add("unlimited", &KeyOptions::default()).unwrap()).unwrap();
    let full_opts = KeyOptions {
        daily_limit: Some(600),
        results_max: Some(256),
        offset_max: Some(0),
        burst: Some((10, 300)),
        expires: Some(1_555_370_914 + 10 * 365 * DAY),
        flex: false,
        disabled: false,
        admin: false,
    };
    let full = ks.authenticate(&ks.add("full", &full_opts).unwrap()).unwrap();
    // the DNSDB example's reset: 2015-06-11T00:00:00Z
    let now = 1_433_980_800 - DAY + 100;
    ks.charge(&daily, now).unwrap();
    for i in 0..592 {
        ks.charge(&full, now + i * 30).unwrap();
    }
    let later = now + 591 * 30;
    assert!(later < 1_433_980_800);

    let d = ks.rate_limit_json(&daily, now);
    assert_eq!(
        d,
        "{\"rate\":{\"reset\":1433980800,\"limit\":1000,\"remaining\":999,\"results_max\":50000,\"offset_max\":50000}}\n"
    );
    let u = ks.rate_limit_json(&unlimited, now);
    assert_eq!(
        u,
        "{\"rate\":{\"reset\":\"n/a\",\"limit\":\"unlimited\",\"remaining\":\"n/a\",\"results_max\":50000,\"offset_max\":50000}}\n"
    );
    let f = ks.rate_limit_json(&full, later);
    assert_eq!(
        f,
        "{\"rate\":{\"reset\":1433980800,\"expires\":1870730914,\"limit\":600,\"remaining\":8,\"results_max\":256,\
         \"offset_max\":\"n/a\",\"burst_size\":10,\"burst_window\":300}}\n"
    );

    // one line each, and the types dnsdbq checks
    for line in [&d, &u, &f] {
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let rate = v["rate"].as_object().unwrap();
        assert!(rate["results_max"].is_u64());
        for (k, v) in rate {
            assert!(v.is_u64() || ["n/a", "unlimited"].contains(&v.as_str().unwrap_or("")), "{k}: {v}");
        }
    }
    let d: serde_json::Value = serde_json::from_str(&d).unwrap();
    assert!(d["rate"]["reset"].is_u64() && d["rate"]["limit"].is_u64() && d["rate"]["remaining"].is_u64());
    assert!(d["rate"].get("burst_size").is_none() && d["rate"].get("expires").is_none());
    let u: serde_json::Value = serde_json::from_str(&u).unwrap();
    assert_eq!(u["rate"]["reset"], "n/a");
    assert_eq!(u["rate"]["limit"], "unlimited");
    assert_eq!(u["rate"]["remaining"], "n/a");
    let f: serde_json::Value = serde_json::from_str(&f).unwrap();
    assert!(f["rate"]["burst_size"].is_u64() && f["rate"]["burst_window"].is_u64() && f["rate"]["expires"].is_u64());
    assert_eq!(f["rate"]["offset_max"], "n/a");
}

#[test]
fn limits_follow_key_and_server_settings() {
    let (_d, ks) = store();
    let plain = ks.authenticate(&ks.add("plain", &KeyOptions::default()).unwrap()).unwrap();
    let small_opts =
        KeyOptions { results_max: Some(100), offset_max: Some(5000), flex: false, ..KeyOptions::default() };
    let small = ks.authenticate(&ks.add("small", &small_opts).unwrap()).unwrap();
    let big =
        ks.authenticate(&ks.add("big", &KeyOptions { results_max: Some(10_000_000), ..Default::default() }).unwrap());
    let big = big.unwrap();
    assert_eq!(
        ks.limits(&plain),
        Limits { results_max: DEFAULT_RESULTS_MAX, offset_max: Some(DEFAULT_RESULTS_MAX), flex: true }
    );
    assert_eq!(ks.limits(&small), Limits { results_max: 100, offset_max: Some(5000), flex: false });
    ks.set_server_results_max(1000);
    assert_eq!(ks.limits(&plain), Limits { results_max: 1000, offset_max: Some(1000), flex: true });
    assert_eq!(ks.limits(&big).results_max, 1000, "keys cannot exceed the server's cap");
}

#[test]
fn key_file_round_trips_every_setting() {
    let (_d, ks) = store();
    let opts = KeyOptions {
        daily_limit: Some(10),
        results_max: Some(20),
        offset_max: Some(30),
        burst: Some((4, 50)),
        expires: Some(T0 + 60),
        flex: false,
        disabled: true,
        admin: true,
    };
    let token = ks.add("all.settings_1-x", &opts).unwrap();
    ks.add("defaults", &KeyOptions::default()).unwrap();
    let again = KeyStore::load(ks.path()).unwrap();
    assert_eq!(again.list(), ks.list());
    let s = &again.list()[0];
    assert_eq!(
        (s.daily_limit, s.results_max, s.offset_max, s.burst, s.expires, s.flex, s.disabled, s.admin),
        (Some(10), Some(20), Some(30), Some((4, 50)), Some(T0 + 60), false, true, true)
    );
    assert_eq!(s.id, &token[5..13]);
    let d = &again.list()[1];
    assert_eq!(
        (d.daily_limit, d.burst, d.expires, d.flex, d.disabled, d.admin),
        (None, None, None, true, false, false)
    );
    assert!(again.authenticate(&token).is_some());
    let text = std::fs::read_to_string(ks.path()).unwrap();
    assert!(text.contains("[[key]]\nname = \"all.settings_1-x\"\n"), "{text}");
    assert!(!text.contains(&token[14..]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(ks.path()).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn management_errors_name_the_key_and_file() {
    let (_d, ks) = store();
    ks.add("a", &KeyOptions::default()).unwrap();
    let e = ks.add("a", &KeyOptions::default()).unwrap_err().to_string();
    assert!(e.contains("keys.toml") && e.contains("\"a\" exists already"), "{e}");
    assert!(matches!(ks.add("a b", &KeyOptions::default()), Err(KeyError::BadName(_))));
    let e = ks.remove("nope").unwrap_err().to_string();
    assert!(e.contains("keys.toml: no key named \"nope\""), "{e}");
    assert!(matches!(ks.rotate("nope"), Err(KeyError::NoSuchKey { .. })));
    let e = ks.add("b", &KeyOptions { burst: Some((0, 10)), ..Default::default() }).unwrap_err().to_string();
    assert!(e.starts_with("key \"b\": burst_size"), "{e}");
    let e = ks.add("b", &KeyOptions { results_max: Some(0), ..Default::default() }).unwrap_err().to_string();
    assert!(e.contains("results_max"), "{e}");
    // nothing was written for the refused keys
    assert_eq!(KeyStore::load(ks.path()).unwrap().len(), 1);
    let e = KeyStore::load(ks.path().with_file_name("missing.toml")).err().unwrap().to_string();
    assert!(e.contains("missing.toml"), "{e}");
}

#[test]
fn rotate_replaces_the_token_and_keeps_settings_and_usage() {
    let (_d, ks) = store();
    let old = ks.add("k", &limited(5)).unwrap();
    let k = ks.authenticate(&old).unwrap();
    ks.charge(&k, T0).unwrap();
    ks.charge(&k, T0 + 1).unwrap();
    let new = ks.rotate("k").unwrap();
    assert_ne!(old, new);
    assert_eq!(ks.authenticate(&old), None);
    let k2 = ks.authenticate(&new).unwrap();
    assert_eq!(k2, k);
    assert!(ks.rate_limit_json(&k2, T0 + 2).contains("\"remaining\":3"));
    assert_eq!(ks.list()[0].daily_limit, Some(5));
}

#[test]
fn reload_keeps_counters_of_keys_that_stay() {
    let (_d, ks) = store();
    let a = ks.authenticate(&ks.add("a", &limited(5)).unwrap()).unwrap();
    let b = ks.authenticate(&ks.add("b", &limited(5)).unwrap()).unwrap();
    ks.charge(&a, T0).unwrap();
    ks.charge(&a, T0).unwrap();
    ks.charge(&b, T0).unwrap();
    // another process (the CLI) removes b, re-adds it, and adds c
    let other = KeyStore::load(ks.path()).unwrap();
    other.remove("b").unwrap();
    let b_token = other.add("b", &limited(5)).unwrap();
    other.add("c", &KeyOptions::default()).unwrap();
    // the new b must have a different `created` for its counters to start over
    let text = std::fs::read_to_string(ks.path()).unwrap();
    let created_b = other.list()[1].created;
    let tables: Vec<String> = text
        .split("[[key]]")
        .map(|t| {
            if t.contains("name = \"b\"") {
                t.replace(&format!("created = {created_b}"), &format!("created = {}", created_b + 1))
            } else {
                t.to_string()
            }
        })
        .collect();
    std::fs::write(ks.path(), tables.join("[[key]]")).unwrap();
    ks.reload().unwrap();
    assert_eq!(ks.len(), 3);
    assert!(ks.rate_limit_json(&a, T0).contains("\"remaining\":3"));
    let b2 = ks.authenticate(&b_token).unwrap();
    assert!(ks.rate_limit_json(&b2, T0).contains("\"remaining\":5"), "{}", ks.rate_limit_json(&b2, T0));
    // a broken file is refused and the keys in memory stay
    std::fs::write(ks.path(), "[[key]\n").unwrap();
    let e = ks.reload().unwrap_err().to_string();
    assert!(e.contains("keys.toml:1:"), "{e}");
    assert_eq!(ks.len(), 3);
    assert!(ks.authenticate(&b_token).is_some());
}

#[test]
fn reload_if_changed_notices_other_writers() {
    let (_d, ks) = store();
    ks.add("a", &KeyOptions::default()).unwrap();
    assert!(!ks.reload_if_changed().unwrap(), "its own write is not a change");
    let other = KeyStore::load(ks.path()).unwrap();
    let token = other.add("b", &KeyOptions::default()).unwrap();
    assert_eq!(ks.authenticate(&token), None);
    assert!(ks.reload_if_changed().unwrap());
    assert_eq!(ks.authenticate(&token).unwrap().name(), "b");
    assert!(!ks.reload_if_changed().unwrap());
    // a broken edit is reported, and reported again until fixed; the keys stay
    std::fs::write(ks.path(), "oops").unwrap();
    assert!(ks.reload_if_changed().is_err());
    assert!(ks.reload_if_changed().is_err());
    assert_eq!(ks.len(), 2);
}

#[test]
fn only_active_admin_keys_are_admins() {
    let (_d, ks) = store();
    let admin = |o: KeyOptions| KeyOptions { admin: true, ..o };
    let a = ks.authenticate(&ks.add("ops", &admin(KeyOptions::default())).unwrap()).unwrap();
    let plain = ks.authenticate(&ks.add("soc", &KeyOptions::default()).unwrap()).unwrap();
    let off = ks.authenticate(&ks.add("off", &admin(KeyOptions { disabled: true, ..KeyOptions::default() })).unwrap());
    let old = ks.add("old", &admin(KeyOptions { expires: Some(T0 + 10), ..KeyOptions::default() })).unwrap();
    let old = ks.authenticate(&old).unwrap();
    assert!(ks.is_admin(&a, T0));
    assert!(!ks.is_admin(&plain, T0));
    assert!(!ks.is_admin(&off.unwrap(), T0), "a disabled admin key is refused");
    assert!(ks.is_admin(&old, T0 + 9) && !ks.is_admin(&old, T0 + 10), "an expired admin key is refused");
    // the attribute survives rotation and hand edits of the file are picked up
    let token = ks.rotate("ops").unwrap();
    assert!(ks.is_admin(&ks.authenticate(&token).unwrap(), T0));
    let text = std::fs::read_to_string(ks.path()).unwrap();
    assert_eq!(text.matches("admin = true").count(), 3, "{text}");
    std::fs::write(ks.path(), text.replacen("admin = true\n", "", 1)).unwrap();
    ks.reload().unwrap();
    assert!(!ks.is_admin(&a, T0));
    assert_eq!(ks.list().iter().filter(|k| k.admin).count(), 2);
    // a key that no longer exists is no admin
    ks.remove("old").unwrap();
    assert!(!ks.is_admin(&old, T0));
}

#[test]
fn changes_keep_edits_made_by_other_processes() {
    let (_d, ks) = store();
    ks.add("a", &KeyOptions::default()).unwrap();
    let other = KeyStore::load(ks.path()).unwrap();
    other.add("b", &KeyOptions::default()).unwrap();
    ks.add("c", &KeyOptions::default()).unwrap();
    let names: Vec<String> = KeyStore::load(ks.path()).unwrap().list().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn usage_survives_a_restart() {
    let (_d, ks) = store();
    let t = ks.add("k", &limited(10)).unwrap();
    let k = ks.authenticate(&t).unwrap();
    let now = now_epoch();
    for _ in 0..4 {
        ks.charge(&k, now).unwrap();
    }
    let usage_file = usage_path(ks.path());
    assert!(usage_file.to_string_lossy().ends_with("keys.toml.usage"));
    assert!(!usage_file.exists());
    ks.save_usage().unwrap();
    let saved = std::fs::read_to_string(&usage_file).unwrap();
    let v: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(v["keys"]["k"]["used"], 4);
    // nothing changed: no rewrite
    std::fs::remove_file(&usage_file).unwrap();
    ks.save_usage().unwrap();
    assert!(!usage_file.exists());
    std::fs::write(&usage_file, saved).unwrap();

    let restarted = KeyStore::load(ks.path()).unwrap();
    let k2 = restarted.authenticate(&t).unwrap();
    assert_eq!(restarted.list()[0].used_today, 4);
    assert!(restarted.rate_limit_json(&k2, now).contains("\"remaining\":6"));
    for _ in 0..6 {
        restarted.charge(&k2, now).unwrap();
    }
    assert_eq!(restarted.charge(&k2, now).unwrap_err().status, 429);

    // a corrupt usage file is an error that says what to do
    std::fs::write(&usage_file, "{\"version\":1,").unwrap();
    let e = KeyStore::load(ks.path()).err().unwrap().to_string();
    assert!(e.contains("keys.toml.usage") && e.contains("delete the file"), "{e}");
}

#[test]
fn concurrent_charges_never_exceed_the_quota() {
    let (_d, ks) = store();
    let k = ks.authenticate(&ks.add("k", &limited(1000)).unwrap()).unwrap();
    let ks = std::sync::Arc::new(ks);
    let ok = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..400 {
                    if ks.charge(&k, T0).is_ok() {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(ok.load(Ordering::Relaxed), 1000);
}
