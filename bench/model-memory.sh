#!/usr/bin/env bash
# Resident memory with one large model loaded, Serval beside the Python peer holding the same
# weights; Serval's floor; and the time from process start to ready.
#
#   bench/model-memory.sh [--models "encoder mlp_1g"] [--variants "default untuned ..."] [--requests N]
#                         [--rest SECONDS] [--no-peer] [--no-floor] [--starts N] [--start-repo DIR]
#
# Serval runs as ./serval runs it (the server jar with ./serval's jvm_flags and the environment they
# set: MALLOC_MMAP_THRESHOLD_, native heap trimming, the class data sharing archive), --threads 1,
# gRPC off. First its floor: a repository holding only the tiny `iris` example (the JVM, the server
# and ONNX Runtime, no weights to speak of), tuned (./serval's flags) and untuned (SERVAL_MALLOC=glibc
# SERVAL_CDS=0). Then for each model of examples/bench-models (BENCH_MODELS=DIR elsewhere), one at a
# time, Serval on a repository holding only that model, once per variant:
#       default      the model file as exported (weights inside model.onnx), ./serval's flags
#       untuned      default with SERVAL_MALLOC=glibc SERVAL_CDS=0: glibc malloc's defaults, no archive
#       external     the same weights in ONNX's external data format, one file per tensor (made once
#                    with onnx under bench/work/external/, git-ignored)
#       noprepack    default, with ONNX Runtime's weight prepacking off (-Dserval.onnx.session.disable_prepacking=1)
#       noarena      default, with ONNX Runtime's CPU memory arena off (-Dserval.onnx.cpu_arena=false)
#       devalloc     default, initializers allocated outside the arena
#                    (-Dserval.onnx.session.use_device_allocator_for_initializers=1)
#       external-noprepack  both
#       nocache      default with serve's model cache off (--model-cache off): ONNX Runtime copies the
#                    weights of model.onnx instead of mapping them from the cache's rewrite of it
# and the Python peer (FastAPI + TorchScript, bench/peers/python/fastapi_peer.py) on the .pt file.
# It reads VmRSS, VmHWM, RssAnon and RssFile (/proc/PID/status, the process and its children) 1 s
# after ready, and again 6 s after N requests (default 20) of the model's example input (one at a
# time; the first one's time and the mean of the others are reported; 6 s: one native heap trim
# interval has passed), and VmRSS at rest, --rest seconds after the last request (default 90: serve
# collects after 5 s idle, and ZGC on JDK 25 gives the freed pages back gradually from its uncommit
# delay (10 s) on: the floor was 141 MB 36 s after and 135 MB 90 s after; 0 skips); and the time
# from launch to the first 200 of /v2/health/ready, and Serval's own "loaded model ... in N ms".
# Last, start to ready with the bundled example repository (--start-repo DIR for another), --starts N
# times (default 5; 0 skips) with the class data sharing archive and N times without (SERVAL_CDS=0),
# alternating; medians; gRPC on, as ./serval serve runs. (Before anything, the archive is removed and
# made anew by one launch on that repository.) It serves with
# --strict-readiness false: ready once loading ended even if a model failed (the log says which
# loaded, and the summary names any that failed; since serve opens its embedded feature store by
# default, the examples' `fraud` pipeline loads too).
# Needs the server jar built (./serval build, or mvn -q package -DskipTests); builds nothing itself.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODELS="encoder mlp_1g" VARIANTS="default untuned external noprepack noarena devalloc external-noprepack" REQUESTS=20 PEER=1
REST=90 FLOOR=1 STARTS=5 START_REPO="$ROOT/examples/repository"
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --rest) REST=$2; shift 2 ;;
    --no-peer) PEER=0; shift ;;
    --no-floor) FLOOR=0; shift ;;
    --starts) STARTS=$2; shift 2 ;;
    --start-repo) START_REPO=$(realpath "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
need curl python3
find_jdk
[ -f "$SERVER_JAR" ] || die "no $SERVER_JAR: build it first (./serval build)"
MODELS_DIR=${BENCH_MODELS:-$ROOT/examples/bench-models}
PORT=${BENCH_SERVAL_PORT:-18030}
RUN="$WORK/results/model-memory-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN"
trap stop_started EXIT
machine_info > "$RUN/machine.txt"
BENCH_NO_BUILD=1 code_info >> "$RUN/machine.txt"   # (it launches the jar as built, with ./serval's jvm_flags)
start_load_monitor "$RUN/load.log"

# kB "VmRSS VmHWM RssAnon RssFile" of PID and its children, summed.
memory4() {
  local pids pid a b c d rss=0 hwm=0 anon=0 file=0
  pids="$1 $(pgrep -d' ' -P "$1" || true)"
  for pid in $pids; do
    read -r a b c d < <(awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} /^RssAnon:/ {an=$2} /^RssFile:/ {f=$2}
                             END {print r+0, h+0, an+0, f+0}' "/proc/$pid/status" 2>/dev/null || echo 0 0 0 0)
    rss=$((rss + a)); hwm=$((hwm + b)); anon=$((anon + c)); file=$((file + d))
  done
  echo "$rss $hwm $anon $file"
}
mb() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }

# The example request of a bench model (inputs.json's example_shape), as v2 JSON.
body_for() {
  python3 - "$MODELS_DIR/$1/inputs.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
inputs = []
for i in spec["inputs"]:
    shape = i["example_shape"]
    n = 1
    for d in shape:
        n *= d
    if i["datatype"] == "INT64":
        low, high = i.get("value_range", [0, 2])
        data = [low + (k * 7919) % (high - low) for k in range(n)]
    else:
        data = [round(((k * 7919) % 20001 - 10000) / 10000, 4) for k in range(n)]
    inputs.append({"name": i["name"], "shape": shape, "datatype": i["datatype"], "data": data})
print(json.dumps({"inputs": inputs}))
PY
}

# A repository holding the model as ONNX external data, one file per tensor (offset 0: ONNX
# Runtime may map it), made once; prints the repository's path.
external_repo() {
  local name=$1 dir="$WORK/external/$1/$1/1"
  if [ ! -f "$dir/model.onnx" ]; then
    log "writing $name as ONNX external data under $dir (onnx, once)..."
    rm -rf "$dir"; mkdir -p "$dir"
    /usr/bin/python3 - "$MODELS_DIR/$name/1/model.onnx" "$dir/model.onnx" <<'PY'
import sys, onnx
model = onnx.load(sys.argv[1])
onnx.save_model(model, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=1024)
PY
  fi
  echo "$WORK/external/$name"
}

# launch_serval LOG REPO TUNING [serve options...]: Serval on $PORT as ./serval starts it; TUNING
# "tuned" (./serval's defaults), "untuned" (SERVAL_MALLOC=glibc SERVAL_CDS=0) or "nocds"; JVM flags
# $JAVA_OPTS (e.g. -D options) and the caller's SERVAL_JAVA_OPTS; gRPC on $GRPC_PORT when set, else
# off. Sets PID and T0 (launch time, s).
launch_serval() {
  local log=$1 repo=$2 tuning=$3; shift 3
  # shellcheck disable=SC2034 # JAR is read by jvm_flags (eval below)
  local FLAGS=() JVM_ENV=() JAR=$SERVER_JAR malloc="" cds=1
  case "$tuning" in untuned) malloc=glibc; cds=0 ;; nocds) cds=0 ;; esac
  eval "$(sed -n '/^jvm_flags() {/,/^}/p' "$ROOT/serval")"
  SERVAL_MALLOC=$malloc SERVAL_CDS=$cds SERVAL_JAVA_OPTS="${JAVA_OPTS:-} ${SERVAL_JAVA_OPTS:-}" jvm_flags
  port_free "$PORT" || die "port $PORT is in use (set BENCH_SERVAL_PORT)"
  T0=$(date +%s.%N)
  (cd "$ROOT" && exec env "${JVM_ENV[@]}" "$JAVA_HOME/bin/java" "${FLAGS[@]}" -jar "$SERVER_JAR" serve \
    --model-repository "$repo" --http-port "$PORT" --grpc-port "${GRPC_PORT:--1}" --threads 1 "$@") > "$log" 2>&1 &
  PID=$!; started $PID
}

# wait_ready URL: polls every 10 ms; prints seconds from T0 to the first 200.
wait_ready() {
  local url=$1
  for _ in $(seq 30000); do
    kill -0 "$PID" 2>/dev/null || { echo "-"; return 1; }
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then
      awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}'; return 0
    fi
    sleep 0.01
  done
  echo "-"; return 1
}

# measure LABEL URL BODY: ready time, memory at ready, first request's time, memory after REQUESTS.
measure() {
  local label=$1 infer=$2 body=$3 ready r0 r1 first status
  ready=$(wait_ready "http://127.0.0.1:$PORT/v2/health/ready") || die "$label did not get ready; see $RUN"
  sleep 1
  r0=$(memory4 "$PID")
  first=$(curl -s -o "$RUN/$label.first.json" -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    --data-binary @"$body" "$infer")
  status=${first%% *}
  [ "$status" = 200 ] || die "$label answered $status: $(head -c 300 "$RUN/$label.first.json")"
  local t1 t2
  t1=$(date +%s.%N)
  for _ in $(seq 2 "$REQUESTS"); do
    curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$body" "$infer" || die "$label: a request failed"
  done
  t2=$(date +%s.%N)
  sleep 6
  r1=$(memory4 "$PID")
  local rest="-"
  if [ "$REST" -gt 6 ]; then sleep $((REST - 6)); rest=$(mb "$(memory4 "$PID" | cut -d' ' -f1)"); fi
  read -r a b c d <<< "$r0"; read -r e f g h <<< "$r1"
  printf '| %s | %s | %s | %s | %s / %s (anon %s, file %s) | %s / %s (anon %s, file %s) | %s |\n' "$label" "$ready" \
    "$(awk -v t="${first#* }" 'BEGIN {printf "%.0f", t * 1000}')" \
    "$(awk -v a="$t1" -v b="$t2" -v n="$REQUESTS" 'BEGIN {printf "%.0f", (b - a) * 1000 / (n - 1)}')" \
    "$(mb "$a")" "$(mb "$b")" "$(mb "$c")" "$(mb "$d")" "$(mb "$e")" "$(mb "$f")" "$(mb "$g")" "$(mb "$h")" "$rest" | tee -a "$RUN/table.md"
}

echo "| run | ready (s) | first request (ms) | next requests, mean (ms) | VmRSS / VmHWM MB when ready | VmRSS / VmHWM MB 6 s after $REQUESTS requests | VmRSS MB $REST s after |" | tee "$RUN/table.md"
echo "|---|---|---|---|---|---|---|" | tee -a "$RUN/table.md"
# The floor's repository: only the tiny iris model (ONNX Runtime loaded, no weights to speak of).
floor_repo="$WORK/model-memory-floor"; rm -rf "$floor_repo"
model_repo "$floor_repo" iris "$ROOT/examples/repository/iris/1/model.onnx"
# The class data sharing archive is written when a serve run with ./serval's flags exits and finds
# none: it is removed, and made anew by a launch as `./serval serve` would first run (START_REPO,
# gRPC on), stopped with time to write it, so that no measured launch writes it (or is killed
# writing it).
rm -f "${SERVER_JAR%.jar}"-*.jsa
GRPC_PORT=$((PORT + 1)) launch_serval "$RUN/serval-archive.log" "$START_REPO" tuned --strict-readiness false
wait_ready "http://127.0.0.1:$PORT/v2/health/ready" > /dev/null || die "Serval did not get ready; see $RUN/serval-archive.log"
kill "$PID"
for _ in $(seq 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
stop_pid "$PID"
ls "${SERVER_JAR%.jar}"-*.jsa > /dev/null 2>&1 || die "no class data sharing archive was written next to $SERVER_JAR"
if [ "$FLOOR" = 1 ]; then
  repo=$floor_repo
  python3 -c 'import json; print(json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}))' \
    > "$WORK/model-memory-iris.json"
  echo "| **floor**: iris only (a few kB) | | | | | | |" | tee -a "$RUN/table.md"
  for tuning in tuned untuned; do
    launch_serval "$RUN/serval-floor-$tuning.log" "$repo" "$tuning"
    measure "Serval floor, $tuning" "http://127.0.0.1:$PORT/v2/models/iris/infer" "$WORK/model-memory-iris.json"
    stop_pid "$PID"
  done
fi
for name in $MODELS; do
  onnx="$MODELS_DIR/$name/1/model.onnx"
  [ -f "$onnx" ] || die "no $onnx (make it: /usr/bin/python3 examples/python/export_models.py --bench-only $name)"
  body="$WORK/model-memory-$name.json"
  body_for "$name" > "$body"
  size_mb=$(mb $(( $(stat -c %s "$onnx") / 1024 )))
  echo "| **$name**: model.onnx $size_mb MB | | | | | | |" | tee -a "$RUN/table.md"
  for variant in $VARIANTS; do
    case "$variant" in
      external*) repo=$(external_repo "$name") ;;
      *) repo="$WORK/model-memory-repo"; rm -rf "$repo"; model_repo "$repo" "$name" "$onnx" ;;
    esac
    opts=()
    case "$variant" in *noprepack*) opts+=(-Dserval.onnx.session.disable_prepacking=1) ;; esac
    case "$variant" in *noarena*) opts+=(-Dserval.onnx.cpu_arena=false) ;; esac
    case "$variant" in *devalloc*) opts+=(-Dserval.onnx.session.use_device_allocator_for_initializers=1) ;; esac
    tuning=tuned; [ "$variant" = untuned ] && tuning=untuned
    serve=(); [ "$variant" = nocache ] && serve=(--model-cache off)
    JAVA_OPTS="${opts[*]}" launch_serval "$RUN/serval-$name-$variant.log" "$repo" "$tuning" "${serve[@]}"
    measure "Serval $variant" "http://127.0.0.1:$PORT/v2/models/$name/infer" "$body"
    grep -o "loaded model $name:1 in [0-9]* ms" "$RUN/serval-$name-$variant.log" | sed 's/^/    /' | tee -a "$RUN/table.md" || true
    stop_pid "$PID"
  done
  if [ "$PEER" = 1 ]; then
    T0=$(date +%s.%N)
    outputs=$(python3 -c 'import json, sys; print(",".join(o["name"] for o in json.load(open(sys.argv[1]))["outputs"]))' \
      "$MODELS_DIR/$name/inputs.json")
    /usr/bin/python3 "$BENCH/peers/python/fastapi_peer.py" --model "$name=$MODELS_DIR/torchscript/$name.pt:$outputs" \
      --port "$PORT" --workers 1 --torch-threads 1 > "$RUN/peer-$name.log" 2>&1 &
    PID=$!; started $PID
    measure "Python peer (FastAPI + TorchScript)" "http://127.0.0.1:$PORT/v2/models/$name/infer" "$body"
    stop_pid "$PID"
  fi
done

# Start to ready with the bundled example repository: with and without the class data sharing
# archive (written by the first launch above), alternating, STARTS times each.
if [ "$STARTS" -gt 0 ]; then
  with=() without=()
  for i in $(seq "$STARTS"); do
    GRPC_PORT=$((PORT + 1)) launch_serval "$RUN/serval-start-cds-$i.log" "$START_REPO" tuned --strict-readiness false
    with+=("$(wait_ready "http://127.0.0.1:$PORT/v2/health/ready")")
    stop_pid "$PID"
    GRPC_PORT=$((PORT + 1)) launch_serval "$RUN/serval-start-nocds-$i.log" "$START_REPO" nocds --strict-readiness false
    without+=("$(wait_ready "http://127.0.0.1:$PORT/v2/health/ready")")
    stop_pid "$PID"
  done
  {
    echo "start to ready, $START_REPO, gRPC on, --strict-readiness false, $STARTS launches each, median (min - max):"
    echo "  with the class data sharing archive: $(spread "${with[@]}") s"
    echo "  without (SERVAL_CDS=0):              $(spread "${without[@]}") s"
    echo "  last launch with the archive: $(grep -c 'loaded model' "$RUN/serval-start-cds-$STARTS.log") model version(s) loaded"
    { grep -h 'failed to load' "$RUN/serval-start-cds-$STARTS.log" || true; } | sed 's/^/  /' | head -5
  } | tee -a "$RUN/table.md"
fi
load_report "$RUN/load.log" | tee -a "$RUN/table.md"
log "results in $RUN"
