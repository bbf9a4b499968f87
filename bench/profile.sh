#!/usr/bin/env bash
# Where a Java-engine step's CPU time goes: runs VariantAB under async-profiler (fetched from Maven
# Central as tools.profiler:async-profiler) and prints the engine's samples by innermost lars4j
# method ("(vector ops)": samples inside that method's Vector API calls, which the JIT inlines).
#
#   bench/profile.sh MODEL [ROUNDS [VARIANT...]]     e.g.  bench/profile.sh tiny-10k 100 blocks
#
# The yardsticks VariantAB times in each round are left out of the breakdown (their own frames).
# Raw stacks: bench/target/profile-MODEL.collapsed (one line per stack, for flame-graph tools).
# Environment: SKIP_BUILD=1 skips the Maven builds (as in bench/run.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

model=${1:?usage: bench/profile.sh MODEL [ROUNDS [VARIANT...]]}
rounds=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(blocks)

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    mvn -q -B -DskipTests install
    mvn -q -B -f bench/pom.xml package
fi

version=3.0
jar="$HOME/.m2/repository/tools/profiler/async-profiler/$version/async-profiler-$version.jar"
[ -f "$jar" ] || mvn -q -B dependency:get -Dartifact="tools.profiler:async-profiler:$version"
agent_dir=bench/target/async-profiler
unzip -q -o "$jar" 'linux-x64/*' -d "$agent_dir"

out="bench/target/profile-$model.collapsed"
# event=cpu: perf_events where the kernel allows them, else async-profiler's own CPU timer.
java -agentpath:"$agent_dir/linux-x64/libasyncProfiler.so=start,event=cpu,interval=200us,file=$out,collapsed" \
     -Xmx18g --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar \
     org.lars4j.bench.VariantAB "$model" all "$rounds" "${variants[@]}" 2>&1 | grep -v '^WARNING'

python3 - "$out" <<'EOF'
import collections, sys
total, engine, by_method = 0, 0, collections.Counter()
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    n = int(n)
    total += n
    frames = stack.split(";")
    in_step = any(f.startswith("org/lars4j/engine/cpu/Cpu") and (f.endswith("Plan.step") or f.endswith(".claimTiles"))
                  for f in frames)
    if not in_step:
        continue  # yardsticks, set-up, JIT, GC
    engine += n
    ours = [f for f in frames if "org/lars4j/" in f]
    key = ours[-1].rsplit("/", 1)[-1]
    if "jdk/incubator/vector/" in frames[-1]:
        key += " (vector ops)"
    by_method[key] += n
print("\nthe steps: %d of %d samples (%.0f%%); by innermost lars4j method:" % (engine, total, 100.0 * engine / max(total, 1)))
for key, n in by_method.most_common(20):
    print("  %5.1f%%  %s" % (100.0 * n / max(engine, 1), key))
EOF
