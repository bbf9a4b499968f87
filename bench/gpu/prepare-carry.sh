#!/usr/bin/env bash
# Run HERE (the machine with Maven), before a GPU session: builds the project and fills the
# git-ignored folder .carry/ with what the GPU machine lacks — a jlink'd Java runtime (Temurin 25),
# the JNI headers, the runtime jars, the test classes and JUnit's console launcher.
# Then, with the device tool (what travels, working tree included, must stay under 64 MiB a call,
# so each run carries only what it reads; the sizes are checked at the end):
#   run(command="bash bench/gpu/run-gpu-checks.sh", carry=[".carry", "core/target"])                      # issue 4
#   run(command="MODELS=resnet50 bash bench/gpu/run-gpu-bench.sh", carry=[".carry/jre", "bench/target/benchmarks.jar"])  # issue 6,
#   then the same with MODELS=bert-large and MODELS=tiny-10k (one model per call; see bench/README.md)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
jdk=${LARS4J_CARRY_JDK:-$(ls -d /usr/lib/jvm/temurin-25-jdk-* 2>/dev/null | head -1)}
[ -x "$jdk/bin/jlink" ] || { echo "prepare-carry: no JDK with jlink (set LARS4J_CARRY_JDK)" >&2; exit 1; }
JAVA_HOME="$jdk" mvn -q -B -DskipTests install && JAVA_HOME="$jdk" mvn -q -B -pl core test-compile
JAVA_HOME="$jdk" mvn -q -B -f bench/pom.xml package
rm -rf .carry && mkdir -p .carry/lib .carry/include
"$jdk/bin/jlink" --add-modules java.base,jdk.unsupported,java.management,java.logging,java.xml,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output .carry/jre
# Temurin's libjvm.so keeps its symbol table (~5 MB); the JVM does not need it.
if command -v strip >/dev/null; then strip --strip-unneeded .carry/jre/lib/server/libjvm.so; fi
cp -r "$jdk/include/." .carry/include/
tr ':' '\n' < core/target/runtime-classpath.txt | xargs -I{} cp {} .carry/lib/
mvn -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 -DoutputDirectory=.carry/lib
mvn -q -B dependency:copy -Dartifact=org.bytedeco:javacpp:1.5.14 -DoutputDirectory=.carry/lib
# The device tool's limit: tracked and untracked-not-ignored files plus the carried paths, 64 MiB.
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
limit=$((64 * 1024 * 1024))
over=0
check() {  # name, carried paths...
  local name=$1; shift
  local total=$((tree + $(du -scb "$@" | tail -1 | cut -f1)))
  awk -v n="$name" -v c="$*" -v t="$total" -v l="$limit" \
    'BEGIN { printf "%-7s carry %-42s %5.1f MiB of 64%s\n", n, c, t / 1048576, (t > l ? "  OVER THE LIMIT" : "") }'
  if [ "$total" -gt "$limit" ]; then over=1; fi
}
check checks .carry core/target
check bench .carry/jre bench/target/benchmarks.jar
exit "$over"
