#!/bin/bash
# Interleaved A/B of the server's CPU per delivered event:
#   tools/ab.sh OLD_BIN_DIR NEW_BIN_DIR N [swe-swe-load flags...]
# runs target/release/swe-swe-load with --bin-dir OLD, then NEW, N times,
# and prints each side's sorted figures and median, and the median of the
# N paired differences (each pair ran back to back, so it moves less with
# the VM's hour than the medians do). Each bin dir holds a swe-swe and a
# fake-agent (e.g. copies of target/release from two commits).
# Between two runs of one build the figure moves by up to 25 % on a shared
# VM: compare within one A/B only.
set -euo pipefail
old=$1 new=$2 n=$3
shift 3
load="$(dirname "$0")/../target/release/swe-swe-load"
declare -A got=([old]="" [new]="")
for _ in $(seq "$n"); do
  for side in old new; do
    dir=${!side}
    v=$("$load" --bin-dir "$dir" "$@" | sed -n 's/^server CPU .*: \([0-9.]*\) us per delivered event/\1/p')
    got[$side]+="$v "
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for side in old new; do
  sorted=$(tr ' ' '\n' <<<"${got[$side]}" | grep . | sort -n)
  echo "$side (${!side}): $(tr '\n' ' ' <<<"$sorted") median $(median <<<"$sorted") us"
done
paired=$(paste <(tr ' ' '\n' <<<"${got[old]}" | grep .) <(tr ' ' '\n' <<<"${got[new]}" | grep .) |
  awk '{printf "%.1f\n", ($2 - $1) / $1 * 100}')
echo "new against old, median of the $n paired differences: $(median <<<"$paired") %"
