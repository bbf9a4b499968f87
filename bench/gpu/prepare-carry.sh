#!/usr/bin/env bash
# Run HERE (the machine with Maven), before a GPU session: builds the library, its test classes
# and the benchmarks jar, and fills the git-ignored folder .carry/ with what the GPU machine
# lacks — a jlink'd Java runtime (Temurin 25), the JNI headers, the runtime jars, JUnit's console
# launcher. Then ONE device call runs the whole session (bench/gpu/run-gpu-session.sh):
#   run(command="bash bench/gpu/run-gpu-session.sh", timeout_s=600,
#       carry=[".carry", "core/target/classes", "core/target/test-classes", "cuda/target/classes",
#             "cuda/target/test-classes", "bench/target/classes"])
# What travels (the working tree plus the carried paths) must stay under the device tool's
# 64 MiB; the size is checked at the end (exit 1 when over).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
jdk=${LARS4J_CARRY_JDK:-$(ls -d /usr/lib/jvm/temurin-25-jdk-* 2>/dev/null | head -1)}
[ -x "$jdk/bin/jlink" ] || { echo "prepare-carry: no JDK with jlink (set LARS4J_CARRY_JDK)" >&2; exit 1; }
# Only the library: bench depends on lars4j-core and lars4j-cuda alone (tool/ and integrations/ do not travel).
JAVA_HOME="$jdk" mvn -q -B -DskipTests -N install && JAVA_HOME="$jdk" mvn -q -B -DskipTests -pl core,cuda install
JAVA_HOME="$jdk" mvn -q -B -pl core,cuda test-compile
JAVA_HOME="$jdk" mvn -q -B -f bench/pom.xml package
rm -rf .carry && mkdir -p .carry/lib .carry/include
"$jdk/bin/jlink" --add-modules java.base,jdk.unsupported,java.management,java.logging,java.xml,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output .carry/jre
# Temurin's libjvm.so keeps its symbol table (~5 MB); the JVM does not need it.
if command -v strip >/dev/null; then strip --strip-unneeded .carry/jre/lib/server/libjvm.so; fi
cp -r "$jdk/include/." .carry/include/
# lars4j's own classes travel as the carried target/classes folders, not as jars.
tr ':' '\n' < cuda/target/runtime-classpath.txt | grep -v '/lars4j-' | xargs -I{} cp {} .carry/lib/
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
    'BEGIN { printf "%-7s carry %-70s %5.1f MiB of 64%s\n", n, c, t / 1048576, (t > l ? "  OVER THE LIMIT" : "") }'
  if [ "$total" -gt "$limit" ]; then over=1; fi
}
check session .carry core/target/classes core/target/test-classes cuda/target/classes cuda/target/test-classes bench/target/classes
exit "$over"
