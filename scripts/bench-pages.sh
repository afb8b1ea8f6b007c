#!/usr/bin/env bash
# The resident's code page against the JSON code it shows, measured in the same run with wrk
# on loopback: GET /code (a session cookie, the whole page with its QR) and
# GET /api/v1/me/code (a bearer token), each with a random demo resident per request (the
# page with the CSRF cookie a returning browser sends). Also
# the code page's weight on first load, compressed (docs/BENCHMARKS.md).
#
#   scripts/bench-pages.sh [DURATION_SECONDS=15] [CONNECTIONS=64]
#
# Needs wrk (apt-get install wrk). Traffic goes to 127.0.0.1 only and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
conns=${2:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
cargo build --release -q -p healthcode --bin healthcode
work=$(mktemp -d)
cleanup() { kill "${demo_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

HEALTHCODE_LOG=warn target/release/healthcode demo --listen 127.0.0.1:18080 --data-dir "$work/data" \
  --rate-limit-per-second 10000000 --rate-limit-burst 10000000 --max-in-flight 100000 >/dev/null &
demo_pid=$!
for _ in $(seq 1 300); do
  [ -f "$work/data/demo.json" ] && curl -fs http://127.0.0.1:18080/readyz >/dev/null && break
  sleep 0.2
done
[ -f "$work/data/demo.json" ] || { echo "the demo did not start"; exit 1; }

python3 - "$work/data/demo.json" "$work" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
tokens = "tokens = {" + ",".join('"%s"' % r["token"] for r in d["residents"]) + "}\nmath.randomseed(42)\n"
open(sys.argv[2] + "/api.lua", "w").write(tokens + """
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "/api/v1/me/code", { ["Authorization"] = "Bearer " .. t })
end
""")
open(sys.argv[2] + "/page.lua", "w").write(tokens + 'csrf = "' + "c" * 43 + '"\n' + """
request = function()
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", "/code", { ["Cookie"] = "hc_session=" .. t .. "; hc_csrf=" .. csrf })
end
""")
open(sys.argv[2] + "/token", "w").write(d["residents"][0]["token"])
PY

# Weight of the first load: the page and everything it loads, gzip-compressed as a server
# or proxy would send them.
token=$(cat "$work/token")
curl -fs -H "Cookie: hc_session=$token" http://127.0.0.1:18080/code > "$work/code.html"
total=0
report() { local n; n=$(gzip -9c "$2" | wc -c); total=$((total + n)); printf '  %-28s %7d bytes, %6d gzip\n' "$1" "$(wc -c < "$2")" "$n"; }
report /code "$work/code.html"
for asset in $(grep -oE '/assets/[a-z]+\.[0-9a-f]+\.(css|js)' "$work/code.html" | sort -u); do
  curl -fs "http://127.0.0.1:18080$asset" > "$work/asset"
  report "$asset" "$work/asset"
done
echo "code page, first load: $total bytes compressed"

rate() { awk '/Requests\/sec/ {print $2}'; }
run() { wrk -t1 -c"$conns" -d"${duration}s" -s "$1" http://127.0.0.1:18080 | tee -a "$work/wrk.txt" | rate; }
echo "warm-up…"
wrk -t1 -c"$conns" -d3s -s "$work/api.lua" http://127.0.0.1:18080 >/dev/null
wrk -t1 -c"$conns" -d3s -s "$work/page.lua" http://127.0.0.1:18080 >/dev/null
api1=$(run "$work/api.lua")
page1=$(run "$work/page.lua")
api2=$(run "$work/api.lua")
page2=$(run "$work/page.lua")
grep -E 'Non-2xx|Socket errors' "$work/wrk.txt" || true
python3 - "$api1" "$api2" "$page1" "$page2" <<'PY'
import sys
a1, a2, p1, p2 = map(float, sys.argv[1:])
a, p = (a1 + a2) / 2, (p1 + p2) / 2
print(f"GET /api/v1/me/code  {a1:10.0f} / {a2:10.0f} req/s")
print(f"GET /code (page)     {p1:10.0f} / {p2:10.0f} req/s   ratio {p / a:.3f}")
PY
