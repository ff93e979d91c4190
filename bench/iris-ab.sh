#!/usr/bin/env bash
# Diagnostic A/B: Serval on the example repository under two JVM option sets, or two builds, iris
# over v2 JSON, alternating A, B, A, B ... in one run.
#
#   A_OPTS="..." B_OPTS="-Dserval.scheduler.inline_run_limit_us=0" bench/iris-ab.sh [--rounds N] [--requests N]
#   A_JAR=$(bash -c 'source bench/lib.sh; find_jdk; commit_jar main') B_JAR=serval-server/target/serval-server-0.1.0-SNAPSHOT.jar bench/iris-ab.sh
#
# Each round starts Serval (./serval's flags plus SERVAL_JAVA_OPTS=A_OPTS or B_OPTS, pinned to core
# 0, no gRPC listener), warms it with 20 s of `hey -c 10` (the JIT needs it), then measures
# `hey -n N -c 10` (default 3 rounds, 100,000 requests; hey pinned to core 1) and the server's CPU
# and context switches per request (/proc). A_JAR / B_JAR (optional, each defaults to the one jar
# of today: serval-server/target's, or BENCH_SERVER_JAR) serve a side from that server jar as built
# (BENCH_NO_BUILD=1's launch; lib.sh's commit_jar builds one from a commit). Prints one line per run
# and, at the end, each side's median (min - max) and B's over A's; all saved under
# bench/work/results/iris-ab-<time>/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=3 REQUESTS=100000
SERVAL_PORT=${BENCH_SERVAL_PORT:-18000}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
need hey taskset curl python3
find_jdk
DEFAULT_JAR=$SERVER_JAR
for side in A B; do
  jar_var=${side}_JAR
  if [ -n "${!jar_var:-}" ]; then
    [ -f "${!jar_var}" ] || die "$jar_var=${!jar_var}: no such jar"
    printf -v "$jar_var" '%s' "$(realpath "${!jar_var}")"
  fi
done
if [ -z "${A_JAR:-}" ] || [ -z "${B_JAR:-}" ]; then ensure_built; fi
"$BENCH/make-bodies.py"
begin_run iris-ab
{
  echo "A_OPTS=${A_OPTS:-} B_OPTS=${B_OPTS:-}"
  for jar in "${A_JAR:-$DEFAULT_JAR}" "${B_JAR:-$DEFAULT_JAR}"; do
    echo "jar $jar: built $(date -r "$jar" -Is), sha256 $(sha256sum "$jar" | cut -c1-12)"
  done
} >> "$RUN/machine.txt"
URL="http://127.0.0.1:$SERVAL_PORT/v2/models/iris/infer"
HEY=(-c 10 -m POST -T application/json -D "$WORK/iris.json")
A_RPS=() A_CPU=() B_RPS=() B_CPU=()
for round in $(seq "$ROUNDS"); do
  for side in A B; do
    if [ $side = A ]; then opts=${A_OPTS:-} jar=${A_JAR:-}; else opts=${B_OPTS:-} jar=${B_JAR:-}; fi
    if [ -n "$jar" ]; then
      SERVER_JAR=$jar BENCH_NO_BUILD=1 SERVAL_JAVA_OPTS="$opts" start_serval "$RUN/serval-$side-$round.log" \
        "$ROOT/examples/repository" --grpc-port -1
    else
      SERVER_JAR=$DEFAULT_JAR SERVAL_JAVA_OPTS="$opts" start_serval "$RUN/serval-$side-$round.log" \
        "$ROOT/examples/repository" --grpc-port -1
    fi
    taskset -c "$CLIENT_CORE" hey -z 20s "${HEY[@]}" "$URL" > /dev/null
    ticks=$(cpu_ticks "$SERVAL_PID"); switches=$(ctx_switches "$SERVAL_PID")
    taskset -c "$CLIENT_CORE" hey -n "$REQUESTS" "${HEY[@]}" "$URL" > "$RUN/$side-$round.txt"
    ticks=$(( $(cpu_ticks "$SERVAL_PID") - ticks )); switches=$(( $(ctx_switches "$SERVAL_PID") - switches ))
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$RUN/$side-$round.txt")
    cpu=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    if [ $side = A ]; then A_RPS+=("$rps"); A_CPU+=("$cpu"); else B_RPS+=("$rps"); B_CPU+=("$cpu"); fi
    printf '%s round %s: %s req/s, %s us CPU/request, %s context switches/request, p50/p99 %s s, status %s\n' "$side" "$round" \
      "$rps" "$cpu" \
      "$(awk -v s="$switches" -v n="$REQUESTS" 'BEGIN {printf "%.2f", s / n}')" \
      "$(grep -E '50% in|99% in' "$RUN/$side-$round.txt" | awk '{print $3}' | paste -sd/)" \
      "$(grep -E '^\s+\[[0-9]+\]' "$RUN/$side-$round.txt" | awk '{print $1 $2}' | paste -sd' ')" | tee -a "$RUN/summary.txt"
    stop_pid "$SERVAL_PID"
  done
done
ratio() { awk -v a="$(stats "${@:2}" | cut -d' ' -f1)" -v b="$1" 'BEGIN {printf "%.3f", b / a}'; }
{
  echo "A: $(spread "${A_RPS[@]}") req/s, $(spread "${A_CPU[@]}") us CPU/request"
  echo "B: $(spread "${B_RPS[@]}") req/s, $(spread "${B_CPU[@]}") us CPU/request"
  echo "B / A (medians): req/s $(ratio "$(stats "${B_RPS[@]}" | cut -d' ' -f1)" "${A_RPS[@]}")x, CPU/request $(ratio "$(stats "${B_CPU[@]}" | cut -d' ' -f1)" "${A_CPU[@]}")x"
} | tee -a "$RUN/summary.txt"
log "raw results in $RUN"
