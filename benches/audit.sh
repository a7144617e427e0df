#!/usr/bin/env bash
# Audit export benchmark: how long `tapak export audit` and `tapak verify` take, and how much memory they use, on a
# year of a 50-site firm.
#
#   cargo build --release --example bench_records --example bench_audit_prep && cargo build --release
#   ./target/release/examples/bench_records --db /work/scratch/audit/tapak.db --runs 1    # the records (3M messages)
#   ./target/release/examples/bench_audit_prep --data /work/scratch/audit                 # raw bodies, events, files
#   benches/audit.sh /work/scratch/audit [BINARY]        # YEAR=1 also exports the whole year (≈ 4 GB, minutes)
#
# Scenarios: one site for one month (what an inspector usually asks for; its evidence files are real), all sites for
# one month, and optionally all sites for the whole year. Prints one Markdown row per run: seconds, peak RSS and the
# ZIP's size for the export, then seconds and peak RSS for verify.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${1:?usage: benches/audit.sh DATA_DIR [BINARY]}"
BIN="${2:-$HERE/../target/release/tapak}"
OUT="${OUT:-$(mktemp -d /tmp/tapak-audit-bench.XXXXXX)}"; mkdir -p "$OUT"
SITE="${SITE:-Site 01 Residensi}"
MONTH_FROM="${MONTH_FROM:-2026-10-01}"; MONTH_TO="${MONTH_TO:-2026-10-31}"
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }
[ -f "$DATA/tapak.db" ] || { echo "no tapak.db in $DATA (see the header of this script)" >&2; exit 1; }

# measure NAME ARGS...: runs tapak under /usr/bin/time, prints "seconds rss_mb".
measure() {
  local name="$1"; shift
  /usr/bin/time -f '%e %M' -o "$OUT/$name.time" "$BIN" --data "$DATA" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || {
    echo "tapak $* failed:" >&2; cat "$OUT/$name.err" >&2; exit 1; }
  awk '{printf "%.1f %.1f\n", $1, $2 / 1024}' "$OUT/$name.time"
}

run() {
  local name="$1"; shift
  local zip="$OUT/$name.zip"
  read -r es erss < <(measure "$name-export" export audit "$@" --output "$zip")
  read -r vs vrss < <(measure "$name-verify" verify "$zip")
  grep -q '^intact:' "$OUT/$name-verify.out" || { echo "verify did not say intact" >&2; cat "$OUT/$name-verify.out" >&2; exit 1; }
  local mb; mb=$(du -m "$zip" | cut -f1)
  local what; what=$(sed -n 's/^[^:]*: //p' "$OUT/$name-export.out" | cut -d';' -f1)
  printf '| %s | %s | %s s | %s MB | %s MB | %s s | %s MB |\n' "$name" "$what" "$es" "$erss" "$mb" "$vs" "$vrss"
}

echo "| scenario | contents | export | export peak RSS | ZIP | verify | verify peak RSS |"
echo "|---|---|---|---|---|---|---|"
run "one-site-month" --from "$MONTH_FROM" --to "$MONTH_TO" --site "$SITE"
run "all-sites-month" --from "$MONTH_FROM" --to "$MONTH_TO"
if [ "${YEAR:-0}" = 1 ]; then
  run "all-sites-year" --from 2025-11-01 --to 2026-10-31
fi
echo "(outputs in $OUT)"
