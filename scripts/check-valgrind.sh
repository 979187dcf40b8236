#!/bin/bash
# Run the qtest cases that hand QEMU guest-made data to parse with QEMU
# under valgrind's memcheck: an invalid read or write in QEMU fails the
# run.  It catches what ASan misses where the compiler expands a memcmp()
# inline (a VMCOREINFO note shorter than its name was read past its end).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
cases=(/x86_64/guest-memory-qmp/vmcoreinfo/bad)

"$top/scripts/build-qemu.sh" qemu-system-x86_64 \
    tests/qtest/guest-memory-qmp-test >/dev/null
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
args=()
for c in "${cases[@]}"; do
    args+=(-p "$c")
done
(cd "$objdir" &&
    QTEST_QEMU_BINARY="valgrind -q --log-file=$logs/qemu-%p.log ./qemu-system-x86_64" \
    ./tests/qtest/guest-memory-qmp-test --tap "${args[@]}")
if grep -l -E 'Invalid (read|write)|uninitialised' "$logs"/*.log >/dev/null 2>&1; then
    cat "$logs"/*.log >&2
    echo "check-valgrind: FAILED: memcheck found errors in QEMU" >&2
    exit 1
fi
echo "check-valgrind: ${cases[*]} clean under memcheck"
