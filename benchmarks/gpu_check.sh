#!/usr/bin/env bash
# The GPU check, for the day a CUDA machine is at hand (about 8 minutes on one GPU):
#   1. the gpu-marked tests (fp16 + GradScaler, TF32, channels_last, NCCL with one rank under torchrun)
#   2. `repro bench amp` (fp32, TF32, bf16, fp16; eager, then torch.compile) and the GPU's baseline
#      (`repro bench save-baseline`, into benchmarks/baselines/<fingerprint>.json)
#   3. every image spec's paper profile probed on synthetic data of the real shapes
#      (`repro run SPEC --profile paper --dry-run --device cuda`: s/step and the ETA per spec)
# Everything lands in results/gpu/ (logs per stage, summary.md). Without CUDA it says so in one line and
# exits 0. A stage that fails or runs out of time is noted and the next one runs; the exit status is 1
# when any stage failed.
#
#   benchmarks/gpu_check.sh            (PYTHON=.venv/bin/python benchmarks/gpu_check.sh to pick one)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
OUT="${GPU_CHECK_OUT:-results/gpu}"

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False): nothing to check"
    exit 0
fi

mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.md"
failed=0
start_all=$(date +%s)

stage() {   # stage NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log, note the outcome
    local name=$1 limit=$2
    shift 2
    local t0 rc=0
    t0=$(date +%s)
    echo "== $name (limit ${limit}s)" >&2
    timeout --kill-after=15 "$limit" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
    local took=$(( $(date +%s) - t0 ))
    local outcome="ok"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then outcome="timed out"; elif [ "$rc" -ne 0 ]; then outcome="failed (exit $rc)"; fi
    [ "$outcome" = "ok" ] || failed=1
    echo "| $name | $outcome | ${took} s | [$name.log]($name.log) |" >>"$SUMMARY.stages"
    echo "   $outcome in ${took} s" >&2
}

rm -f "$SUMMARY.stages"
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
"$PYTHON" - >"$OUT/device.txt" <<'EOF'
import torch
p = torch.cuda.get_device_properties(0)
print(f"{p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}, "
      f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"NCCL {'.'.join(map(str, torch.cuda.nccl.version()))}, bf16 {torch.cuda.is_bf16_supported()}")
EOF

# 1. the CUDA tests (tests/e2e/test_cuda.py and every other test marked gpu)
stage tests 150 "$PYTHON" -m pytest -m gpu -q -p no:cacheprovider tests

# 2. AMP throughput: fp32 / TF32 / bf16 / fp16, eager then compiled; the eager record is the baseline
stage bench-amp 120 "$PYTHON" -m repro bench amp --device cuda --steps 20 --repeats 3 --warmup 5 \
    --out-dir "$OUT/bench"
stage bench-amp-compile 150 "$PYTHON" -m repro bench amp --device cuda --compile --steps 20 --repeats 3 \
    --warmup 10 --out-dir "$OUT/bench-compile"
record=$(ls -t "$OUT"/bench/amp-*.json 2>/dev/null | head -1 || true)
if [ -n "$record" ]; then
    stage save-baseline 30 "$PYTHON" -m repro bench save-baseline --from "$record"
fi

# 3. the paper profile of every image spec on synthetic data of its real shapes (an empty data root)
synthetic_root=$(mktemp -d)
for spec in $(grep -l '^task: image-classification' repro/specs/*.yaml); do
    name=$(basename "$spec" .yaml)
    stage "paper-$name" 60 "$PYTHON" -m repro run "$name" --profile paper --dry-run --device cuda \
        --data-root "$synthetic_root" --results-dir "$synthetic_root/results" --cache-dir "$synthetic_root/cache"
done
rm -rf "$synthetic_root"

{
    echo "# GPU check"
    echo
    echo "$(cat "$OUT/device.txt"), $(date -u +%Y-%m-%dT%H:%MZ), git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
    echo "Total: $(( $(date +%s) - start_all )) s."
    echo
    echo "| stage | outcome | time | log |"
    echo "| --- | --- | --- | --- |"
    cat "$SUMMARY.stages"
    echo
    echo "## Paper profiles on this GPU (synthetic data of the real shapes)"
    for log in "$OUT"/paper-*.log; do
        [ -e "$log" ] || continue
        echo
        echo "### $(basename "$log" .log | sed 's/^paper-//')"
        echo
        grep -E '^\||^Estimated' "$log" || echo "(no plan: see $(basename "$log"))"
    done
    for bench in bench bench-compile; do
        if [ -f "$OUT/$bench/amp_summary.md" ]; then
            echo
            echo "## repro bench amp ($bench)"
            echo
            sed -e 's/^#/##/' -e "s|](amp_throughput.png)|]($bench/amp_throughput.png)|" "$OUT/$bench/amp_summary.md"
        fi
    done
} >"$SUMMARY"
rm -f "$SUMMARY.stages"
echo "gpu_check: summary in $SUMMARY"
exit "$failed"
