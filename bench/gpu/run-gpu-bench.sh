#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool, carry .carry/jre and bench/target/benchmarks.jar; see
# prepare-carry.sh): the lars4j GPU step harness (CUDA events, rotated inputs, median) and the
# peers (timm, torch foreach LARS +/- torch.compile, fused momentum SGD, optax under jit) on the
# same shapes in the same run, printed as one table. Results go, as they are produced, into
# $OUT/gpu-bench-<time>/ (bench/results/ without $OUT): a call cut off at the device tool's
# limit still brings back what finished. One model per call keeps each call well inside it:
#   MODELS=resnet50 bash bench/gpu/run-gpu-bench.sh   (then bert-large, then tiny-10k)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
results="${OUT:-bench/results}/gpu-bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
export PATH="$root/.carry/jre/bin:$PATH"
models=${MODELS:-resnet50,bert-large,tiny-10k}
{ nvidia-smi; java -version; python3 -c 'import torch, jax; print("torch", torch.__version__, "jax", jax.__version__)'; } \
  >"$results/machine.txt" 2>&1
timeout 240 java -Xmx24g --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar org.lars4j.bench.GpuStepHarness --models "$models" \
  --json "$results/lars4j.json" 2>&1 | tee "$results/lars4j.txt"
PYTHONUNBUFFERED=1 timeout 320 python3 bench/gpu/peers.py --models "$models" --lars4j "$results/lars4j.json" \
  --json "$results/peers.json" 2>&1 | tee "$results/table.txt"
