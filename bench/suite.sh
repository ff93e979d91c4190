#!/usr/bin/env bash
# The benchmark suite: Serval beside its peers, scenario by scenario, and one report.
#
#   bench/suite.sh quick|full|smoke [--only "hello mobilenet ..."] [--rounds N] [--run-id ID]
#   ./serval bench suite quick          # the same
#
# Sets (each a list of scenarios; --only picks from them):
#   quick  hello mobilenet concurrency                          (3 rounds, short loads; ~11 min)
#   full   hello mobilenet encoder memory concurrency tail gc   (3 rounds; ~60-90 min)
#   smoke  hello with Serval and the Go peer only, a few hundred requests, 1 round (proves the wiring)
# Scenarios:
#   hello        10 clients, a fixed request count (hey -n N -c 10 style): Go net/http and Flask +
#                gunicorn constant /predict, Serval's constant GET /v2/health/ready, Serval iris over
#                v2 JSON, and the FastAPI peer on iris when a TorchScript export of it exists
#   mobilenet    MobileNetV2, 10 clients: Serval over JSON, binary and gRPC, the FastAPI + TorchScript
#                peer over JSON, the in-process limit at batch 1 and 8; resident memory of each
#   encoder      the ~200 MB encoder: Serval and the limit at batch 1 (single-request latency), 32, 128
#                (and the limit at 512)
#   memory       resident memory with one model loaded (linear_50m, mobilenet_v2, encoder, mlp_1g),
#                Serval vs the FastAPI peer (all worker processes counted), after a few requests
#   concurrency  MobileNetV2, clients 1 -> 256 (quick: 1 16 64): Serval binary and JSON, the peer (up to 64)
#   tail         open loop at 70% of each system's measured saturation: p95/p50 and p99/p50
#   gc           Serval under open-loop load over many connections: the largest ZGC pause (-Xlog:gc)
# Before a scenario's rounds each system gets the same unrecorded warm-up load (quick 15 s, full 30 s
# per endpoint): the JIT needs it. Every server runs pinned to core $BENCH_SERVER_CORE (0) with one compute thread (Serval --threads 1,
# uvicorn 1 worker with 1 torch thread, gunicorn 2 sync workers, Go GOMAXPROCS = 1 under the pin);
# the load generator (./serval bench run) to core $BENCH_CLIENT_CORE (1). Systems take turns within
# each round. Traffic goes to 127.0.0.1 only. Each process the suite starts is stopped by its PID.
# Missing peers are installed from Debian (as root or with passwordless sudo; BENCH_INSTALL=0 never
# installs); a peer or model still missing makes a skip record that the report lists, with its reason.
# Models: BENCH_MODELS (default examples/bench-models, made by
#   /usr/bin/python3 examples/python/export_models.py --bench).
# Output: bench/results/<run-id>/ (one results JSON per load, logs, machine.txt) and
# bench/results/<run-id>/report/{report.html,summary.md,charts/}. BENCH_QUIET_WAIT as in lib.sh
# (smoke: 0). Ports: BENCH_SERVAL_PORT (18001) and the next four.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; }
MODE=${1:-}
case "$MODE" in
  quick|full|smoke) shift ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; die "give a set: quick, full or smoke" ;;
esac
ONLY="" ROUNDS_OPT="" RUN_ID=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$2; shift 2 ;;
    --rounds) ROUNDS_OPT=$2; shift 2 ;;
    --run-id) RUN_ID=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# ---- the sets: what runs, how long ----
case "$MODE" in
  smoke) SCENARIOS="hello"; ROUNDS=1; WARM=0.5; HELLO_N=300; SECS=1; SMOKE=1; SERVER_WARM=0
         export BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-0} ;;
  quick) SCENARIOS="hello mobilenet concurrency"; ROUNDS=3; WARM=2; HELLO_N=20000; SECS=5; SERVER_WARM=15
         SWEEP="1 16 64"; SWEEP_SECS=4; SMOKE=0 ;;
  full)  SCENARIOS="hello mobilenet encoder memory concurrency tail gc"; ROUNDS=3; WARM=5; HELLO_N=100000; SERVER_WARM=30
         SECS=15; SWEEP="1 4 16 64 256"; SWEEP_SECS=10; SMOKE=0 ;;
esac
[ -z "$ROUNDS_OPT" ] || ROUNDS=$ROUNDS_OPT
[ -z "$ONLY" ] || SCENARIOS=$ONLY
for s in $SCENARIOS; do
  case "$s" in hello|mobilenet|encoder|memory|concurrency|tail|gc) ;; *) die "unknown scenario '$s'" ;; esac
done
MODELS_DIR=${BENCH_MODELS:-$ROOT/examples/bench-models}
SERVAL_PORT=${BENCH_SERVAL_PORT:-18001}
GRPC_PORT=$((SERVAL_PORT + 1)) PEER_PORT=$((SERVAL_PORT + 2)) GO_PORT=$((SERVAL_PORT + 3)) FLASK_PORT=$((SERVAL_PORT + 4))
RUN_ID=${RUN_ID:-$(date -u +%Y%m%d-%H%M%S)-$MODE}
OUT="$BENCH/results/$RUN_ID"
FAILURES=0

need taskset curl python3
find_jdk
limit_jvm_flags
ensure_built
mkdir -p "$OUT"
trap stop_started EXIT
wait_quiet
{ machine_info; code_info; echo "suite: $MODE, scenarios: $SCENARIOS, rounds: $ROUNDS"; } > "$OUT/machine.txt"
start_load_monitor "$OUT/load.log"
"$BENCH/make-bodies.py" 2> /dev/null

# ---- the tools ----

# stop_own PID: stops a process this suite started and forgets it, so that the exit trap never
# signals a PID the system may since have given to another process.
stop_own() {
  stop_pid "$1"
  local keep=() p
  for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  STARTED_PIDS=(${keep[@]+"${keep[@]}"})
}

# bench_java ARGS...: ./serval bench's Java side, pinned to the client core.
bench_java() {
  taskset -c "$CLIENT_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -Xms256m -Djava.awt.headless=true \
    -cp "$BENCH_CP" dev.serval.bench.Bench "$@"
}

# measure SCENARIO SYSTEM PROTOCOL PID ROUND ARGS...: one `bench run` (ARGS: --url, --clients ...),
# its results file and log in $OUT/SCENARIO/. A failed run is logged and counted, not fatal.
measure() {
  local scenario=$1 system=$2 protocol=$3 pid=$4 round=$5; shift 5
  local name dir="$OUT/$scenario"
  name="$system-$protocol-$(printf '%s' "$*" | sed -n 's/.*--clients \([0-9]*\).*/c\1/p')$(printf '%s' "$*" | sed -n 's/.*--rate \([0-9.]*\).*/-rate\1/p')-r$round"
  mkdir -p "$dir"
  if ! bench_java run --run-id "$RUN_ID" --scenario "$scenario" --system "$system" --protocol "$protocol" \
      --pid "$pid" --repetition "$round" --max-seconds 900 --out "$dir/$name.json" "$@" 2> "$dir/$name.log"; then
    log "WARNING: $scenario / $system / $protocol failed; see $dir/$name.log"
    FAILURES=$((FAILURES + 1))
    return 0
  fi
  log "$(tail -1 "$dir/$name.log")"
  LAST_RESULT="$dir/$name.json"
}

# warm_up PID LOAD...: SERVER_WARM seconds of the load (./serval bench run options without
# --seconds/--requests), not recorded, before a scenario's rounds; every system gets the same. The
# per-measurement --warmup-seconds is too short for the JVM: under load on its one core, C2 kept
# compiling for about a minute after a start, and a fresh Serval answered MobileNetV2 at 10 clients
# 166/s in its first 8 s against 215-224/s from 40 s on (bench/warm-up-curve.sh, 2026-12-07).
warm_up() {
  local pid=$1; shift
  [ "${SERVER_WARM:-0}" != 0 ] || return 0
  mkdir -p "$WORK/suite-warmup"
  bench_java run --run-id warmup --scenario warmup --system warmup --pid "$pid" --max-seconds 300 \
    --out "$WORK/suite-warmup/last.json" "$@" --warmup-seconds 0 --seconds "$SERVER_WARM" > /dev/null 2>&1 \
    || log "WARNING: a warm-up load failed (ignored)"
}

# skip SCENARIO SYSTEM REASON: a skip record for the report.
skip() {
  mkdir -p "$OUT/$1"
  bench_java skip --run-id "$RUN_ID" --scenario "$1" --system "$2" --reason "$3" \
    --out "$OUT/$1/skip-$(printf '%s' "$2" | tr -c 'A-Za-z0-9_-' _).json" 2> /dev/null || true
  log "SKIP $1 / $2: $3"
}

# json_get FILE KEY.PATH: a value of a results file.
json_get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"; }

# add_metric FILE NAME VALUE: a measured value added to a results file's metrics.
add_metric() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.setdefault("metrics",{})[sys.argv[2]]=float(sys.argv[3])
open(sys.argv[1],"w").write(json.dumps(d,indent=2,sort_keys=True)+"\n")' "$1" "$2" "$3"; }

# have_or_install CHECK PACKAGES...: CHECK (a shell command) succeeds, after installing PACKAGES from
# Debian if it did not (root or passwordless sudo only; BENCH_INSTALL=0 never installs).
have_or_install() {
  local check=$1 sudo=""; shift
  eval "$check" > /dev/null 2>&1 && return 0
  [ "${BENCH_INSTALL:-1}" = 1 ] || return 1
  if [ "$(id -u)" != 0 ]; then sudo -n true 2> /dev/null || return 1; sudo="sudo -n"; fi
  log "installing $* from Debian"
  { $sudo apt-get install -y --no-install-recommends "$@" || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "$@"; }; } \
    >> "$OUT/apt.log" 2>&1 || return 1
  eval "$check" > /dev/null 2>&1
}

py_versions() {
  /usr/bin/python3 -c 'import importlib.metadata as m
print(" ".join(p + " " + m.version(p) for p in ("fastapi", "uvicorn", "torch", "pydantic")))' 2> /dev/null || echo unknown
}

SERVAL_META=(--meta "serval_commit=$(cd "$ROOT" && git rev-parse --short HEAD 2> /dev/null || echo unknown)"
             --meta "serve_options=--threads 1 $BENCH_SERVE_OPTS")

# start_go: the Go peer on GO_PORT (GO_PID); false when Go is missing and cannot be installed.
start_go() {
  have_or_install "command -v go" golang-go || return 1
  (ensure_go_peer) || return 1
  port_free "$GO_PORT" || { log "port $GO_PORT is in use"; return 1; }
  (exec taskset -c "$SERVER_CORE" "$WORK/go-peer" -port "$GO_PORT") > "$OUT/go-peer.log" 2>&1 &
  GO_PID=$!; started $GO_PID
  wait_http "http://127.0.0.1:$GO_PORT/predict" $GO_PID 30
}

# start_flask: Flask + gunicorn (2 sync workers) on FLASK_PORT (FLASK_PID).
start_flask() {
  have_or_install "/usr/bin/python3 -c 'import flask' && command -v gunicorn" python3-flask gunicorn || return 1
  port_free "$FLASK_PORT" || { log "port $FLASK_PORT is in use"; return 1; }
  (cd "$BENCH/peers/python" && exec taskset -c "$SERVER_CORE" gunicorn --workers 2 --bind "127.0.0.1:$FLASK_PORT" \
    flask_peer:app) > "$OUT/flask-peer.log" 2>&1 &
  FLASK_PID=$!; started $FLASK_PID
  wait_http "http://127.0.0.1:$FLASK_PORT/health" $FLASK_PID 60
}

# start_fastapi NAME=FILE.pt:outputs...: the FastAPI + TorchScript peer on PEER_PORT (PY_PID).
start_fastapi() {
  have_or_install "/usr/bin/python3 -c 'import fastapi, uvicorn, torch'" python3-fastapi python3-uvicorn python3-torch || return 1
  port_free "$PEER_PORT" || { log "port $PEER_PORT is in use"; return 1; }
  local args=() spec
  for spec in "$@"; do args+=(--model "$spec"); done
  (cd "$ROOT" && exec taskset -c "$SERVER_CORE" /usr/bin/python3 bench/peers/python/fastapi_peer.py "${args[@]}" \
    --port "$PEER_PORT" --workers 1 --torch-threads 1) > "$OUT/fastapi-peer-$(date +%H%M%S).log" 2>&1 &
  PY_PID=$!; started $PY_PID
  wait_http "http://127.0.0.1:$PEER_PORT/v2/health/ready" $PY_PID 300
}
PY_META=(--meta "config=1 uvicorn worker, 1 torch thread, def handlers, TorchScript of the same weights"
         --meta "versions=$(py_versions)")

# serval_on REPO [serve options...]: Serval (./serval serve --threads 1) on REPO, pinned (SERVAL_PID).
serval_on() { start_serval "$OUT/serval-$(date +%H%M%S).log" "$@"; }

# limit SCENARIO ROUND BATCH ITEMS_PER_REQUEST SYSTEM MODEL: the in-process limit, imported as a result.
limit() {
  local scenario=$1 round=$2 batch=$3 items=$4 system=$5 model=$6 raw
  mkdir -p "$OUT/$scenario"; raw="$OUT/$scenario/$system-b$batch-r$round.limit.out"
  if taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_CP" dev.serval.bench.InProcessLimit \
      --model "$model" --threads 1 --batch "$batch" --warmup-seconds "$WARM" --seconds "$SECS" > "$raw" 2> "$raw.log"; then
    bench_java import-limit --in "$raw" --items-per-request "$items" --run-id "$RUN_ID" --scenario "$scenario" \
      --system "$system" --repetition "$round" --meta "batch=$batch" --out "$OUT/$scenario/$system-b$batch-r$round.json"
  else
    log "WARNING: the limit failed; see $raw.log"; FAILURES=$((FAILURES + 1))
  fi
}

MOBILENET_ONNX="$MODELS_DIR/mobilenet_v2/1/model.onnx"
MOBILENET_PT="$MODELS_DIR/torchscript/mobilenet_v2.pt"
NO_MODELS="missing under $MODELS_DIR: make the benchmark models with /usr/bin/python3 examples/python/export_models.py --bench"

# ---- the scenarios ----

scenario_hello() {
  local s=hello round go=0 flask=0 py=0 iris_pt="$MODELS_DIR/torchscript/iris.pt"
  local load=(--clients 10 --warmup-seconds "$WARM" --requests "$HELLO_N")
  serval_on "$ROOT/examples/repository"
  if start_go; then go=1; else skip $s go-constant "the Go peer could not start: golang-go missing and not installable here (apt-get install golang-go)"; fi
  if [ "$SMOKE" = 0 ]; then
    if start_flask; then flask=1; else skip $s flask-gunicorn-constant "Flask + gunicorn missing and not installable here (apt-get install python3-flask gunicorn)"; fi
    if [ -f "$iris_pt" ]; then
      if start_fastapi "iris=$iris_pt:logits,probabilities"; then py=1; else skip $s python-fastapi "the FastAPI peer did not start (python3-fastapi python3-uvicorn python3-torch)"; fi
    else
      skip $s python-fastapi "no TorchScript export of the iris model ($iris_pt): make it with /usr/bin/python3 examples/python/export_models.py --bench"
    fi
  fi
  local warm=(--clients 10 --timeout-seconds 60)
  warm_up "$SERVAL_PID" --protocol http --url "127.0.0.1:$SERVAL_PORT/v2/health/ready" "${warm[@]}"
  warm_up "$SERVAL_PID" --protocol rest-json --url "127.0.0.1:$SERVAL_PORT/v2/models/iris/infer" --body "$WORK/iris.json" "${warm[@]}"
  [ $go = 0 ] || warm_up "$GO_PID" --protocol http --url "127.0.0.1:$GO_PORT/predict" "${warm[@]}"
  [ $flask = 0 ] || warm_up "$FLASK_PID" --protocol http --url "127.0.0.1:$FLASK_PORT/predict" "${warm[@]}"
  [ $py = 0 ] || warm_up "$PY_PID" --protocol rest-json --url "127.0.0.1:$PEER_PORT/v2/models/iris/infer" --body "$WORK/iris.json" "${warm[@]}"
  for round in $(seq "$ROUNDS"); do
    measure $s serval-constant http "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/health/ready" "${load[@]}" "${SERVAL_META[@]}"
    measure $s serval rest-json "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/models/iris/infer" --body "$WORK/iris.json" "${load[@]}" "${SERVAL_META[@]}"
    [ $go = 0 ] || measure $s go-constant http "$GO_PID" "$round" --url "127.0.0.1:$GO_PORT/predict" "${load[@]}" --meta "versions=$(go version 2> /dev/null)"
    [ $flask = 0 ] || measure $s flask-gunicorn-constant http "$FLASK_PID" "$round" --url "127.0.0.1:$FLASK_PORT/predict" "${load[@]}" \
      --meta "config=gunicorn 2 sync workers" --meta "versions=$(gunicorn --version 2>&1)"
    [ $py = 0 ] || measure $s python-fastapi rest-json "$PY_PID" "$round" --url "127.0.0.1:$PEER_PORT/v2/models/iris/infer" --body "$WORK/iris.json" "${load[@]}" "${PY_META[@]}"
  done
  stop_own "$SERVAL_PID"; [ $go = 0 ] || stop_own "$GO_PID"; [ $flask = 0 ] || stop_own "$FLASK_PID"; [ $py = 0 ] || stop_own "$PY_PID"
}

scenario_mobilenet() {
  local s=mobilenet-10 round py=0 load=(--clients 10 --warmup-seconds "$WARM" --seconds "$SECS")
  [ -f "$MOBILENET_ONNX" ] || { skip $s '*' "MobileNetV2 $NO_MODELS"; return 0; }
  model_repo "$WORK/repo-mobilenet" mobilenet_v2 "$MOBILENET_ONNX"
  local BENCH_SERVE_OPTS="$BENCH_SERVE_OPTS --grpc-port $GRPC_PORT"
  serval_on "$WORK/repo-mobilenet"
  if [ ! -f "$MOBILENET_PT" ]; then skip $s python-fastapi "the TorchScript MobileNetV2 $NO_MODELS"
  elif start_fastapi "mobilenet_v2=$MOBILENET_PT:logits"; then py=1
  else skip $s python-fastapi "the FastAPI peer did not start (python3-fastapi python3-uvicorn python3-torch)"; fi
  local url="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" warm=(--clients 10 --timeout-seconds 120)
  warm_up "$SERVAL_PID" --protocol rest-json --url "$url" --body "$WORK/mobilenet_b1.json" "${warm[@]}"
  warm_up "$SERVAL_PID" --protocol rest-binary --url "$url" --body "$WORK/mobilenet_b1.bin" "${warm[@]}"
  warm_up "$SERVAL_PID" --protocol grpc --url "127.0.0.1:$GRPC_PORT" --model mobilenet_v2 --body "$WORK/mobilenet_b1.bin" "${warm[@]}"
  [ $py = 0 ] || warm_up "$PY_PID" --protocol rest-json --url "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.json" "${warm[@]}"
  for round in $(seq "$ROUNDS"); do
    limit $s "$round" 1 1 limit "$MOBILENET_ONNX"
    limit $s "$round" 8 1 limit-batch8 "$MOBILENET_ONNX"
    measure $s serval rest-json "$SERVAL_PID" "$round" --url "$url" --body "$WORK/mobilenet_b1.json" "${load[@]}" "${SERVAL_META[@]}"
    measure $s serval rest-binary "$SERVAL_PID" "$round" --url "$url" --body "$WORK/mobilenet_b1.bin" "${load[@]}" "${SERVAL_META[@]}"
    measure $s serval grpc "$SERVAL_PID" "$round" --url "127.0.0.1:$GRPC_PORT" --model mobilenet_v2 --body "$WORK/mobilenet_b1.bin" "${load[@]}" "${SERVAL_META[@]}"
    [ $py = 0 ] || measure $s python-fastapi rest-json "$PY_PID" "$round" --url "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" \
      --body "$WORK/mobilenet_b1.json" "${load[@]}" --timeout-seconds 120 "${PY_META[@]}"
  done
  stop_own "$SERVAL_PID"; [ $py = 0 ] || stop_own "$PY_PID"
}

scenario_concurrency() {
  local s=concurrency round c py=0
  [ -f "$MOBILENET_ONNX" ] || { skip $s '*' "MobileNetV2 $NO_MODELS"; return 0; }
  model_repo "$WORK/repo-mobilenet" mobilenet_v2 "$MOBILENET_ONNX"
  serval_on "$WORK/repo-mobilenet"
  if [ -f "$MOBILENET_PT" ] && start_fastapi "mobilenet_v2=$MOBILENET_PT:logits"; then py=1
  else skip $s python-fastapi "the FastAPI peer or its TorchScript MobileNetV2 is missing ($MOBILENET_PT)"; fi
  local url="127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" warm=(--clients 16 --timeout-seconds 120)
  warm_up "$SERVAL_PID" --protocol rest-binary --url "$url" --body "$WORK/mobilenet_b1.bin" "${warm[@]}"
  warm_up "$SERVAL_PID" --protocol rest-json --url "$url" --body "$WORK/mobilenet_b1.json" "${warm[@]}"
  [ $py = 0 ] || warm_up "$PY_PID" --protocol rest-json --url "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.json" "${warm[@]}"
  for round in $(seq "$ROUNDS"); do
    for c in $SWEEP; do
      local load=(--clients "$c" --warmup-seconds "$WARM" --seconds "$SWEEP_SECS" --timeout-seconds 120)
      measure $s serval rest-binary "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.bin" "${load[@]}" "${SERVAL_META[@]}"
      measure $s serval rest-json "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.json" "${load[@]}" "${SERVAL_META[@]}"
      if [ $py = 1 ] && [ "$c" -le 64 ]; then
        measure $s python-fastapi rest-json "$PY_PID" "$round" --url "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.json" "${load[@]}" "${PY_META[@]}"
      fi
    done
  done
  [ $py = 0 ] || case " $SWEEP " in *" 256 "*) skip $s python-fastapi "not run past 64 clients: one worker answers ~8 images/s, so 256 clients would wait ~30 s per answer, longer than the measured window" ;; esac
  stop_own "$SERVAL_PID"; [ $py = 0 ] || stop_own "$PY_PID"
}

# tail_for SYSTEM PROTOCOL PID URL BODY CLIENTS ROUND EXTRA...: saturation (closed loop), then open loop at 70% of it.
tail_for() {
  local system=$1 protocol=$2 pid=$3 url=$4 body=$5 clients=$6 round=$7 sat rate; shift 7
  LAST_RESULT=""
  measure tail-saturation "$system" "$protocol" "$pid" "$round" --url "$url" --body "$body" --clients "$clients" --warmup-seconds "$WARM" --seconds 10 --timeout-seconds 120 "$@"
  [ -n "$LAST_RESULT" ] || return 0
  sat=$(json_get "$LAST_RESULT" throughput.ok_per_second)
  rate=$(awk -v s="$sat" 'BEGIN {printf "%.1f", s * 0.7}')
  awk -v r="$rate" 'BEGIN {exit !(r > 0)}' || { log "WARNING: $system saturates at $sat/s: no tail run"; return 0; }
  LAST_RESULT=""
  measure tail-70 "$system" "$protocol" "$pid" "$round" --url "$url" --body "$body" --clients 64 --rate "$rate" --warmup-seconds "$WARM" --seconds 30 --timeout-seconds 120 "$@"
  [ -n "$LAST_RESULT" ] || return 0
  local p50 p95 p99
  p50=$(json_get "$LAST_RESULT" latency_ms.p50); p95=$(json_get "$LAST_RESULT" latency_ms.p95); p99=$(json_get "$LAST_RESULT" latency_ms.p99)
  if awk -v a="$p50" 'BEGIN {exit !(a > 0)}'; then
    add_metric "$LAST_RESULT" p95_over_p50 "$(awk -v a="$p95" -v b="$p50" 'BEGIN {printf "%.3f", a / b}')"
    add_metric "$LAST_RESULT" p99_over_p50 "$(awk -v a="$p99" -v b="$p50" 'BEGIN {printf "%.3f", a / b}')"
  fi
  add_metric "$LAST_RESULT" saturation_per_second "$sat"
}

scenario_tail() {
  local s=tail round py=0
  [ -f "$MOBILENET_ONNX" ] || { skip $s '*' "MobileNetV2 $NO_MODELS"; return 0; }
  model_repo "$WORK/repo-mobilenet" mobilenet_v2 "$MOBILENET_ONNX"
  serval_on "$WORK/repo-mobilenet"
  if [ -f "$MOBILENET_PT" ] && start_fastapi "mobilenet_v2=$MOBILENET_PT:logits"; then py=1
  else skip tail-70 python-fastapi "the FastAPI peer or its TorchScript MobileNetV2 is missing ($MOBILENET_PT)"; fi
  warm_up "$SERVAL_PID" --protocol rest-binary --url "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.bin" --clients 64 --timeout-seconds 120
  [ $py = 0 ] || warm_up "$PY_PID" --protocol rest-json --url "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" --body "$WORK/mobilenet_b1.json" --clients 8 --timeout-seconds 120
  for round in $(seq "$ROUNDS"); do
    tail_for serval rest-binary "$SERVAL_PID" "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" "$WORK/mobilenet_b1.bin" 64 "$round" "${SERVAL_META[@]}"
    [ $py = 0 ] || tail_for python-fastapi rest-json "$PY_PID" "127.0.0.1:$PEER_PORT/v2/models/mobilenet_v2/infer" "$WORK/mobilenet_b1.json" 8 "$round" "${PY_META[@]}"
  done
  stop_own "$SERVAL_PID"; [ $py = 0 ] || stop_own "$PY_PID"
}

# uptime_of PID: seconds since PID started (the JVM's -Xlog uptime clock, to within a few ms).
uptime_of() { awk -v start="$(awk '{print $22}' "/proc/$1/stat")" -v hz="$CLK_TCK" '{printf "%.3f\n", $1 - start / hz}' /proc/uptime; }

scenario_gc() {
  local s=gc round from to max n connections=${BENCH_GC_CONNECTIONS:-2000}
  [ -f "$MOBILENET_ONNX" ] || { skip $s '*' "MobileNetV2 $NO_MODELS"; return 0; }
  [ "$(ulimit -n)" -gt $((connections * 2 + 100)) ] || ulimit -n $((connections * 2 + 100)) 2> /dev/null \
    || connections=$(( ($(ulimit -n) - 100) / 2 ))
  model_repo "$WORK/repo-mobilenet" mobilenet_v2 "$MOBILENET_ONNX"
  for round in $(seq "$ROUNDS"); do
    local gclog="$OUT/$s/gc-r$round.log"; mkdir -p "$OUT/$s"
    SERVAL_JAVA_OPTS="${SERVAL_JAVA_OPTS:-} -Xlog:gc*,safepoint:file=$gclog:uptime,level,tags" serval_on "$WORK/repo-mobilenet"
    LAST_RESULT=""
    from=$(uptime_of "$SERVAL_PID")
    measure $s serval rest-json "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/models/mobilenet_v2/infer" \
      --body "$WORK/mobilenet_b1.json" --clients "$connections" --rate 40 --warmup-seconds 10 --seconds 60 "${SERVAL_META[@]}" \
      --meta "gc_log=-Xlog:gc*,safepoint (ZGC pauses: Pause Mark Start / Mark End / Relocate Start)"
    to=$(uptime_of "$SERVAL_PID")
    if [ -n "$LAST_RESULT" ]; then
      read -r n max < <(awk -v from="$(awk -v f="$from" 'BEGIN {print f + 10}')" -v to="$to" '/Pause (Mark Start|Mark End|Relocate Start)/ {
          t = substr($1, 2) + 0; if (t < from || t > to) next; v = $NF; sub(/ms$/, "", v); n++; if (v + 0 > m) m = v + 0 }
          END {printf "%d %.3f\n", n, m}' "$gclog")
      add_metric "$LAST_RESULT" gc_pauses "$n"; add_metric "$LAST_RESULT" gc_max_pause_ms "$max"
      add_metric "$LAST_RESULT" open_connections "$connections"
    fi
    stop_own "$SERVAL_PID"
  done
}

# v2_body INPUTS_JSON BATCH: a v2 JSON request for a bench model's example input (inputs.json), at BATCH rows.
v2_body() {
  python3 - "$1" "$2" <<'PY'
import json, sys
spec, batch = json.load(open(sys.argv[1])), int(sys.argv[2])
inputs = []
for i in spec["inputs"]:
    shape = [batch] + i["example_shape"][1:]
    n = 1
    for d in shape:
        n *= d
    if i["datatype"] == "INT64":
        low, high = i.get("value_range", [0, 2])
        data = [low + (k * 7919) % (high - low) for k in range(n)]
    else:
        data = [round(((k * 7919) % 20001 - 10000) / 10000, 4) for k in range(n)]
    inputs.append({"name": i["name"], "shape": shape, "datatype": i["datatype"], "data": data})
print(json.dumps({"inputs": inputs}, separators=(",", ":")))
PY
}

scenario_memory() {
  local model onnx pt body outputs requests=${BENCH_MEMORY_REQUESTS:-20}
  for model in linear_50m mobilenet_v2 encoder mlp_1g; do
    local s="memory-$model"
    onnx="$MODELS_DIR/$model/1/model.onnx"; pt="$MODELS_DIR/torchscript/$model.pt"
    [ -f "$onnx" ] && [ -f "$MODELS_DIR/$model/inputs.json" ] || { skip "$s" '*' "$model $NO_MODELS"; continue; }
    body="$WORK/memory-$model.json"
    v2_body "$MODELS_DIR/$model/inputs.json" 1 > "$body"
    outputs=$(python3 -c 'import json,sys; print(",".join(o["name"] for o in json.load(open(sys.argv[1]))["outputs"]))' "$MODELS_DIR/$model/inputs.json")
    model_repo "$WORK/repo-memory" "$model" "$onnx"
    find "$WORK/repo-memory" -mindepth 1 -maxdepth 1 ! -name "$model" -exec rm -rf {} +
    for round in $(seq "$ROUNDS"); do
      serval_on "$WORK/repo-memory"
      measure "$s" serval rest-json "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/models/$model/infer" --body "$body" \
        --clients 1 --requests "$requests" --timeout-seconds 300 --meta "model_bytes=$(stat -c %s "$onnx")" "${SERVAL_META[@]}"
      stop_own "$SERVAL_PID"
      if [ ! -f "$pt" ]; then [ "$round" -gt 1 ] || skip "$s" python-fastapi "the TorchScript $model $NO_MODELS"; continue; fi
      if start_fastapi "$model=$pt:$outputs"; then
        measure "$s" python-fastapi rest-json "$PY_PID" "$round" --url "127.0.0.1:$PEER_PORT/v2/models/$model/infer" --body "$body" \
          --clients 1 --requests "$requests" --timeout-seconds 300 --meta "model_bytes=$(stat -c %s "$pt")" "${PY_META[@]}"
        stop_own "$PY_PID"
      else
        [ "$round" -gt 1 ] || skip "$s" python-fastapi "the FastAPI peer did not start with $model (python3-fastapi python3-uvicorn python3-torch)"
      fi
    done
  done
}

scenario_encoder() {
  local onnx="$MODELS_DIR/encoder/1/model.onnx" round b body
  [ -f "$onnx" ] || { skip encoder '*' "the encoder $NO_MODELS"; return 0; }
  model_repo "$WORK/repo-encoder" encoder "$onnx" "max_batch_size: 512"
  serval_on "$WORK/repo-encoder"
  token_limit() { taskset -c "$SERVER_CORE" "$JAVA_HOME/bin/java" "${LIMIT_FLAGS[@]}" -cp "$BENCH_CP" dev.serval.bench.load.TokenModelLimit \
      --model "$onnx" --threads 1 --seq 128 --output pooled "$@"; }
  for b in 1 32 128 512; do token_limit --batch "$b" --write-json "$WORK/encoder_b$b.json" 2> /dev/null; done
  for round in $(seq "$ROUNDS"); do
    for b in 1 32 128 512; do
      local s="encoder-b$b" runs raw
      case $b in 1) runs=50 ;; 32) runs=4 ;; 128) runs=2 ;; *) runs=1 ;; esac
      raw="$OUT/$s/limit-r$round.limit.out"; mkdir -p "$OUT/$s"
      if token_limit --batch "$b" --warmup-runs 1 --runs "$runs" > "$raw" 2> "$raw.log"; then
        bench_java import-limit --in "$raw" --items-per-request "$b" --run-id "$RUN_ID" --scenario "$s" --repetition "$round" --meta "batch=$b" \
          --out "$OUT/$s/limit-r$round.json"
      else
        log "WARNING: the encoder limit failed at batch $b; see $raw.log"; FAILURES=$((FAILURES + 1))
      fi
      [ "$b" -le 128 ] || { [ "$round" -gt 1 ] || skip "$s" serval "batch 512 is measured in-process only (one served run takes ~25 s on a 2-core machine)"; continue; }
      body="$WORK/encoder_b$b.json"
      measure "$s" serval rest-json "$SERVAL_PID" "$round" --url "127.0.0.1:$SERVAL_PORT/v2/models/encoder/infer" --body "$body" \
        --clients 1 --warmup-seconds 0 --requests "$runs" --timeout-seconds 300 --meta "batch=$b" "${SERVAL_META[@]}"
    done
  done
  stop_own "$SERVAL_PID"
}

# ---- run ----
log "suite $MODE: $SCENARIOS; $ROUNDS round(s); results in $OUT"
for scenario in $SCENARIOS; do
  log "== $scenario"
  "scenario_$scenario"
done
stop_started
trap - EXIT
load_report "$OUT/load.log" >> "$OUT/machine.txt"
bench_java report "$OUT" --out "$OUT/report" --note "$OUT/machine.txt" ${BENCH_PRICES:+--prices "$BENCH_PRICES"}
log "report: $OUT/report/report.html and $OUT/report/summary.md"
[ "$FAILURES" = 0 ] || { log "$FAILURES load(s) failed: see the logs in $OUT"; exit 1; }
