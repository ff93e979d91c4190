#!/usr/bin/env bash
# Diagnostic A/B: Serval under two JVM option sets (or environments), MobileNetV2 over binary
# tensors at C closed-loop clients, alternating A, B, A, B ... in one run.
#
#   A_OPTS="" B_OPTS="-Dserval.heap_tuner=false" bench/mobilenet-ab.sh [--clients C] [--rounds N] [--seconds S]
#   A_ENV="SERVAL_SOFT_HEAP=128m" B_ENV="SERVAL_SOFT_HEAP=512m" bench/mobilenet-ab.sh
#
# Each run starts Serval (./serval's flags plus SERVAL_JAVA_OPTS=A_OPTS or B_OPTS and the variables
# of A_ENV or B_ENV, --threads 1 pinned to core 0, bench/work/repo-mobilenet-batching as in
# mobilenet-concurrency.sh), warms it 30 s at 10 clients, then measures S seconds (default 20) at C
# clients (default 256; 10 s generator warm-up): answers/s, p50/p99, rows per run, Serval CPU per
# answer, ZGC's share of it, resident memory at the end. Default 2 rounds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=256 ROUNDS=2 SECONDS_MEASURED=20
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
mobilenet_setup
body_args "$WORK/mobilenet_b1.bin"
begin_run mobilenet-ab
echo "A: SERVAL_JAVA_OPTS=${A_OPTS:-} ${A_ENV:-}; B: SERVAL_JAVA_OPTS=${B_OPTS:-} ${B_ENV:-}; $CLIENTS clients" >> "$RUN/machine.txt"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
for round in $(seq "$ROUNDS"); do
  for side in A B; do
    if [ $side = A ]; then opts=${A_OPTS:-} vars=${A_ENV:-}; else opts=${B_OPTS:-} vars=${B_ENV:-}; fi
    for kv in $vars; do export "${kv?}"; done
    SERVAL_JAVA_OPTS="$opts" start_serval "$RUN/serval-$side-$round.log" "$REPO"
    load_gen --url "$URL" "${BODY_ARGS[@]}" --connections 10 --seconds 30 --quiet > /dev/null
    load_window "$RUN/$side-$round.json" "$RUN/$side-$round.log" 10 "$SECONDS_MEASURED" --url "$URL" "${BODY_ARGS[@]}" \
      --connections "$CLIENTS" --timeout-seconds 120 --drain-seconds 60
    read -r tput p50 p99 < <(jfields "$RUN/$side-$round.json" ok_throughput latency_ms.p50 latency_ms.p99)
    read -r rss _ < <(memory_kb "$SERVAL_PID")
    echo "$side round $round, $CLIENTS clients: $tput answers/s, p50 $p50 ms, p99 $p99 ms, rows/run $W_ROWS, CPU $W_CPU_MS ms/answer, ZGC $W_GC, RSS $((rss / 1024)) MB" \
      | tee -a "$RUN/summary.txt"
    stop_pid "$SERVAL_PID"
    for kv in $vars; do unset "${kv%%=*}"; done
  done
done
log "raw results in $RUN"
