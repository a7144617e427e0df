#!/usr/bin/env bash
# The signed-webhook ingest benchmark (numbers go to BENCHMARKS.md):
#   build release -> generate pre-signed Cloud API requests -> machine speed (calibrate.py) -> start `tapak serve` on
#   a fresh data dir ->
#   idle RSS -> wrk (POST /webhooks/whatsapp, unique wamids) while sampling RSS and /metrics ->
#   verify stored messages == 200 responses -> watch tapak_messages_unprocessed drain -> idle RSS again ->
#   cold start (fresh and loaded data dir) -> binary size. Prints a summary and writes everything under $OUT.
#
#   benches/load/run.sh                      # defaults: 30 s, 64 connections, 2 wrk threads
#   DURATION=60 CONNECTIONS=128 benches/load/run.sh
#   MIX=chatter COUNT=300000 benches/load/run.sh      # messages that open no ticket (records state stays small)
#   MIX=corpus BODY_SIZE=0 LAYOUT=firm benches/load/run.sh   # the labelled development messages as people write them,
#                                                          # over the 150 groups of a 50-site firm (the headline run)
#   TAPAK_BIN=/path/to/tapak benches/load/run.sh    # skip the build, measure this binary
#   DATA_DIR=/dev/shm/tapak-bench benches/load/run.sh   # data on tmpfs: fsync is free (shows the CPU-bound ceiling)
#   DRAIN_TRIES=1 benches/load/run.sh        # do not wait for the work after the 200 (checks every 0.5 s; default 1200)
#   RATE=6000 benches/load/run.sh            # a sustained load: at most 6,000 messages/s offered (wrk paces each
#                                          # connection), to find the rate the work after the 200 keeps up with
#   PERF=1 benches/load/run.sh               # also `perf record` the server for 10 s mid-run (needs symbols to be useful)
#
# Needs: wrk, curl, python3 (standard library); hyperfine is not needed (cold start is timed by coldstart.py, machine
# speed by calibrate.py).
# On a 2-core machine wrk and the server share the cores: the server gets what wrk leaves (reported below).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

DURATION="${DURATION:-30}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
COUNT="${COUNT:-900000}"          # unique requests generated; must exceed what wrk sends (else it wraps: reported)
BODY_SIZE="${BODY_SIZE:-1000}"
COLD_RUNS="${COLD_RUNS:-20}"
WORK="${WORK:-/tmp/tapak-bench}"
. "$HERE/common.sh"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${OUT:-$WORK/results/$STAMP}"
mkdir -p "$OUT"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
for t in wrk curl python3; do command -v "$t" >/dev/null || die "$t is missing (apt-get install -y wrk curl python3)"; done

# ------------------------------------------------------------------------------------------------ binary
if [ -z "${TAPAK_BIN:-}" ]; then
  COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
  say "cargo build --release"
  (cd "$ROOT" && cargo build --release ${CARGO_JOBS:+-j "$CARGO_JOBS"})
  TAPAK_BIN="$ROOT/target/release/tapak"
fi
[ -x "$TAPAK_BIN" ] || die "no binary at $TAPAK_BIN"
COMMIT="${COMMIT:-${TAPAK_COMMIT:-unknown (TAPAK_BIN=$TAPAK_BIN; set TAPAK_COMMIT)}}"
BIN_BYTES="$(stat -c %s "$TAPAK_BIN")"
cp "$TAPAK_BIN" "$OUT/tapak.stripped"; strip "$OUT/tapak.stripped" 2>/dev/null || true
STRIPPED_BYTES="$(stat -c %s "$OUT/tapak.stripped")"; rm -f "$OUT/tapak.stripped"
VERSION="$("$TAPAK_BIN" --version)"


# ------------------------------------------------------------------------------------------------ requests
MIX="${MIX:-ops}"                 # ops: issue reports/task updates; chatter: acknowledgements that open no ticket
LAYOUT="${LAYOUT:-dense}"        # dense: 24 very busy groups; firm: 150 groups of a 50-site firm (gen_requests.py --layout)
REQ="$(bench_requests "$MIX" "$LAYOUT" "$COUNT" "$THREADS" "$BODY_SIZE")"

# ------------------------------------------------------------------------------------------------ server
DATA="${DATA_DIR:-$OUT/data}"   # DATA_DIR=/dev/shm/x measures without disk fsync cost (diagnostic only)
CONF="$OUT/config.toml"
[ ! -e "$DATA" ] || [ -z "$(ls -A "$DATA")" ] || die "$DATA is not empty: the benchmark needs a fresh data dir"
mkdir -p "$DATA"
bench_config "$CONF"

say "machine speed (idle, before the server starts)"
CALIB="$(python3 "$HERE/calibrate.py" "$DATA" | tail -n1)"
echo "$CALIB"

rss_kb()  { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb()  { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }  # all processes, all cores
metric()  { curl -fsS "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

say "starting $TAPAK_BIN serve"
TAPAK_LOG="${TAPAK_LOG:-warn}" "$TAPAK_BIN" --config "$CONF" --data "$DATA" serve >"$OUT/server.stdout" 2>"$OUT/server.log" &
PID=$!
cleanup() { if kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; fi; if [ -n "${SAMPLER:-}" ]; then kill "$SAMPLER" 2>/dev/null || true; fi; }
trap cleanup EXIT
for _ in $(seq 1 200); do [ -s "$OUT/server.stdout" ] && break; sleep 0.05; done
URL="$(head -n1 "$OUT/server.stdout" | tr -d '\r')"
[[ "$URL" == http* ]] || { cat "$OUT/server.log"; die "server did not print its URL"; }
URL="${URL%/}"
until curl -fsS "$URL/healthz" >/dev/null 2>&1; do sleep 0.05; done
sleep 3
IDLE_START_KB="$(rss_kb "$PID")"
echo "server $URL pid $PID, idle RSS after start-up: $((IDLE_START_KB / 1024)) MB"

# Sampler: RSS every 0.2 s (peak), /metrics every 1 s (stored, unprocessed, batches) -> samples.csv
(
  echo "t_s,rss_kb,messages,unprocessed,writer_batches,writer_jobs,inbox" >"$OUT/samples.csv"
  t0=$(date +%s.%N); last=0
  while kill -0 "$PID" 2>/dev/null; do
    now=$(date +%s.%N)
    el=$(awk -v a="$now" -v b="$t0" 'BEGIN{printf "%.1f", a-b}')
    rss=$(rss_kb "$PID")
    if awk -v e="$el" -v l="$last" 'BEGIN{exit !(e - l >= 1)}'; then
      last=$el
      m=$(curl -fsS --max-time 2 "$URL/metrics" 2>/dev/null | awk '
        $1=="tapak_messages"{a=$2} $1=="tapak_messages_unprocessed"{b=$2} $1=="tapak_messages_unindexed"{b=b+$2}
        $1=="tapak_writer_batches_total"{c=$2} $1=="tapak_writer_jobs_total"{d=$2} $1=="tapak_inbox_deliveries"{e=$2}
        END{printf "%s,%s,%s,%s,%s", a, b, c, d, e}')
      echo "$el,$rss,$m" >>"$OUT/samples.csv"
    else
      echo "$el,$rss,,,,," >>"$OUT/samples.csv"
    fi
    sleep 0.2
  done
) &
SAMPLER=$!

# ------------------------------------------------------------------------------------------------ load
say "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency${RATE:+, offered rate at most $RATE/s} (server and wrk share $(nproc) cores)"
CPU0_SERVER="$(cpu_ticks "$PID")"
BUSY0="$(busy_ticks)"; LOADAVG0="$(cut -d' ' -f1-3 /proc/loadavg)"
B0="$(metric tapak_writer_batches_total)"; J0="$(metric tapak_writer_jobs_total)"
if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
  ( sleep $((DURATION / 3)); perf record -F 999 -g -p "$PID" -o "$OUT/perf.data" -- sleep 10 >/dev/null 2>&1 ) &
fi
T_LOAD0=$(date +%s.%N)
RATE="${RATE:-}" CONNS="$CONNECTIONS" REQUESTS="$REQ" /usr/bin/time -f "wrk_cpu_user_s=%U wrk_cpu_sys_s=%S" -o "$OUT/wrk.time" \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$HERE/ingest.lua" "$URL" | tee "$OUT/wrk.txt"
T_LOAD1=$(date +%s.%N)
CPU1_SERVER="$(cpu_ticks "$PID")"
BUSY1="$(busy_ticks)"
B1="$(metric tapak_writer_batches_total)"; J1="$(metric tapak_writer_jobs_total)"
UNPROC_END="$(metric tapak_messages_unprocessed)"
UNINDEXED_END="$(metric tapak_messages_unindexed)"
INBOX_END="$(metric tapak_inbox_deliveries)"
FILED_END="$(metric tapak_messages)"
STORED_END=$((FILED_END + INBOX_END))   # durably stored: filed messages + deliveries (one message each) in the inbox
PEAK_DURING_KB="$(hwm_kb "$PID")"

# ------------------------------------------------------------------------------------------------ drain
say "waiting for tapak_inbox_deliveries, tapak_messages_unprocessed and tapak_messages_unindexed to drain (work after the 200)"
T_DRAIN0=$(date +%s.%N)
DRAIN_S="timeout"
for _ in $(seq 1 ${DRAIN_TRIES:-1200}); do
  u="$(metric tapak_messages_unprocessed)"; x="$(metric tapak_messages_unindexed)"; q="$(metric tapak_inbox_deliveries)"
  if [ "$u" = 0 ] && [ "$x" = 0 ] && [ "$q" = 0 ]; then DRAIN_S=$(awk -v a="$(date +%s.%N)" -v b="$T_DRAIN0" 'BEGIN{printf "%.1f", a-b}'); break; fi
  sleep 0.5
done
CPU2_SERVER="$(cpu_ticks "$PID")"
sleep "${IDLE_WAIT:-30}"   # idle = no messages for longer than server.idle_release_secs (20 s by default)
IDLE_AFTER_KB="$(rss_kb "$PID")"
cat "/proc/$PID/smaps" >"$OUT/smaps-idle.txt" 2>/dev/null || true   # what the idle RSS is made of
PEAK_KB="$(hwm_kb "$PID")"
FILED_NOW="$(metric tapak_messages)"; INBOX_NOW="$(metric tapak_inbox_deliveries)"
STORED=$(( ${FILED_NOW:-0} + ${INBOX_NOW:-0} ))   # filed + still in the inbox (DRAIN_TRIES=1 stops before the drain ends)
ACCEPTED="$(metric tapak_webhook_accepted_total)"
QUEUED="$(metric tapak_webhook_queued_total)"
DUPS="$(metric tapak_messages_duplicate_total)"
ERRORS5="$(metric tapak_http_errors_total)"
MSG_PROCESSED="$(metric tapak_messages_processed_total)"
kill "$SAMPLER" 2>/dev/null || true; SAMPLER=""

# ------------------------------------------------------------------------------------------------ results
R="$(grep '^RESULT' "$OUT/wrk.txt")"
kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p; s/^RESULT $1=\([0-9.]*\).*/\1/p" <<<"$R" | head -n1; }
OK="$(kv ok)"; NON200="$(kv non200)"; WRAPPED="$(kv wrapped)"; REQS="$(kv requests)"; DUR_US="$(kv duration_us)"
P50="$(kv p50_us)"; P90="$(kv p90_us)"; P99="$(kv p99_us)"; P999="$(kv p999_us)"; MAX="$(kv max_us)"
ERR_T="$(kv errors_timeout)"; ERR_C="$(kv errors_connect)"; ERR_R="$(kv errors_read)"; ERR_W="$(kv errors_write)"
RPS=$(awk -v r="$OK" -v d="$DUR_US" 'BEGIN{printf "%.0f", r / (d / 1e6)}')
WALL_LOAD=$(awk -v a="$T_LOAD1" -v b="$T_LOAD0" 'BEGIN{print a-b}')
SERVER_CPU_LOAD=$(awk -v a="$CPU1_SERVER" -v b="$CPU0_SERVER" -v w="$WALL_LOAD" 'BEGIN{printf "%.2f", (a-b)/100/w}')
SERVER_CPU_DRAIN_S=$(awk -v a="$CPU2_SERVER" -v b="$CPU1_SERVER" 'BEGIN{printf "%.1f", (a-b)/100}')
read -r WRK_U WRK_S < <(sed -n 's/wrk_cpu_user_s=\([0-9.]*\) wrk_cpu_sys_s=\([0-9.]*\)/\1 \2/p' "$OUT/wrk.time")
WRK_CPU=$(awk -v u="$WRK_U" -v s="$WRK_S" -v w="$WALL_LOAD" 'BEGIN{printf "%.2f", (u+s)/w}')
# Everything else on the machine during the load (other builds, the sampler): total busy minus server minus wrk.
OTHER_CPU=$(awk -v a="$BUSY1" -v b="$BUSY0" -v w="$WALL_LOAD" -v s="$SERVER_CPU_LOAD" -v k="$WRK_CPU" 'BEGIN{o = (a-b)/100/w - s - k; if (o < 0) o = 0; printf "%.2f", o}')
BATCH_MEAN=$(awk -v b="$((B1 - B0))" -v j="$((J1 - J0))" 'BEGIN{ if (b > 0) printf "%.1f", j/b; else print "n/a"}')
# In-flight at wrk's cut-off: requests the server answered after wrk stopped counting (at most one per connection).
INFLIGHT=$((STORED - OK))
if [ "$WRAPPED" = 0 ] && [ "$INFLIGHT" -ge 0 ] && [ "$INFLIGHT" -le "$CONNECTIONS" ] && [ "$NON200" = 0 ] && [ "$DUPS" = 0 ]; then
  LOSS="none lost: $STORED stored = $OK answered 200 + $INFLIGHT in flight at wrk's cut-off (≤ $CONNECTIONS connections)"
else
  LOSS="CHECK: stored=$STORED ok=$OK non200=$NON200 duplicates=$DUPS wrapped=$WRAPPED"
fi
# Stored messages per second over the load, in 5 s windows (does ingest slow down as the database grows?): durably
# stored (filed + waiting in the inbox), and filed into messages
RATE_WINDOWS=$(awk -F, -v d="$DURATION" 'NR>1 && $3 != "" {t=$1+0; m=$3+$7; if (t0 == "") {t0=t; m0=m}; w=int((t-t0)/5); if (!(w in first)) {first[w]=m; ft[w]=t}; last[w]=m; lt[w]=t} END {for (w=0; w*5 < d; w++) if ((w in first) && lt[w] > ft[w]) printf "%s%.0f", (w ? ", " : ""), (last[w]-first[w])/(lt[w]-ft[w]); print ""}' "$OUT/samples.csv")
FILED_WINDOWS=$(awk -F, -v d="$DURATION" 'NR>1 && $3 != "" {t=$1+0; m=$3+0; if (t0 == "") {t0=t; m0=m}; w=int((t-t0)/5); if (!(w in first)) {first[w]=m; ft[w]=t}; last[w]=m; lt[w]=t} END {for (w=0; w*5 < d; w++) if ((w in first) && lt[w] > ft[w]) printf "%s%.0f", (w ? ", " : ""), (last[w]-first[w])/(lt[w]-ft[w]); print ""}' "$OUT/samples.csv")
UNPROC_MAX=$(awk -F, 'NR>1 && $4 != "" && $4+0 > m {m=$4+0} END{print m+0}' "$OUT/samples.csv")

say "cold start ($COLD_RUNS runs each)"
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
COLD_FRESH="$(python3 "$HERE/coldstart.py" --bin "$TAPAK_BIN" --config "$CONF" --data "$OUT" --runs "$COLD_RUNS" --fresh | tail -n1)"
COLD_LOADED="$(python3 "$HERE/coldstart.py" --bin "$TAPAK_BIN" --config "$CONF" --data "$DATA" --runs "$COLD_RUNS" | tail -n1)"
DB_BYTES="$(du -sb "$DATA" | cut -f1)"
ckv() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
ms() { awk -v u="$1" 'BEGIN{printf "%.1f", u/1000}'; }
verdict() { if awk "BEGIN{exit !($1)}"; then echo "met"; else echo "MISSED"; fi; }

cat >"$OUT/summary.md" <<EOF
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -n1)), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr); disk $(df -h "$DATA" | awk 'NR==2{print $1}')
- Machine speed before the load (\`calibrate.py\`): one core hashes SHA-256 at $(ckv "$CALIB" sha256_mb_s) MB/s; a 32 KB write + fsync in the data dir takes $(ckv "$CALIB" fsync_ms_median) ms (median; p90 $(ckv "$CALIB" fsync_ms_p90) ms). Compare these, and the cold start below, before comparing runs from different days.
- Binary: $VERSION, commit $COMMIT; release binary $(awk -v b="$BIN_BYTES" 'BEGIN{printf "%.1f", b/1048576}') MB as built, $(awk -v b="$STRIPPED_BYTES" 'BEGIN{printf "%.1f", b/1048576}') MB stripped
- Command: \`${RATE:+RATE=$RATE }MIX=$MIX LAYOUT=$LAYOUT BODY_SIZE=$BODY_SIZE DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS benches/load/run.sh\` → \`wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s benches/load/ingest.lua\`
  (bodies $([ "$BODY_SIZE" = 0 ] && echo "as the messages need (one message as typed)" || echo "~$BODY_SIZE B"), text mix "$MIX", layout "$LAYOUT", one text message each, unique wamid, signed with HMAC-SHA256; loopback, synchronous=FULL)
- Throughput: **$RPS messages/s** (200 responses / wrk duration); wrk total requests $REQS, non-200 $NON200, socket errors connect/read/write/timeout $ERR_C/$ERR_R/$ERR_W/$ERR_T
- Stored messages/s in 5 s windows over the load: $RATE_WINDOWS (filed into messages: $FILED_WINDOWS)
- Latency: p50 $(ms "$P50") ms, p90 $(ms "$P90") ms, **p99 $(ms "$P99") ms**, p99.9 $(ms "$P999") ms, max $(ms "$MAX") ms
- CPU during load (cores busy, of $(nproc)): server $SERVER_CPU_LOAD, wrk $WRK_CPU, **everything else $OTHER_CPU** (load average before the run: $LOADAVG0)
- Writer: $((J1 - J0)) jobs in $((B1 - B0)) transactions during the load, **$BATCH_MEAN jobs per commit** on average
- Durability check: $LOSS; tapak_webhook_accepted_total $ACCEPTED ($QUEUED acknowledged from the inbox); stored when wrk stopped $STORED_END ($FILED_END filed, $INBOX_END in the inbox); server 5xx: $ERRORS5
- Work after the 200: deliveries waiting in the inbox at the end of the load $INBOX_END; unprocessed (classification + records) $UNPROC_END, not yet in the search index $UNINDEXED_END (max sampled of the two together $UNPROC_MAX); all drained to 0 in $DRAIN_S s after the load (server CPU $SERVER_CPU_DRAIN_S s); processed total $MSG_PROCESSED
- RSS: idle after start-up $(mb "$IDLE_START_KB") MB, **peak under load $(mb "$PEAK_DURING_KB") MB** (VmHWM; $(mb "$PEAK_KB") MB including the drain), idle ${IDLE_WAIT:-30} s after load+drain $(mb "$IDLE_AFTER_KB") MB
- Cold start (exec → URL line / → first /healthz 200, median of $COLD_RUNS; min–max): fresh data dir $(ckv "$COLD_FRESH" url_ms_median) / $(ckv "$COLD_FRESH" healthz_ms_median) ms ($(ckv "$COLD_FRESH" healthz_ms_min)–$(ckv "$COLD_FRESH" healthz_ms_max)); with the $STORED-message database $(ckv "$COLD_LOADED" url_ms_median) / $(ckv "$COLD_LOADED" healthz_ms_median) ms ($(ckv "$COLD_LOADED" healthz_ms_min)–$(ckv "$COLD_LOADED" healthz_ms_max))
- Data dir after the run ($DATA, $(df -T "$DATA" | awk 'NR==2{print $2}')): $(awk -v b="$DB_BYTES" 'BEGIN{printf "%.0f", b/1048576}') MB for $STORED messages ($(cd "$DATA" && du -sb tapak.db* 2>/dev/null | awk '{printf "%s %.0f MB; ", $2, $1/1048576}'))

| target | measured | |
|---|---|---|
| ≥ 15,000 messages/s | $RPS/s | $(verdict "$RPS >= 15000") |
| p99 < 50 ms | $(ms "$P99") ms | $(verdict "$P99 < 50000") |
| nothing lost | $STORED stored / $OK acknowledged | $(case "$LOSS" in none*) echo met ;; *) echo CHECK ;; esac) |
| work after the 200 keeps up | $INBOX_END in the inbox + $UNPROC_END unprocessed + $UNINDEXED_END unindexed at end of load, drained in $DRAIN_S s | $(verdict "\"$DRAIN_S\" != \"timeout\" && $INBOX_END + $UNPROC_END + $UNINDEXED_END <= $RPS") |
| RSS < 100 MB under load | $(mb "$PEAK_DURING_KB") MB | $(verdict "$PEAK_DURING_KB < 102400") |
| RSS < 30 MB idle | $(mb "$IDLE_START_KB") MB start, $(mb "$IDLE_AFTER_KB") MB after load | $(verdict "$IDLE_START_KB < 30720 && $IDLE_AFTER_KB < 30720") |
EOF
say "summary ($OUT/summary.md)"
cat "$OUT/summary.md"
rm -rf "$DATA"/tapak-cold-* 2>/dev/null || true
if [ "${KEEP_DATA:-0}" != 1 ]; then rm -rf "$DATA"; fi
