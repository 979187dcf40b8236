#!/bin/bash
# Build the libFuzzer target (fuzz/, clang + ASan + UBSan) and fuzz
# pmemaccess's request decoder and state machine.
#   fuzz.sh [SECONDS] [JOBS]   (default 30 s, 1 job; `make fuzz`: 1800 s, 2)
# The corpus grows in $BUILD/fuzz/corpus across runs, seeded from
# fuzz/make-corpus.py; a crash, leak, UB or timeout leaves its input in
# $BUILD/fuzz/findings/ and fails the run: make it a regression seed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
if [ "$BASE" != "$BASE_NEWEST" ]; then
    echo "fuzz: fuzz/ stubs the rest of QEMU with the API of the newest base," \
         "$BASE_NEWEST; the decoder it fuzzes is the same source on every base" >&2
    exit 2
fi
out=$bbuild/fuzz
seconds=${1:-30}
jobs=${2:-1}

"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
mkdir -p "$out/corpus" "$out/findings"
make -s -C "$top/fuzz" O="$out" QEMU="$tree"
/usr/bin/python3 "$top/fuzz/make-corpus.py" "$out/seeds"

args=(-max_len=4096 -timeout=10 -max_total_time="$seconds"
      -print_final_stats=1 -artifact_prefix="$out/findings/")
if [ "$jobs" -gt 1 ]; then
    args+=(-fork="$jobs")
fi
cd "$out"
if ! ./pmemaccess-fuzz "${args[@]}" corpus seeds > fuzz.log 2>&1; then
    tail -40 fuzz.log
    echo "fuzz: FAILED; inputs in $out/findings/" >&2
    exit 1
fi
grep -E '^stat::(number_of_executed_units|average_exec_per_sec)|^#.*DONE' \
    fuzz.log | tail -3 || true
echo "fuzz: $seconds s, $jobs job(s), no findings; corpus: $(ls corpus | wc -l) inputs"
