#!/usr/bin/env bash
# Code issuance over HTTP vs an axum hello-world, measured in the same run with wrk on
# loopback. Prints both rates and their ratio (docs/BENCHMARKS.md).
#
#   scripts/bench-http.sh [DURATION_SECONDS] [CONNECTIONS]
#
# Needs wrk (apt-get install wrk). Traffic goes to 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
conns=${2:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }

cargo build --release -q -p healthcode --bin healthcode
cargo build --release -q -p healthcode-server --example hello
work=$(mktemp -d)
cleanup() { kill "${demo_pid:-}" "${hello_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_demo() {
  HEALTHCODE_LOG=warn target/release/healthcode demo --listen 127.0.0.1:18080 --data-dir "$work/data" \
    --rate-limit-per-second 10000000 --rate-limit-burst 10000000 --max-in-flight 100000 "$@" >/dev/null &
  demo_pid=$!
  for _ in $(seq 1 300); do
    [ -f "$work/data/demo.json" ] && curl -fs http://127.0.0.1:18080/readyz >/dev/null && break
    sleep 0.2
  done
  [ -f "$work/data/demo.json" ] || { echo "the demo did not start"; exit 1; }
}
stop_demo() { kill "$demo_pid"; wait "$demo_pid" 2>/dev/null || true; }

start_demo
target/release/examples/hello 127.0.0.1:18081 >/dev/null &
hello_pid=$!
for _ in $(seq 1 50); do curl -fs http://127.0.0.1:18081/ >/dev/null && break; sleep 0.1; done

python3 - "$work/data/demo.json" > "$work/tokens.lua" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("tokens = {" + ",".join('"%s"' % r["token"] for r in d["residents"]) + "}")
PY
cat >> "$work/tokens.lua" <<'LUA'
math.randomseed(42)
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "/api/v1/me/code", { ["Authorization"] = "Bearer " .. t })
end
LUA

rate() { awk '/Requests\/sec/ {print $2}'; }
run() { wrk -t1 -c"$conns" -d"${duration}s" "$@" | tee -a "$work/wrk.txt" | rate; }
echo "warm-up…"
wrk -t1 -c"$conns" -d3s http://127.0.0.1:18081/ >/dev/null
wrk -t1 -c"$conns" -d3s -s "$work/tokens.lua" http://127.0.0.1:18080 >/dev/null
hello=$(run http://127.0.0.1:18081/)
reuse=$(run -s "$work/tokens.lua" http://127.0.0.1:18080)
stop_demo
# The same region again, signing a new code for every request.
start_demo --code-reuse-secs 0
wrk -t1 -c"$conns" -d3s -s "$work/tokens.lua" http://127.0.0.1:18080 >/dev/null
cold=$(run -s "$work/tokens.lua" http://127.0.0.1:18080)
hello2=$(run http://127.0.0.1:18081/)
grep -E 'Non-2xx|Socket errors' "$work/wrk.txt" || true
python3 - "$hello" "$hello2" "$reuse" "$cold" <<'PY'
import sys
h1, h2, reuse, cold = map(float, sys.argv[1:])
h = (h1 + h2) / 2
print(f"hello-world                    {h1:10.0f} / {h2:10.0f} req/s (before / after)")
print(f"me/code, code reuse 10 s       {reuse:10.0f} req/s   ratio {reuse / h:.3f}")
print(f"me/code, signing every request {cold:10.0f} req/s   ratio {cold / h:.3f}")
PY
