//! Throughput of verifying a real ES256 certificate from the EU DCC test data
//! (FI/2DCode/raw/1.json: a vaccination, P-256 DSC with all three key usage OIDs), with every
//! signer certificate of the test data trusted. The target is at least 20,000 verifications
//! a second on one core.
//!
//! `cargo bench -p healthcode-dcc --bench verify -- --quick`
//!
//! The test data is found like the tests find it (`HEALTHCODE_TESTDATA`); without it the
//! benchmark says so and measures nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use healthcode_dcc::{DscTrust, Schema, decode, verify};

fn testdata() -> PathBuf {
    std::env::var_os("HEALTHCODE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/testdata"
            ))
        })
        .join("eu-dcc")
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Every signer certificate in the test data, as a verifier's trust list would hold them.
fn trust_everything(dir: &Path, trust: &mut DscTrust) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            trust_everything(&path, trust);
        } else if let Some(cert) = read_json(&path)
            .as_ref()
            .and_then(|case| case["TESTCTX"]["CERTIFICATE"].as_str())
            .and_then(|cert| STANDARD.decode(cert).ok())
        {
            // Certificates the crate cannot use are simply not trusted.
            let _ = trust.add_certificate_der(&cert);
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = testdata();
    let Some(case) = read_json(&dir.join("FI/2DCode/raw/1.json")) else {
        eprintln!(
            "EU DCC test data not found under {}; nothing measured",
            dir.display()
        );
        return;
    };
    let Some(hc1) = case["PREFIX"].as_str().map(str::to_owned) else {
        eprintln!("the FI case has no PREFIX; nothing measured");
        return;
    };
    let mut trust = DscTrust::new();
    trust_everything(&dir, &mut trust);
    let Ok(schema) = Schema::eu_dcc() else {
        eprintln!("the embedded schema does not compile; nothing measured");
        return;
    };
    // Within the certificate's validity (iat 2021-06-16, exp 2022-06-16).
    let now = DateTime::<Utc>::from_timestamp(1_624_000_000, 0).unwrap_or_default();
    if let Err(e) = verify(&hc1, &trust, &schema, now) {
        eprintln!("the FI case does not verify ({e}); nothing measured");
        return;
    }
    eprintln!("trusting {} signer certificates", trust.len());

    let mut group = c.benchmark_group("dcc");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify ES256 (FI vaccination)", |b| {
        b.iter(|| verify(black_box(&hc1), &trust, &schema, now))
    });
    group.bench_function("decode only", |b| b.iter(|| decode(black_box(&hc1))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
