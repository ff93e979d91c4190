#!/usr/bin/env bash
# Diagnostic: how a fresh Serval's throughput and CPU per answer evolve over its first minutes under
# load (the JIT at work), MobileNetV2 over binary tensors, closed loop.
#
#   bench/warm-up-curve.sh [--clients C] [--windows N] [--window-seconds S]
#
# Serval (--threads 1, pinned to core 0, bench/work/repo-mobilenet-batching as in
# mobilenet-concurrency.sh) starts, then the load generator (core 1) runs N back-to-back windows of
# S seconds (default 12 x 8 s, 10 clients); per window: answers/s, p50, Serval CPU per answer, rows
# per run, ZGC's share, and the C2 compiler threads' CPU so far (ticks). Why it matters: a
# measurement that starts 5 s after launch measures the JIT as much as the server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLIENTS=10 WINDOWS=12 WINDOW_SECONDS=8
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS=$2; shift 2 ;;
    --windows) WINDOWS=$2; shift 2 ;;
    --window-seconds) WINDOW_SECONDS=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
mobilenet_setup
body_args "$WORK/mobilenet_b1.bin"
begin_run warm-up-curve
start_serval "$RUN/serval.log" "$REPO"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
c2_ticks() {
  local t s=0
  for t in /proc/"$SERVAL_PID"/task/*; do
    case "$(cat "$t/comm" 2>/dev/null)" in C2*) s=$((s + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0))) ;; esac
  done
  echo "$s"
}
{
  echo "### A fresh Serval's first $((WINDOWS * WINDOW_SECONDS)) s: MobileNetV2, binary, $CLIENTS clients, back-to-back ${WINDOW_SECONDS} s windows"
  echo
  echo "| window ends (s after the first window began) | answers/s | p50 ms | Serval CPU ms/answer | rows per run | ZGC share | C2 CPU so far (ticks) |"
  echo "|---|---|---|---|---|---|---|"
} > "$RUN/summary.md"
T0=$(date +%s)
for i in $(seq "$WINDOWS"); do
  load_window "$RUN/w$i.json" "$RUN/w$i.log" 0.5 "$WINDOW_SECONDS" --url "$URL" "${BODY_ARGS[@]}" --connections "$CLIENTS" --timeout-seconds 120
  read -r tput p50 < <(jfields "$RUN/w$i.json" ok_throughput latency_ms.p50)
  echo "| $(( $(date +%s) - T0 )) | $tput | $p50 | $W_CPU_MS | $W_ROWS | $W_GC | $(c2_ticks) |" >> "$RUN/summary.md"
  log "window $i: $tput answers/s, CPU $W_CPU_MS ms/answer"
done
cat "$RUN/summary.md"
log "raw results in $RUN"
