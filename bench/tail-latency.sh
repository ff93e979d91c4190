#!/usr/bin/env bash
# Issue 3 (P4): tail latency at 70% of saturation, open loop (constant rate, latency from each
# request's intended send time: corrected for coordinated omission). MobileNetV2 over v2 JSON.
#
#   bench/tail-latency.sh [--rounds N] [--fraction F] [--seconds S] [--saturation-seconds S]
#                         [--tail-warmup S] [--warmup-seconds S] [--body FILE]
#
# Serval first runs WARMUP_SECONDS (150) at 10 closed-loop clients (the JIT; see
# bench/mobilenet-concurrency.sh; after 45 s, 2026-12-07: 1.86x, after 150 s 1.66x).
#
# Each round, against one Serval (--threads 1, core 0, bench/work/repo-mobilenet-batching:
# max_batch_size 32, max_queue_size 4096), with the load generator on core 1:
#   saturation  closed loop, 64 connections, 5 s warm-up, SATURATION_SECONDS measured: 2xx/s
#   tail        open loop at FRACTION (0.7) x that round's saturation over 64 connections,
#               TAIL_WARMUP (30) s at that rate first, then SECONDS (30) measured: p50, p95, p99,
#               p99/p50; the requests over 10 ms go to slow-r<round>.txt with the time each was due
#               (to lay beside a GC or JIT log). The open loop's own warm-up matters: one request
#               at a time instead of the saturation's stacks of 2-3 sends the JIT back to work
#               (C2 compilations of the run path 80-90 s after start held requests 10-45 ms).
#   limit       the in-process limit (InProcessLimit --rate, core 0, the server idle) in the same
#               open loop at the same rate for SECONDS: ONNX Runtime's own p99/p50 on this machine,
#               with no server, which no server's can beat.
# Target: p99 <= 1.5x p50. Raw output: bench/work/results/tail-latency-<time>/.
# BENCH_QUIET_WAIT=0 skips the wait for a quiet machine (smoke tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 FRACTION=0.7 SECONDS_MEASURED=30 SAT_SECONDS=15 TAIL_WARMUP=30 BODY="" WARMUP_SECONDS=150
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --fraction) FRACTION=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    --saturation-seconds) SAT_SECONDS=$2; shift 2 ;;
    --tail-warmup) TAIL_WARMUP=$2; shift 2 ;;
    --warmup-seconds) WARMUP_SECONDS=$2; shift 2 ;;
    --body) BODY=$(realpath "$2"); shift 2 ;;  # FILE.json, or FILE.bin (binary tensors)
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

mobilenet_setup   # REPO: the same settings as bench/mobilenet-concurrency.sh
BODY=${BODY:-$WORK/mobilenet_b1.json}
body_args "$BODY"

begin_run tail-latency
{
  echo "model: $(realpath --relative-to="$ROOT" "$MOBILENET"); body $(realpath --relative-to="$ROOT" "$BODY") ($(stat -c %s "$BODY") bytes)"
  echo "config.yaml: $(tr '\n' ' ' < "$REPO/mobilenet_v2/config.yaml")"
  echo "Serval warmed $WARMUP_SECONDS s at 10 clients first; saturation: closed loop, 64 connections, 5 s warm-up, $SAT_SECONDS s; tail: open loop at $FRACTION x saturation, 64 connections, $TAIL_WARMUP s warm-up at that rate, $SECONDS_MEASURED s; $ROUNDS rounds"
  echo "limit: java ${LIMIT_FLAGS[*]} dev.serval.bench.InProcessLimit --threads 1 --rate RATE --warmup-seconds 5 --seconds $SECONDS_MEASURED (RATE: the round's open-loop rate)"
} >> "$RUN/machine.txt"

# The collector's and the JIT's logs, to lay beside slow-r<round>.txt (wall-clock times in both).
SERVAL_JAVA_OPTS="${SERVAL_JAVA_OPTS:-} -Xlog:gc:file=$RUN/gc.log:time -Xlog:jit+compilation=debug:file=$RUN/jit.log:time" \
  start_serval "$RUN/serval.log" "$REPO"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)" >> "$RUN/machine.txt"
log "warm-up: $WARMUP_SECONDS s at 10 clients (C2 compiles for a minute or two under load: see bench/suite.sh warm_up)"
load_gen --url "$URL" "${BODY_ARGS[@]}" --connections 10 --seconds "$WARMUP_SECONDS" --quiet > "$RUN/warmup.json"

ROWS="$RUN/rows.tsv" LIMIT_ROWS="$RUN/limit-rows.tsv"
: > "$ROWS"; : > "$LIMIT_ROWS"
for round in $(seq "$ROUNDS"); do
  load_window "$RUN/saturation-r$round.json" "$RUN/saturation-r$round.log" 5 "$SAT_SECONDS" --url "$URL" "${BODY_ARGS[@]}" --connections 64
  sat_rows=$W_ROWS sat_cpu=$W_CPU_MS sat_busy=$W_BUSY sat_gc=$W_GC
  read -r sat sp50 sp99 < <(jfields "$RUN/saturation-r$round.json" ok_throughput latency_ms.p50 latency_ms.p99)
  rate=$(awk -v s="$sat" -v f="$FRACTION" 'BEGIN {printf "%.2f", s * f}')
  log "round $round: saturation $sat 2xx/s (closed loop 64: p50 $sp50, p99 $sp99 ms); open loop at $rate/s"
  wait_server_idle "$SERVAL_PID"
  out="$RUN/tail-r$round.json"
  load_window "$out" "$RUN/tail-r$round.log" "$TAIL_WARMUP" "$SECONDS_MEASURED" --url "$URL" "${BODY_ARGS[@]}" --connections 64 \
    --rate "$rate" --slow-log "$RUN/slow-r$round.txt" --slow-ms 10
  batch=$W_ROWS
  read -r achieved p50 p95 p99 max non2xx errors lag unsent < <(jfields "$out" open_loop.achieved_rate latency_ms.p50 \
    latency_ms.p95 latency_ms.p99 latency_ms.max non_2xx transport_errors open_loop.send_lag_ms.p99 open_loop.unsent)
  ratio=$(awk -v a="$p99" -v b="$p50" 'BEGIN {printf "%.2f", a / b}')
  echo "$round $sat $rate $achieved $p50 $p95 $p99 $ratio $max $non2xx $errors $lag $batch $W_CPU_MS $unsent $W_BUSY $sat_rows $sat_cpu $sat_busy $sp50 $sp99 $W_GC $sat_gc" >> "$ROWS"
  log "round $round tail at $rate/s (achieved $achieved): p50 $p50, p95 $p95, p99 $p99 ms, p99/p50 $ratio, max $max ms, non-2xx $non2xx, errors $errors, send lag p99 $lag ms, rows/run $batch"
  wait_server_idle "$SERVAL_PID"
  taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_CP" dev.serval.bench.InProcessLimit \
    --model "$MOBILENET" --threads 1 --rate "$rate" --warmup-seconds 5 --seconds "$SECONDS_MEASURED" \
    > "$RUN/limit-r$round.json" 2> "$RUN/limit-r$round.log"
  read -r lp50 lp99 < <(jfields "$RUN/limit-r$round.json" p50_ms p99_ms)
  lratio=$(awk -v a="$lp99" -v b="$lp50" 'BEGIN {printf "%.2f", a / b}')
  echo "$round $lp50 $lp99 $lratio" >> "$LIMIT_ROWS"
  log "round $round in-process limit, open loop at $rate/s: p50 $lp50, p99 $lp99 ms, p99/p50 $lratio"
done

c() { awk -v k="$1" '{print $k}' "$ROWS"; }
{
  echo "### MobileNetV2 over $(body_kind "$BODY"): open loop at $FRACTION x saturation, $ROUNDS rounds (median, min - max)"
  echo
  echo "Serval pinned to core $SERVER_CORE (--threads 1); the load generator pinned to core $CLIENT_CORE. Latency from each request's intended send time."
  echo
  echo "| round | saturation 2xx/s (closed, 64) | rate asked / sent per s | p50 ms | p95 ms | p99 ms | **p99 / p50** | max ms | non-2xx | errors | generator send lag p99 ms | rows per run | Serval CPU ms per answer (cores busy) | ZGC threads' share of that CPU |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s / %s | %s | %s | %s | **%s** | %s | %s | %s | %s | %s | %s (%s) | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $16, $22}' "$ROWS"
  echo "| **median (min - max)** | $(spread $(c 2)) | $(spread $(c 3)) | $(spread $(c 5)) | $(spread $(c 6)) | $(spread $(c 7)) | **$(spread $(c 8))** | $(spread $(c 9)) | $(c 10 | awk '{t += $1} END {print t + 0}') | $(c 11 | awk '{t += $1} END {print t + 0}') | $(spread $(c 12)) | $(spread $(c 13)) | $(spread $(c 14)) ($(spread $(c 16))) | $(spread $(c 22 | tr -d %))% |"
  echo
  echo "Saturation runs (closed loop, 64 connections): p50 $(spread $(c 20)) ms, p99 $(spread $(c 21)) ms, rows per run $(spread $(c 17)),"
  echo "Serval CPU $(spread $(c 18)) ms per answer, $(spread $(c 19)) cores busy, ZGC threads $(spread $(c 23 | tr -d %))% of it."
  echo
  l() { awk -v k="$1" '{print $k}' "$LIMIT_ROWS"; }
  echo "The in-process limit in the same open loop at each round's rate (no server, core $SERVER_CORE): p50 $(spread $(l 2)) ms,"
  echo "p99 $(spread $(l 3)) ms, **p99/p50 $(spread $(l 4))** (rounds: $(l 4 | tr '\n' ' '| sed 's/ $//'))."
  echo
  echo "Target P4: p99 <= 1.5x p50. Requests unsent at the end of the drain: $(c 15 | awk '{t += $1} END {print t + 0}')."
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
