#!/usr/bin/env bash
# What a manager feels: the time from a webhook's 200 to its message shown classified and linked in the API
# (visibility.py), p50 and p99,
#   1. at a steady RATE (default 100 messages/s) for STEADY_SECONDS on a fresh data dir;
#   2. right after a BURST_SECONDS burst (wrk, 64 connections, as fast as the server answers, the headline mix): the
#      same steady RATE starts the moment the burst ends, so its messages queue behind the burst's backlog.
# Binaries alternate within each round (this machine's speed drifts by 10-20 % within minutes).
#
#   benches/load/visibility.sh                          # the tree's release build, 1 round
#   ROUNDS=2 benches/load/visibility.sh /tmp/tapak-old target/release/tapak
#
# Needs: wrk, curl, python3. Writes everything under $OUT; prints one RESULT line per phase and binary.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROUNDS="${ROUNDS:-1}"; RATE="${RATE:-100}"; STEADY_SECONDS="${STEADY_SECONDS:-60}"; BURST_SECONDS="${BURST_SECONDS:-10}"
AFTER_SECONDS="${AFTER_SECONDS:-30}"; CONNECTIONS="${CONNECTIONS:-64}"; COUNT="${COUNT:-900000}"
WORK="${WORK:-/tmp/tapak-bench}"; OUT="${OUT:-$WORK/visibility-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$HERE/common.sh"
die() { printf 'visibility.sh: %s\n' "$*" >&2; exit 1; }
for t in wrk curl python3; do command -v "$t" >/dev/null || die "$t is missing (apt-get install -y wrk curl python3)"; done
BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  (cd "$ROOT" && cargo build --release)
  BINS=("$ROOT/target/release/tapak")
fi
for b in "${BINS[@]}"; do [ -x "$b" ] || die "no binary at $b"; done
mkdir -p "$OUT"
REQ="$(bench_requests corpus firm "$COUNT" 2 0)"
bench_config "$OUT/config.toml"

run_one() {
  local bin="$1" tagname="$2" dir="$OUT/$2" pid url token
  mkdir -p "$dir/data"
  token="$("$bin" --config "$OUT/config.toml" --data "$dir/data" token create --name bench --role manager 2>>"$dir/server.log" | tail -n1)"
  TAPAK_LOG=warn "$bin" --config "$OUT/config.toml" --data "$dir/data" serve >"$dir/stdout" 2>>"$dir/server.log" &
  pid=$!
  for _ in $(seq 1 200); do [ -s "$dir/stdout" ] && break; sleep 0.05; done
  url="$(head -n1 "$dir/stdout")"; url="${url%/}"
  [[ "$url" == http* ]] || { kill -9 $pid; die "the server did not start (see $dir/server.log)"; }
  echo "== $tagname steady ${RATE}/s for ${STEADY_SECONDS}s"
  python3 "$HERE/visibility.py" --url "$url" --token "$token" --secret "$BENCH_SECRET" --rate "$RATE" \
    --seconds "$STEADY_SECONDS" --out "$dir/steady.json" 2>"$dir/steady.err" | tee "$dir/steady.txt"
  echo "== $tagname burst ${BURST_SECONDS}s, then ${RATE}/s for ${AFTER_SECONDS}s"
  ( cd "$HERE" && CONNS="$CONNECTIONS" REQUESTS="$REQ" wrk -t2 -c"$CONNECTIONS" -d"${BURST_SECONDS}s" --timeout 10s \
      -s ingest.lua "$url" >"$dir/wrk.txt" 2>&1 )
  grep '^RESULT' "$dir/wrk.txt" | sed 's/^/burst /'
  python3 "$HERE/visibility.py" --url "$url" --token "$token" --secret "$BENCH_SECRET" --rate "$RATE" \
    --seconds "$AFTER_SECONDS" --settle 300 --out "$dir/after.json" 2>"$dir/after.err" | tee "$dir/after.txt"
  kill -TERM $pid; wait $pid || true
}

for r in $(seq 1 "$ROUNDS"); do
  for i in "${!BINS[@]}"; do
    run_one "${BINS[$i]}" "r$r-b$i"
  done
done
echo "results: $OUT"
