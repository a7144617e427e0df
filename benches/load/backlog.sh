#!/usr/bin/env bash
# The dashboard's backlog estimate against a real burst: starts `tapak serve` on a fresh data dir, sends the headline
# webhook load (corpus mix, firm layout) for LOAD_SECONDS, then reads `backlog` from GET /api/v1/dashboard every
# EVERY seconds until nothing waits. Prints one line per reading: seconds after the load, deliveries waiting,
# filing_per_second, seconds_left; compare each estimate with the time the inbox actually took to empty.
#
#   benches/load/backlog.sh [BINARY]        # default: the tree's release build
#   LOAD_SECONDS=30 EVERY=1 benches/load/backlog.sh /tmp/tapak-other
#
# Needs: wrk, curl, python3.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="${1:-${TAPAK_BIN:-$HERE/../../target/release/tapak}}"
LOAD_SECONDS="${LOAD_SECONDS:-15}"; EVERY="${EVERY:-2}"; CONNECTIONS="${CONNECTIONS:-64}"; COUNT="${COUNT:-900000}"
WORK="${WORK:-/tmp/tapak-bench}"; OUT="${OUT:-$WORK/backlog-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$HERE/common.sh"
for t in wrk curl python3; do command -v "$t" >/dev/null || { echo "backlog.sh: $t is missing" >&2; exit 1; }; done
[ -x "$BIN" ] || { echo "backlog.sh: no binary at $BIN (cargo build --release)" >&2; exit 1; }
REQ="$(bench_requests corpus firm "$COUNT" 2 0)"
mkdir -p "$OUT/data"
bench_config "$OUT/config.toml"
TOKEN="$("$BIN" --config "$OUT/config.toml" --data "$OUT/data" token create --name bench --role manager 2>>"$OUT/server.log" | tail -n1)"
TAPAK_LOG=warn "$BIN" --config "$OUT/config.toml" --data "$OUT/data" serve >"$OUT/stdout" 2>>"$OUT/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do [ -s "$OUT/stdout" ] && break; sleep 0.05; done
URL="$(head -n1 "$OUT/stdout")"; URL="${URL%/}"
[[ "$URL" == http* ]] || { echo "backlog.sh: the server did not start (see $OUT/server.log)" >&2; exit 1; }
echo "==> $LOAD_SECONDS s of webhooks into $BIN"
( cd "$HERE" && CONNS="$CONNECTIONS" REQUESTS="$REQ" wrk -t2 -c"$CONNECTIONS" -d"${LOAD_SECONDS}s" --timeout 10s \
    -s ingest.lua "$URL" >"$OUT/wrk.txt" 2>&1 )
grep '^RESULT' "$OUT/wrk.txt" || { echo "backlog.sh: wrk printed no result (see $OUT/wrk.txt)" >&2; exit 1; }
echo "==> seconds after the load, waiting, filing_per_second, seconds_left"
T0=$(date +%s.%N)
while :; do
  line="$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/dashboard" | python3 -c \
    'import json, sys; b = json.load(sys.stdin)["backlog"]; print(b["deliveries_waiting"], b["filing_per_second"], b["seconds_left"])')"
  echo "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') $line" | tee -a "$OUT/readings.txt"
  [ "${line%% *}" = 0 ] && break
  sleep "$EVERY"
done
echo "readings: $OUT/readings.txt"
