#!/usr/bin/env bash
# Diagnostic: what Serval's hand-off from request (virtual) threads to a model's platform thread
# costs per inference, without HTTP: dev.serval.bench.HandoffCost runs the iris model from 10
# virtual threads, inline, through Serval's ModelScheduler with its inline runs off (executor) and
# on (scheduler-inline), alternating, pinned to core 0 (so the
# JVM, like the pinned server, has one CPU and one carrier thread).
#
#   bench/handoff-cost.sh [--rounds N] [--seconds S] [--clients C] [--model FILE]
#
# --model takes another model (one FP32 input, only its first dimension variable), e.g. MobileNetV2's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case "${1:-}" in -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
need taskset
find_jdk
limit_jvm_flags
ensure_built
MODEL="$ROOT/examples/repository/iris/1/model.onnx"
ARGS=()
while [ $# -gt 0 ]; do
  if [ "$1" = --model ]; then MODEL=$2; shift 2; else ARGS+=("$1"); shift; fi
done
MODEL_NAME=$(basename "$(dirname "$(dirname "$MODEL")")")   # <repository>/<model>/<version>/model.onnx
RUN="$WORK/results/handoff-cost-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN"
wait_quiet
machine_info > "$RUN/machine.txt"
taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_JAR:$ROOT/serval-bench/target/lib/*" \
  dev.serval.bench.HandoffCost --model "$MODEL" "${ARGS[@]}" | tee "$RUN/rounds.jsonl"
field() { grep "\"mode\":\"$1\"" "$RUN/rounds.jsonl" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }
cell() { local m lo hi; read -r m lo hi < <(stats "$@"); printf '%s (%s - %s)' "$m" "$lo" "$hi"; }
{
  echo "### $MODEL_NAME from the client virtual threads on one core: inline vs through ModelScheduler (median, min - max)"
  echo
  echo "| mode | runs/s | process CPU us/run | context switches/run |"
  echo "|---|---|---|---|"
  for mode in inline executor scheduler-inline; do
    echo "| $mode | $(cell $(field $mode runs_per_s)) | $(cell $(field $mode cpu_us_per_run)) | $(cell $(field $mode context_switches_per_run)) |"
  done
  echo
  sed 's/^/    /' "$RUN/machine.txt"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
