#!/usr/bin/env bash
# What auditing costs the server: builds it as shipped and with the benchmarking-only feature
# `bench-no-audit` (successful requests not audited), runs `loadbench` against each in turn,
# interleaved so both see the same machine, and prints every run and the medians.
#
#   scripts/audit-overhead.sh [OP] [ROUNDS] [SECONDS]      defaults: get-user 5 8
#
# OP is a loadbench `--op` (get-user for reads, create-user for writes). The builds go to
# target/audit-on and target/audit-off; target/release is left with the build as shipped.
set -euo pipefail
op=${1:-get-user}
rounds=${2:-5}
seconds=${3:-8}
cd "$(dirname "$0")/.."

build() { # DIR [FEATURES...]
  local dir=$1
  shift
  cargo build -q --release -p rampart-cli -p rampart-testkit "$@"
  mkdir -p "target/$dir"
  cp target/release/rampart target/release/loadbench "target/$dir/"
}
# The feature build first, so target/release ends as shipped.
build audit-off --features rampart-server/bench-no-audit
build audit-on

runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for round in $(seq "$rounds"); do
  for variant in on off; do
    line=$("target/audit-$variant/loadbench" --op "$op" --connections 32 --seconds "$seconds" | grep 'connections=32')
    rps=$(sed -E 's/.*req\/s= *([0-9]+).*/\1/' <<<"$line")
    server=$(sed -nE 's/.*server=([0-9]+) us.*/\1/p' <<<"$line")
    machine=$(sed -nE 's/.*machine=([0-9]+) us.*/\1/p' <<<"$line")
    echo "round $round audit $variant: req/s=$rps cpu/req server=${server:-?} us machine=${machine:-?} us"
    echo "$variant $rps ${server:-0} ${machine:-0}" >>"$runs"
  done
done

median() { # VARIANT COLUMN
  awk -v v="$1" -v c="$2" '$1 == v { print $c }' "$runs" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
on_rps=$(median on 2) off_rps=$(median off 2)
on_cpu=$(median on 3) off_cpu=$(median off 3)
echo "median $op: audit on $on_rps req/s (server $on_cpu us/req), off $off_rps req/s (server $off_cpu us/req)"
awk -v a="$on_rps" -v b="$off_rps" -v c="$on_cpu" -v d="$off_cpu" 'BEGIN {
  printf "auditing costs %.1f%% of throughput and %.1f%% more server CPU per request\n", (1 - a / b) * 100, (d > 0 ? (c / d - 1) * 100 : 0)
}'
