#!/usr/bin/env bash
# The whole harness in one run, on one generated feed (bench/README.md):
#   1. publish vs kcat -P, ingest vs a bare consumer / kcat -C / RocksDB alone  (careledger_bench_e2e)
#   2. rebuild vs a raw scan of the log, and every metric query                 (careledger_bench_projections)
#   3. the PostgreSQL peer: load+query vs ingest/replay/rebuild+query, figures cross-checked
#                                                                               (careledger_bench_postgres)
#   4. publish-to-API latency p50/p99 at fixed rates, and peak RSS of run, ingest and serve
#                                                                               (careledger_bench_serve)
#   5. a figure from one of three instances (asking the other two) vs from one instance holding
#      every partition: latency p50/p99 over --requests requests              (careledger_bench_fanout)
#
#   bash bench/run-all.sh [--children N] [--years Y] [--seed S] [--repeat N] [--rates R,...]
#                         [--seconds S] [--requests N] [--build DIR]
#
# Build first (`bash ops/setup.sh bench` builds them, optimised, in build/bench). The mock broker keeps
# about 5 MiB per partition, so the Kafka stage (1) runs only up to 280,000 children over three
# years; larger feeds (the scale runs) skip it and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

children=100000 years=3 seed=42 repeat=3 rates=1000,10000 seconds=5 requests=1000 build=build/bench
while [ $# -gt 0 ]; do
  case "$1" in
    --children) children=$2 ;;
    --years) years=$2 ;;
    --seed) seed=$2 ;;
    --repeat) repeat=$2 ;;
    --rates) rates=$2 ;;
    --seconds) seconds=$2 ;;
    --requests) requests=$2 ;;
    --build) build=$2 ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
  esac
  shift 2
done
bin=$build/bench
for b in careledger_bench_e2e careledger_bench_projections careledger_bench_postgres \
         careledger_bench_serve careledger_bench_fanout; do
  [ -x "$bin/$b" ] || { echo "no $bin/$b: build first (bash ops/setup.sh bench)" >&2; exit 2; }
done

stage() { printf '\n## %s\n\n' "$1"; }
echo "careledger bench: $children children, $years years, seed $seed, $(nproc) cores, $(date -u +%FT%TZ)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

stage "1. Publish and ingest through the embedded broker"
if [ "$children" -le 280000 ] && [ "$years" -le 3 ]; then
  "$bin/careledger_bench_e2e" --children "$children" --years "$years" --seed "$seed" \
    --repeat "$repeat"
else
  echo "skipped: the mock broker cannot hold this feed (about 5 MiB per partition)"
fi

stage "2. Rebuild vs a raw scan of the log; every metric query"
"$bin/careledger_bench_projections" --children "$children" --years "$years" --seed "$seed" \
  --repeat "$repeat"

stage "3. The PostgreSQL peer"
"$bin/careledger_bench_postgres" --children "$children" --years "$years" --seed "$seed" \
  --repeat "$repeat"

stage "4. Publish to API latency, peak RSS"
"$bin/careledger_bench_serve" --rates "$rates" --seconds "$seconds"

stage "5. One area-wide answer from three instances"
# Its own feed of at most 20,000 children: four instances ingest it before it is asked.
"$bin/careledger_bench_fanout" --children "$(( children < 20000 ? children : 20000 ))" \
  --years "$years" --seed "$seed" --requests "$requests"
