#!/usr/bin/env bash
# Builds lars4j and the JMH benchmarks, runs them, and prints the LARS-step-vs-triad table.
#
#   bench/run.sh                 # default set: resnet50 step + triad/copy, threads 1 and all
#   bench/run.sh JMH-ARGS...     # your JMH arguments instead of the default set, e.g.
#   bench/run.sh 'LarsStepBenchmark|TriadBenchmark' -p model=bert-large -wi 5 -i 10
#
# JMH arguments given here replace the default set entirely (JMH rejects an option given twice).
# Always added: -rf json -rff bench/target/results.json (so do not pass -rf/-rff yourself).
# Environment: SKIP_BUILD=1 skips both Maven builds; MARKDOWN=1 prints the table as Markdown.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

results=bench/target/results.json
jar=bench/target/benchmarks.jar

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "# building lars4j: mvn -q -B -DskipTests install" >&2
    mvn -q -B -DskipTests install
    echo "# building the benchmarks: mvn -q -B -f bench/pom.xml package" >&2
    mvn -q -B -f bench/pom.xml package
fi

if [[ $# -eq 0 ]]; then
    # The annotations' defaults (3 x 2 s warmup, 5 x 2 s measurement, 1 fork), spelled out so
    # the recorded command says what was run.
    jmh_args=('LarsStepBenchmark|TriadBenchmark' -p model=resnet50 -f 1 -wi 3 -w 2s -i 5 -r 2s)
else
    jmh_args=("$@")
fi

mkdir -p "$(dirname "$results")"
rm -f "$results"
cmd=(java -jar "$jar" "${jmh_args[@]}" -rf json -rff "$results")
printf -v cmd_str '%q ' "${cmd[@]}"
cmd_str="${cmd_str% }"
echo "# command: $cmd_str" >&2
"${cmd[@]}"

report=(java -cp "$jar" org.lars4j.bench.Report --command "$cmd_str")
[[ "${MARKDOWN:-0}" == 1 ]] && report+=(--markdown)
echo
"${report[@]}" "$results"
