#!/usr/bin/env bash
# Builds the JNI library libjnilars4j.so (Maven runs this in process-classes):
#   1. JavaCPP generates the JNI glue for org.lars4j.engine.cuda.NativeLars;
#   2. nvcc compiles src/main/cuda/lars_cuda.cu (SASS sm_80 + sm_90, PTX compute_90), with the
#      ptxas resource report kept in target/native/ptxas-report.txt; without nvcc a stub is built
#      and the CUDA engine reports "not built with CUDA";
#   3. g++ compiles the glue with the host plan and the SIMT emulator (the same kernel source
#      as for the GPU) and links cudart statically, so the library loads without a driver;
#   4. g++ builds the emulator's self-test (target/native/simt_selftest).
# Skips work whose outputs are newer than every native source.
# Usage: build-native.sh JAVACPP_JAR JAVA_HOME CLASSES_DIR NATIVE_DIR
set -euo pipefail
javacpp_jar=$1 java_home=$2 classes=$3 out=$4
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
lib_dir="$classes/org/lars4j/engine/cuda/linux-x86_64"
lib="$lib_dir/libjnilars4j.so"
mkdir -p "$out" "$lib_dir"

newest_source=$(find "$root/src/main/cpp" "$root/src/main/cuda" "$root/src/test/cpp" \
  "$root/src/main/java/org/lars4j/engine/cuda/NativeLars.java" -type f -printf '%T@\n' | sort -n | tail -1)
up_to_date() { [ -f "$1" ] && [ "$(stat -c %Y "$1")" -ge "${newest_source%.*}" ]; }

cxxflags=(-std=c++17 -O2 -fPIC -ffp-contract=off -Wall -Wno-unused-parameter
          -I"$root/src/main/cpp" -I"$root/src/main/cuda")

if ! up_to_date "$lib"; then
  # 1. JNI glue.
  java -cp "$javacpp_jar:$classes" org.bytedeco.javacpp.tools.Builder -nocompile -d "$out/jni" \
    org.lars4j.engine.cuda.NativeLars >"$out/javacpp.log" 2>&1 || { cat "$out/javacpp.log"; exit 1; }

  # 2. CUDA backend, or its stub.
  cuda_libs=()
  if command -v nvcc >/dev/null 2>&1; then
    cuda_home="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
    # /usr/local/bin/nvcc may be a wrapper script: find the toolkit through nvcc itself.
    if [ ! -f "$cuda_home/lib64/libcudart_static.a" ]; then
      echo 'int main(){}' >"$out/probe.cu"
      cuda_home="$(cd "$(nvcc --dryrun "$out/probe.cu" -o "$out/probe" 2>&1 | sed -n 's/^#\$ TOP=//p' | head -1)" && pwd)"
    fi
    [ -f "$cuda_home/lib64/libcudart_static.a" ] || { echo "build-native: libcudart_static.a not found under $cuda_home" >&2; exit 1; }
    echo "build-native: nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') from $cuda_home" >&2
    # -fmad=false: every kernel op is an explicit _rn intrinsic today, which nvcc never contracts;
    # the flag keeps a future plain a*b+c from silently becoming an fma (different bits).
    nvcc_flags=(-std=c++17 -O3 -fmad=false -Xcompiler -fPIC -I"$root/src/main/cpp" -I"$root/src/main/cuda")
    nvcc "${nvcc_flags[@]}" \
      -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
      -gencode arch=compute_90,code=compute_90 -Xptxas -v \
      -c "$root/src/main/cuda/lars_cuda.cu" -o "$out/lars_cuda.o" 2>"$out/ptxas-report.txt" \
      || { cat "$out/ptxas-report.txt" >&2; exit 1; }
    # The same flags on a plain multiply-add, to PTX: NativeBuildFlagsTest checks it is not fused.
    printf '__global__ void probe(const float* a, const float* b, const float* c, float* d) { d[0] = a[0] * b[0] + c[0]; }\n' >"$out/fmad-probe.cu"
    nvcc "${nvcc_flags[@]}" -arch=compute_90 -ptx "$out/fmad-probe.cu" -o "$out/fmad-probe.ptx"
    cuda_obj="$out/lars_cuda.o"
    cuda_libs=(-L"$cuda_home/lib64" -lcudart_static -ldl -lrt)
  else
    echo "build-native: nvcc not found; building the CUDA engine as a stub (emulator still built)" >&2
    g++ "${cxxflags[@]}" -c "$root/src/main/cpp/lars_cuda_stub.cpp" -o "$out/lars_cuda_stub.o"
    cuda_obj="$out/lars_cuda_stub.o"
  fi

  # 3. The JNI library.
  g++ "${cxxflags[@]}" -shared -I"$java_home/include" -I"$java_home/include/linux" \
    "$out/jni/jnilars4j.cpp" "$out/jni/jnijavacpp.cpp" "$cuda_obj" "${cuda_libs[@]}" -pthread \
    -Wl,--no-undefined -Wl,-soname,libjnilars4j.so -o "$lib.tmp"
  mv "$lib.tmp" "$lib"
fi

# 4. Emulator self-test.
if ! up_to_date "$out/simt_selftest"; then
  g++ "${cxxflags[@]}" -pthread "$root/src/test/cpp/simt_selftest.cpp" -o "$out/simt_selftest"
fi
