#!/usr/bin/env bash
# The filing benchmark: how fast the work after the 200 empties a backlog, with the same backlog for every binary.
#   1. snapshot: `tapak serve` takes signed webhook deliveries from wrk for LOAD_SECONDS and is killed with SIGKILL
#      while the load runs (a crash mid-write). The data dir it leaves (a large inbox) is the snapshot.
#   2. crash check: every delivery answered 200 is in that data dir after a restart (filed or waiting in the inbox).
#   3. each round, each binary starts on a fresh copy of the snapshot and files it with nothing else arriving; timed
#      until the inbox, the unprocessed messages and the search index backlog are all 0. Binaries alternate, round by
#      round, because this machine's speed drifts by 10-20 % within minutes (compare within a round).
#
#   benches/load/drain.sh                                  # the tree's release build, 3 rounds
#   benches/load/drain.sh /tmp/tapak-old target/release/tapak   # A/B: alternated, same snapshot
#   ROUNDS=5 LOAD_SECONDS=30 SNAPSHOT_BIN=/tmp/tapak-old benches/load/drain.sh A B
#   SNAPSHOT=/tmp/tapak-bench/drain-X/snapshot benches/load/drain.sh A B   # reuse a snapshot (skips 1. and 2.)
#
# Needs: wrk, curl, python3. Writes everything under $OUT; prints one line per run and the median per binary.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
LOAD_SECONDS="${LOAD_SECONDS:-20}"
CONNECTIONS="${CONNECTIONS:-64}"
COUNT="${COUNT:-900000}"
WORK="${WORK:-/tmp/tapak-bench}"
OUT="${OUT:-$WORK/drain-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$HERE/common.sh"
die() { printf 'drain.sh: %s\n' "$*" >&2; exit 1; }
for t in wrk curl python3; do command -v "$t" >/dev/null || die "$t is missing (apt-get install -y wrk curl python3)"; done

BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  (cd "$ROOT" && cargo build --release)
  BINS=("$ROOT/target/release/tapak")
fi
for b in "${BINS[@]}"; do [ -x "$b" ] || die "no binary at $b"; done
SNAPSHOT_BIN="${SNAPSHOT_BIN:-${BINS[0]}}"
mkdir -p "$OUT"

# The headline run's messages: the labelled development set as people write it, over a 50-site firm's 150 groups.
REQ="$(bench_requests corpus firm "$COUNT" 2 0)"
bench_config "$OUT/config.toml"

PID=""
cleanup() { if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
# start BIN DATA: starts the server in the background, sets PID and URL.
start() {
  : >"$OUT/server.stdout"
  TAPAK_LOG=warn "$1" --config "$OUT/config.toml" --data "$2" serve >"$OUT/server.stdout" 2>>"$OUT/server.log" &
  PID=$!
  for _ in $(seq 1 200); do [ -s "$OUT/server.stdout" ] && break; sleep 0.05; done
  URL="$(head -n1 "$OUT/server.stdout" | tr -d '\r')"; URL="${URL%/}"
  [[ "$URL" == http* ]] || die "server did not start (see $OUT/server.log)"
}
metric() { curl -fsS "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# ------------------------------------------------------------------------------------------------ snapshot
if [ -n "${SNAPSHOT:-}" ]; then
  [ -f "$SNAPSHOT/tapak.db" ] || die "no data dir at SNAPSHOT=$SNAPSHOT"
  SNAP="$SNAPSHOT"
  echo "==> snapshot: reusing $SNAP ($(du -sm "$SNAP" | cut -f1) MB; no load, no crash check)"
else
  SNAP="$OUT/snapshot"
  mkdir -p "$SNAP"
  start "$SNAPSHOT_BIN" "$SNAP"
  echo "==> snapshot: $LOAD_SECONDS s of webhooks into $SNAPSHOT_BIN, then SIGKILL during the load"
  ( cd "$HERE" && CONNS="$CONNECTIONS" REQUESTS="$REQ" wrk -t2 -c"$CONNECTIONS" -d"$((LOAD_SECONDS + 5))s" --timeout 10s \
      -s ingest.lua "$URL" >"$OUT/wrk.txt" 2>&1 ) &
  WRK=$!
  sleep "$LOAD_SECONDS"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  wait "$WRK" || true
  OK="$(sed -n 's/^RESULT ok=\([0-9]*\).*/\1/p' "$OUT/wrk.txt")"
  [ -n "$OK" ] || die "wrk printed no result (see $OUT/wrk.txt)"

  # ------------------------------------------------------------------------------------------------ crash check
  CHECK="$OUT/check"; cp -a "$SNAP" "$CHECK"
  start "$SNAPSHOT_BIN" "$CHECK"
  STORED=$(( $(metric tapak_messages) + $(metric tapak_inbox_deliveries) ))
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; rm -rf "$CHECK"
  # wrk counts a 200 only once it has read it: the server may have stored a few more (in flight at the kill).
  if [ "$STORED" -ge "$OK" ]; then
    echo "crash check: $OK answered 200 before the kill, $STORED stored after the restart: none lost"
  else
    die "crash check FAILED: $OK answered 200 but only $STORED stored after the restart"
  fi
  echo "snapshot: $STORED deliveries ($(du -sm "$SNAP" | cut -f1) MB)"
fi

# ------------------------------------------------------------------------------------------------ rounds
RESULTS="$OUT/results.csv"
echo "round,binary,deliveries,seconds,per_second,cpu_s,peak_rss_mb" >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!BINS[@]}"; do
    b="${BINS[$i]}"; D="$OUT/run"
    rm -rf "$D"; cp -a "$SNAP" "$D"; sync
    start "$b" "$D"
    Q0="$(metric tapak_inbox_deliveries)"; T0=$(date +%s.%N)
    until [ "$(metric tapak_inbox_deliveries)" = 0 ] && [ "$(metric tapak_messages_unprocessed)" = 0 ] \
        && [ "$(metric tapak_messages_unindexed)" = 0 ]; do sleep 0.25; done
    T1=$(date +%s.%N)
    CPU="$(awk '{print ($14 + $15) / 100}' "/proc/$PID/stat")"
    RSS="$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status")"
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
    line=$(awk -v r="$round" -v i="$i" -v q="$Q0" -v a="$T0" -v z="$T1" -v c="$CPU" -v m="$RSS" \
      'BEGIN{t = z - a; printf "%s,%s,%d,%.1f,%.0f,%.1f,%s", r, i, q, t, q / t, c, m}')
    echo "$line" >>"$RESULTS"
    IFS=, read -r _ _ q t r c m <<<"$line"
    echo "round $round, binary $i ($b): $q deliveries filed in $t s = $r/s; server CPU $c s; peak RSS $m MB"
  done
done
rm -rf "$OUT/run"
bench_medians "$RESULTS" 5 deliveries/s "${BINS[@]}"
echo "results: $RESULTS"
