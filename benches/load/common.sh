# Shared by the load benchmarks (run.sh, drain.sh, import.sh, profile.sh); sourced, not run. Needs HERE (this directory) and
# WORK (the cache for generated requests) to be set.

# The app secret every benchmark server checks signatures with (gen_requests.py signs with it).
BENCH_SECRET="bench-app-secret-0123456789abcdef"

# bench_requests MIX LAYOUT COUNT SHARDS BODY_SIZE: generates the signed requests once (cached under $WORK) and prints
# their path prefix (shard k is PREFIX.k, for ingest.lua's REQUESTS).
bench_requests() {
  local mix="$1" layout="$2" count="$3" shards="$4" size="$5" req
  if [ "$mix" = ops ] && [ "$layout" = dense ]; then req="$WORK/http-$count-$shards-$size"; else req="$WORK/$mix-$layout-$count-$shards-$size"; fi
  if [ ! -f "$req.done" ]; then
    mkdir -p "$WORK"
    echo "generating $count signed requests ($mix, $layout) in $shards shards" >&2
    python3 "$HERE/gen_requests.py" --count "$count" --secret "$BENCH_SECRET" --out "$req" --shards "$shards" \
      --size "$size" --format http --mix "$mix" --layout "$layout" >&2
    touch "$req.done"
  fi
  echo "$req"
}

# bench_config FILE: writes the benchmark server's configuration (a free loopback port, the secret above).
bench_config() {
  cat >"$1" <<EOC
[server]
listen = "127.0.0.1:0"
[whatsapp.cloud]
app_secret = "$BENCH_SECRET"
verify_token = "bench-verify"
# no network here: media are not part of the benchmarks (text messages only)
graph_base_url = "http://127.0.0.1:9"
EOC
}

# bench_medians RESULTS COLUMN UNIT BIN...: for an A/B results CSV (header row; column 2 = the binary's index), prints
# the median of COLUMN for each binary.
bench_medians() {
  local results="$1" col="$2" unit="$3" i med; shift 3
  local bins=("$@")
  echo "==> median per binary ($unit)"
  for i in "${!bins[@]}"; do
    med=$(awk -F, -v i="$i" -v c="$col" 'NR > 1 && $2 == i {print $c}' "$results" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    echo "binary $i (${bins[$i]}): $med/s"
  done
}
