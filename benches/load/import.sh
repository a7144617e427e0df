#!/usr/bin/env bash
# The import benchmark: `tapak import` of one generated chat export (parse, store, classify, link, records) into an
# empty data dir, timed with /usr/bin/time. With several binaries they alternate within each round (this machine's
# speed drifts by 10-20 % within minutes, so compare within a round).
#
#   benches/load/import.sh                                   # the tree's release build, 3 rounds
#   benches/load/import.sh /tmp/tapak-old target/release/tapak   # A/B, alternated
#   ROUNDS=5 EXPORT=/tmp/export200k.txt benches/load/import.sh A B
#
# The export is generated once if missing (`cargo run --release --example gen_export -- EXPORT --messages 200000
# --seed 42`, 16 MB). Needs: /usr/bin/time (apt-get install -y time). Prints one line per run and the median per binary.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROUNDS="${ROUNDS:-3}"
MESSAGES="${MESSAGES:-200000}"
EXPORT="${EXPORT:-/tmp/export${MESSAGES}.txt}"
WORK="${WORK:-/tmp/tapak-bench}"
OUT="${OUT:-$WORK/import-$(date -u +%Y%m%dT%H%M%SZ)}"
. "$HERE/common.sh"
die() { printf 'import.sh: %s\n' "$*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install -y time)"

BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  (cd "$ROOT" && cargo build --release)
  BINS=("$ROOT/target/release/tapak")
fi
for b in "${BINS[@]}"; do [ -x "$b" ] || die "no binary at $b"; done
if [ ! -s "$EXPORT" ]; then
  (cd "$ROOT" && cargo run --release --example gen_export -- "$EXPORT" --messages "$MESSAGES" --seed 42)
fi
mkdir -p "$OUT"

RESULTS="$OUT/results.csv"
echo "round,binary,messages,seconds,per_second,max_rss_mb,records" >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!BINS[@]}"; do
    b="${BINS[$i]}"; D="$OUT/data"
    rm -rf "$D"; sync
    /usr/bin/time -v -o "$OUT/time.txt" "$b" --data "$D" import --json --chat "Bench Ops" "$EXPORT" \
      >"$OUT/import.json" 2>"$OUT/import.err" || die "import failed (see $OUT/import.err)"
    line=$(python3 - "$OUT/time.txt" "$OUT/import.json" "$round" "$i" "$MESSAGES" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1).split(":")
secs = sum(float(x) * 60 ** k for k, x in enumerate(reversed(m)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
records = sum(int(x) for x in re.findall(r'"records_created":\s*(\d+)', open(sys.argv[2]).read()))
n = int(sys.argv[5])
print(f"{sys.argv[3]},{sys.argv[4]},{n},{secs:.2f},{n / secs:.0f},{rss:.0f},{records}")
EOF
)
    echo "$line" >>"$RESULTS"
    IFS=, read -r _ _ n s r m rec <<<"$line"
    echo "round $round, binary $i ($b): $n messages in $s s = $r/s; max RSS $m MB; records $rec"
  done
done
rm -rf "$OUT/data"
bench_medians "$RESULTS" 5 messages/s "${BINS[@]}"
echo "results: $RESULTS"
