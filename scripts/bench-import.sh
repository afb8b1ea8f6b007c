#!/usr/bin/env bash
# Bulk import of generated test results (docs/BENCHMARKS.md): the file read and checked only
# (the baseline, same run), then imported into the embedded database directly, through a
# running server (whose change-feed watcher invalidates every touched person, the status
# recompute), and into PostgreSQL. Prints rows per second, peak memory and the ratios.
#
#   scripts/bench-import.sh [ROWS] [POSTGRES_ADMIN_URL]
#
# ROWS defaults to 1,000,000. PostgreSQL defaults to postgres://postgres@127.0.0.1:5432/test;
# a database is created and dropped for the run. Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
pg_admin=${2:-postgres://postgres@127.0.0.1:5432/test}

cargo build --release -q -p healthcode --bin healthcode
hc=$PWD/target/release/healthcode
work=$(mktemp -d)
pg_db=hc_bench_$$
cleanup() {
  kill "${serve_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$hc" demo generate tests --rows "$rows" --out "$work/tests.csv" --broken-rows 10 >/dev/null
echo "file: $rows rows, $(du -h "$work/tests.csv" | cut -f1)"

# Runs an import command; prints "<rows/s> <peak RSS MB>".
timed() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out.json"
  read -r secs kib < <(tail -n 1 "$work/time")
  python3 - "$rows" "$secs" "$kib" "$work/out.json" <<'PY'
import json, sys
rows, secs, kib = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
r = json.load(open(sys.argv[4]))
assert r["rows"] == rows, r["rows"]
print(f"{rows / secs:.0f} {kib / 1024:.0f} {secs:.2f} accepted={r['accepted']} created={r['created']} unchanged={r['unchanged']} rejected={r['rejected_count']}")
PY
}
lab_key() { "$hc" providers add "$@" --kind lab --name "Bench lab" | sed -n 's/.*now): //p'; }
report() { printf '%-34s %9s rows/s  %5s MB peak  %6ss  %s\n' "$1" "$2" "$3" "$4" "$5"; }

set +e
read -r base_rate base_mb base_s base_rest < <(timed "$hc" import tests "$work/tests.csv" --check --json)
report "read and check only (baseline)" "$base_rate" "$base_mb" "$base_s" "$base_rest"

"$hc" keys generate --data-dir "$work/direct" >/dev/null
key=$(lab_key --data-dir "$work/direct")
read -r d_rate d_mb d_s d_rest < <(timed "$hc" import tests "$work/tests.csv" --data-dir "$work/direct" --api-key "$key" --json)
report "embedded, direct" "$d_rate" "$d_mb" "$d_s" "$d_rest"
read -r r_rate r_mb r_s r_rest < <(timed "$hc" import tests "$work/tests.csv" --data-dir "$work/direct" --api-key "$key" --json)
report "embedded, same file again" "$r_rate" "$r_mb" "$r_s" "$r_rest"

"$hc" keys generate --data-dir "$work/served" >/dev/null
key=$(lab_key --data-dir "$work/served")
HEALTHCODE_LOG=warn "$hc" serve --data-dir "$work/served" --listen 127.0.0.1:18090 >/dev/null 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18090/readyz >/dev/null && break; sleep 0.1; done
read -r s_rate s_mb s_s s_rest < <(timed "$hc" import tests "$work/tests.csv" --server http://127.0.0.1:18090 --api-key "$key" --json)
report "embedded, through the server" "$s_rate" "$s_mb" "$s_s" "$s_rest"
server_mb=$(( $(awk '/VmHWM/ {print $2}' /proc/$serve_pid/status) / 1024 ))
echo "  server peak memory: ${server_mb} MB"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null

if psql "$pg_admin" -qc "CREATE DATABASE $pg_db" >/dev/null 2>&1; then
  pg_url="${pg_admin%/*}/$pg_db"
  "$hc" keys generate --data-dir "$work/pg" >/dev/null
  key=$(lab_key --data-dir "$work/pg" --database-url "$pg_url")
  read -r p_rate p_mb p_s p_rest < <(timed "$hc" import tests "$work/tests.csv" --data-dir "$work/pg" --database-url "$pg_url" --api-key "$key" --json)
  report "PostgreSQL, direct" "$p_rate" "$p_mb" "$p_s" "$p_rest"
else
  echo "PostgreSQL at $pg_admin is not reachable: skipped"
fi
set -e

python3 - "$base_rate" "$d_rate" "$s_rate" "${p_rate:-0}" <<'PY'
import sys
base, direct, served, pg = map(float, sys.argv[1:])
print(f"ratios to read-and-check: embedded direct {direct / base:.3f}, through the server {served / base:.3f}" + (f", PostgreSQL {pg / base:.3f}" if pg else ""))
PY
