#!/bin/bash
# Build everything the tests need, export the series (checkpatch must be
# clean), and run the tests in QEMU's own harness (meson test).
# Ends with one line "check: N passed, M failed" and exits non-zero on any
# failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
objdir=$build/qemu/build
export PATH=/usr/bin:$PATH

# Our qtests, then QEMU's own tests of the monitor, which we must not break.
qtests=(
    pmemsave-test
    pmemaccess-test
    guest-memory-qmp-test
    qmp-cmd-test
    qmp-test
    test-hmp
)

passed=0
failed=0
fail() { echo "check: FAILED: $*" >&2; failed=$((failed + 1)); }

targets=(qemu-system-x86_64)
for t in "${qtests[@]}"; do
    targets+=("tests/qtest/$t")
done
if ! "$top/scripts/build-qemu.sh" "${targets[@]}"; then
    echo "check: build failed"
    echo "check: 0 passed, 1 failed"
    exit 1
fi

echo "== series: export and checkpatch"
if "$top/scripts/export-series.sh"; then
    passed=$((passed + 1))
else
    fail "series export or checkpatch"
fi

echo "== qtests: ${qtests[*]}"
names=()
for t in "${qtests[@]}"; do
    names+=("qtest-x86_64/$t")
done
log=$(mktemp)
(cd "$objdir" && meson test --no-rebuild --print-errorlogs "${names[@]}") \
    2>&1 | tee "$log"
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log")
bad=0
for k in Fail Timeout 'Unexpected Pass'; do
    n=$(sed -n "s/^$k: *\([0-9]*\).*/\1/p" "$log")
    bad=$((bad + ${n:-0}))
done
rm -f "$log"
if [ -z "$ok" ]; then
    fail "meson test did not run"
else
    passed=$((passed + ok))
    failed=$((failed + bad))
fi

# step TITLE NAME COMMAND...: one counted step
step() {
    echo "== $1"
    if "${@:3}"; then
        passed=$((passed + 1))
    else
        fail "$2"
    fi
}

mkdir -p "$build/clients"
step "clients/c: libpmemaccess-client against the patched QEMU" \
    "libpmemaccess-client tests" \
    make -s -C "$top/clients/c" O="$build/clients" \
        QEMU="$objdir/qemu-system-x86_64" check

pytests=(test_pmemaccess test_paused test_qmp_memory test_cli)
if "$top/scripts/build-guest.sh"; then
    pytests+=(test_guest test_vmcoreinfo test_real_clients test_demo)
else
    fail "building the real-guest fixture"
fi
python_tests() (
    cd "$top/clients/python" &&
        QEMU_BINARY="$objdir/qemu-system-x86_64" \
        /usr/bin/python3 -m unittest -v "${pytests[@]}"
)
step "clients/python: module, CLI, real guest, real clients, demo" \
    "Python tests" python_tests

step "bench: pmemaccess-bench --quick (data checked, timings not judged)" \
    "pmemaccess-bench" "$top/scripts/bench.sh" --quick
step "bench-qmp: qmp-read-bench --quick (data checked, timings not judged)" \
    "qmp-read-bench" "$top/scripts/bench-qmp.sh" --quick
step "fuzz: 30 s of libFuzzer on the request decoder (ASan, UBSan)" \
    "fuzz" "$top/scripts/fuzz.sh" 30
step "asan: our qtests on QEMU built with ASan and UBSan" \
    "check-asan" "$top/scripts/check-asan.sh"
step "stress: run-stress --quick (replies, fds, RSS, paused storm)" \
    "stress" "$top/scripts/stress.sh" --quick

compare_quick() {
    "$top/scripts/compare.sh" --quick > "$build/compare-quick.log" 2>&1 ||
        { tail -20 "$build/compare-quick.log"; return 1; }
}
step "compare: vmi-compare --quick (every path runs and reads right)" \
    "vmi-compare" compare_quick

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
