#!/bin/bash
# Build the exported series at every commit and run, at each, the qtests
# that commit has: ours that exist by then, and QEMU's monitor tests (a
# new QMP command must pass qmp-cmd-test from the commit that adds it).
# A reviewer bisecting the series must find every commit good.
#
#   check-commits.sh      (after scripts/export-series.sh; newest base)
#
# The series repo (build/$BASE/series/repo) is checked out, one commit at
# a time, in a worktree with one build directory, built incrementally.
# Exits non-zero at the first commit that fails to build or to pass.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
repo=$bbuild/series/repo
work=$bbuild/series/each
qtests=(pmemsave-test pmemaccess-test guest-memory-qmp-test qmp-cmd-test
        qmp-test)

git -C "$repo" rev-parse -q --verify vmi >/dev/null ||
    { echo "check-commits: no exported series; run export-series.sh" >&2; exit 1; }
mapfile -t commits < <(git -C "$repo" rev-list --reverse base..vmi)
# a worktree of this repo (export-series.sh makes the repo anew when the
# pin changes: then the old worktree is gone with it)
if ! git -C "$repo" worktree list --porcelain | grep -qx "worktree $work"; then
    rm -rf "$work"
    git -C "$repo" worktree prune
    git -C "$repo" worktree add -q --detach "$work" base
fi

if ! qemu_configured "$work/build"; then
    git -C "$work" checkout -q -f "${commits[0]}"
    # the subprojects Debian's source ships that git ignores
    rm -rf "$work/subprojects/keycodemapdb"
    cp -a -n "$pristine/subprojects/." "$work/subprojects/"
    qemu_configure "$work/build" "$bbuild/configure-each.log" || exit 1
fi
link_firmware "$work/build"

n=0
for c in "${commits[@]}"; do
    n=$((n + 1))
    subject=$(git -C "$repo" log -1 --format=%s "$c")
    git -C "$work" checkout -q -f "$c"
    targets=(qemu-system-x86_64)
    have=()
    for t in "${qtests[@]}"; do
        if [ -f "$work/tests/qtest/$t.c" ]; then
            targets+=("tests/qtest/$t")
            have+=("$t")
        fi
    done
    start=$SECONDS
    if ! ninja -C "$work/build" "${targets[@]}" \
            > "$bbuild/series/each-build.log" 2>&1; then
        grep -m 20 -E "error|FAILED" "$bbuild/series/each-build.log" >&2 || true
        echo "check-commits: [$BASE] commit $n does not build: $subject" >&2
        exit 1
    fi
    built=$((SECONDS - start))
    for t in "${have[@]}"; do
        if ! (cd "$work/build" &&
              QTEST_QEMU_BINARY=./qemu-system-x86_64 G_TEST_SLOW=1 \
              timeout 600 "./tests/qtest/$t" \
              > "$bbuild/series/each-$t.log" 2>&1); then
            tail -5 "$bbuild/series/each-$t.log" >&2
            echo "check-commits: [$BASE] commit $n fails $t: $subject" >&2
            exit 1
        fi
    done
    echo "check-commits: [$BASE] $n/${#commits[@]} builds (${built} s)," \
         "passes ${have[*]:-no qtests}: $subject"
done
echo "check-commits: [$BASE] all ${#commits[@]} commits build and pass their qtests"
