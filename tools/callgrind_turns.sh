#!/bin/bash
# User-space instructions of the server over the measured turns only:
#   tools/callgrind_turns.sh BIN_DIR OUT_DIR [swe-swe-load flags...]
# BIN_DIR holds a swe-swe and a fake-agent (as for tools/ab.sh); the load
# starts that swe-swe under callgrind (one profile per thread), zeroes the
# counts as the turns start and dumps them as they end, then prints the
# delivered events, the instructions of every thread's dump summed, and
# their quotient. Instruction counts do not move with the VM's hour as
# times do; the kernel's work is not in them.
set -euo pipefail
bin=$(realpath "$1") out=$(realpath -m "$2")
shift 2
mkdir -p "$out/bin"
rm -f "$out"/cg.out.*
cat > "$out/bin/swe-swe" <<EOS
#!/bin/bash
exec valgrind --tool=callgrind --separate-threads=yes --log-file=$out/valgrind.%p.log --callgrind-out-file=$out/cg.out.%p "$bin/swe-swe" "\$@"
EOS
chmod +x "$out/bin/swe-swe"
cp "$bin/fake-agent" "$out/bin/"
load="$(dirname "$0")/../target/release/swe-swe-load"
report=$("$load" --bin-dir "$out/bin" "$@" \
  --before-turns 'callgrind_control -z $SERVER_PID >/dev/null 2>&1' \
  --after-turns 'callgrind_control -d $SERVER_PID >/dev/null 2>&1')
events=$(sed -n 's/^events delivered *\([0-9]*\) .*/\1/p' <<<"$report")
total=$(cat "$out"/cg.out.*.1-* | awk '/^summary:/ {s += $2} END {print s}')
echo "delivered events   $events"
echo "instructions       $(awk -v t="$total" 'BEGIN {printf "%.1f M", t / 1e6}') (the turns, all threads)"
echo "per event          $(awk -v t="$total" -v e="$events" 'BEGIN {printf "%.0f", t / e}')"
