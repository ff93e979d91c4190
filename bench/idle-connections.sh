#!/usr/bin/env bash
# Many keep-alive connections at a light open-loop rate, each idle for seconds between its requests:
# how much of the request bodies reaches ZGC's old generation, with Helidon's connection reader as
# Helidon ships it (-Dserval.reader_patch=false) and as Serval's launch agent changes it (the default;
# README, "Running in production"). Alternating, one server per run.
#
#   bench/idle-connections.sh [--connections N] [--rate R] [--seconds S] [--rounds K]
#
# Binary MobileNetV2 (bench/work/repo-mobilenet-batching), Serval with --threads 1 on core 0, the
# load generator on core 1; each run warms 30 s at 10 clients, then sends R requests/s (default 40)
# over N connections (default 500) for S seconds (default 100). From ZGC's log over that window: major
# and minor collections and the megabytes minor collections promoted; from /proc: the ZGC threads'
# and the process's CPU per answer. Default 1 round (unchanged, changed).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONNECTIONS=500 RATE=40 SECONDS_MEASURED=100 ROUNDS=1
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNECTIONS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
mobilenet_setup
body_args "$WORK/mobilenet_b1.bin"
begin_run idle-connections
echo "$CONNECTIONS connections, $RATE requests/s open loop, $SECONDS_MEASURED s" >> "$RUN/machine.txt"
URL="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer"
for round in $(seq "$ROUNDS"); do
  for side in unchanged changed; do
    opts=""; [ $side = unchanged ] && opts="-Dserval.reader_patch=false"
    gc="$RUN/gc-$side-$round.log"
    SERVAL_JAVA_OPTS="$opts -Xlog:gc*:file=$gc:time" start_serval "$RUN/serval-$side-$round.log" "$REPO"
    load_gen --url "$URL" "${BODY_ARGS[@]}" --connections 10 --seconds 30 --quiet > /dev/null
    lines=$(wc -l < "$gc"); z0=$(gc_ticks "$SERVAL_PID"); p0=$(cpu_ticks "$SERVAL_PID"); n0=$(metric_sum serval_inference_requests_total)
    load_gen --url "$URL" "${BODY_ARGS[@]}" --connections "$CONNECTIONS" --rate "$RATE" --seconds "$SECONDS_MEASURED" \
      --quiet > "$RUN/$side-$round.json"
    z1=$(gc_ticks "$SERVAL_PID"); n1=$(metric_sum serval_inference_requests_total)
    tail -n +"$((lines + 1))" "$gc" > "$RUN/gc-window-$side-$round.log"
    answers=$(printf %.0f "$(echo "$n1 - $n0" | bc)")
    majors=$(grep -cE 'Major Collection.*->' "$RUN/gc-window-$side-$round.log" || true)
    minors=$(grep -cE 'Minor Collection.*->' "$RUN/gc-window-$side-$round.log" || true)
    promoted=$(grep -E ' y: +Promoted:' "$RUN/gc-window-$side-$round.log" | awk '{v = $(NF-1); sub("M", "", v); s += v} END {print s + 0}')
    echo "$side round $round: $answers answers, majors $majors, minors $minors, promoted by minors ${promoted} MB," \
      "ZGC $(awk -v d=$((z1 - z0)) -v hz="$CLK_TCK" -v n="$answers" 'BEGIN { printf "%.3f", d / hz * 1000 / n }') ms/answer," \
      "Serval $(cpu_ms_per "$SERVAL_PID" "$p0" "$answers") ms/answer" \
      | tee -a "$RUN/summary.txt"
    stop_pid "$SERVAL_PID"
  done
done
log "raw results in $RUN"
