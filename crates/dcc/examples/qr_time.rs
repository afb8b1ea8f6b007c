//! Times reading the QR code of one picture, over and over, and prints the fastest, the
//! median and the slowest reading in milliseconds: for comparing two builds on the same files,
//! alternately, on a machine too noisy for one run of each.
//!
//! `cargo run --release -p healthcode-dcc --example qr_time -- PICTURE [TIMES]`
//!
//! The bench `qr_image` writes its pictures to a folder with `HEALTHCODE_QR_BENCH_SAVE`.

use std::process::ExitCode;
use std::time::Instant;

use healthcode_dcc::qr_image::decode_qr_image;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: qr_time PICTURE [TIMES]");
        return ExitCode::FAILURE;
    };
    let times = args
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(40usize)
        .max(1);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut taken = Vec::with_capacity(times);
    let mut outcome = None;
    for _ in 0..times {
        let start = Instant::now();
        let read = decode_qr_image(&bytes);
        taken.push(start.elapsed().as_secs_f64() * 1e3);
        outcome.get_or_insert(read.map(|text| text.len()));
    }
    taken.sort_by(f64::total_cmp);
    let [fastest, median, slowest] = [0, times / 2, times - 1].map(|i| taken[i]);
    match outcome {
        Some(Ok(length)) => println!("read {length} characters"),
        Some(Err(e)) => println!("not read: {e}"),
        None => {}
    }
    println!(
        "{times} readings: fastest {fastest:.2} ms, median {median:.2} ms, slowest {slowest:.2} ms"
    );
    ExitCode::SUCCESS
}
