#!/usr/bin/env bash
# Issue 3: overload at 3x saturation. MobileNetV2 over v2 JSON with a per-request deadline
# (parameters.timeout = 2,000,000 us) and a bounded queue (max_queue_size 64): accepted latency,
# rejection (429) latency, answers by status, Serval's resident memory before, during and after,
# then a run at 50% of saturation right after, to show recovery.
#
#   bench/overload.sh [--rounds N] [--factor F] [--seconds S] [--timeout-us U] [--queue N] [--connections N]
#
# Each round, against one Serval (--threads 1, core 0, bench/work/repo-mobilenet-q64:
# max_batch_size 32, max_queue_size QUEUE), with the load generator on core 1:
#   saturation  closed loop, 32 connections (under the queue bound, so nothing is refused), 5 s warm-up, 15 s
#   overload    open loop at FACTOR (3) x saturation over CONNECTIONS (512), 2 s warm-up, SECONDS (20) measured
#   recovery    open loop at 0.5 x saturation, no warm-up, 15 s measured, started as soon as overload ends
# VmRSS / VmHWM of Serval are sampled every 0.5 s. Raw output: bench/work/results/overload-<time>/.
# BENCH_QUIET_WAIT=0 skips the wait for a quiet machine (smoke tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 FACTOR=3 SECONDS_MEASURED=20 TIMEOUT_US=2000000 QUEUE=64 CONNECTIONS=512
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --factor) FACTOR=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    --timeout-us) TIMEOUT_US=$2; shift 2 ;;
    --queue) QUEUE=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

mobilenet_setup "$QUEUE"
BODY="$WORK/mobilenet_b1_timeout.json"
sed "s/^{/{\"parameters\":{\"timeout\":$TIMEOUT_US},/" "$WORK/mobilenet_b1.json" > "$BODY"

begin_run overload
{
  echo "model: $(realpath --relative-to="$ROOT" "$MOBILENET"); body $(realpath --relative-to="$ROOT" "$BODY") ($(stat -c %s "$BODY") bytes, parameters.timeout $TIMEOUT_US us)"
  echo "config.yaml: $(tr '\n' ' ' < "$REPO/mobilenet_v2/config.yaml")"
  echo "saturation: closed loop 32 connections, 5 s warm-up, 15 s; overload: open loop $FACTOR x saturation over $CONNECTIONS connections, 2 s warm-up, $SECONDS_MEASURED s; recovery: open loop 0.5 x saturation, 15 s; $ROUNDS rounds"
} >> "$RUN/machine.txt"

start_serval "$RUN/serval.log" "$REPO"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
# The check goes without the deadline: a cold server on a busy machine may take longer than it.
curl -s -H 'Content-Type: application/json' --data-binary @"$WORK/mobilenet_b1.json" "http://$URL" > "$RUN/answer.json"
grep -q '"shape":\[1,1000\]' "$RUN/answer.json" || die "Serval's answer is not [1,1000] logits; see $RUN/answer.json"
echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)" >> "$RUN/machine.txt"
log "warm-up: 45 s at 10 clients (C2 compiles for about a minute under load: see bench/suite.sh warm_up)"
load_gen --url "$URL" --body "$BODY" --connections 10 --seconds 45 --quiet > "$RUN/warmup.json"
read -r RSS_READY HWM_READY < <(memory_kb "$SERVAL_PID")

ROWS="$RUN/rows.tsv"
: > "$ROWS"
mb() { echo $(( $1 / 1024 )); }
for round in $(seq "$ROUNDS"); do
  load_gen --url "$URL" --body "$BODY" --connections 32 --warmup-seconds 5 --seconds 15 \
    > "$RUN/saturation-r$round.json" 2> "$RUN/saturation-r$round.log"
  sat=$(jfields "$RUN/saturation-r$round.json" ok_throughput)
  over=$(awk -v s="$sat" -v f="$FACTOR" 'BEGIN {printf "%.2f", s * f}')
  half=$(awk -v s="$sat" 'BEGIN {printf "%.2f", s * 0.5}')
  wait_server_idle "$SERVAL_PID"
  read -r rss_before hwm_before < <(memory_kb "$SERVAL_PID")
  log "round $round: saturation $sat 2xx/s; overload at $over/s, recovery at $half/s; RSS before $(mb "$rss_before") MB"

  ( while true; do echo "$(date +%s.%N | cut -c1-14) $(memory_kb "$SERVAL_PID") $(metric_sum serval_inference_queue_depth)"; sleep 0.5; done ) \
    > "$RUN/memory-r$round.log" &
  sampler=$!; started $sampler
  load_gen --url "$URL" --body "$BODY" --connections "$CONNECTIONS" --rate "$over" --warmup-seconds 2 \
    --seconds "$SECONDS_MEASURED" --timeout-seconds 30 --drain-seconds 10 > "$RUN/overload-r$round.json" 2> "$RUN/overload-r$round.log"
  read -r rss_after hwm_after < <(memory_kb "$SERVAL_PID")
  curl -s --max-time 5 "http://127.0.0.1:$SERVAL_PORT/metrics" > "$RUN/metrics-after-overload-r$round.txt" || true
  load_gen --url "$URL" --body "$BODY" --connections 64 --rate "$half" --seconds 15 \
    > "$RUN/recovery-r$round.json" 2> "$RUN/recovery-r$round.log"
  stop_pid $sampler
  read -r rss_rec hwm_rec < <(memory_kb "$SERVAL_PID")
  rss_max=$(awk '{if ($2 > m) m = $2} END {print m + 0}' "$RUN/memory-r$round.log")

  o() { jfields "$RUN/overload-r$round.json" "$@"; }
  read -r sent ok_tput p50 p99 max n200 n429 n504 non2xx errors unsent unfinished < <(o open_loop.achieved_rate ok_throughput \
    latency_ms.p50 latency_ms.p99 latency_ms.max status.200 status.429 status.504 non_2xx transport_errors open_loop.unsent unfinished)
  read -r r429p50 r429p99 r429max e504p50 e504p99 < <(o non_2xx_latency_by_status_ms.429.p50 non_2xx_latency_by_status_ms.429.p99 \
    non_2xx_latency_by_status_ms.429.max non_2xx_latency_by_status_ms.504.p50 non_2xx_latency_by_status_ms.504.p99)
  read -r rtput rp50 rp99 rnon2xx rerrors < <(jfields "$RUN/recovery-r$round.json" ok_throughput latency_ms.p50 latency_ms.p99 non_2xx transport_errors)
  echo "$round $sat $over $sent $ok_tput $p50 $p99 $max $n200 $n429 $n504 $non2xx $errors $r429p50 $r429p99 $r429max $e504p50 $e504p99 $(mb "$rss_before") $(mb "$rss_max") $(mb "$rss_after") $(mb "$hwm_after") $half $rtput $rp50 $rp99 $rnon2xx $rerrors $(mb "$rss_rec") $unsent $unfinished" >> "$ROWS"
  log "round $round overload: sent $sent/s, 2xx $ok_tput/s, accepted p50 $p50 p99 $p99 max $max ms; 200 $n200, 429 $n429 (p50 $r429p50, p99 $r429p99 ms), 504 $n504, errors $errors; RSS $(mb "$rss_before") -> max $(mb "$rss_max") -> $(mb "$rss_after") MB"
  log "round $round recovery at $half/s: $rtput 2xx/s, p50 $rp50, p99 $rp99 ms, non-2xx $rnon2xx, errors $rerrors"
  wait_server_idle "$SERVAL_PID"
done

c() { awk -v k="$1" '{print $k}' "$ROWS"; }
sum() { c "$1" | awk '{t += ($1 == "-" ? 0 : $1)} END {print t + 0}'; }
{
  echo "### MobileNetV2 over v2 JSON at $FACTOR x saturation, deadline $((TIMEOUT_US / 1000)) ms, max_queue_size $QUEUE: $ROUNDS rounds"
  echo
  echo "Serval pinned to core $SERVER_CORE (--threads 1); the load generator pinned to core $CLIENT_CORE; open loop, latency from the intended send time."
  echo
  echo "| round | saturation 2xx/s | offered / sent per s | 2xx/s | accepted p50 / p99 / max ms | 200 | 429 | 429 latency p50 / p99 / max ms | 504 | 504 latency p50 / p99 ms | other non-2xx | transport errors | RSS MB before / max during / after (peak HWM) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s / %s | %s | %s / %s / %s | %s | %s | %s / %s / %s | %s | %s / %s | %d | %s | %s / %s / %s (%s) |\n",
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $14, $15, $16, $11, $17, $18, $12 - ($10 == "-" ? 0 : $10) - ($11 == "-" ? 0 : $11), $13, $19, $20, $21, $22}' "$ROWS"
  echo "| **median (min - max)** | $(spread $(c 2)) | $(spread $(c 3)) / $(spread $(c 4)) | $(spread $(c 5)) | $(spread $(c 6)) / $(spread $(c 7)) / $(spread $(c 8)) | $(sum 9) | $(sum 10) | $(spread $(c 14)) / $(spread $(c 15)) / $(spread $(c 16)) | $(sum 11) | | | $(sum 13) | $(spread $(c 19)) / $(spread $(c 20)) / $(spread $(c 21)) |"
  echo
  echo "Recovery, right after each overload run: open loop at 0.5 x saturation for 15 s."
  echo
  echo "| round | rate per s | 2xx/s | p50 ms | p99 ms | non-2xx | transport errors | RSS MB after |"
  echo "|---|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $23, $24, $25, $26, $27, $28, $29}' "$ROWS"
  echo
  echo "Serval resident memory when ready and warmed up: $(mb "$RSS_READY") MB. Overload requests unsent / unfinished at the end of the drain: $(sum 30) / $(sum 31)."
  echo "Samples every 0.5 s (time, VmRSS kB, VmHWM kB, queue depth): memory-r*.log; /metrics after each overload run: metrics-after-overload-r*.txt."
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
