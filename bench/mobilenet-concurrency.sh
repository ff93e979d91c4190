#!/usr/bin/env bash
# Issue 3 (P2 / P6): MobileNetV2 over v2 JSON at 1, 10, 64, 256 and 2,000 concurrent clients
# (closed loop), beside the in-process limit at batch 1 and at its best batch.
#
#   bench/mobilenet-concurrency.sh [--rounds N] [--clients "1 10 64 256 2000 2000r"] [--batches "1 4 8 16 32"]
#                                  [--seconds S] [--limit-seconds S] [--body FILE] [--warmup-seconds S]
#
# Each round runs, alternating limit and server:
#   limit   InProcessLimit --threads 1 at each batch (3 s warm-up, LIMIT_SECONDS timed), pinned to core 0
#   warm-up Serval first runs WARMUP_SECONDS (150) at 10 clients: under saturation on one core C2
#           (at nice 5) keeps compiling for a few minutes, and a run warmed 45 s measured part of
#           that (2026-12-07: 184 -> 211 answers/s from 1 to 64 clients after 45 s, 225 -> 222
#           after 150 s)
#   served  Serval (--threads 1, pinned to core 0; bench/work/repo-mobilenet-batching: max_batch_size 32,
#           max_queue_size 4096, default queue delay 500 us) under the load generator (closed loop,
#           pinned to core 1) at each client count: warm-up max(5, clients / 50) s, then SECONDS measured.
#           A count ending in r (2000r) is the same load from clients that honour Retry-After (after a
#           429 a client waits the 1 s Serval asks for), to tell a retry storm from a server limit.
# Per client count: throughput (2xx/s), p50/p95/p99 of 2xx answers, non-2xx and transport errors,
# mean rows per run (serval_inference_batch_size from /metrics), Serval CPU per answered request
# (/proc/PID/stat) and the ratio to the limit's best-batch items/s in the same round.
# Targets: at 64+ clients >= 0.9x the limit's best batch; throughput never falls as clients grow.
# Raw output: bench/work/results/mobilenet-concurrency-<time>/ (summary.md is the table).
# BENCH_QUIET_WAIT=0 skips the wait for a quiet machine (smoke tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 CLIENTS="1 10 64 256 2000 2000r" BATCHES="1 4 8 16 32" SECONDS_MEASURED=20 LIMIT_SECONDS=5 BODY="" WARMUP_SECONDS=150
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    --limit-seconds) LIMIT_SECONDS=$2; shift 2 ;;
    --body) BODY=$(realpath "$2"); shift 2 ;;  # FILE.json, or FILE.bin (binary tensors)
    --warmup-seconds) WARMUP_SECONDS=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

mobilenet_setup
BODY=${BODY:-$WORK/mobilenet_b1.json}
body_args "$BODY"

begin_run mobilenet-concurrency
{
  echo "model: $(realpath --relative-to="$ROOT" "$MOBILENET") ($(stat -c %s "$MOBILENET") bytes); body $(realpath --relative-to="$ROOT" "$BODY") ($(stat -c %s "$BODY") bytes)"
  echo "config.yaml: $(tr '\n' ' ' < "$REPO/mobilenet_v2/config.yaml")"
  echo "limit: java ${LIMIT_FLAGS[*]} dev.serval.bench.InProcessLimit --threads 1 --batch B --warmup-seconds 3 --seconds $LIMIT_SECONDS (B in $BATCHES)"
  echo "served: ./serval serve --threads 1 $BENCH_SERVE_OPTS, warmed $WARMUP_SECONDS s at 10 clients; load: LoadGenerator closed loop, clients $CLIENTS, warm-up max(5, clients/50) s, $SECONDS_MEASURED s measured; $ROUNDS rounds"
} >> "$RUN/machine.txt"

log "starting Serval on core $SERVER_CORE"
start_serval "$RUN/serval.log" "$REPO"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
curl -s -H 'Content-Type: application/json' --data-binary @"$WORK/mobilenet_b1.json" "http://$URL" > "$RUN/answer.json"
grep -q '"shape":\[1,1000\]' "$RUN/answer.json" || die "Serval's answer is not [1,1000] logits; see $RUN/answer.json"
echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)" >> "$RUN/machine.txt"
log "warm-up: Serval $WARMUP_SECONDS s at 10 clients (C2 compiles for a minute or two under load: see bench/suite.sh warm_up)"
load_gen --url "$URL" "${BODY_ARGS[@]}" --connections 10 --seconds "$WARMUP_SECONDS" --quiet > "$RUN/warmup.json"

ROWS="$RUN/rows.tsv"   # limit ROUND BATCH items_per_s p50_ms | served ROUND CLIENTS ...
: > "$ROWS"
for round in $(seq "$ROUNDS"); do
  for batch in $BATCHES; do
    taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_CP" dev.serval.bench.InProcessLimit \
      --model "$MOBILENET" --threads 1 --batch "$batch" --warmup-seconds 3 --seconds "$LIMIT_SECONDS" \
      > "$RUN/limit-r$round-b$batch.json" 2> "$RUN/limit-r$round-b$batch.log"
    read -r ips p50 < <(jfields "$RUN/limit-r$round-b$batch.json" items_per_s p50_ms)
    echo "limit $round $batch $ips $p50" >> "$ROWS"
    log "round $round limit batch $batch: $ips items/s, p50 $p50 ms"
  done
  for level in $CLIENTS; do
    clients=${level%r} polite=()
    [ "$level" != "$clients" ] && polite=(--honor-retry-after)
    warmup=$(( clients / 50 > 5 ? clients / 50 : 5 ))
    out="$RUN/served-r$round-c$level.json"
    # From 1,000 clients on, a thread dump halfway through shows where Serval's threads wait.
    dump() {
      local asked; asked=$(date -u +%T.%N | cut -c1-12)
      thread_summary "$SERVAL_PID" "$RUN/threads-r$round-c$level"
      echo "(requested at $asked UTC, halfway through the measured window; jcmd returned at $(date -u +%T) UTC)" >> "$RUN/threads-r$round-c$level.txt"
    }
    W_MIDDLE_HOOK=""; [ "$clients" -ge 1000 ] && W_MIDDLE_HOOK=dump
    load_window "$out" "$RUN/served-r$round-c$level.log" "$warmup" "$SECONDS_MEASURED" --url "$URL" "${BODY_ARGS[@]}" \
      --connections "$clients" --timeout-seconds 120 --drain-seconds 60 "${polite[@]}"
    read -r rss hwm < <(memory_kb "$SERVAL_PID")
    read -r tput p50 p95 p99 non2xx errors unfinished < <(jfields "$out" ok_throughput latency_ms.p50 latency_ms.p95 \
      latency_ms.p99 non_2xx transport_errors unfinished)
    echo "served $round $level $tput $p50 $p95 $p99 $non2xx $errors $W_ROWS $W_CPU_MS $((rss / 1024)) $((hwm / 1024)) $unfinished $W_BUSY $W_SWITCH $W_SCRAPE $W_GC" >> "$ROWS"
    log "round $round served $level clients: $tput 2xx/s, p50 $p50 p95 $p95 p99 $p99 ms, non-2xx $non2xx, errors $errors, rows/run $W_ROWS, CPU $W_CPU_MS ms/answer ($W_BUSY cores), RSS $((rss / 1024)) MB"
    wait_server_idle "$SERVAL_PID"
  done
done

# ---- the summary ----
best_of_round() { awk -v r="$1" '$1 == "limit" && $2 == r && $4 > m {m = $4} END {print m}' "$ROWS"; }
b1_of_round() { awk -v r="$1" '$1 == "limit" && $2 == r && $3 == 1 {print $4}' "$ROWS"; }
best_batch() { awk -v r="$1" -v m="$(best_of_round "$1")" '$1 == "limit" && $2 == r && $4 == m {print $3; exit}' "$ROWS"; }
ratio() { # ratio CLIENTS WHICH: per round, served 2xx/s over the limit's (best|b1) items/s
  for round in $(seq "$ROUNDS"); do
    s=$(awk -v r="$round" -v c="$1" '$1 == "served" && $2 == r && $3 == c {print $4}' "$ROWS")
    l=$([ "$2" = best ] && best_of_round "$round" || b1_of_round "$round")
    awk -v s="$s" -v l="$l" 'BEGIN {printf "%.3f\n", s / l}'
  done
}
{
  echo "### MobileNetV2 over $(body_kind "$BODY"): clients vs the in-process limit, $ROUNDS rounds (median, min - max)"
  echo
  echo "Serval and the limit pinned to core $SERVER_CORE with one ONNX Runtime thread; the load generator (closed loop) pinned to core $CLIENT_CORE."
  echo
  echo "| in-process limit, batch | items/s | p50 ms per run |"
  echo "|---|---|---|"
  for batch in $BATCHES; do
    l() { awk -v b="$batch" -v k="$1" '$1 == "limit" && $3 == b {print $k}' "$ROWS"; }
    echo "| $batch | $(spread $(l 4)) | $(spread $(l 5)) |"
  done
  echo
  echo "Best batch per round: $(for r in $(seq "$ROUNDS"); do printf '%s ' "$(best_batch "$r")"; done)"
  echo
  echo "| clients | 2xx/s | vs limit best batch | vs limit batch 1 | p50 ms | p95 ms | p99 ms | non-2xx | transport errors | rows per run | Serval CPU ms per answer (cores busy) | ZGC threads' share of that CPU | context switches per answer | RSS MB (peak) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for c in $CLIENTS; do
    s() { awk -v c="$c" -v k="$1" '$1 == "served" && $3 == c {print $k}' "$ROWS"; }
    total() { s "$1" | awk '{t += $1} END {print t + 0}'; }
    label=$c; [ "${c%r}" != "$c" ] && label="${c%r}, honouring Retry-After"
    echo "| $label | $(spread $(s 4)) | **$(spread $(ratio "$c" best))x** | $(spread $(ratio "$c" b1))x | $(spread $(s 5)) | $(spread $(s 6)) | $(spread $(s 7)) | $(total 8) | $(total 9) | $(spread $(s 10)) | $(spread $(s 11)) ($(spread $(s 15))) | $(spread $(s 18 | tr -d %))% | $(spread $(s 16)) | $(s 12 | sort -n | tail -1) ($(s 13 | sort -n | tail -1)) |"
  done
  echo
  echo "Throughput is 2xx answers ending inside the measured $SECONDS_MEASURED s, per second; latencies are those answers' (closed loop, from send)."
  echo "non-2xx and transport errors are totals over the rounds; unfinished at the end of the drain: $(awk '$1 == "served" {t += $14} END {print t + 0}' "$ROWS")."
  echo "Rows per run (/metrics), CPU and context switches per answer (/proc, all of Serval's threads) are sampled at the edges of the measured window."
  echo "Slowest /metrics scrape at a window edge, per client count (s): $(for c in $CLIENTS; do printf '%s: %s; ' "$c" "$(awk -v c="$c" '$1 == "served" && $3 == c {print $17}' "$ROWS" | sort -g | tail -1)"; done)"
  for f in "$RUN"/threads-r1-c*.txt; do
    [ -f "$f" ] || continue
    echo
    echo "Serval's threads halfway through round 1 at $(basename "$f" .txt | sed 's/.*-c//') clients (jcmd Thread.dump_to_file; $(basename "$f" .txt).json):"
    echo
    sed 's/^/    /' "$f"
  done
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
