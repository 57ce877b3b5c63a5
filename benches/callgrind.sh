#!/usr/bin/env bash
# Instructions per record of an engine workload, counted by callgrind: wall time
# on a shared VM is noisy, but the same binary and input give the same count.
#
#   bash benches/callgrind.sh [--memory] [--peer NAME] [WORKLOAD [N1 N2]]
#
# WORKLOAD is a benchmark workload id (benches/support/targets.rs), default append-p1-64B-b1 (the targets
# give instructions for it and for produce-e2e-t2-64B). The script builds the
# CLI (release, honouring CARGO_TARGET_DIR) and runs
#   idemlog bench --only WORKLOAD --records N
# under `valgrind --tool=callgrind` for N = N1 and N = N2 (default 262144 and
# 1310720): the engine runner alone, built and prefilled to steady state (the
# same work in both runs), then N records in one round. The bench rounds N up
# to whole units of its runner (one batch from every producer, ...) and says how
# many records it ran, R; the script prints
#   (Ir(N2) - Ir(N1)) / (R2 - R1)
# with those real counts, so start-up, prefill and tear-down cancel, and the
# target if the table has one. N1 and N2 that round to the same R are refused.
# The memory workloads (memory-*) are resident-set figures with no runner, and
# are refused.
# Append workloads count the benchmark workers only (--toggle-collect on the
# harness's crew::run_task, so the clock thread's wake-ups are left out; the
# count repeats exactly on an idle machine, to within 0.1 per record beside
# another job); consume-scan counts its reader's rounds (the engine's
# Scan runner). produce-e2e counts every thread, since the producer's
# flusher thread does half the work; that includes its and the senders' idle
# polling, so that figure moves by a few percent between runs.
# With --peer NAME it counts the workload's peer NAME instead (as named in the
# table: non-idempotent, naive-prototype, disruptor, ...; under the same
# collection rule, so a peer whose work is not under it is refused). The
# idempotence rows compare the engine with itself, so their ratio is stable in
# instructions:
#   bash benches/callgrind.sh idempotence-b1
#   bash benches/callgrind.sh --peer non-idempotent idempotence-b1
# With --memory it also simulates the caches (--cache-sim=yes) and prints the
# data loads and stores per record (callgrind's Dr and Dw, same differential).
# On the development VM the batch-1 append is bound by its instruction count,
# not by memory (benches/FINDINGS.md, "Where the costs are").
# Takes about a minute for the append rows, two for produce-e2e (--memory:
# about three times as long).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: $0 [--memory] [--peer NAME] [WORKLOAD [N1 N2]] with N2 > N1 >= 1"
memory=()
peer=()
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --memory) memory=(--cache-sim=yes) ;;
    --peer)
      [ -n "${2:-}" ] || { echo "--peer needs a peer name" >&2; exit 2; }
      peer=(--peer "$2")
      shift
      ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) echo "unknown option '$1'" >&2; echo "$usage" >&2; exit 2 ;;
    *) positional+=("$1") ;;
  esac
  shift
done
if [ ${#positional[@]} -gt 3 ]; then
  echo "too many arguments: ${positional[*]}" >&2
  echo "$usage" >&2
  exit 2
fi
workload=${positional[0]:-append-p1-64B-b1}
n1=${positional[1]:-262144}
n2=${positional[2]:-1310720}
if ! { [ "$n1" -ge 1 ] && [ "$n2" -gt "$n1" ]; } 2>/dev/null; then
  echo "$usage" >&2
  exit 2
fi
case "$workload" in
  memory*)
    echo "$workload: the memory workloads are resident-set figures of a fresh process, with no runner to count instructions per record of; run 'idemlog bench --only $workload'" >&2
    exit 2
    ;;
esac
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

cargo build --release --quiet --bin idemlog
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release/idemlog"

case "$workload" in
  produce-*) collect=() ;;
  consume-scan) collect=(--toggle-collect='*engine::Scan*Runner*run*') ;;
  *) collect=(--toggle-collect='*crew::run_task*') ;;
esac

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Runs N records under callgrind; prints the total instruction count.
instructions() {
  local n=$1
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$n" ${memory[@]+"${memory[@]}"} ${collect[@]+"${collect[@]}"} \
    "$bin" bench --only "$workload" --records "$n" ${peer[@]+"${peer[@]}"} >"$out/stdout.$n" 2>"$out/stderr.$n" || {
    local status=$?
    cat "$out/stderr.$n" >&2
    exit "$status"
  }
  if [ "$(wc -l <"$out/stdout.$n")" -ne 1 ]; then
    echo "'--only $workload' must select exactly one runner; it printed:" >&2
    cat "$out/stdout.$n" >&2
    exit 2
  fi
  local ir
  ir=$(awk '/^summary:/ { print $2 }' "$out/callgrind.$n")
  if ! [ "${ir:-0}" -gt 0 ] 2>/dev/null; then
    echo "callgrind counted no instructions for $workload: its code is not under ${collect[*]:-the whole program}" >&2
    exit 2
  fi
  echo "$ir"
}

# The records run N asked for really ran: "<workload>: <who> R records in ...".
records_run() {
  sed -n 's/^[^ ]*: [^ ]* \([0-9][0-9]*\) records in .*/\1/p' "$out/stdout.$1"
}

ir1=$(instructions "$n1")
ir2=$(instructions "$n2")
r1=$(records_run "$n1")
r2=$(records_run "$n2")
if ! [ "${r2:-0}" -gt "${r1:-0}" ] 2>/dev/null; then
  echo "N1 = $n1 and N2 = $n2 ran ${r1:-?} and ${r2:-?} records (the bench runs whole units of its runner): pick N2 further above N1" >&2
  exit 2
fi
per_record=$(awk -v a="$ir1" -v b="$ir2" -v n1="$r1" -v n2="$r2" \
  'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
who=${peer[1]:-engine}
line="$workload ($who): $per_record instructions/record (callgrind Ir $ir1 at $r1 records, $ir2 at $r2)"
target=$(sed -n 's/.*target <= \([0-9]*\) instructions\/record.*/\1/p' "$out/stdout.$n2")
if [ -n "$target" ]; then
  verdict=$(awk -v v="$per_record" -v t="$target" 'BEGIN { print (v <= t) ? "met" : "NOT met" }')
  line="$line; target <= $target: $verdict"
fi
echo "$line"

# The total of callgrind event NAME (Dr, Dw: with --cache-sim=yes) in run N.
event_total() {
  awk -v name="$2" '/^events:/ { for (i = 2; i <= NF; i++) if ($i == name) col = i }
    /^summary:/ { print $col }' "$out/callgrind.$1"
}
if [ ${#memory[@]} -gt 0 ]; then
  per_record_of() {
    awk -v a="$(event_total "$n1" "$1")" -v b="$(event_total "$n2" "$1")" -v n1="$r1" -v n2="$r2" \
      'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }'
  }
  echo "$workload ($who): $(per_record_of Dr) loads and $(per_record_of Dw) stores/record (callgrind --cache-sim=yes Dr, Dw)"
fi
