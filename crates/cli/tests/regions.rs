//! Mutual recognition between regions, as operators run it: three regions on 127.0.0.1,
//! Beijing and Tianjin import each other's trust lists over HTTP with `healthcode trust
//! import`, and each then verifies the other's codes at `POST /api/v1/verify` (the servers
//! read their trust folder again every second), while a third region's codes, never
//! imported, are refused by both.

// These tests drive real servers on the system clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{BIN, Server, free_port, http, read_demo, start, wait_ready};

struct Region {
    _server: Server,
    dir: tempfile::TempDir,
    base: String,
    name: &'static str,
    demo: Value,
}

fn region(name: &'static str, seed: &str) -> Region {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let server = start(&[
        "demo",
        "--listen",
        &listen,
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--region",
        name,
        "--seed",
        seed,
        "--trust-reload-secs",
        "1",
        "--rate-limit-per-second",
        "100000",
        "--rate-limit-burst",
        "100000",
    ]);
    let demo = read_demo(dir.path());
    let base = demo["base_url"].as_str().unwrap().to_owned();
    wait_ready(&base);
    Region {
        _server: server,
        dir,
        base,
        name,
        demo,
    }
}

impl Region {
    /// A current code of one of the region's green residents.
    fn code(&self) -> String {
        let resident = self.demo["residents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["profile"] == "green_recent_test")
            .unwrap();
        let (s, code) = http(
            "GET",
            &format!("{}/api/v1/me/code", self.base),
            resident["token"].as_str().unwrap(),
            None,
        );
        assert_eq!(s, 200, "{code}");
        code["code"].as_str().unwrap().to_owned()
    }

    fn verify(&self, code: &str) -> Value {
        let (s, v) = http(
            "POST",
            &format!("{}/api/v1/verify", self.base),
            "",
            Some(json!({ "code": code })),
        );
        assert_eq!(s, 200, "{v}");
        v
    }

    /// `healthcode trust SUBCOMMAND … --data-dir DIR --region NAME`: exit status and output.
    fn trust(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(BIN)
            .arg("trust")
            .args(args)
            .args(["--data-dir", self.dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    fn import_from(&self, other: &Region) -> (i32, String) {
        let url = format!("{}/api/v1/trust-list", other.base);
        self.trust(&["import", &url, "--region", self.name])
    }
}

/// Waits until `region` (which reads its trust folder every second) accepts `code`.
fn verified_within_seconds(region: &Region, code: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = region.verify(code);
        if v["valid"] == true || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn two_regions_accept_each_others_codes_and_refuse_a_third() {
    let beijing = region("CN-BJ", "1");
    let tianjin = region("CN-TJ", "2");
    let hebei = region("CN-HE", "3");
    let (bj_code, tj_code, he_code) = (beijing.code(), tianjin.code(), hebei.code());

    // Before any import each region verifies only its own codes.
    assert_eq!(beijing.verify(&bj_code)["valid"], true);
    let refused = tianjin.verify(&bj_code);
    assert_eq!(refused["valid"], false, "{refused}");
    assert_eq!(refused["format"], "native");
    assert!(refused["error"].as_str().unwrap().len() > 10, "{refused}");

    let (status, said) = tianjin.import_from(&beijing);
    assert_eq!(status, 0, "{said}");
    assert!(
        said.contains("CN-BJ: list") && said.contains("imported"),
        "{said}"
    );
    let (status, said) = beijing.import_from(&tianjin);
    assert_eq!(status, 0, "{said}");

    let at_tianjin = verified_within_seconds(&tianjin, &bj_code);
    assert_eq!(at_tianjin["valid"], true, "{at_tianjin}");
    assert_eq!(at_tianjin["issuer"], "CN-BJ");
    assert_eq!(at_tianjin["colour"], "green");
    assert!(at_tianjin["masked_name"].as_str().unwrap().ends_with('*'));
    let at_beijing = verified_within_seconds(&beijing, &tj_code);
    assert_eq!(at_beijing["valid"], true, "{at_beijing}");
    assert_eq!(at_beijing["issuer"], "CN-TJ");

    // Hebei's list was imported by neither.
    for (gate, name) in [(&beijing, "Beijing"), (&tianjin, "Tianjin")] {
        let v = gate.verify(&he_code);
        assert_eq!(v["valid"], false, "{name}: {v}");
        assert!(v["error_code"].is_string(), "{v}");
        assert!(v.get("masked_name").is_none(), "{v}");
    }

    // Importing again changes nothing; a region does not import its own list; the listing
    // names what was imported; a refresh fetches from the recorded source.
    let (status, said) = tianjin.import_from(&beijing);
    assert_eq!((status, said.contains("unchanged")), (0, true), "{said}");
    let own = format!("{}/api/v1/trust-list", tianjin.base);
    let (status, said) = tianjin.trust(&["import", &own, "--region", "CN-TJ"]);
    assert_ne!(status, 0, "{said}");
    assert!(said.contains("own region"), "{said}");
    let (status, said) = tianjin.trust(&["list"]);
    assert_eq!(status, 0, "{said}");
    assert!(said.starts_with("CN-BJ  list"), "{said}");
    let (status, said) = tianjin.trust(&["refresh", "--region", "CN-TJ"]);
    assert_eq!((status, said.contains("CN-BJ")), (0, true), "{said}");

    // Another region's list signed by a different root under Beijing's name is refused:
    // Hebei's list file with its region renamed fails its signature, and a list from a URL
    // that serves something else is refused too.
    let hebei_list = std::fs::read_to_string(hebei.dir.path().join("trust-list.json")).unwrap();
    let renamed = hebei.dir.path().join("renamed.json");
    std::fs::write(&renamed, hebei_list.replace("\"CN-HE\"", "\"CN-BJ\"")).unwrap();
    let (status, said) = tianjin.trust(&["import", renamed.to_str().unwrap(), "--region", "CN-TJ"]);
    assert_ne!(status, 0, "{said}");
    let policy = format!("{}/api/v1/policy", beijing.base);
    let (status, said) = tianjin.trust(&["import", &policy, "--region", "CN-TJ"]);
    assert_ne!(status, 0, "{said}");
    // Beijing's codes still verify at Tianjin after all that.
    assert_eq!(tianjin.verify(&bj_code)["valid"], true);
    assert!(Path::new(&tianjin.dir.path().join("trust/regions/CN-BJ.json")).exists());
}

#[test]
fn the_verify_endpoint_refuses_bad_requests_clearly() {
    let beijing = region("CN-BJ", "4");
    let url = format!("{}/api/v1/verify", beijing.base);
    let (s, v) = http("POST", &url, "", Some(json!({ "text": "HC1:" })));
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (422, json!("invalid_field")),
        "{v}"
    );
    let (s, v) = http("POST", &url, "", Some(json!({ "code": "hello" })));
    assert_eq!(
        (s, v["valid"].clone(), v["error_code"].clone()),
        (200, json!(false), json!("unknown_format"))
    );
    let (s, v) = http(
        "POST",
        &url,
        "",
        Some(json!({ "code": "HC1:NCFOXN%TS3DH" })),
    );
    assert_eq!(
        (s, v["valid"].clone(), v["format"].clone()),
        (200, json!(false), json!("eu-dcc")),
        "{v}"
    );
    let huge = "A".repeat(2 * 1024 * 1024);
    let (s, _) = http("POST", &url, "", Some(json!({ "code": huge })));
    assert_eq!(s, 413);
}
