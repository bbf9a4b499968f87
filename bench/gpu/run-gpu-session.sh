#!/usr/bin/env bash
# The whole GPU session as ONE device call of at most 9 minutes. Run ON THE GPU MACHINE after
# bench/gpu/prepare-carry.sh here:
#   run(command="bash bench/gpu/run-gpu-session.sh", timeout_s=600,
#       carry=[".carry", "core/target/classes", "core/target/test-classes", "cuda/target/classes",
#             "cuda/target/test-classes", "bench/target/classes"])
# In order, each stage bounded so that the later ones keep their time (SESSION_SECONDS, 540):
#   1. rebuild the JNI library with that machine's nvcc (SASS sm_80/sm_90 + PTX);
#   2. the CUDA conformance and graph tests (CUDA engine == Java engine, bitwise; streams, NaNs;
#      the stages and rectified LAMB: LookaheadConformanceTest, GradientCentralizationConformanceTest,
#      EngineConformanceTest's rectified-LAMB cases; the tile table's two copies, TileTableMirrorTest);
#   3. compute-sanitizer memcheck on the grouped step, capped at 90 s;
#   4. the step harness (GpuStepHarness) on resnet50, bert-large and tiny-10k: the grouped step,
#      the three launches and LAMB, as launches and as graph replays, each timed as samples of
#      back-to-back steps between two events;
#   5. the peers (peers.py) in what is left: fused momentum SGD and the foreach LARS on every
#      model, timm, JAX and torch.compile except on tiny-10k.
# Every result goes into $OUT as it is produced (bench/results/gpu-session-<time>/ without $OUT),
# at most 8 files, as the device tool returns: summary.txt, machine.txt, junit.log,
# sanitizer.log, lars4j.txt, lars4j.json, peers.txt, peers.json. A call cut off still brings back
# what finished. Copy them into bench/results/ here and commit them.
#
# LARS4J_DRY_RUN=1 runs the same script here, without a GPU: the emulator backend for the tests
# and the harness (small models), a CPU torch for the peers (PYTHON=/usr/bin/python3 for
# Debian's python3-torch); it checks the script, not the GPU.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${OUT:-bench/results/gpu-session-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
dry=${LARS4J_DRY_RUN:-0}
budget=${SESSION_SECONDS:-540}
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
# A stage's time limit: at most its cap, and never what the stages after it need.
limit() { local cap=$1 reserve=$2 l; l=$(($(left) - reserve)); [ "$l" -gt "$cap" ] && l=$cap; [ "$l" -lt 5 ] && l=5; echo "$l"; }
summary="$out/summary.txt"
note() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$summary"; }

py=${PYTHON:-python3}   # the device image's python3 holds torch and JAX; a dry run may need another
export JAVA_HOME="$root/.carry/jre" PATH="$root/.carry/jre/bin:$PATH:/usr/local/cuda/bin"
libs=$(ls .carry/lib/*.jar | grep -v console-standalone | tr '\n' ':')
cp_test="core/target/classes:core/target/test-classes:cuda/target/classes:cuda/target/test-classes:$libs"
# The harness's classes alone (its uber-jar would add 7.5 MB to the carry; JMH's annotations are
# not needed to run it), with the library rebuilt on the device below.
cp_bench="core/target/classes:cuda/target/classes:bench/target/classes:$libs"
console=$(ls .carry/lib/junit-platform-console-standalone-*.jar)
java_opts=(--add-modules jdk.incubator.vector)

if [ "$dry" = 1 ]; then
  backend=cuda-emulator
  # The emulator is slow: the GPU's suites are represented by one case each, enough to show
  # that the selection resolves (a renamed suite or method fails here, not on the GPU).
  junit_select=(--select-class org.lars4j.engine.cuda.GroupedStepTest --select-class org.lars4j.engine.cuda.DeviceTensorTest
                --select-class org.lars4j.engine.cuda.TileTableMirrorTest
                --select-method 'org.lars4j.engine.cuda.LookaheadConformanceTest#kOneWithAlphaOneAndBelow(org.lars4j.testing.TargetEngine)'
                --select-method 'org.lars4j.engine.cuda.GradientCentralizationConformanceTest#zeroAndNonFiniteGradients(org.lars4j.testing.TargetEngine)'
                --select-method 'org.lars4j.engine.cuda.EngineConformanceTest#rectifiedLambAcrossRhoFive(org.lars4j.testing.TargetEngine, org.lars4j.rule.lamb.LambPreset, java.lang.String, java.util.function.UnaryOperator)')
  sanitizer_select=(--select-method 'org.lars4j.engine.cuda.GroupedStepTest#aNonFiniteGradientInTheLastGroupWritesNothing(org.lars4j.testing.TargetEngine)')
  l4_models=${L4_MODELS:-tiny-200}
  l4_args=(--warmup 1 --reps 2 --batch 2 --floor-bytes 4194304 --optimizers lars,lars-g4096,lars-3launch,lamb)
  peer_models=${PEER_MODELS:-tiny-200,resnet50}
  peer_args=(--device cpu --warmup 1 --reps 2 --batch 2 --core-only tiny-10k,tiny-200)
  note "DRY RUN (LARS4J_DRY_RUN=1): emulator and CPU torch; no number below is a GPU number"
else
  backend=cuda
  # The engine.cuda suites are parameterised over TargetEngine; -Dlars4j.test.backends (below)
  # skips the emulator's cases here.
  # EngineConformanceTest holds the rectified-LAMB cases (rectifiedLambAcrossRhoFive); the stages'
  # suites follow it. TileTableMirrorTest reads the native plan's tile table on the emulator
  # (the same C++ plan code as the device's), not a device copy.
  junit_select=(--select-class org.lars4j.engine.cuda.EngineConformanceTest --select-class org.lars4j.engine.cuda.LookaheadConformanceTest
                --select-class org.lars4j.engine.cuda.GradientCentralizationConformanceTest --select-class org.lars4j.engine.cuda.TileTableMirrorTest
                --select-class org.lars4j.engine.cuda.GroupedStepTest
                --select-class org.lars4j.engine.cuda.GraphCaptureTest --select-class org.lars4j.engine.cuda.StreamOrderTest
                --select-class org.lars4j.engine.cuda.NanPayloadTest)
  sanitizer_select=(--select-method 'org.lars4j.engine.cuda.GroupedStepTest#aNonFiniteGradientInTheLastGroupWritesNothing(org.lars4j.testing.TargetEngine)')
  l4_models=${L4_MODELS:-resnet50,bert-large,tiny-10k}
  l4_args=(--warmup 20 --reps 50 --batch 16 --optimizers lars,lars-g1048576,lars-g8388608,lars-3launch,lamb)
  peer_models=${PEER_MODELS:-resnet50,bert-large,tiny-10k}
  peer_args=(--warmup 5 --reps 20 --batch 10 --core-only tiny-10k)
fi

# 1. Machine and native build (java.home's include/ comes from the carried headers).
{ nvidia-smi; nvcc --version; java -version; "$py" -c 'import torch; print("torch", torch.__version__)'; } >"$out/machine.txt" 2>&1
mkdir -p .carry/jre/include && cp -r .carry/include/. .carry/jre/include/
lib=cuda/target/classes/org/lars4j/engine/cuda/linux-x86_64/libjnilars4j.so
if command -v nvcc >/dev/null && command -v g++ >/dev/null; then
  cp "$lib" /tmp/libjnilars4j.carried.so
  rm -f "$lib"
  if timeout "$(limit 150 390)" bash cuda/src/main/cpp/build-native.sh .carry/lib/javacpp-1.5.14.jar "$JAVA_HOME" \
       cuda/target/classes cuda/target/native >>"$out/machine.txt" 2>&1; then
    note "build: ok (nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
    { echo "--- ptxas"; cat cuda/target/native/ptxas-report.txt; } >>"$out/machine.txt" 2>/dev/null
  else
    cp /tmp/libjnilars4j.carried.so "$lib"
    note "build: FAILED (machine.txt); using the library carried from the dev machine"
  fi
else
  note "build: no nvcc or g++ here; using the carried library"
fi

# 2. Conformance and graph tests. A selected class missing from the carried test classes is said
# here (a stale carry: run prepare-carry.sh again), rather than as JUnit's one-line error.
for sel in "${junit_select[@]}"; do
  case "$sel" in --*) continue ;; esac
  cls=${sel%%#*}
  [ -f "cuda/target/test-classes/${cls//.//}.class" ] || note "tests: $cls is not in cuda/target/test-classes (stale carry?)"
done
timeout "$(limit 150 300)" java "${java_opts[@]}" -Dlars4j.test.backends="$backend" -jar "$console" execute -cp "$cp_test" --details=tree --disable-banner \
  "${junit_select[@]}" >"$out/junit.log" 2>&1
rc=$?
note "tests: exit $rc$([ $rc = 124 ] && echo ' (time limit)'), $(grep -E 'tests (successful|failed|skipped|aborted)' "$out/junit.log" | tr -s ' ' | tr '\n' ' ')"

# 3. compute-sanitizer memcheck, capped at 90 s.
if command -v compute-sanitizer >/dev/null 2>&1; then
  timeout "$(limit 90 240)" compute-sanitizer --tool memcheck --error-exitcode 99 --target-processes all \
    java "${java_opts[@]}" -Dlars4j.test.backends="$backend" -jar "$console" execute -cp "$cp_test" --disable-banner "${sanitizer_select[@]}" \
    >"$out/sanitizer.log" 2>&1
  rc=$?
  note "memcheck: exit $rc$([ $rc = 124 ] && echo ' (cut at its limit)') ($(grep -E 'ERROR SUMMARY' "$out/sanitizer.log" | tail -1))"
else
  echo "compute-sanitizer not found" >"$out/sanitizer.log"
  note "memcheck: compute-sanitizer not found on this machine"
fi

# 4. The step harness.
timeout "$(limit 150 150)" java "${java_opts[@]}" -Xmx24g -cp "$cp_bench" org.lars4j.bench.GpuStepHarness --backend "$backend" \
  --models "$l4_models" "${l4_args[@]}" --json "$out/lars4j.json" >"$out/lars4j.txt" 2>&1
rc=$?
note "harness: exit $rc$([ $rc = 124 ] && echo ' (time limit)'), $(grep -c '^[a-z]' "$out/lars4j.txt") lines (lars4j.txt)"

# 5. The peers, in what is left (SIGTERM at the limit still prints the table). Without torch
# (a dry run on a machine without it) the stage is skipped with a message, not failed.
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
  echo "peers skipped: $py cannot import torch (set PYTHON to a python3 with torch)" >"$out/peers.txt"
  note "peers: skipped: $py has no torch (PYTHON=...)"
else
  PYTHONUNBUFFERED=1 timeout "$(limit 400 10)" "$py" bench/gpu/peers.py --models "$peer_models" "${peer_args[@]}" \
    --lars4j "$out/lars4j.json" --json "$out/peers.json" >"$out/peers.txt" 2>&1
  rc=$?
  note "peers: exit $rc$([ $rc = 124 ] && echo ' (time limit)'), $(grep -c '^measured:' "$out/peers.txt") rows"
fi
note "done in $(($(date +%s) - start)) s of $budget"
