#!/bin/bash
# Build the patched QEMU with ASan and UBSan (build/$BASE/qemu/build-asan) and
# run our qtests under it: any sanitizer report, in QEMU or in a test
# program, leaks at exit included, fails the run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
objdir=$tree/build-asan


mapfile -t tests < <(cd "$top/qemu/tests/qtest" && ls *-test.c | sed 's/\.c$//')
targets=(qemu-system-x86_64)
names=()
for t in "${tests[@]}"; do
    targets+=("tests/qtest/$t")
    names+=("qtest-x86_64/$t")
done
QEMU_BUILD_NAME=build-asan QEMU_EXTRA_CONFIGURE=${QEMU_SANITIZERS//,/ } \
    "$top/scripts/build-qemu.sh" "${targets[@]}"

# full stacks: glib has no frame pointers
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
cd "$objdir"
# sanitized and with full stacks, QEMU runs several times slower
status=0
"$MESON" test --no-rebuild --print-errorlogs --timeout-multiplier 10 \
    "${names[@]}" || status=1
if grep -q -E "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:" \
        meson-logs/testlog.txt; then
    status=1
fi
if [ $status -ne 0 ]; then
    echo "check-asan: FAILED (see $objdir/meson-logs/testlog.txt)" >&2
    exit 1
fi
echo "check-asan: ${#tests[@]} qtest programs clean under ASan and UBSan"
