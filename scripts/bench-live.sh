#!/usr/bin/env bash
# Live code pages: opens PAGES event streams (GET /code/events) on a demo from several loopback
# source addresses, changes the status of the people behind them through the lab API, and
# prints how long the pages took to hear of it and the server's memory per open page
# (docs/BENCHMARKS.md).
#
#   scripts/bench-live.sh [PAGES=18000] [PEOPLE=500]
#
# Each process here may hold at most `ulimit -n` files, so the server holds at most about that
# many pages. Traffic goes to loopback only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-18000}
people=${2:-500}
cargo build --release -q -p healthcode --bin healthcode
work=$(mktemp -d)
cleanup() { kill "${demo_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

HEALTHCODE_LOG=warn target/release/healthcode demo --listen 127.0.0.1:18080 --data-dir "$work/data" \
  --rate-limit-per-second 10000000 --rate-limit-burst 10000000 --max-in-flight 100000 \
  --max-connections $((pages + 500)) --max-connections-per-client 100000 >/dev/null &
demo_pid=$!
for _ in $(seq 1 300); do
  [ -f "$work/data/demo.json" ] && curl -fs http://127.0.0.1:18080/readyz >/dev/null && break
  sleep 0.2
done
[ -f "$work/data/demo.json" ] || { echo "the demo did not start"; exit 1; }
echo "open files allowed per process: $(ulimit -n)"
target/release/healthcode bench live --server 127.0.0.1:18080 --demo "$work/data/demo.json" \
  --pages "$pages" --people "$people" --sources 100 --server-pid "$demo_pid"
