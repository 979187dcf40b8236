#!/bin/bash
# The tests, on every QEMU base (or on $BASE alone when it is given).
#
# On each base: build, our qtests and QEMU's own monitor qtests (meson
# test; on the newest base also guest-memory-qmp-test on qemu-system-i386,
# a target without a page-table walk), the C client tests, the Python
# module tests (including the counting-BIOS guest under TCG and KVM), a
# compile of the series without CONFIG_LINUX.  On the newest base (or on
# $BASE): the real Debian guest (demo, real clients, vmcoreinfo, drgn),
# the benchmarks' quick runs, the sanitized QEMU and the stress run; on
# the newest base only, the series export with checkpatch, a build and
# the qtests at each of its commits, and fuzzing.  Step names say the
# base, "[10.2]".
#
# Ends with one line "check: N passed, M failed, K skipped" and exits
# non-zero on any failure, and on a skip that was not expected (the only
# expected one: KVM where /dev/kvm cannot be opened).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mapfile -t all_bases < <(cd "$top/bases" && ls -d */ | tr -d / | sort -V)
if [ -n "${BASE:-}" ]; then
    bases=("$BASE")
    full=$BASE
else
    bases=("${all_bases[@]}")
    full=${all_bases[-1]}
fi

# Our qtests, with their slow cases, then QEMU's own tests of the monitor,
# which we must not break (quick: test-hmp's slow set is every machine).
our_qtests=(pmemsave-test pmemaccess-test guest-memory-qmp-test)
qemu_qtests=(qmp-cmd-test qmp-test test-hmp)
qtests=("${our_qtests[@]}" "${qemu_qtests[@]}")
module_tests=(test_pmemaccess test_paused test_libvmi_sessions test_qmp_memory
              test_server_limits test_cli)
guest_tests=(test_guest test_vmcoreinfo test_real_clients test_demo test_drgn)

passed=0
failed=0
skipped=0
unexpected=0
fail() { echo "check: FAILED: $*" >&2; failed=$((failed + 1)); }

# took START: how long since START (a $SECONDS value), for the step lines
took() {
    echo "$((SECONDS - $1)) s"
}

# step TITLE COMMAND...: one counted step of the current base
step() {
    local start=$SECONDS

    echo "== [$BASE] $1"
    if "${@:2}"; then
        passed=$((passed + 1))
        echo "-- [$BASE] $1: ok, $(took $start)"
    else
        fail "[$BASE] $1 ($(took $start))"
    fi
}

# run_qtests SETUP TESTS...: each program asked for counts once, as passed
# only if meson ran it and it passed (a program that exits 77 is a skip,
# one that never ran a failure).  SETUP is meson's test setup: "slow"
# runs the g_test_slow() cases too.
run_qtests() {
    local setup=$1 names=() t json
    shift

    for t; do
        case $t in
        */*) names+=("$t") ;;          # another target's: qtest-i386/NAME
        *) names+=("qtest-x86_64/$t") ;;
        esac
    done
    echo "== [$BASE] qtests ($setup): $*"
    rm -f "$objdir"/meson-logs/testlog*.json
    (cd "$objdir" && "$MESON" test --no-rebuild --print-errorlogs \
        --setup "$setup" "${names[@]}") 2>&1 | tail -n 20
    json=$(ls "$objdir"/meson-logs/testlog*.json 2>/dev/null | head -n 1)
    for t in "${names[@]}"; do
        case $(/usr/bin/python3 - "$json" "$t" <<'PY'
import json, sys
result = "MISSING"
try:
    with open(sys.argv[1]) as f:
        for line in f:
            test = json.loads(line)
            # meson 1.7 names it "SUITE / NAME", 1.0 "NAME"
            if test["name"].split(" / ")[-1] == sys.argv[2]:
                result = test["result"]
except OSError:
    pass
print(result)
PY
        ) in
        OK) passed=$((passed + 1)) ;;
        SKIP) echo "check: [$BASE] $t skipped"
              skipped=$((skipped + 1)); unexpected=$((unexpected + 1)) ;;
        *) fail "[$BASE] $t" ;;
        esac
    done
}

# python_tests TITLE TESTS...: unittest, its skips counted and judged
python_tests() {
    local title=$1 log rc line
    shift
    log=$(mktemp)
    echo "== [$BASE] $title"
    (cd "$top/clients/python" &&
        QEMU_BINARY="$objdir/qemu-system-x86_64" QEMU_TREE="$tree" \
        /usr/bin/python3 -m unittest -v "$@") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    while read -r line; do
        skipped=$((skipped + 1))
        case $line in
        *"skipped 'KVM tests did not run: "*)
            if [ -c /dev/kvm ] && [ -w /dev/kvm ]; then
                echo "check: [$BASE] unexpected skip: $line"
                unexpected=$((unexpected + 1))
            else
                echo "check: [$BASE] KVM not tested here: $line"
            fi ;;
        *)  echo "check: [$BASE] unexpected skip: $line"
            unexpected=$((unexpected + 1)) ;;
        esac
    done < <(grep -o "skipped '.*" "$log")
    if grep -q "^test_.*RunningGuestKVM.* ok$" "$log"; then
        echo "check: [$BASE] KVM: the counting-BIOS tests ran under -accel kvm"
    fi
    rm -f "$log"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        fail "[$BASE] $title"
    fi
}

check_base() {
    local targets=(qemu-system-x86_64) t base_start=$SECONDS

    BASE=$1
    . "$top/scripts/base-lib.sh"
    for t in "${qtests[@]}"; do
        targets+=("tests/qtest/$t")
    done
    # a target without a page-table walk, where the base builds one
    case ${QEMU_TARGETS:-} in
    *i386-softmmu*) targets+=(qemu-system-i386) ;;
    esac
    local start=$SECONDS
    echo "== [$BASE] build: QEMU $QEMU_UPSTREAM_VERSION ($QEMU_DEB_VERSION)"
    if ! "$top/scripts/build-qemu.sh" "${targets[@]}"; then
        fail "[$BASE] build"
        return
    fi
    echo "-- [$BASE] build: $(took $start) (fetch, configure, build)"
    run_qtests slow "${our_qtests[@]}"
    case ${QEMU_TARGETS:-} in
    *i386-softmmu*) run_qtests slow qtest-i386/guest-memory-qmp-test ;;
    esac
    run_qtests quick "${qemu_qtests[@]}"
    mkdir -p "$bbuild/clients"
    step "clients/c: libpmemaccess-client against the patched QEMU" \
        make -s -C "$top/clients/c" O="$bbuild/clients" \
            QEMU="$objdir/qemu-system-x86_64" check
    python_tests "clients/python: module, CLI, running guest (TCG, KVM)" \
        "${module_tests[@]}"
    step "portability: compiles without CONFIG_LINUX, QAPI conditions" \
        "$top/scripts/check-portability.sh"

    if [ "$BASE" != "$full" ]; then
        echo "-- [$BASE] all steps: $(took $base_start)"
        return 0
    fi

    if [ "$BASE" = "${all_bases[-1]}" ]; then
        local exported=$passed
        step "series: export against QEMU $QEMU_UPSTREAM_VERSION, checkpatch" \
            "$top/scripts/export-series.sh"
        if [ "$passed" -gt "$exported" ]; then
            step "series: every commit builds and passes the qtests it has" \
                "$top/scripts/check-commits.sh"
        else
            fail "[$BASE] series: commits not checked, the export failed"
        fi
    fi
    if "$top/scripts/build-guest.sh"; then
        python_tests "clients/python: real guest, real clients, demo" \
            "${guest_tests[@]}"
    else
        fail "[$BASE] building the real-guest fixture"
    fi
    step "bench: pmemaccess-bench --quick (data checked, timings not judged)" \
        "$top/scripts/bench.sh" --quick
    step "bench-qmp: qmp-read-bench --quick (data checked, timings not judged)" \
        "$top/scripts/bench-qmp.sh" --quick
    step "bench-drgn: drgn-compare --quick (results checked equal, timings not judged)" \
        "$top/scripts/bench-drgn.sh" --quick
    # the fuzz target runs our code against stubs of the rest of QEMU,
    # written for the newest base's API: the same decoder on every base
    if [ "$BASE" = "${all_bases[-1]}" ]; then
        step "fuzz: 30 s of libFuzzer on the request decoder (ASan, UBSan)" \
            "$top/scripts/fuzz.sh" 30
    fi
    step "asan: our qtests on QEMU built with ASan and UBSan" \
        "$top/scripts/check-asan.sh"
    step "valgrind: QEMU parsing guest-made VMCOREINFO notes under memcheck" \
        "$top/scripts/check-valgrind.sh"
    step "stress: run-stress --quick (replies, fds, RSS, paused storm)" \
        "$top/scripts/stress.sh" --quick
    step "compare: vmi-compare --quick (every path reads right; xp, gdbstub 16 MiB estimated)" \
        compare_quick
    echo "-- [$BASE] all steps: $(took $base_start)"
}

compare_quick() {
    "$top/scripts/compare.sh" --quick > "$bbuild/compare-quick.log" 2>&1 ||
        { tail -20 "$bbuild/compare-quick.log"; return 1; }
}

for b in "${bases[@]}"; do
    check_base "$b"
done

if [ "$unexpected" -gt 0 ]; then
    fail "$unexpected unexpected skip(s)"
fi
echo "check: $passed passed, $failed failed, $skipped skipped ($(took 0))"
[ "$failed" -eq 0 ]
