#!/usr/bin/env bash
# Diagnostic A/B: Serval on the example repository under two JVM option sets, iris over v2 JSON,
# alternating A, B, A, B ... in one run.
#
#   A_OPTS="..." B_OPTS="-Dserval.scheduler.inline_run_limit_us=0" bench/iris-ab.sh [--rounds N] [--requests N]
#
# Each round starts Serval (./serval's flags plus SERVAL_JAVA_OPTS=A_OPTS or B_OPTS, pinned to core
# 0), warms it with 20 s of `hey -c 10` (the JIT needs it), then measures `hey -n N -c 10` (default
# 3 rounds, 100,000 requests; hey pinned to core 1) and the server's CPU and context switches per
# request (/proc). Prints one line per run and saves them under bench/work/results/iris-ab-<time>/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=3 REQUESTS=100000
SERVAL_PORT=${BENCH_SERVAL_PORT:-18000}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
need hey taskset curl python3
find_jdk
ensure_built
"$BENCH/make-bodies.py"
begin_run iris-ab
echo "A_OPTS=${A_OPTS:-} B_OPTS=${B_OPTS:-}" >> "$RUN/machine.txt"
URL="http://127.0.0.1:$SERVAL_PORT/v2/models/iris/infer"
HEY=(-c 10 -m POST -T application/json -D "$WORK/iris.json")
for round in $(seq "$ROUNDS"); do
  for side in A B; do
    if [ $side = A ]; then opts=${A_OPTS:-}; else opts=${B_OPTS:-}; fi
    SERVAL_JAVA_OPTS="$opts" start_serval "$RUN/serval-$side-$round.log" "$ROOT/examples/repository"
    taskset -c "$CLIENT_CORE" hey -z 20s "${HEY[@]}" "$URL" > /dev/null
    ticks=$(cpu_ticks "$SERVAL_PID"); switches=$(ctx_switches "$SERVAL_PID")
    taskset -c "$CLIENT_CORE" hey -n "$REQUESTS" "${HEY[@]}" "$URL" > "$RUN/$side-$round.txt"
    ticks=$(( $(cpu_ticks "$SERVAL_PID") - ticks )); switches=$(( $(ctx_switches "$SERVAL_PID") - switches ))
    printf '%s round %s: %s req/s, %s us CPU/request, %s context switches/request, p50/p99 %s s, status %s\n' "$side" "$round" \
      "$(awk '/Requests\/sec/ {print $2}' "$RUN/$side-$round.txt")" \
      "$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')" \
      "$(awk -v s="$switches" -v n="$REQUESTS" 'BEGIN {printf "%.2f", s / n}')" \
      "$(grep -E '50% in|99% in' "$RUN/$side-$round.txt" | awk '{print $3}' | paste -sd/)" \
      "$(grep -E '^\s+\[[0-9]+\]' "$RUN/$side-$round.txt" | awk '{print $1 $2}' | paste -sd' ')" | tee -a "$RUN/summary.txt"
    stop_pid "$SERVAL_PID"
  done
done
log "raw results in $RUN"
