#!/usr/bin/env bash
# Serval's load generator (dev.serval.bench.load.LoadGenerator), pinned to the client core (1) like
# the benchmark scripts run it. Every option goes to the generator; --help lists them.
#
#   bench/load.sh --url 127.0.0.1:8000/v2/models/iris/infer --body bench/work/iris.json --connections 10 --seconds 10
#   bench/load.sh --url ... --body ... --rate 500 --connections 64 --warmup-seconds 5 --seconds 30   # open loop
#
# Prints progress each second on stderr and one JSON object on stdout. Builds serval-bench first
# if its jar is missing or stale (./serval build). BENCH_CLIENT_CORE picks another core.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need taskset
find_jdk
limit_jvm_flags
ensure_built
load_gen "$@"
