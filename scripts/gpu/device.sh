#!/usr/bin/env bash
# device.sh: the whole GPU check (issue 8) in one run on the device machine, about 8 minutes.
# It needs the archive that scripts/gpu/build.sh writes (.cache/gpu/bin.tar.gz, carried), the
# device's python3 with torch, transformers, peft and JAX's CUDA PJRT plugin, and nothing else:
# no Go, no network. README.md beside this file gives the exact `run` call.
#
# Steps (GPU_STEPS selects; default all): env smoke tests bench
#   env    record the machine, versions and the PJRT plugin layout; set the environment up
#          (scripts/gpu/pjrt_env.sh).
#   smoke  `sectorflow logits` on a tiny fixture on xla:cuda against the pure-Go backend; tries
#          the plugin through PJRT_PLUGIN_LIBRARY_PATH (xla:cuda), then by absolute path, then
#          other CUDA data directories; the first that works is used for everything after.
#   tests  the parity test binaries of internal/model, inference and tuning on that backend.
#   bench  a Llama-3.2-1B-shaped bf16 random checkpoint: logits against transformers, LoRA
#          training (r16, all linear, seq 1024) against transformers+PEFT, decode at batch
#          1/8/32/64 against transformers generate() with its static cache.
# Every step runs under its own timeout, inside an overall budget (GPU_BUDGET seconds, default
# 560), so one failure cannot eat the run. Results go to $OUT, at most 8 files (the device tool's
# limit): device.log (all output), summary.txt (one line per result), env.txt, gotests.log,
# bench.json (the comparison, with a Markdown table), logs.tgz (every step's log and JSON).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-$ROOT/.cache/gpu-out}
W=${GPU_WORK:-/tmp/sectorflow-gpu}
BUDGET=${GPU_BUDGET:-560}
STEPS=" ${GPU_STEPS:-env smoke tests bench} "
PY=${PYTHON:-python3}
# The benchmark's shape and sizes (the defaults are issue 8's; smaller ones make a dry run).
SHAPE=${GPU_SHAPE:---hidden 2048 --layers 16 --heads 32 --kv-heads 8 --intermediate 8192 --vocab 128256}
SEQ=${GPU_SEQ:-1024} TRAIN_BATCH=${GPU_TRAIN_BATCH:-4} TRAIN_STEPS=${GPU_TRAIN_STEPS:-8}
BATCHES=${GPU_BATCHES:-1,8,32,64} PROMPT=${GPU_PROMPT:-128} GEN=${GPU_GEN:-128}
# The SDK's precision for the training and decode comparisons (transformers runs in bf16), and
# whether to also measure float32 with the budget that is left at the end (GPU_F32_EXTRA=0: no).
GO_PREC=${GPU_GO_PRECISION:-bfloat16} F32_EXTRA=${GPU_F32_EXTRA:-1}
# Timed decode passes per batch size after the untimed one (the best counts): the engine
# compiles a program per new batch shape, and one untimed pass may not meet them all.
DECODE_REPS=${GPU_DECODE_REPS:-2}
# GPU_ALLOW_CPU=1: when no GPU backend works, run the Go steps on the pure-Go backend anyway
# (a dry run of this script on a machine without a GPU; its numbers mean nothing).
ALLOW_CPU=${GPU_ALLOW_CPU:-0}
# GPU_TEST_RUN: a -test.run pattern for the test binaries (default: every test).
# GPU_TORCH_ALWAYS=1: run the PyTorch benchmarks even when no GPU backend works for Go (by default
# the run then stops after the smoke step, to leave device time for a fixed rerun).
TORCH_ALWAYS=${GPU_TORCH_ALWAYS:-0}
T0=$SECONDS
mkdir -p "$OUT" && rm -rf "$W" && mkdir -p "$W/logs" || exit 1
exec > >(tee -a "$OUT/device.log") 2>&1
SUMMARY=$OUT/summary.txt
ENVTXT=$OUT/env.txt
export PYTHONUNBUFFERED=1

say() { echo "[$(date -u +%T) +$((SECONDS - T0))s] $*"; }
result() { echo "$*" >>"$SUMMARY"; say "RESULT $*"; }
want() { [[ $STEPS == *" $1 "* ]]; }
left() { echo $((BUDGET - (SECONDS - T0))); }

# step NAME SECONDS CMD...: run CMD under a timeout (cut to the budget left) with its output in
# $W/logs/NAME.log (stdout to $STEP_STDOUT instead, when set); record rc and seconds; print the
# log's tail. rc 124: timed out.
step() {
  local name=$1 secs=$2 rc t
  shift 2
  local l
  l=$(($(left) - 10))
  if ((l < 15)); then
    result "$name: skipped, budget spent"
    return 99
  fi
  ((secs > l)) && secs=$l
  say "step $name (timeout ${secs}s): $*"
  t=$SECONDS
  if [[ -n ${STEP_STDOUT:-} ]]; then
    timeout -k 5 "$secs" "$@" >"$STEP_STDOUT" 2>"$W/logs/$name.log"
  else
    timeout -k 5 "$secs" "$@" >"$W/logs/$name.log" 2>&1
  fi
  rc=$?
  tail -n 25 "$W/logs/$name.log" | cut -c1-400
  result "$name: rc=$rc seconds=$((SECONDS - t))$( ((rc == 124)) && echo ' (timed out)')"
  pack
  return $rc
}

# pack keeps $OUT/logs.tgz current, so a run cut short still returns every log written so far.
pack() {
  (cd "$W" && tar -czf "$OUT/logs.tgz.tmp" --exclude=go_logits.json --exclude=llama1b \
    --exclude=bin --exclude=pjrt --exclude='*.jsonl' . 2>/dev/null) && mv "$OUT/logs.tgz.tmp" "$OUT/logs.tgz"
}

MEMPID=
mem_start() { # sample the GPU's used memory (MiB) every 200 ms into $W/mem_NAME.txt
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$W/mem_$1.txt" 2>/dev/null &
  MEMPID=$!
  sleep 0.5
}
mem_stop() {
  [[ -n $MEMPID ]] && kill "$MEMPID" 2>/dev/null && wait "$MEMPID" 2>/dev/null
  MEMPID=
}

# ---- binaries -----------------------------------------------------------------------------
BIN=$W/bin
if [[ -f .cache/gpu/bin.tar.gz ]]; then
  tar -xzf .cache/gpu/bin.tar.gz -C "$W" || result "unpack: failed"
else
  result "unpack: .cache/gpu/bin.tar.gz missing (run scripts/gpu/build.sh and carry .cache/gpu)"
fi
REF=
for d in "$BIN/reference" ../shared/reference shared/reference; do
  if [[ -f $d/make_tiny.py && -f $d/torch_ref.py ]]; then REF=$d && break; fi
done

# ---- env ----------------------------------------------------------------------------------
readelf_paths() { # RPATH/RUNPATH and NEEDED of a shared library, with or without binutils
  if command -v readelf >/dev/null; then
    readelf -d "$1" | grep -E 'RPATH|RUNPATH|NEEDED'
  else
    "$PY" - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read()
for m in sorted(set(re.findall(rb"[\x20-\x7e]*\$ORIGIN[\x20-\x7e]*", data))):
    print("string with $ORIGIN:", m.decode())
for m in sorted(set(re.findall(rb"lib[a-zA-Z0-9_+-]+\.so(?:\.[0-9]+)*", data)))[:80]:
    print("library name:", m.decode())
EOF
  fi
}

if want env || want smoke || want tests || want bench; then
  say "env"
  {
    echo "## date"; date -u +%FT%TZ
    echo "## uname"; uname -a
    echo "## cpu, memory"; nproc; free -g 2>/dev/null | head -2
    echo "## nvidia-smi"; nvidia-smi 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv 2>&1
    echo "## /dev/nvidia*"; ls /dev/nvidia* 2>&1 | head
    echo "## python"; command -v "$PY"; "$PY" --version 2>&1
    "$PY" -m pip list 2>/dev/null | grep -iE '^(jax|jaxlib|torch|transformers|peft|safetensors|tokenizers|accelerate|nvidia|cuda)' 
    echo "## build (from build.sh)"; cat .cache/gpu/build.txt 2>/dev/null | head -40
  } >"$ENVTXT" 2>&1
  # shellcheck source=scripts/gpu/pjrt_env.sh
  # shellcheck disable=SC2086 # GPU_SITE: site-packages directories to search (default: python3's)
  if source scripts/gpu/pjrt_env.sh ${GPU_SITE:-} 2>>"$ENVTXT"; then
    result "pjrt plugin: $SF_PJRT_PLUGIN"
  else
    result "pjrt plugin: not found (see env.txt)"
  fi
  # The plugin should grow GPU memory on demand rather than take 75% at start, so that the memory
  # measured is the memory used (recorded in env.txt whether it was honoured).
  export XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-false}
  {
    echo "## pjrt_env.sh exports"
    for v in PJRT_PLUGIN_LIBRARY_PATH XLA_FLAGS LD_LIBRARY_PATH PATH SF_PJRT_PLUGIN SF_PJRT_SITE SF_CUDA_DATA_DIR SF_PTXAS XLA_PYTHON_CLIENT_PREALLOCATE; do
      echo "$v=${!v:-}"
    done
    if [[ -n ${SF_PJRT_PLUGIN:-} ]]; then
      echo "## plugin files"; ls -la "$(dirname "$SF_PJRT_PLUGIN")" "$PJRT_PLUGIN_LIBRARY_PATH"
      echo "## plugin RPATH and needed libraries"; readelf_paths "$SF_PJRT_PLUGIN" 2>&1 | head -60
      echo "## site-packages/nvidia"; ls "$SF_PJRT_SITE/nvidia" 2>&1; ls "$SF_PJRT_SITE"/nvidia/cu1* 2>&1 | head -20
      echo "## ldd through the link, with LD_LIBRARY_PATH as set"
      ldd "$PJRT_PLUGIN_LIBRARY_PATH/pjrt_c_api_cuda_plugin.so" 2>&1 | head -60
      echo "## ldd through the link, LD_LIBRARY_PATH empty (is the RPATH through the mirror enough?)"
      LD_LIBRARY_PATH= ldd "$PJRT_PLUGIN_LIBRARY_PATH/pjrt_c_api_cuda_plugin.so" 2>&1 | grep -iE 'not found|cuda|cublas|cudnn|nccl|nvjitlink|nvrtc' | head -40
    fi
    echo "## libdevice candidates"; ls -d "${SF_PJRT_SITE:-/nonexistent}"/nvidia/*/nvvm/libdevice /usr/local/cuda*/nvvm/libdevice 2>&1
    echo "## ptxas"; command -v ptxas; ptxas --version 2>&1 | tail -2
    echo "## nvcc"; command -v nvcc; nvcc --version 2>&1 | tail -2
    echo "## JAX's own view (version, devices)"
    timeout 40 "$PY" -c 'import jax, jaxlib; print("jax", jax.__version__, "jaxlib", jaxlib.__version__); print(jax.devices())' 2>&1 | tail -5
  } >>"$ENVTXT" 2>&1
fi

# The 1B checkpoint takes a while on the CPU: start it now, beside the GPU steps.
MODEL=$W/llama1b
TINYPID=
if want bench && [[ -n $REF ]]; then
  say "make_tiny (background): bf16, $SHAPE"
  # shellcheck disable=SC2086 # SHAPE is a list of flags
  "$PY" "$REF/make_tiny.py" --arch llama --seed 0 --out "$MODEL" --dtype bf16 $SHAPE --tie \
    --max-pos 131072 >"$W/logs/make_tiny.log" 2>&1 &
  TINYPID=$!
elif want bench; then
  result "make_tiny: no make_tiny.py/torch_ref.py found (build.sh copies them from ../shared/reference)"
fi

# ---- smoke --------------------------------------------------------------------------------
GPU_OK=0
TINY=testdata/models/llama
# compare_logits A.json B.json: prints the max abs difference; fails only when the shapes differ
# or a value is not finite. A difference above 1e-4 is flagged, not fatal: XLA may run f32 matmuls
# of default precision as TF32 on NVIDIA GPUs, which the parity tests will then show.
compare_logits() {
  "$PY" - "$1" "$2" <<'EOF'
import json, math, sys
a, b = (json.load(open(p))["logits"] for p in sys.argv[1:3])
if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
    print(f"shapes differ: {len(a)} rows vs {len(b)} rows")
    sys.exit(1)
if not all(math.isfinite(v) for row in b for v in row):
    print("non-finite logits")
    sys.exit(1)
d = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
flag = " ABOVE 1e-4 (TF32 matmuls?)" if d > 1e-4 else ""
print(f"max_abs_diff={d:.3g}{flag} rows={len(a)}x{len(a[0])}")
EOF
}
if want smoke || want tests || want bench; then
  if [[ -x $BIN/sectorflow ]]; then
    GOMLX_BACKEND=go STEP_STDOUT=$W/smoke_cpu.json step smoke_cpu 60 "$BIN/sectorflow" logits \
      --model "$TINY" --ids 1,2,3,4,5
    # backend|XLA_FLAGS (empty: pjrt_env.sh's)|keep or drop XLA_PYTHON_CLIENT_PREALLOCATE (the SDK
    # passes it to the plugin as the client option "preallocate"; "drop" tells whether a plugin
    # that refuses the option would otherwise work).
    variants=("xla:cuda||keep" "xla:cuda||drop" "xla:${SF_PJRT_PLUGIN:-/nonexistent}||keep")
    for d in "${SF_PJRT_SITE:-/nonexistent}"/nvidia/*/ /usr/local/cuda/; do
      d=${d%/}
      if [[ -f $d/nvvm/libdevice/libdevice.10.bc && $d != "${SF_CUDA_DATA_DIR:-}" ]]; then
        variants+=("xla:cuda|--xla_gpu_cuda_data_dir=$d|keep")
      fi
    done
    i=0
    for v in "${variants[@]}"; do
      i=$((i + 1))
      IFS='|' read -r backend flags prealloc <<<"$v"
      [[ -z $flags ]] && flags=${XLA_FLAGS:-}
      unset_prealloc=()
      [[ $prealloc == drop ]] && unset_prealloc=(-u XLA_PYTHON_CLIENT_PREALLOCATE)
      say "smoke variant $i: GOMLX_BACKEND=$backend XLA_FLAGS=$flags XLA_PYTHON_CLIENT_PREALLOCATE: $prealloc"
      if GOMLX_BACKEND=$backend XLA_FLAGS=$flags TF_CPP_MIN_LOG_LEVEL=0 STEP_STDOUT=$W/smoke_gpu.json \
        step "smoke_gpu_$i" 90 env "${unset_prealloc[@]}" "$BIN/sectorflow" logits --model "$TINY" --ids 1,2,3,4,5; then
        rc=0
        if diff=$(compare_logits "$W/smoke_cpu.json" "$W/smoke_gpu.json" 2>&1); then
          export GOMLX_BACKEND=$backend XLA_FLAGS=$flags
          [[ $prealloc == drop ]] && unset XLA_PYTHON_CLIENT_PREALLOCATE
          GPU_OK=1
          result "smoke: variant $i works: GOMLX_BACKEND=$backend XLA_FLAGS=$flags XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE:-(unset)}; GPU vs CPU logits $diff"
          break
        fi
        result "smoke: variant $i ran but logits differ from the CPU's: $diff"
      else
        rc=$?
        result "smoke: variant $i failed, last lines: $(grep -v '^\s*$' "$W/logs/smoke_gpu_$i.log" | tail -n 3 | tr '\n' ' ' | tail -c 1200)"
        if ((rc == 124)); then
          result "smoke: variant $i hung (a tiny model takes seconds); not trying the others"
          break
        fi
      fi
    done
    {
      echo "## the environment that worked (GPU_OK=$GPU_OK)"
      for v in GOMLX_BACKEND PJRT_PLUGIN_LIBRARY_PATH XLA_FLAGS LD_LIBRARY_PATH PATH XLA_PYTHON_CLIENT_PREALLOCATE; do
        echo "export $v=${!v:-}"
      done
    } >>"$ENVTXT"
  else
    result "smoke: no sectorflow binary"
  fi
  if ((!GPU_OK && ALLOW_CPU)); then
    export GOMLX_BACKEND=go:ops_sequential
    GPU_OK=1
    result "smoke: no GPU backend; GPU_ALLOW_CPU=1, so the Go steps run on $GOMLX_BACKEND (dry run)"
  fi
fi

if ((!GPU_OK && !TORCH_ALWAYS)) && { want tests || want bench; }; then
  result "stopping: no GPU backend works (see the smoke lines above and env.txt); GPU_TORCH_ALWAYS=1 runs the PyTorch side anyway"
  [[ -n $TINYPID ]] && kill "$TINYPID" 2>/dev/null
  STEPS=" "
fi

# ---- tests --------------------------------------------------------------------------------
if want tests && ((GPU_OK)); then
  for t in model:internal/model:60 inference:inference:60 tuning:tuning:80; do
    IFS=: read -r name dir secs <<<"$t"
    if [[ ! -x $BIN/$name.test ]]; then
      result "tests $name: no binary (not built)"
      continue
    fi
    step "test_$name" "$secs" env -C "$dir" "$BIN/$name.test" -test.v -test.count=1 -test.timeout="$((secs - 5))s" \
      ${GPU_TEST_RUN:+-test.run="$GPU_TEST_RUN"}
    rc=$?
    {
      echo "===== $dir (rc=$rc, GOMLX_BACKEND=${GOMLX_BACKEND:-})"
      cat "$W/logs/test_$name.log"
    } >>"$OUT/gotests.log"
    result "tests $name: rc=$rc pass=$(grep -c -- '--- PASS' "$W/logs/test_$name.log") fail=$(grep -c -- '--- FAIL' "$W/logs/test_$name.log") failed=[$(grep -- '--- FAIL' "$W/logs/test_$name.log" | awk '{print $3}' | tr '\n' ' ')]"
  done
  # Diagnosis: if the logits parity failed, is it TF32? Rerun it with TF32 off in cuBLAS
  # (NVIDIA_TF32_OVERRIDE=0) and XLA's Triton GEMMs off, so every f32 matmul is a cuBLAS one.
  if grep -q -- '--- FAIL: TestLogitsMatchReference' "$W/logs/test_model.log" 2>/dev/null; then
    NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_triton_gemm=false" \
      step test_model_notf32 60 env -C internal/model "$BIN/model.test" -test.v -test.count=1 \
      -test.run='TestLogitsMatchReference' -test.timeout=60s
    result "tests model, TF32 off: rc=$? fail=$(grep -c -- '--- FAIL' "$W/logs/test_model_notf32.log")"
    cat "$W/logs/test_model_notf32.log" >>"$OUT/gotests.log"
  fi
elif want tests; then
  result "tests: skipped, no working GPU backend"
fi

# ---- bench --------------------------------------------------------------------------------
if want bench && [[ -n $TINYPID ]]; then
  say "waiting for make_tiny"
  deadline=$((SECONDS + 180))
  while kill -0 "$TINYPID" 2>/dev/null && ((SECONDS < deadline)); do sleep 1; done
  if kill -0 "$TINYPID" 2>/dev/null; then
    kill "$TINYPID"
    result "make_tiny: timed out"
  fi
  wait "$TINYPID"
  rc=$?
  result "make_tiny: rc=$rc $(tail -1 "$W/logs/make_tiny.log" | cut -c1-300)"
  if [[ -f $MODEL/model.safetensors ]]; then
    IDS=$("$PY" -c 'import random; r = random.Random(7); print(",".join(str(r.randrange(1, 500)) for _ in range(16)))')
    step data 60 "$PY" scripts/gpu/torch_bench.py data --model "$MODEL" --out "$W/train.jsonl"
    if ((GPU_OK)); then
      STEP_STDOUT=$W/go_logits.json step go_logits 90 "$BIN/sectorflow" logits --model "$MODEL" --ids "$IDS" \
        --precision float32
      STEP_STDOUT=$W/go_logits_bf16.json step go_logits_bf16 90 "$BIN/sectorflow" logits --model "$MODEL" \
        --ids "$IDS" --precision bfloat16
      if [[ -s $W/go_logits.json || -s $W/go_logits_bf16.json ]]; then
        step torch_logits 75 "$PY" scripts/gpu/torch_bench.py logits --model "$MODEL" --ids "$IDS" \
          --go "$W/go_logits.json" --go-bf16 "$W/go_logits_bf16.json" --out "$W/torch_logits.json"
      fi
      mem_start go_train
      step go_train 130 "$BIN/gobench" train -model "$MODEL" -data "$W/train.jsonl" -rank 16 -seq "$SEQ" \
        -batch "$TRAIN_BATCH" -steps "$TRAIN_STEPS" -warmup-steps 2 -precision "$GO_PREC" -out "$W/go_train.json"
      mem_stop
    fi
    mem_start torch_train
    step torch_train 90 "$PY" scripts/gpu/torch_bench.py train --model "$MODEL" --data "$W/train.jsonl" \
      --rank 16 --seq "$SEQ" --batch "$TRAIN_BATCH" --steps "$TRAIN_STEPS" --warmup-steps 2 \
      --out "$W/torch_train.json"
    mem_stop
    if ((GPU_OK)); then
      mem_start go_decode
      step go_decode 140 "$BIN/gobench" decode -model "$MODEL" -batches "$BATCHES" -prompt "$PROMPT" \
        -gen "$GEN" -precision "$GO_PREC" -reps "$DECODE_REPS" -out "$W/go_decode.json"
      mem_stop
    fi
    mem_start torch_decode
    step torch_decode 90 "$PY" scripts/gpu/torch_bench.py decode --model "$MODEL" --batches "$BATCHES" \
      --prompt "$PROMPT" --gen "$GEN" --out "$W/torch_decode.json"
    mem_stop
    # float32 (the SDK's default precision), with what is left of the budget.
    if ((GPU_OK && F32_EXTRA)) && [[ $GO_PREC != float32 ]]; then
      mem_start go_train_f32
      step go_train_f32 120 "$BIN/gobench" train -model "$MODEL" -data "$W/train.jsonl" -rank 16 -seq "$SEQ" \
        -batch "$TRAIN_BATCH" -steps 5 -warmup-steps 2 -precision float32 -out "$W/go_train_f32.json"
      mem_stop
      mem_start go_decode_f32
      step go_decode_f32 120 "$BIN/gobench" decode -model "$MODEL" -batches "$BATCHES" -prompt "$PROMPT" \
        -gen "$GEN" -precision float32 -reps "$DECODE_REPS" -out "$W/go_decode_f32.json"
      mem_stop
    fi
  else
    result "bench: no checkpoint, skipped"
  fi
fi

if want bench; then
  "$PY" scripts/gpu/torch_bench.py report --dir "$W" --out "$OUT/bench.json" >"$W/logs/report.log" 2>&1
  cat "$W/logs/report.log"
  cat "$W/logs/report.log" >>"$SUMMARY"
fi
pack
say "done in $((SECONDS - T0))s"
sleep 1 # let tee write the last lines of device.log
