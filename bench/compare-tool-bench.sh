#!/usr/bin/env bash
# Before/after speed check of two lars4j checkouts with `./lars4j bench`, interleaved.
#
#   bench/compare-tool-bench.sh BEFORE_DIR AFTER_DIR OUT_DIR [ROUNDS]   # measure, then summarise
#   bench/compare-tool-bench.sh --summary OUT_DIR                        # summarise an OUT_DIR again
#
# BEFORE_DIR and AFTER_DIR are checkouts with the `lars4j` launcher at their root (e.g. a clone
# at the commit before a refactor and the working tree after it). For each round (default 3),
# for each model and optimizer, it runs
#     DIR/lars4j bench --model M --optimizer O --backend cpu --json OUT_DIR/json/...
# once for BEFORE and once for AFTER: before first in odd rounds, after first in even rounds.
# Every run is its own JVM, one at a time (a lock file keeps two copies of this script from
# overlapping: bert-large holds ~5.4 GB of arrays per process with LAMB). Each side's ratio to
# its floor comes from the same run (the bench measures a STREAM triad right before the step).
#
# Environment:
#   MODELS      models      (default: "resnet50 bert-large tiny-10k")
#   OPTIMIZERS  optimizers  (default: "lars lamb"; each with its default preset)
#   BENCH_ARGS  extra bench options for both sides, e.g. "--threads 2 --steps 30" (default: none,
#               i.e. the bench's defaults: all processors, 5 warm-up and 20 measured steps)
#   LOCK        lock file (default: /tmp/lars4j-compare-tool-bench.lock)
#
# OUT_DIR gets json/rR-MODEL-OPT-SIDE.json (one per run), logs/ (each run's stdout and stderr),
# runs.tsv (one line per run: round, order, model, optimizer, side, start, seconds, exit code),
# machine.txt (the machine, both sides' commits, the command) and summary.md: one Markdown row
# per model and optimizer with the medians over rounds of each side's median step, their
# ratio, the per-round after/before ratios, and each side's ratio to its own floor, with the
# min..max over rounds. Reading needs only grep, sed and awk (no jq, no Python).
# A run that fails is logged and counted; the script goes on and exits 1 at the end.
set -uo pipefail

models=(${MODELS:-resnet50 bert-large tiny-10k})
optimizers=(${OPTIMIZERS:-lars lamb})
extra=(${BENCH_ARGS:-})

die() { echo "compare-tool-bench: $*" >&2; exit 2; }

# One number of a bench JSON (pretty-printed or compact); empty if absent.
json_num() {
    grep -o "\"$2\"[[:space:]]*:[[:space:]]*[-0-9.eE+]*" "$1" 2>/dev/null | head -n 1 | sed 's/.*:[[:space:]]*//'
}

summarise() {
    local out="$1"
    [[ -d "$out/json" ]] || die "no $out/json (nothing measured there)"
    local rows="" f base side round model opt med ratio floor
    for f in "$out"/json/r*-*.json; do
        [[ -f "$f" ]] || continue
        base="$(basename "$f" .json)"          # rR-MODEL-OPT-SIDE (MODEL may contain '-')
        side="${base##*-}"; base="${base%-*}"
        opt="${base##*-}"; base="${base%-*}"
        round="${base%%-*}"; round="${round#r}"; model="${base#*-}"
        med="$(json_num "$f" us_per_step_median)"
        ratio="$(json_num "$f" ratio_to_floor)"
        floor="$(json_num "$f" floor_gbps)"
        [[ -n "$med" && -n "$ratio" ]] || { echo "compare-tool-bench: skipping $f (no us_per_step_median/ratio_to_floor)" >&2; continue; }
        rows+="$model	$opt	$round	$side	$med	$ratio	$floor"$'\n'
    done
    [[ -n "$rows" ]] || die "no usable JSON in $out/json"
    {
        [[ -f "$out/machine.txt" ]] && sed 's/^/    /' "$out/machine.txt" && echo
        echo "| model | optimizer | rounds | before ms, median (min..max) | after ms, median (min..max) | after/before (medians) | after/before per round, median (min..max) | before step/floor, median (min..max) | after step/floor, median (min..max) |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        printf '%s' "$rows" | awk -F'\t' -v order="${models[*]}|${optimizers[*]}" '
            function median(a, n,   i, j, t, b) {
                for (i = 1; i <= n; i++) b[i] = a[i]
                for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
                lo = b[1]; hi = b[n]
                return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
            }
            function stat(key, list, scale, fmt,   a, n, m) {
                n = split(list[key], a, " ")
                if (n == 0) return "-"
                m = median(a, n)
                return sprintf(fmt " (" fmt ".." fmt ")", m * scale, lo * scale, hi * scale)
            }
            {
                k = $1 SUBSEP $2
                if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
                us[k, $4] = us[k, $4] " " $5
                rt[k, $4] = rt[k, $4] " " $6
                t[k, $3, $4] = $5
                rounds[k, $3] = 1
            }
            END {
                # rows in the order of MODELS and OPTIMIZERS, then anything else found
                split(order, parts, "|"); nm = split(parts[1], ms, " "); no = split(parts[2], os, " ")
                for (i = 1; i <= nm; i++) for (j = 1; j <= no; j++) { k = ms[i] SUBSEP os[j]; if (k in seen) { ord[++n] = k; done[k] = 1 } }
                for (i = 1; i <= nk; i++) if (!(keys[i] in done)) ord[++n] = keys[i]
                for (i = 1; i <= n; i++) {
                    k = ord[i]; split(k, mo, SUBSEP)
                    nb = split(us[k, "before"], b, " "); na = split(us[k, "after"], a, " ")
                    ratio = "-"
                    if (nb && na) ratio = sprintf("%.3f", median(a, na) / median(b, nb))
                    pairs = ""; np = 0
                    for (rk in rounds) { split(rk, rr, SUBSEP); if (rr[1] SUBSEP rr[2] != k) continue
                        r = rr[3]
                        if (((k, r, "before") in t) && ((k, r, "after") in t)) { np++; pairs = pairs " " t[k, r, "after"] / t[k, r, "before"] } }
                    pl[k] = pairs
                    printf "| %s | %s | %d / %d | %s | %s | %s | %s | %s | %s |\n", mo[1], mo[2], nb, na,
                        stat(k SUBSEP "before", us, 0.001, "%.1f"), stat(k SUBSEP "after", us, 0.001, "%.1f"), ratio,
                        (np ? stat(k, pl, 1, "%.3f") : "-"),
                        stat(k SUBSEP "before", rt, 1, "%.3f"), stat(k SUBSEP "after", rt, 1, "%.3f")
                }
            }'
        echo
        echo "rounds: runs before / after. ms: \`us_per_step_median\` of each run (median of its measured steps); the"
        echo "columns give the median over runs and their min..max. step/floor: \`ratio_to_floor\` of each run (its GB/s"
        echo "over the STREAM triad measured in the same JVM just before). after/before per round: the after run over"
        echo "the before run of the same round (adjacent in time)."
    } | tee "$out/summary.md"
}

if [[ "${1:-}" == --summary ]]; then
    [[ $# -eq 2 ]] || die "usage: $0 --summary OUT_DIR"
    summarise "$2"
    exit $?
fi
if [[ $# -lt 3 || $# -gt 4 || "${1:-}" == -h || "${1:-}" == --help ]]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
fi

before="$(cd "$1" 2>/dev/null && pwd)" || die "no directory $1"
after="$(cd "$2" 2>/dev/null && pwd)" || die "no directory $2"
out="$3"
rounds="${4:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$rounds'"
for d in "$before" "$after"; do [[ -x "$d/lars4j" ]] || die "$d has no executable lars4j launcher"; done
[[ "$before" != "$after" ]] || echo "compare-tool-bench: note: BEFORE and AFTER are the same directory" >&2
if [[ -e "$out" ]] && [[ -n "$(ls -A "$out" 2>/dev/null)" ]]; then die "$out exists and is not empty (use a new OUT_DIR)"; fi
mkdir -p "$out/json" "$out/logs" || die "cannot create $out"
out="$(cd "$out" && pwd)"

lock="${LOCK:-/tmp/lars4j-compare-tool-bench.lock}"
exec 9>"$lock" || die "cannot open lock $lock"
flock -n 9 || die "another compare-tool-bench holds $lock; two benchmarks at once would measure each other"

# Build both sides now (the launcher builds when a source is newer than its last build), so no
# build runs inside the measured loop; then check that each side's bench takes our options.
for d in "$before" "$after"; do
    echo "compare-tool-bench: checking $d/lars4j bench --help (builds it if its sources changed)" >&2
    help="$("$d/lars4j" bench --help 2>&1)" || { echo "$help" >&2; die "$d/lars4j bench --help failed"; }
    for o in --model --optimizer --backend --json; do
        grep -q -- "$o" <<<"$help" || die "$d/lars4j bench has no $o option"
    done
done

side_dir() { if [[ "$1" == before ]]; then echo "$before"; else echo "$after"; fi; }
commit_of() { git -C "$1" rev-parse --short HEAD 2>/dev/null || echo "?"; }
dirty_of() { [[ -n "$(git -C "$1" status --porcelain 2>/dev/null)" ]] && echo " + uncommitted changes" || true; }
{
    echo "machine: $(uname -srm), $(nproc) processors, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "java: $(java -version 2>&1 | head -n 1)"
    echo "before: $before at $(commit_of "$before")$(dirty_of "$before")"
    echo "after: $after at $(commit_of "$after")$(dirty_of "$after")"
    echo "command: bench/compare-tool-bench.sh $* (MODELS='${models[*]}' OPTIMIZERS='${optimizers[*]}' BENCH_ARGS='${extra[*]}')"
    echo "each run: DIR/lars4j bench --model M --optimizer O --backend cpu${extra[*]:+ ${extra[*]}} --json FILE"
    echo "started: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
printf 'round\torder\tmodel\toptimizer\tside\tstart_utc\tseconds\texit\n' >"$out/runs.tsv"

failed=0
t_all=$(date +%s)
for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then order=(before after); else order=(after before); fi
    t_round=$(date +%s)
    for m in "${models[@]}"; do
        for o in "${optimizers[@]}"; do
            for s in "${order[@]}"; do
                name="r$r-$m-$o-$s"
                avail=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
                ((avail < 8)) && echo "compare-tool-bench: warning: only ${avail} GiB available before $name" >&2
                start=$(date -u +%H:%M:%S); t0=$(date +%s)
                echo "compare-tool-bench: round $r/$rounds, $m $o, $s ($start UTC)" >&2
                "$(side_dir "$s")/lars4j" bench --model "$m" --optimizer "$o" --backend cpu \
                    "${extra[@]}" --json "$out/json/$name.json" >"$out/logs/$name.out" 2>"$out/logs/$name.err"
                rc=$?
                t1=$(date +%s)
                printf '%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n' "$r" "${order[0]}-first" "$m" "$o" "$s" "$start" $((t1 - t0)) "$rc" >>"$out/runs.tsv"
                if ((rc != 0)); then
                    failed=$((failed + 1))
                    echo "compare-tool-bench: $name failed (exit $rc); see $out/logs/$name.err" >&2
                    tail -n 5 "$out/logs/$name.err" >&2
                fi
            done
        done
    done
    echo "compare-tool-bench: round $r took $(( $(date +%s) - t_round )) s" >&2
done
echo "ended: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(( $(date +%s) - t_all )) s for $rounds round(s), $failed failed run(s), load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

summarise "$out"
((failed == 0)) || { echo "compare-tool-bench: $failed run(s) failed" >&2; exit 1; }
