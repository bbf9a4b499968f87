#!/usr/bin/env bash
# Run ON THE GPU MACHINE (device tool, carry .carry and core/target; see prepare-carry.sh):
#   1. rebuilds the JNI library with that machine's nvcc (SASS sm_80/sm_90 + PTX);
#   2. runs the CUDA conformance matrix on the real GPU (CUDA engine == Java engine, bitwise) and
#      the device-memory tests, with JUnit's console launcher on the carried runtime;
#   3. runs compute-sanitizer memcheck and racecheck over a smaller matrix;
#   4. writes everything as it goes into $OUT/gpu-checks-<time>/ (bench/results/ when $OUT is not
#      set), so that a call cut off by the device tool's time limit still brings back what ran;
#      prints a summary last. Here, copy what came back into bench/results/ and commit it.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
results="${OUT:-bench/results}/gpu-checks-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
export JAVA_HOME="$root/.carry/jre" PATH="$root/.carry/jre/bin:$PATH:/usr/local/cuda/bin"
cp_main="core/target/classes:core/target/test-classes:$(ls .carry/lib/*.jar | grep -v console-standalone | tr '\n' ':')"
console=$(ls .carry/lib/junit-platform-console-standalone-*.jar)
summary=()

{ nvidia-smi; nvcc --version; java -version; } >"$results/machine.txt" 2>&1

# 1. Native build with this machine's nvcc (java.home's include/ comes from the carried headers).
mkdir -p .carry/jre/include && cp -r .carry/include/. .carry/jre/include/
if command -v nvcc >/dev/null && command -v g++ >/dev/null; then
  lib=core/target/classes/org/lars4j/engine/cuda/linux-x86_64/libjnilars4j.so
  cp "$lib" /tmp/libjnilars4j.carried.so
  rm -f "$lib"   # rebuild with this machine's nvcc
  if bash core/src/main/cpp/build-native.sh .carry/lib/javacpp-1.5.14.jar "$JAVA_HOME" core/target/classes core/target/native \
       >"$results/build.log" 2>&1; then
    summary+=("build: ok (nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))")
    cp core/target/native/ptxas-report.txt "$results/" 2>/dev/null
  else
    cp /tmp/libjnilars4j.carried.so "$lib"
    summary+=("build: FAILED (see build.log); using the library carried from the dev machine")
  fi
else
  summary+=("build: no nvcc or g++ here; using the library carried from the dev machine (nvcc 13.0, sm_80/sm_90/PTX)")
fi

run_junit() {  # name, then --select-class arguments
  local name=$1; shift
  java --add-modules jdk.incubator.vector -jar "$console" execute -cp "$cp_main" --details=tree --disable-banner "$@" >"$results/$name.log" 2>&1
  local rc=$?
  summary+=("$name: exit $rc, $(grep -E 'tests (successful|failed|skipped|aborted)' "$results/$name.log" | tr -s ' ' | tr '\n' ' ')")
}

# 2. The matrix on the GPU.
java --add-modules jdk.incubator.vector -cp "$cp_main" org.lars4j.tool.Main info >>"$results/machine.txt" 2>&1   # at most 8 files come back from $OUT
run_junit gpu-conformance --select-class org.lars4j.GpuCudaConformanceTest --select-class org.lars4j.GpuCooperativeConformanceTest \
  --select-class org.lars4j.GpuLambConformanceTest
run_junit device-memory --select-class org.lars4j.DeviceTensorTest --select-class org.lars4j.GpuGraphCaptureTest \
  --select-class org.lars4j.GpuStreamOrderTest --select-class org.lars4j.GpuNanPayloadTest

# 3. compute-sanitizer over a smaller run (the tile-boundary matrix).
if command -v compute-sanitizer >/dev/null 2>&1; then
  for tool in memcheck racecheck; do
    # Bounded: the JVM under racecheck is slow, and the call must leave time for the summary.
    timeout 180 compute-sanitizer --tool "$tool" --error-exitcode 99 --target-processes all \
      java --add-modules jdk.incubator.vector -jar "$console" execute -cp "$cp_main" --disable-banner \
      --select-method 'org.lars4j.GpuCudaConformanceTest#everyStorageFormAndOption' \
      >"$results/sanitizer-$tool.log" 2>&1
    rc=$?
    summary+=("compute-sanitizer $tool: exit $rc$([ $rc = 124 ] && echo ' (timed out after 180 s)') ($(grep -E 'ERROR SUMMARY' "$results/sanitizer-$tool.log" | tail -1))")
  done
else
  summary+=("compute-sanitizer: not found on this machine")
fi

printf '%s\n' "${summary[@]}" | tee "$results/summary.txt"
