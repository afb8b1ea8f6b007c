//! The README's walk-through, run verbatim against a fresh demo: the block between the
//! `walkthrough:start` and `walkthrough:end` markers must succeed and show what it promises.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_healthcode");

fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("start marker");
    let end = readme.find("<!-- walkthrough:end -->").expect("end marker");
    readme[start..end]
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| block.trim_start_matches("sh").to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_walkthrough_works_verbatim() {
    for tool in ["bash", "curl", "jq"] {
        if Command::new("which")
            .arg(tool)
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
            eprintln!("{tool} not found: skipping");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut demo = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            "data",
        ])
        .current_dir(dir.path())
        .env("HEALTHCODE_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start demo");
    let deadline = Instant::now() + Duration::from_secs(180);
    while !dir.path().join("data/demo.json").exists() {
        assert!(Instant::now() < deadline, "demo did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(300));

    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &walkthrough()])
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .expect("run walk-through");
    let _ = demo.kill();
    let _ = demo.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walk-through failed:\n{stdout}\n{stderr}"
    );

    assert!(stdout.contains("class=\"word\">绿码"), "{stdout}");
    assert!(stdout.contains("\"colour\": \"green\""), "{stdout}");
    assert!(
        stdout.contains(
            "20000 rows (csv): 19997 accepted (19997 new, 0 corrected, 0 unchanged), 3 rejected"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("{\"rows\":20000,\"unchanged\":19997,\"rejected\":[{\"line\":"),
        "{stdout}"
    );
    assert!(stdout.contains("VALID  GREEN"), "{stdout}");
    assert!(stdout.contains("\"outcome\":\"created\""), "{stdout}");
    assert!(stdout.contains("\"outcome\":\"unchanged\""), "{stdout}");
    assert!(
        stdout.contains("red\nclose contact designated by"),
        "{stdout}"
    );
    assert!(
        stdout.contains("{\"valid\":true,\"colour\":\"red\""),
        "{stdout}"
    );
    assert!(stdout.contains("}green\n"), "{stdout}");
    assert!(
        stdout.contains("INVALID: ") && stdout.contains("exit status 1"),
        "{stdout}"
    );
    assert!(stdout.contains("\"code\":\"forbidden\""), "{stdout}");
    assert!(
        stdout.contains("{\"decision\":\"PASS\",\"masked_name\":")
            && stdout.contains("\"checked_in\":true}"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"venue\":\"西单大悦城 Joy City Xidan\""),
        "{stdout}"
    );
    assert!(stdout.contains("{\"districts\":[\"西城区\"],\"visits\":[\"西单大悦城 Joy City Xidan\",\"西单站 Xidan Station\"]}"), "{stdout}");
    assert!(stdout.contains("\"people\":1}"), "{stdout}");
    assert!(
        stdout.contains("yellow\nrisk area visit: visited 西单大悦城 Joy City Xidan (西城区)"),
        "{stdout}"
    );
    assert!(stdout.contains("{\"released\":1}\ngreen\n"), "{stdout}");
    assert!(
        stdout.contains("\"code\":\"document_number_check_digit\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("healthcode_http_requests_total{route=\"/api/v1/me/status\",method=\"GET\",status=\"200\",class=\"2xx\"} "),
        "{stdout}"
    );
}
