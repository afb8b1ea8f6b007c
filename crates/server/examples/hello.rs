//! The baseline for HTTP benchmarks: an axum "hello world" on the same runtime settings as
//! the real server. `scripts/bench-http.sh` measures it and `GET /api/v1/me/code` in one run
//! and reports the ratio, so machine noise cancels out.
//!
//! Run: `cargo run --release -p healthcode-server --example hello -- 127.0.0.1:18081`

#![allow(clippy::expect_used)]

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("hello listening on http://{addr}");
    axum::serve(listener, app).await.expect("serve");
}
