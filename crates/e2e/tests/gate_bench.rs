//! The gate page's figures (docs/BENCHMARKS.md, "Gate page"), measured in headless Chromium
//! against the real server; not part of the test run (`#[ignore]`):
//!
//!     cargo test --release -p healthcode-e2e --test gate_bench -- --ignored --nocapture
//!
//! 1. In-page verification of a native code (verify.js and the entry policy), median per
//!    code, next to the Rust verifier on the same code in the same run.
//! 2. Scan to result on screen: Enter of a wedge scanner to the PASS frame painted, online
//!    and offline (the network cut), median and p99 over 100 scans each.
//! 3. A queue of 10,000 offline check-ins uploaded in one go: the time, and that the server
//!    holds exactly 10,000 more check-ins.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{NetSwitch, Server, WAIT, id_number, now};
use healthcode_e2e::{Browser, Options, Page};

const MANAGER: &str = "110101198001010053";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

/// Scans each code and returns the page's own scan-to-paint times, in ms.
async fn scan_times(page: &Page, codes: &[String]) -> Vec<f64> {
    let mut out = Vec::new();
    for code in codes {
        let (verdict, text) = common::scan(page, code).await;
        assert_eq!(verdict, "PASS", "{text}");
        let ms: String = page
            .eval("document.getElementById('result').dataset.ms")
            .await
            .unwrap();
        out.push(ms.parse().unwrap());
    }
    out
}

#[tokio::test]
#[ignore = "a benchmark: run with --ignored --nocapture"]
async fn gate_page_figures() {
    let server = Server::start().await;
    let park = server.venue("北海公园", "park", "西城区").await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await.unwrap() else {
        return;
    };
    // The manager's link, made through the pages as the gate test does.
    let manager = browser
        .page(&format!("{}/register", server.base))
        .await
        .unwrap();
    common::register(&manager, "王经理", MANAGER).await;
    server.assign_manager(park, MANAGER).await;
    manager
        .goto(&format!("{}/venues/{park}", server.base))
        .await
        .unwrap();
    manager.type_into("#device-name", "bench").await.unwrap();
    manager.click("#device-add").await.unwrap();
    manager.wait_for("#enrol-url", WAIT).await.unwrap();
    let link: String = manager
        .eval("document.getElementById('enrol-url').getAttribute('href')")
        .await
        .unwrap();
    let switch = NetSwitch::to(&server.base).await;
    let gate_browser = Browser::launch(Options::default()).await.unwrap();
    let token = link.split_once('#').unwrap().1;
    let gate = gate_browser
        .page(&format!("{}/gate/enrol#{token}", switch.base))
        .await
        .unwrap();
    gate.wait_until("document.body.dataset.configured === '1'", WAIT)
        .await
        .unwrap();
    gate.wait_until("navigator.serviceWorker.controller !== null", WAIT)
        .await
        .unwrap();

    let mut codes = Vec::new();
    for n in 0..200 {
        let t = server.enrol(&id_number(200 + n), "路人").await;
        codes.push(server.code_of(&t).await);
    }

    // 1. Verification in the page and in Rust, on the same code.
    const ROUNDS: usize = 1000;
    let js = format!(
        "(async () => {{
            const kept = await new Promise((ok, no) => {{
              const r = indexedDB.open('healthcode-gate', 1);
              r.onsuccess = () => {{
                const g = r.result.transaction(['kv']).objectStore('kv').get('config');
                g.onsuccess = () => ok(g.result); g.onerror = () => no(g.error);
              }};
              r.onerror = () => no(r.error);
            }});
            const v = HealthcodeVerify.verifier([kept.list]);
            const code = {code:?};
            // The page's clock is coarse (0.1 ms): time batches of 50 and take the mean of each.
            const times = [];
            for (let b = 0; b < {ROUNDS} / 50; b++) {{
              const t0 = performance.now();
              for (let i = 0; i < 50; i++) {{
                const r = await v.verify(code, new Date());
                const d = HealthcodeVerify.decide(kept.config.entry_policy, r.claims);
                if (!d.pass) throw new Error('not a pass');
              }}
              times.push((performance.now() - t0) / 50);
            }}
            times.sort((a, b) => a - b);
            return [times[Math.floor(times.length / 2)], times[times.length - 1]];
          }})()",
        code = codes[0]
    );
    let page_times: Vec<f64> = gate.eval(&js).await.unwrap();
    let verifier = server.verifier();
    let mut rust = Vec::new();
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        let claims = verifier.verify(&codes[0], now()).unwrap();
        std::hint::black_box(claims);
        rust.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let (rust_median, _) = summary(rust);
    println!(
        "in-page verify+decide: median of batch means {:.3} ms, slowest batch {:.3} ms; Rust verify: median {:.3} ms (ratio {:.1})",
        page_times[0],
        page_times[1],
        rust_median,
        page_times[0] / rust_median
    );

    // 2. Scan to result, online then offline.
    let online = scan_times(&gate, &codes[..100]).await;
    switch.set(false);
    gate.set_offline(true).await.unwrap();
    let offline = scan_times(&gate, &codes[100..]).await;
    let (on50, on99) = summary(online);
    let (off50, off99) = summary(offline);
    println!(
        "scan to result: online median {on50:.1} ms p99 {on99:.1} ms; offline median {off50:.1} ms p99 {off99:.1} ms"
    );
    switch.set(true);
    gate.set_offline(false).await.unwrap();
    gate.wait_until(
        "document.getElementById('count-queue').textContent === '0'",
        WAIT,
    )
    .await
    .unwrap();

    // 3. 10,000 queued check-ins, uploaded in one go.
    let before = server.checkins_at(park).await;
    switch.set(false);
    gate.set_offline(true).await.unwrap();
    let fill = "(async () => {
        const db = await new Promise((ok, no) => {
          const r = indexedDB.open('healthcode-gate', 1);
          r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
        });
        await new Promise((ok, no) => {
          const t = db.transaction(['queue'], 'readwrite');
          const q = t.objectStore('queue');
          const base = Date.now() * 1000 + 1000000;
          const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60000).toISOString();
          for (let i = 0; i < 10000; i++) {
            const subject = (i.toString(16).padStart(8, '0')).repeat(4);
            q.put({ seq: base + i, subject, at, passed: true, method: 'gate' });
          }
          t.oncomplete = ok; t.onerror = () => no(t.error);
        });
        return 10000;
      })()";
    let n: u32 = gate.eval(fill).await.unwrap();
    assert_eq!(n, 10_000);
    let started = Instant::now();
    switch.set(true);
    gate.set_offline(false).await.unwrap();
    // Done when the server holds them all and the page's queue is empty.
    let queue_len = "(async () => {
        const db = await new Promise((ok, no) => {
          const r = indexedDB.open('healthcode-gate', 1);
          r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
        });
        return await new Promise((ok) => {
          const c = db.transaction(['queue']).objectStore('queue').count();
          c.onsuccess = () => ok(c.result);
        });
      })()";
    loop {
        let queued: u32 = gate.eval(queue_len).await.unwrap();
        if queued == 0 && server.checkins_at(park).await - before >= 10_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "upload unfinished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    // Another round of the page's retries finds nothing more to send.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = server.checkins_at(park).await;
    assert_eq!(after - before, 10_000, "nothing lost or doubled");
    println!(
        "10,000 queued check-ins uploaded in {:.2} s; server holds exactly 10,000 more",
        took.as_secs_f64()
    );
    gate_browser.close().await.unwrap();
    browser.close().await.unwrap();
}
