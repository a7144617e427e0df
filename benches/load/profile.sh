#!/usr/bin/env bash
# CPU profile of `tapak serve` under the ingest load: which threads burn the CPU and on what.
#
#   benches/load/profile.sh [BINARY]      # BINARY should have symbols, e.g. built with
#     CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
#     CARGO_TARGET_DIR=/tmp/target-sym cargo build --release
#
# Starts the server on a fresh data dir, runs wrk like run.sh (DURATION, CONNECTIONS, THREADS), records
# `perf record -F 199 --call-graph dwarf` (software cpu-clock) of the server for PERF_SECONDS in the middle of the load, and writes
# per-thread CPU (from /proc/PID/task/*/stat), bytes and syscalls read/written (io.txt, from /proc/PID/io) plus perf reports by
# thread and by symbol under $OUT.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="${1:-${TAPAK_BIN:-$HERE/../../target/release/tapak}}"
DURATION="${DURATION:-20}"; CONNECTIONS="${CONNECTIONS:-64}"; THREADS="${THREADS:-2}"; PERF_SECONDS="${PERF_SECONDS:-8}"
COUNT="${COUNT:-900000}"; BODY_SIZE="${BODY_SIZE:-1000}"
WORK="${WORK:-/tmp/tapak-bench}"; OUT="${OUT:-$WORK/profile-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$HERE/common.sh"
MIX="${MIX:-ops}"; LAYOUT="${LAYOUT:-dense}"        # dense: 24 very busy groups; firm: 150 groups of a 50-site firm (gen_requests.py --layout)
command -v perf >/dev/null || { echo "perf missing (apt-get install linux-perf)" >&2; exit 1; }
REQ="$(bench_requests "$MIX" "$LAYOUT" "$COUNT" "$THREADS" "$BODY_SIZE")"
mkdir -p "$OUT/data"
bench_config "$OUT/config.toml"
TAPAK_LOG=warn "$BIN" --config "$OUT/config.toml" --data "$OUT/data" serve >"$OUT/stdout" 2>"$OUT/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do [ -s "$OUT/stdout" ] && break; sleep 0.05; done
URL="$(head -n1 "$OUT/stdout")"; URL="${URL%/}"
until curl -fsS "$URL/healthz" >/dev/null 2>&1; do sleep 0.05; done

thread_cpu() { for t in /proc/"$PID"/task/*; do printf '%s %s\n' "$(tr ' ' '_' <"$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"; done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort; }
thread_cpu >"$OUT/threads.before"
cat /proc/"$PID"/io >"$OUT/io.before"
( sleep $((DURATION / 2 - PERF_SECONDS / 2)); perf record -F 199 --call-graph dwarf,16384 -p "$PID" -o "$OUT/perf.data" -- sleep "$PERF_SECONDS" 2>"$OUT/perf.log" >/dev/null ) &
PERFJOB=$!
REQUESTS="$REQ" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$HERE/ingest.lua" "$URL" >"$OUT/wrk.txt"
wait "$PERFJOB" || true
thread_cpu >"$OUT/threads.after"
cat /proc/"$PID"/io >"$OUT/io.after"
STORED_AFTER="$(curl -fsS "$URL/metrics" | awk '/^tapak_messages_ingested_total / {print $2}')"
echo "stored=$STORED_AFTER" >"$OUT/io.txt"
paste "$OUT/io.before" "$OUT/io.after" | awk '{printf "%s %.0f\n", $1, $4-$2}' >>"$OUT/io.txt"
join "$OUT/threads.before" "$OUT/threads.after" | awk -v d="$DURATION" '{printf "%-20s %6.2f s CPU  (%4.0f%% of one core)\n", $1, ($3-$2)/100, ($3-$2)/d}' | sort -k2 -nr >"$OUT/threads.txt"
perf report -i "$OUT/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 >"$OUT/perf-by-thread.txt" || true
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 >"$OUT/perf-by-symbol.txt" || true
perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -150 >"$OUT/perf-inclusive.txt" || true
# Inclusive time of tapak's own functions in the writer thread: where the single writer spends its time.
perf report -i "$OUT/perf.data" --comm tapak-writer --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E '\] (tapak::[a-z_]+::[a-z_:]+|walCheckpoint|sqlite3WalFrames|__x64_sys_fsync)' | grep -v '[<{]' | sed -E 's/ +/ /g; s/( -)+ *$//' | head -40 >"$OUT/perf-writer-functions.txt" || true
for c in tapak-writer tokio-runtime-w; do
  perf report -i "$OUT/perf.data" --comm "$c" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30 >"$OUT/perf-$c.txt" || true
done
grep -E 'RESULT|Requests/sec' "$OUT/wrk.txt"
echo "--- per-thread CPU during the load"; cat "$OUT/threads.txt"
echo "--- perf by thread"; cat "$OUT/perf-by-thread.txt"
echo "--- writer thread, inclusive time of tapak functions"; cat "$OUT/perf-writer-functions.txt"
echo "--- perf top symbols (self)"; head -30 "$OUT/perf-by-symbol.txt"
echo "(all under $OUT)"
