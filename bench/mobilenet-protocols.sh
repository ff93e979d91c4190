#!/usr/bin/env bash
# Issue 4: MobileNetV2 at 1 and 10 clients over v2 JSON, binary HTTP (Triton's binary tensor data
# extension) and gRPC (raw_input_contents, through serval-client), beside the in-process limit, and
# the Python peer (FastAPI + pydantic + PyTorch TorchScript, v2 JSON) in the same run.
#
#   bench/mobilenet-protocols.sh [--rounds N] [--seconds S] [--clients "1 10"] [--limit-seconds S] [--warmup-seconds S]
#
# Each round runs, one after the other, every server-side process pinned to core 0 with one
# compute thread and every client pinned to core 1:
#   limit   InProcessLimit --threads 1 at batch 1 and 8 (ONNX Runtime called in a loop on one
#           pre-made input; 3 s warm-up, LIMIT_SECONDS timed)
#   serval  one Serval (--threads 1, bench/work/repo-mobilenet: no config file, so batches of up to
#           32 under the learned ceiling) for each client count and protocol: json and binary from
#           dev.serval.bench.load.LoadGenerator, grpc from GrpcLoadGenerator (the Java client);
#           5 s warm-up in the measuring client's own process, then SECONDS measured; Serval's CPU
#           per answer from /proc over its answers (its /metrics) from the measured phase's first second
#   python  bench/peers/python/fastapi_peer.py (1 uvicorn worker, 1 torch thread, the TorchScript
#           export of the same weights) under the same JSON load
# Before the first round, every Serval path (json, binary, grpc) runs WARMUP_SECONDS (45) at 10 clients
# and the peer 10 s: under load on one core C2 compiles for about a minute (its threads run at
# nice 5), and gRPC's code (Netty, protobuf) is compiled apart from REST's: after 10 s the rounds
# measured the JIT (perf, 2026-12-07: C2 still took 6% of Serval's CPU after 60 s of gRPC load).
# The same image every time: bench/work/mobilenet_b1.json and its binary twin mobilenet_b1.bin.
# Targets: binary and gRPC >= 0.9x the limit's throughput; p50 at one client <= limit p50 + 0.3 ms;
# Serval >= 15x the Python peer. Raw output: bench/work/results/mobilenet-protocols-<time>/.
# BENCH_QUIET_WAIT=0 skips the wait for a quiet machine (smoke tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=3 CLIENTS="1 10" SECONDS_MEASURED=15 LIMIT_SECONDS=5 WARMUP_SECONDS=45
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
GRPC_PORT=$((SERVAL_PORT + 1))
PEER_PORT=$((SERVAL_PORT + 2))
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --seconds) SECONDS_MEASURED=$2; shift 2 ;;
    --limit-seconds) LIMIT_SECONDS=$2; shift 2 ;;
    --warmup-seconds) WARMUP_SECONDS=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 3 ] || log "WARNING: fewer than 3 rounds is a smoke test, not a measurement (PERFORMANCE.md)"

TORCHSCRIPT="$ROOT/examples/bench-models/torchscript/mobilenet_v2.pt"
[ -f "$MOBILENET" ] && [ -f "$TORCHSCRIPT" ] || die "the MobileNetV2 benchmark model is missing; make it with
  /usr/bin/python3 examples/python/export_models.py --bench"
/usr/bin/python3 -c 'import fastapi, uvicorn, torch' 2>/dev/null \
  || die "the Python peer needs Debian's python3-fastapi python3-uvicorn python3-torch under /usr/bin/python3"
need taskset curl python3
find_jdk
limit_jvm_flags
ensure_built
"$BENCH/make-bodies.py"
JSON_BODY="$WORK/mobilenet_b1.json"
BIN_BODY="$WORK/mobilenet_b1.bin"
HEADER_LENGTH=$(cat "$WORK/mobilenet_b1.bin.header")
REPO="$WORK/repo-mobilenet"
model_repo "$REPO" mobilenet_v2 "$MOBILENET"
for port in "$GRPC_PORT" "$PEER_PORT"; do port_free "$port" || die "port $port is in use (set BENCH_SERVAL_PORT)"; done

begin_run mobilenet-protocols

BENCH_SERVE_OPTS="$BENCH_SERVE_OPTS --grpc-port $GRPC_PORT"
log "starting Serval on core $SERVER_CORE (HTTP $SERVAL_PORT, gRPC $GRPC_PORT)"
start_serval "$RUN/serval.log" "$REPO"
log "starting the Python peer on core $SERVER_CORE (port $PEER_PORT)"
(cd "$ROOT" && exec taskset -c "$SERVER_CORE" /usr/bin/python3 bench/peers/python/fastapi_peer.py \
  --model "mobilenet_v2=$TORCHSCRIPT:logits" --port "$PEER_PORT" --workers 1 --torch-threads 1) > "$RUN/peer.log" 2>&1 &
PEER_PID=$!; started $PEER_PID
wait_http "http://127.0.0.1:$PEER_PORT/v2/health/ready" $PEER_PID 120 || die "the Python peer did not start; see $RUN/peer.log"
{
  echo "model: $(realpath --relative-to="$ROOT" "$MOBILENET") (ONNX, $(stat -c %s "$MOBILENET") bytes) and $(realpath --relative-to="$ROOT" "$TORCHSCRIPT") (TorchScript, same weights)"
  echo "bodies: JSON $(stat -c %s "$JSON_BODY") bytes; binary $(stat -c %s "$BIN_BODY") bytes (JSON header $HEADER_LENGTH bytes, outputs asked binary)"
  echo "limit: java ${LIMIT_FLAGS[*]} dev.serval.bench.InProcessLimit --threads 1 --batch B --warmup-seconds 3 --seconds $LIMIT_SECONDS"
  echo "serval command line: $(tr '\0' ' ' < /proc/$SERVAL_PID/cmdline)"
  echo "python peer: /usr/bin/python3 bench/peers/python/fastapi_peer.py --workers 1 --torch-threads 1 ($(/usr/bin/python3 -c 'import fastapi, uvicorn, torch, pydantic; print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__, "torch", torch.__version__, "pydantic", pydantic.VERSION)'))"
  echo "load: Serval warmed $WARMUP_SECONDS s per protocol first; closed loop, clients $CLIENTS, 5 s warm-up in each measuring client process, ${SECONDS_MEASURED} s measured; $ROUNDS rounds"
} >> "$RUN/machine.txt"

# load_for KIND CLIENTS SECONDS [WARMUP]: one closed-loop run against Serval (json, binary, grpc) or the
# peer (python), WARMUP (0) seconds unrecorded first in the same client process.
load_for() {
  local kind=$1 clients=$2 seconds=$3 warmup=${4:-0}
  case "$kind" in
    json) load_gen --url "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" --body "$JSON_BODY" \
            --connections "$clients" --warmup-seconds "$warmup" --seconds "$seconds" ;;
    binary) load_gen --url "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" --body "$BIN_BODY" \
            --content-type application/octet-stream --header "Inference-Header-Content-Length: $HEADER_LENGTH" \
            --connections "$clients" --warmup-seconds "$warmup" --seconds "$seconds" ;;
    grpc) taskset -c "$CLIENT_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -Xms256m -cp "$BENCH_CP" \
            dev.serval.bench.load.GrpcLoadGenerator --target "127.0.0.1:$GRPC_PORT" --model mobilenet_v2 \
            --body "$BIN_BODY" --header-length "$HEADER_LENGTH" --connections "$clients" \
            --warmup-seconds "$warmup" --seconds "$seconds" ;;
    python) load_gen --url "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" --body "$JSON_BODY" \
            --connections "$clients" --warmup-seconds "$warmup" --seconds "$seconds" ;;
  esac
}

# Every path warm before anything is measured (the gRPC path is JIT-compiled apart from REST's).
log "warm-up: $WARMUP_SECONDS s of each Serval protocol at 10 clients, 10 s of the peer"
for kind in json binary grpc python; do
  warm=$WARMUP_SECONDS; [ "$kind" = python ] && warm=10
  load_for "$kind" 10 "$warm" > "$RUN/warmup-$kind.json" 2> "$RUN/warmup-$kind.log"
done

# Rows: limit ROUND BATCH items_per_s p50_ms | run ROUND KIND CLIENTS ok_per_s p50 p95 p99 failed cpu_ms_per_answer
ROWS="$RUN/rounds.tsv"
: > "$ROWS"
for round in $(seq "$ROUNDS"); do
  for batch in 1 8; do
    taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_CP" dev.serval.bench.InProcessLimit \
      --model "$MOBILENET" --threads 1 --batch "$batch" --warmup-seconds 3 --seconds "$LIMIT_SECONDS" \
      > "$RUN/limit-r$round-b$batch.json" 2> "$RUN/limit-r$round-b$batch.log"
    j() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$RUN/limit-r$round-b$batch.json"; }
    items=$(awk -v r="$(j runs_per_s)" -v b="$batch" 'BEGIN {printf "%.2f", r * b}')
    echo "limit $round $batch $items $(j p50_ms)" >> "$ROWS"
    log "round $round limit batch $batch: $items items/s, p50 $(j p50_ms) ms per run"
  done
  for clients in $CLIENTS; do
    for kind in json binary grpc python; do
      pid=$SERVAL_PID; [ "$kind" = python ] && pid=$PEER_PID
      out="$RUN/$kind-r$round-c$clients.json"
      # The client warms up in the process that measures: a fresh JVM's first seconds (grpc-java,
      # Netty and protobuf on the client's side most of all) would otherwise be measured.
      load_for "$kind" "$clients" "$SECONDS_MEASURED" 5 > "$out" 2> "$out.log" &
      gen=$!; started "$gen"
      for _ in $(seq 600); do grep -q "measure" "$out.log" 2>/dev/null && break; kill -0 "$gen" 2>/dev/null || break; sleep 0.05; done
      before=$(cpu_ticks "$pid")
      [ "$kind" = python ] || answered=$(printf %.0f "$(metric_sum serval_inference_requests_total)")
      wait "$gen" || die "the load generator failed; see $out.log"
      read -r ok rate p50 p95 p99 bad < <(jfields "$out" ok ok_throughput latency_ms.p50 latency_ms.p95 latency_ms.p99 non_2xx)
      # CPU from the first second of the measured phase to the end, over the answers in that span:
      # Serval's own count; the peer's, its measured answers scaled to the span.
      if [ "$kind" = python ]; then
        cpu=$(cpu_ms_per "$pid" "$before" "$(awk -v n="$ok" -v s="$SECONDS_MEASURED" 'BEGIN {printf "%.0f", n * (s - 1) / s}')")
      else
        cpu=$(cpu_ms_per "$pid" "$before" "$(( $(printf %.0f "$(metric_sum serval_inference_requests_total)") - answered ))")
      fi
      echo "run $round $kind $clients $rate $p50 $p95 $p99 $bad $cpu" >> "$ROWS"
      log "round $round $kind, $clients client(s): $rate/s, p50 $p50 p95 $p95 p99 $p99 ms, failed $bad, CPU $cpu ms per answer"
    done
  done
done
read -r SV_RSS SV_HWM < <(memory_kb $SERVAL_PID)
read -r PY_RSS PY_HWM < <(memory_kb $PEER_PID)
CEILING=$(metric_sum serval_inference_batch_ceiling)

# ---- the summary ----
limit_col() { awk -v b="$1" -v c="$2" '$1 == "limit" && $3 == b {print $c}' "$ROWS"; }
run_col() { awk -v k="$1" -v n="$2" -v c="$3" '$1 == "run" && $3 == k && $4 == n {print $c}' "$ROWS"; }
# per_round KIND CLIENTS COL OP OTHER_COL_CMD...: per round, KIND's column OP'ed with a value per round
ratio_to_limit() { paste <(run_col "$1" "$2" 5) <(limit_col "$3" 4) | awk '{printf "%.3f\n", $1 / $2}'; }
over_limit_p50() { paste <(run_col "$1" "$2" 6) <(limit_col 1 5) | awk '{printf "%.3f\n", $1 - $2}'; }
vs_python() { paste <(run_col "$1" "$2" 5) <(run_col python "$2" 5) | awk '{printf "%.2f\n", $1 / $2}'; }
{
  echo "### MobileNetV2 over JSON, binary HTTP and gRPC beside the in-process limit and the Python peer, $ROUNDS rounds (median, min - max)"
  echo
  echo "Serval, the Python peer and the limit pinned to core $SERVER_CORE with one compute thread; load generators pinned to core $CLIENT_CORE."
  echo
  echo "| in-process limit, batch | images/s | p50 ms per run |"
  echo "|---|---|---|"
  for batch in 1 8; do echo "| $batch | $(spread $(limit_col $batch 4)) | $(spread $(limit_col $batch 5)) |"; done
  echo
  echo "| clients | protocol | answers/s | **vs limit batch 1** | vs limit batch 8 | p50 ms | **p50 - limit p50 (ms)** | p95 ms | p99 ms | failed | CPU ms per answer | **Serval / Python** |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for clients in $CLIENTS; do
    for kind in json binary grpc python; do
      if [ "$kind" = python ]; then versus="1"; else versus="$(spread $(vs_python $kind $clients))x"; fi
      echo "| $clients | $kind | $(spread $(run_col $kind $clients 5)) | **$(spread $(ratio_to_limit $kind $clients 1))x** | $(spread $(ratio_to_limit $kind $clients 8))x | $(spread $(run_col $kind $clients 6)) | **+$(spread $(over_limit_p50 $kind $clients))** | $(spread $(run_col $kind $clients 7)) | $(spread $(run_col $kind $clients 8)) | $(run_col $kind $clients 9 | awk '{s += $1} END {print s + 0}') | $(spread $(run_col $kind $clients 10)) | **$versus** |"
    done
  done
  echo
  echo "Answers/s are 2xx answers inside the measured window; latencies are theirs, from send (closed loop). \"python\" is the peer;"
  echo "its row's ratios are the peer's. Serval / Python compares each protocol with the peer at the same client count, same round."
  echo "Serval's learned batch ceiling at the end: $CEILING (max_batch_size 32)."
  echo "Resident memory at the end: Serval VmRSS $((SV_RSS / 1024)) MB (peak $((SV_HWM / 1024)) MB); Python peer VmRSS $((PY_RSS / 1024)) MB (peak $((PY_HWM / 1024)) MB)."
  echo
  echo "Targets (issue 4): binary and gRPC >= 0.9x the limit's throughput; p50 at one client <= limit + 0.3 ms; Serval >= 15x the Python peer."
  echo
  machine_footer "$RUN"
} > "$RUN/summary.md"
cat "$RUN/summary.md"
log "raw results in $RUN"
FAILED=$(awk '$1 == "run" {s += $9} END {print s + 0}' "$ROWS")
[ "$FAILED" -eq 0 ] || { log "FAILED: $FAILED failed requests (see $RUN)"; exit 1; }
