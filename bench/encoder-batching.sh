#!/usr/bin/env bash
# Issue 3 (P7): the ~200 MB encoder (examples/bench-models/encoder: input_ids and attention_mask
# INT64 [batch, 128], outputs last_hidden_state [batch,128,768] and pooled [batch,768]): per-item
# time of the in-process limit at batch 1, 32, 128, 512, and Serval answering single requests of
# batch 1, 32, 128 over v2 JSON, p50 against the limit at the same batch.
#
#   bench/encoder-batching.sh [--rounds N] [--limit-batches "1 32 128 512"] [--served-batches "1 32 128"]
#
# Both sides compute only `pooled`: the requests name it in "outputs", and the limit
# (dev.serval.bench.load.TokenModelLimit, ORT called directly with Serval's session options,
# --threads 1, pinned to core 0) runs with --output pooled; it also writes the request bodies, so
# both compute on the same token ids (i * 7919 mod 30522; attention_mask all 1).
# Serval: --threads 1, core 0, bench/work/repo-encoder (max_batch_size 512 so a 128-row request is
# one run); the load generator, core 1, closed loop with one connection.
# Each round alternates, per batch: limit, then served. Runs per measurement (each run at batch
# B takes about B x 50 ms on this machine): limit batch 1: 10 s; 32: 4 runs; 128: 2 runs; 512: 1
# run (after 1 untimed run); served batch 1: 100 requests; 32: 4; 128: 2 (after a warm-up).
# Targets: served p50 <= 1.05x the limit's at batch 1; per-item time falls with batch.
# Raw output: bench/work/results/encoder-batching-<time>/. BENCH_QUIET_WAIT=0 skips the quiet wait.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 LIMIT_BATCHES="1 32 128 512" SERVED_BATCHES="1 32 128"
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --limit-batches) LIMIT_BATCHES=$2; shift 2 ;;
    --served-batches) SERVED_BATCHES=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

[ -f "$ENCODER" ] || die "the encoder benchmark model is missing; make it with /usr/bin/python3 examples/python/export_models.py --bench"
need taskset curl python3
find_jdk
limit_jvm_flags
ensure_built
REPO="$WORK/repo-encoder"
model_repo "$REPO" encoder "$ENCODER" "max_batch_size: 512"

limit() { # limit BATCH ARGS...: TokenModelLimit on the server core
  local batch=$1; shift
  taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_CP" dev.serval.bench.load.TokenModelLimit \
    --model "$ENCODER" --threads 1 --batch "$batch" --seq 128 --output pooled "$@"
}
for batch in $SERVED_BATCHES; do
  [ -f "$WORK/encoder_b$batch.json" ] && [ "$WORK/encoder_b$batch.json" -nt "$BENCH_JAR" ] || \
    limit "$batch" --write-json "$WORK/encoder_b$batch.json" 2>/dev/null
done

begin_run encoder-batching
{
  echo "model: $(realpath --relative-to="$ROOT" "$ENCODER") ($(stat -c %s "$ENCODER") bytes), seq 128, output pooled only"
  echo "config.yaml: $(tr '\n' ' ' < "$REPO/encoder/config.yaml")"
  echo "limit: java ${LIMIT_FLAGS[*]} dev.serval.bench.load.TokenModelLimit --threads 1 --seq 128 --output pooled --batch B (B in $LIMIT_BATCHES)"
  for batch in $SERVED_BATCHES; do echo "body batch $batch: bench/work/encoder_b$batch.json ($(stat -c %s "$WORK/encoder_b$batch.json") bytes)"; done
  echo "served: ./serval serve --threads 1 $BENCH_SERVE_OPTS; LoadGenerator closed loop, 1 connection; $ROUNDS rounds"
} >> "$RUN/machine.txt"

start_serval "$RUN/serval.log" "$REPO"
URL="127.0.0.1:$SERVAL_PORT/v2/models/encoder/infer"
curl -s -H 'Content-Type: application/json' --data-binary @"$WORK/encoder_b1.json" "http://$URL" > "$RUN/answer.json"
grep -q '"name":"pooled"' "$RUN/answer.json" && ! grep -q last_hidden_state "$RUN/answer.json" \
  || die "Serval's answer is not only 'pooled'; see $RUN/answer.json"
echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)" >> "$RUN/machine.txt"
log "warm-up: Serval 10 s at batch 1"
load_gen --url "$URL" --body "$WORK/encoder_b1.json" --connections 1 --seconds 10 --quiet > "$RUN/warmup.json"

limit_args() { case $1 in 1) echo "--warmup-runs 5 --seconds 10" ;; 32) echo "--warmup-runs 1 --runs 4" ;;
  128) echo "--warmup-runs 1 --runs 2" ;; *) echo "--warmup-runs 1 --runs 1" ;; esac; }
served_args() { case $1 in 1) echo "--warmup-seconds 2 --requests 100" ;; 32) echo "--warmup-seconds 1 --requests 4" ;;
  *) echo "--warmup-seconds 1 --requests 2" ;; esac; }

ROWS="$RUN/rows.tsv"   # limit|served ROUND BATCH p50_ms per_item_ms
: > "$ROWS"
for round in $(seq "$ROUNDS"); do
  for batch in $LIMIT_BATCHES; do
    # shellcheck disable=SC2046
    limit "$batch" $(limit_args "$batch") > "$RUN/limit-r$round-b$batch.json" 2> "$RUN/limit-r$round-b$batch.log"
    read -r p50 runs < <(jfields "$RUN/limit-r$round-b$batch.json" p50_ms runs)
    echo "limit $round $batch $p50 $(awk -v p="$p50" -v b="$batch" 'BEGIN {printf "%.3f", p / b}') $runs" >> "$ROWS"
    log "round $round limit batch $batch: p50 $p50 ms per run ($runs runs)"
    if [[ " $SERVED_BATCHES " == *" $batch "* ]]; then
      out="$RUN/served-r$round-b$batch.json"
      ticks=$(cpu_ticks "$SERVAL_PID")
      # shellcheck disable=SC2046
      load_gen --url "$URL" --body "$WORK/encoder_b$batch.json" --connections 1 $(served_args "$batch") \
        --timeout-seconds 300 > "$out" 2> "$RUN/served-r$round-b$batch.log"
      read -r p50 n ok errors < <(jfields "$out" latency_ms.p50 completed ok transport_errors)
      echo "served $round $batch $p50 $(awk -v p="$p50" -v b="$batch" 'BEGIN {printf "%.3f", p / b}') $n $ok $errors" >> "$ROWS"
      log "round $round served batch $batch: p50 $p50 ms ($ok of $n answered 2xx, errors $errors)"
    fi
  done
done
read -r RSS HWM < <(memory_kb "$SERVAL_PID")

{
  echo "### Encoder (seq 128, output pooled): in-process limit vs Serval over v2 JSON, $ROUNDS rounds (median, min - max)"
  echo
  echo "Both pinned to core $SERVER_CORE with one ONNX Runtime thread; the load generator (1 connection) pinned to core $CLIENT_CORE."
  echo
  echo "| batch | limit p50 ms per run | limit ms per item | vs batch 1 | served p50 ms | served ms per item | **served / limit (p50)** |"
  echo "|---|---|---|---|---|---|---|"
  for batch in $LIMIT_BATCHES; do
    l() { awk -v b="$batch" -v k="$1" '$1 == "limit" && $3 == b {print $k}' "$ROWS"; }
    s() { awk -v b="$batch" -v k="$1" '$1 == "served" && $3 == b {print $k}' "$ROWS"; }
    vs1=$(for r in $(seq "$ROUNDS"); do
      awk -v r="$r" -v b="$batch" '$1 == "limit" && $2 == r && $3 == b {x = $5} $1 == "limit" && $2 == r && $3 == 1 {y = $5} END {if (y) printf "%.3f\n", x / y}' "$ROWS"; done)
    if [ -n "$(s 4)" ]; then
      ratio=$(for r in $(seq "$ROUNDS"); do
        awk -v r="$r" -v b="$batch" '$2 == r && $3 == b {v[$1] = $4} END {printf "%.3f\n", v["served"] / v["limit"]}' "$ROWS"; done)
      echo "| $batch | $(spread $(l 4)) | $(spread $(l 5)) | $( [ -n "$vs1" ] && echo "$(spread $vs1)x" ) | $(spread $(s 4)) | $(spread $(s 5)) | **$(spread $ratio)x** |"
    else
      echo "| $batch | $(spread $(l 4)) | $(spread $(l 5)) | $( [ -n "$vs1" ] && echo "$(spread $vs1)x" ) | | | |"
    fi
  done
  echo
  echo "Served: $(awk '$1 == "served" {n += $6; ok += $7; e += $8} END {printf "%d requests measured, %d answered 2xx, %d transport errors", n, ok, e}' "$ROWS")."
  echo "Serval resident memory at the end: VmRSS $((RSS / 1024)) MB, peak VmHWM $((HWM / 1024)) MB (model $(( $(stat -c %s "$ENCODER") / 1048576 )) MB)."
  echo "Targets P7: served p50 <= 1.05x the limit at batch 1; per-item time falls with batch."
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
