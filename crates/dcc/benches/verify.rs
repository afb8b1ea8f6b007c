//! Throughput of verifying a real ES256 certificate from the EU DCC test data
//! (FI/2DCode/raw/1.json: a vaccination, P-256 DSC with all three key usage OIDs), with every
//! signer certificate of the test data trusted. The target is at least 20,000 verifications
//! a second on one core.
//!
//! `cargo bench -p healthcode-dcc --bench verify -- --warm-up-time 1 --measurement-time 3`
//!
//! The same run also times the bare aws-lc-rs ECDSA P-256 check of the same signature over
//! the same bytes with a key parsed beforehand: the baseline, the signature alone, which the
//! verifier also leaves to aws-lc-rs. The target is a ratio: whole verification at least 0.85
//! times the baseline's rate, so that everything around the signature (transport, envelope,
//! key lookup by kid, claims, schema, typed certificate) costs at most about a sixth of it.
//! Because this machine's speed drifts between criterion's groups, the ratio is also measured
//! interleaved: rounds of 200 verifications and 200 bare checks, one after the other, and the
//! median of the rounds' ratios is printed at the end. The other steps are timed one by one to
//! show where the rest of the time goes.
//!
//! The test data is found like the tests find it (`HEALTHCODE_TESTDATA`); without it the
//! benchmark says so and measures nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use healthcode_dcc::{
    Claims, CoseSign1, DscTrust, HealthCertificate, Schema, base45_decode, decode, inflate,
    unprefix, verify,
};
use x509_parser::prelude::{FromDer, X509Certificate};

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
    let Some(baseline) = signature_baseline(&case, &hc1) else {
        eprintln!("the FI case's signature cannot be checked on its own; nothing measured");
        return;
    };
    let Ok(stages) = Stages::of(&hc1) else {
        eprintln!("the FI case does not decode; nothing measured");
        return;
    };

    let mut group = c.benchmark_group("dcc");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify ES256 (FI vaccination)", |b| {
        b.iter(|| verify(black_box(&hc1), &trust, &schema, now))
    });
    group.bench_function(
        "baseline: P-256 signature alone (aws-lc-rs, parsed key)",
        |b| {
            b.iter(|| {
                baseline
                    .key
                    .verify_sig(black_box(&baseline.message), black_box(&baseline.signature))
            })
        },
    );
    group.bench_function("decode only", |b| b.iter(|| decode(black_box(&hc1))));
    group.finish();

    let mut group = c.benchmark_group("dcc step");
    group.bench_function("unprefix + base45", |b| {
        b.iter(|| unprefix(black_box(&hc1)).and_then(base45_decode))
    });
    group.bench_function("inflate", |b| {
        b.iter(|| inflate(black_box(&stages.compressed)))
    });
    group.bench_function("COSE_Sign1", |b| {
        b.iter(|| CoseSign1::from_bytes(black_box(&stages.cose_bytes)))
    });
    group.bench_function("signature via DscTrust", |b| {
        b.iter(|| trust.verify_signature(black_box(&stages.cose)).map(|_| ()))
    });
    group.bench_function("claims (CBOR to JSON)", |b| {
        b.iter(|| Claims::from_payload(black_box(stages.cose.payload())))
    });
    group.bench_function("schema", |b| {
        b.iter(|| schema.validate(black_box(&stages.claims.dcc)))
    });
    group.bench_function("typed certificate", |b| {
        b.iter(|| HealthCertificate::from_json(black_box(&stages.claims.dcc)))
    });
    group.finish();

    interleaved(&hc1, &trust, &schema, now, &baseline);
}

/// Rounds of `BATCH` whole verifications and `BATCH` bare signature checks, one after the
/// other, so that both see the machine at the same speed; prints the medians and the median
/// of the rounds' ratios (the baseline's time over the whole verification's: the whole
/// verification's rate as a fraction of the bare check's).
fn interleaved(
    hc1: &str,
    trust: &DscTrust,
    schema: &Schema,
    now: DateTime<Utc>,
    baseline: &Baseline,
) {
    const BATCH: u32 = 200;
    const ROUNDS: usize = 41;
    let mut whole = Vec::with_capacity(ROUNDS);
    let mut bare = Vec::with_capacity(ROUNDS);
    let mut ratios = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..BATCH {
            let _ = black_box(verify(black_box(hc1), trust, schema, now));
        }
        let w = started.elapsed().as_secs_f64() / f64::from(BATCH);
        let started = Instant::now();
        for _ in 0..BATCH {
            let _ = black_box(
                baseline
                    .key
                    .verify_sig(black_box(&baseline.message), black_box(&baseline.signature)),
            );
        }
        let b = started.elapsed().as_secs_f64() / f64::from(BATCH);
        whole.push(w);
        bare.push(b);
        ratios.push(b / w);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "interleaved, {ROUNDS} rounds of {BATCH}: whole verification {:.1} µs, bare P-256 check {:.1} µs, \
         ratio of rates (median of rounds) {:.3}",
        median(&mut whole) * 1e6,
        median(&mut bare) * 1e6,
        median(&mut ratios)
    );
}

/// The FI case's signature, the bytes it covers and its signer's key, parsed once: what
/// aws-lc-rs alone needs to check it (the baseline).
struct Baseline {
    key: ParsedPublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn signature_baseline(case: &serde_json::Value, hc1: &str) -> Option<Baseline> {
    let der = STANDARD
        .decode(case["TESTCTX"]["CERTIFICATE"].as_str()?)
        .ok()?;
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    let point = cert.public_key().subject_public_key.data.as_ref();
    let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?;
    let cose = decode(hc1).ok()?.cose;
    let baseline = Baseline {
        key,
        message: cose.signed_bytes(),
        signature: cose.signature().to_vec(),
    };
    baseline
        .key
        .verify_sig(&baseline.message, &baseline.signature)
        .ok()
        .map(|()| baseline)
}

/// The input of each step, computed once.
struct Stages {
    compressed: Vec<u8>,
    cose_bytes: Vec<u8>,
    cose: CoseSign1,
    claims: Claims,
}

impl Stages {
    fn of(hc1: &str) -> Result<Stages, healthcode_dcc::DccError> {
        let compressed = base45_decode(unprefix(hc1)?)?;
        let cose_bytes = inflate(&compressed)?;
        let cose = CoseSign1::from_bytes(&cose_bytes)?;
        let claims = Claims::from_payload(cose.payload())?;
        Ok(Stages {
            compressed,
            cose_bytes,
            cose,
            claims,
        })
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
