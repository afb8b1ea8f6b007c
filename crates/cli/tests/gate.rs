//! A gate device through a network outage: `healthcode gate setup` against a demo region, the
//! server stopped, `gate scan` still deciding from the cached trust list and entry policy (a
//! resident's code passes or stops as their status says, a forged code stops and queues
//! nothing), then the server back and `gate upload` storing each queued check-in once: a
//! second upload sends nothing, and the same queue sent again counts duplicates. Last, a
//! refreshed trust list older than the cached one, or of another root, is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use healthcode_credential::{SigningKey, TrustList};
use serde_json::{Value, json};

use support::{BIN, free_port, http, read_demo, start, wait_ready};

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run healthcode");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

/// `healthcode gate ARGS --dir DIR [--json]`: exit status, JSON (if asked) and all it printed.
fn gate(dir: &Path, args: &[&str], stdin: Option<&str>) -> (i32, Value, String) {
    let mut all = vec!["gate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--dir", dir.to_str().unwrap()]);
    let out = run(&all, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, text)
}

fn queued(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("queue.jsonl"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// The session token and a current code of a resident of `profile` whose status satisfies
/// `fits`.
fn code_of(
    base: &str,
    demo: &Value,
    profile: &str,
    fits: impl Fn(&Value) -> bool,
) -> (String, String) {
    for r in demo["residents"].as_array().unwrap() {
        if r["profile"] != profile {
            continue;
        }
        let (s, code) = http(
            "GET",
            &format!("{base}/api/v1/me/code"),
            r["token"].as_str().unwrap(),
            None,
        );
        assert_eq!(s, 200, "{code}");
        if fits(&code["status"]) {
            let token = r["token"].as_str().unwrap().to_owned();
            return (token, code["code"].as_str().unwrap().to_owned());
        }
    }
    panic!("no {profile} resident fits");
}

#[test]
fn a_gate_decides_offline_and_uploads_each_checkin_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let gate_dir = tmp.path().join("gate");

    let listen = format!("127.0.0.1:{}", free_port());
    let server = start(&[
        "demo",
        "--listen",
        &listen,
        "--data-dir",
        data_arg,
        "--rate-limit-per-second",
        "100000",
        "--rate-limit-burst",
        "100000",
    ]);
    let demo = read_demo(&data);
    let base = demo["base_url"].as_str().unwrap().to_owned();
    wait_ready(&base);

    // An operator registers a subway station (a negative test within 72 hours) and its gate.
    let out = run(
        &[
            "providers",
            "add",
            "--kind",
            "operator",
            "--name",
            "op",
            "--data-dir",
            data_arg,
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let operator = stdout
        .lines()
        .find_map(|l| l.split_once("store it now): ").map(|(_, k)| k.trim()))
        .expect("operator key");
    let (s, venue) = http(
        "POST",
        &format!("{base}/api/v1/venues"),
        operator,
        Some(json!({"name": "Xizhimen", "kind": "subway", "district": "Haidian"})),
    );
    assert_eq!(s, 201, "{venue}");
    let venue_id = venue["id"].as_i64().unwrap();
    let (s, device) = http(
        "POST",
        &format!("{base}/api/v1/venues/{venue_id}/devices"),
        operator,
        Some(json!({"name": "gate 1"})),
    );
    assert_eq!(s, 201, "{device}");
    let device_key = device["key"].as_str().unwrap();

    // A green resident tested within 72 hours (a code showing 0 to 2 days), and a confirmed
    // case (red): the outcome at a subway is certain for both.
    let (resident, passes) = code_of(&base, &demo, "green_recent_test", |s| {
        s["colour"] == "green"
            && s["reminders"].as_array().is_some_and(Vec::is_empty)
            && s["test_recency"]["days"].as_u64().is_some_and(|d| d <= 2)
    });
    let (_, stops) = code_of(&base, &demo, "confirmed_case", |s| s["colour"] == "red");

    let (exit, _, text) = gate(
        &gate_dir,
        &["setup", "--server", &base, "--key", device_key],
        None,
    );
    assert_eq!(exit, 0, "{text}");
    assert!(
        text.contains("Xizhimen") && text.contains("72 hours"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(gate_dir.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "config.json holds the device key");
    }

    // The network is gone.
    drop(server);

    let (exit, v, text) = gate(&gate_dir, &["scan", &passes, "--json"], None);
    assert_eq!((exit, v["decision"].as_str()), (0, Some("PASS")), "{text}");
    assert_eq!(v["seq"], 0, "{v}");
    assert!(v["masked_name"].as_str().unwrap().ends_with('*'), "{v}");

    // A keyboard-wedge scanner types the code and Enter.
    let (exit, v, text) = gate(&gate_dir, &["scan", "-"], Some(&format!("{stops}\r\n")));
    assert_eq!(exit, 1, "{text}");
    assert!(text.starts_with("STOP"), "{text}");
    assert!(
        text.contains("健康码为") && text.contains("The code is red"),
        "{text}"
    );
    assert!(text.contains("check-in #1 queued"), "{text}");
    assert_eq!(v, Value::Null);

    let mut forged = passes.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (exit, v, text) = gate(&gate_dir, &["scan", &forged, "--json"], None);
    assert_eq!((exit, v["decision"].as_str()), (1, Some("STOP")), "{text}");
    assert_eq!(v["seq"], Value::Null, "{v}");
    assert!(
        v["reasons"][0]["en"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{v}"
    );
    assert_eq!(
        queued(&gate_dir),
        2,
        "a code that does not verify queues nothing"
    );

    // Past the trust list's next update the gate says to refresh it (the code has expired by
    // then too, so this one stops).
    let (exit, _, text) = gate(
        &gate_dir,
        &["scan", &passes, "--at", "2099-01-01T00:00:00Z"],
        None,
    );
    assert_eq!(exit, 1, "{text}");
    assert!(text.contains("run `healthcode gate setup`"), "{text}");
    assert_eq!(queued(&gate_dir), 2);

    let (exit, _, text) = gate(&gate_dir, &["status"], None);
    assert_eq!(exit, 0, "{text}");
    assert!(
        text.contains("queued:      2 check-ins (next number 2)"),
        "{text}"
    );

    let (exit, v, text) = gate(&gate_dir, &["upload", "--json"], None);
    assert_eq!(
        (exit, &v["sent"], &v["queued"]),
        (2, &json!(0), &json!(2)),
        "{text}"
    );
    assert!(text.contains("2 check-ins stay queued"), "{text}");

    let (exit, _, text) = gate(&tmp.path().join("nowhere"), &["scan", &passes], None);
    assert_eq!(exit, 2, "a gate that was never set up: {text}");

    // The network is back, at another address: setup refreshes and keeps the queue.
    let copy = std::fs::read(gate_dir.join("queue.jsonl")).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let _server = start(&["serve", "--listen", &listen, "--data-dir", data_arg]);
    let base = format!("http://{listen}");
    wait_ready(&base);
    let (exit, _, text) = gate(
        &gate_dir,
        &["setup", "--server", &base, "--key", device_key],
        None,
    );
    assert_eq!(exit, 0, "{text}");
    assert_eq!(queued(&gate_dir), 2, "setup keeps the queue");

    let (exit, v, text) = gate(&gate_dir, &["upload", "--json", "--batch", "1"], None);
    assert_eq!(exit, 0, "{text}");
    assert_eq!(
        (
            &v["sent"],
            &v["stored"],
            &v["duplicates"],
            &v["rejected"],
            &v["queued"]
        ),
        (&json!(2), &json!(2), &json!(0), &json!(0), &json!(0)),
        "{v}"
    );
    assert_eq!(queued(&gate_dir), 0);

    // The resident who passed sees the visit in their history.
    let (s, history) = http(
        "GET",
        &format!("{base}/api/v1/me/checkins"),
        &resident,
        None,
    );
    assert_eq!(s, 200, "{history}");
    let visit = &history["checkins"][0];
    assert_eq!(
        (&visit["venue_id"], &visit["method"], &visit["passed"]),
        (&json!(venue_id), &json!("gate"), &json!(true)),
        "{history}"
    );

    let (exit, _, text) = gate(&gate_dir, &["upload"], None);
    assert_eq!(exit, 0, "{text}");
    assert!(text.contains("nothing to upload"), "{text}");

    // The same rows again (a retry after a lost answer): duplicates, not new visits.
    std::fs::write(gate_dir.join("queue.jsonl"), &copy).unwrap();
    let (exit, v, text) = gate(&gate_dir, &["upload", "--json"], None);
    assert_eq!(exit, 0, "{text}");
    assert_eq!(
        (&v["sent"], &v["stored"], &v["duplicates"]),
        (&json!(2), &json!(0), &json!(2)),
        "{v}"
    );

    // A line that does not read and a row the server refuses both end in rejected.jsonl.
    let foreign = json!({"seq": 90, "subject": "00".repeat(16), "at": "2020-01-01T00:00:00Z",
        "passed": true, "method": "gate", "venue_id": venue_id});
    std::fs::write(
        gate_dir.join("queue.jsonl"),
        format!("{{\"seq\": 91, \"subj\n{foreign}\n"),
    )
    .unwrap();
    let (exit, v, text) = gate(&gate_dir, &["upload", "--json"], None);
    assert_eq!(exit, 1, "{text}");
    assert_eq!(
        (&v["rejected"], &v["queued"]),
        (&json!(2), &json!(0)),
        "{v}"
    );
    assert!(text.contains("queue.jsonl line 1"), "{text}");
    let rejected = std::fs::read_to_string(gate_dir.join("rejected.jsonl")).unwrap();
    let codes: Vec<String> = rejected
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(codes, ["unreadable", "too_old"], "{rejected}");

    // Numbers are never handed out twice, uploads or not.
    let (exit, v, text) = gate(&gate_dir, &["scan", &passes, "--json"], None);
    assert_eq!((exit, &v["seq"]), (0, &json!(2)), "{text}");

    // A refresh must come from the cached list's root and must not be older than it. Cache a
    // newer list of the region's own root, then one of another root: setup refuses the
    // server's list both times and keeps what the gate has.
    let set_up = || {
        gate(
            &gate_dir,
            &["setup", "--server", &base, "--key", device_key],
            None,
        )
    };
    let config_path = gate_dir.join("config.json");
    let original = std::fs::read_to_string(&config_path).unwrap();
    let root_seed: [u8; 32] = std::fs::read(data.join("keys/root.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let region_root = SigningKey::from_seed(&root_seed);
    let stranger = SigningKey::from_seed(&[7; 32]);
    let cached: Value = serde_json::from_str(&original).unwrap();
    let list = TrustList::from_json(&cached["config"]["trust_list"].to_string(), None).unwrap();
    for (root, sequence, refusal) in [
        (
            &region_root,
            list.sequence + 1_000_000,
            "trust_list_rollback",
        ),
        (&stranger, list.sequence, "root_changed"),
    ] {
        let mut forged = list.clone();
        forged.sequence = sequence;
        forged.root_public_key = root.public_key();
        let mut config = cached.clone();
        config["config"]["trust_list"] = serde_json::from_str(&forged.sign(root).unwrap()).unwrap();
        let held = config.to_string();
        std::fs::write(&config_path, &held).unwrap();
        let (exit, _, text) = set_up();
        assert_eq!(exit, 2, "{text}");
        assert!(text.contains(refusal), "{text}");
        assert_eq!(std::fs::read_to_string(&config_path).unwrap(), held);
    }
    std::fs::write(&config_path, &original).unwrap();
    let (exit, _, text) = set_up();
    assert_eq!(exit, 0, "{text}");
}
