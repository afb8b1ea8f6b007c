#!/usr/bin/env bash
# A slowloris attack on a running demo (docs/BENCHMARKS.md): CONNECTIONS half-sent requests
# from 100 loopback addresses, held open and opened again whenever the server closes one, while
# a normal client on 127.0.0.1 times GET /api/v1/me/code on a new connection each time, before
# and during the attack. The demo runs with its default connection limits (10,000 connections,
# 256 per address, a 10 s header-read timeout); only the per-client rate limit is raised, so
# that the normal client's 1,000 requests in a row are not refused as a flood themselves.
#
#   scripts/bench-slow.sh [CONNECTIONS]
#
# Traffic goes to 127.0.0.0/8 only and the run ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-20000}

cargo build --release -q -p healthcode --bin healthcode
hc=$PWD/target/release/healthcode
work=$(mktemp -d)
cleanup() { kill "${demo_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

HEALTHCODE_LOG=warn "$hc" demo --data-dir "$work/data" --listen 127.0.0.1:18080 \
  --rate-limit-per-second 100000 --rate-limit-burst 100000 >/dev/null 2>&1 &
demo_pid=$!
for _ in $(seq 1 600); do
  curl -fs http://127.0.0.1:18080/readyz >/dev/null 2>&1 && [ -f "$work/data/demo.json" ] && break
  sleep 0.2
done
"$hc" bench slow --server 127.0.0.1:18080 --demo "$work/data/demo.json" \
  --connections "$connections" --server-pid "$demo_pid"
