#!/usr/bin/env bash
# Run HERE (the machine with Maven), before a GPU session: builds the project and fills the
# git-ignored folder .carry/ with what the GPU machine lacks — a jlink'd Java runtime (Temurin 25),
# the JNI headers, the runtime jars, the test classes and JUnit's console launcher.
# Then, with the device tool:
#   run(command="bash bench/gpu/run-gpu-checks.sh", carry=[".carry", "target"])                   # issue 4
#   run(command="bash bench/gpu/run-gpu-bench.sh", carry=[".carry", "target", "bench/target/benchmarks.jar"])  # issue 6
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
jdk=${LARS4J_CARRY_JDK:-$(ls -d /usr/lib/jvm/temurin-25-jdk-* 2>/dev/null | head -1)}
[ -x "$jdk/bin/jlink" ] || { echo "prepare-carry: no JDK with jlink (set LARS4J_CARRY_JDK)" >&2; exit 1; }
JAVA_HOME="$jdk" mvn -q -B -DskipTests install test-compile
JAVA_HOME="$jdk" mvn -q -B -f bench/pom.xml package
rm -rf .carry && mkdir -p .carry/lib .carry/include
"$jdk/bin/jlink" --add-modules java.base,jdk.unsupported,java.management,java.logging,java.xml,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output .carry/jre
cp -r "$jdk/include/." .carry/include/
tr ':' '\n' < target/runtime-classpath.txt | xargs -I{} cp {} .carry/lib/
mvn -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 -DoutputDirectory=.carry/lib
mvn -q -B dependency:copy -Dartifact=org.bytedeco:javacpp:1.5.14 -DoutputDirectory=.carry/lib
du -sh .carry target
