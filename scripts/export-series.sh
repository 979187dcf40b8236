#!/bin/bash
# Export the series as upstream-ready patches: a pristine tree committed as
# base, one commit per entry of patches/series, git format-patch with a
# cover letter into $BUILD/series/, and QEMU's scripts/checkpatch.pl on
# every patch.  Exits non-zero if a patch does not apply, a file under
# qemu/ belongs to no commit, or checkpatch reports an error.
#
# A file under qemu/ holds its final content; the commit that adds it gets
# it with the later commits' hunks for it reverse-applied (series-lib.sh),
# and those commits apply their hunks as usual.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
pristine=$build/qemu-pristine
series=$top/patches/series
repo=$build/series/repo
out=$build/series/patches
. "$top/scripts/series-lib.sh"
. "$top/qemu-base.conf"

die() { echo "export-series: $*" >&2; exit 1; }

"$top/scripts/fetch-qemu.sh"
git_() {
    git -C "$repo" -c user.name="qemu-vmi developers" \
        -c user.email="qemu-vmi@users.noreply.invalid" \
        -c core.autocrlf=false "$@"
}

# The base commit is made once per pinned version and reused.
if [ "$(git -C "$repo" log -1 --format=%s base 2>/dev/null)" != \
     "Debian QEMU $QEMU_DEB_VERSION" ]; then
    echo "export-series: committing the pristine tree as base"
    rm -rf "$repo"
    mkdir -p "$(dirname "$repo")"
    cp -a "$pristine" "$repo"
    rm -f "$repo/.qemu-vmi-version"
    git init -q -b base "$repo"
    git_ add -A
    git_ commit -q -m "Debian QEMU $QEMU_DEB_VERSION"
fi
git_ checkout -q -f -B vmi base
git_ clean -q -fdx

# Every file under qemu/ must be added by exactly one commit.
claimed=$(mktemp)
trap 'rm -f "$claimed"' EXIT
while read -r p; do
    series_new_files "$series" "$p"
done < <(series_patches "$series") | sort > "$claimed"
dups=$(uniq -d "$claimed")
[ -z "$dups" ] || die "added by more than one commit: $dups"
orphans=$(cd "$top/qemu" && find . -type f ! -name '*~' | sed 's|^\./||' |
          sort | comm -23 - "$claimed")
[ -z "$orphans" ] || die "in qemu/ but in no commit of patches/series: $orphans"

while read -r p; do
    f=$top/patches/$p
    [ -f "$f" ] || die "patches/series names missing $p"
    # git apply skips the commit message in front of the diff
    if grep -q '^+++ b/' "$f"; then
        git_ apply --index "$f" || die "$p does not apply"
    fi
    while read -r n; do
        [ -f "$top/qemu/$n" ] || die "$p adds missing qemu/$n"
        mkdir -p "$repo/$(dirname "$n")"
        # qemu/ holds the final content: later commits' edits come off
        overlay_file_at "$top" "$series" "$n" "$p" "$repo/$n" ||
            die "cannot rebuild qemu/$n as $p adds it"
        git_ add "$n"
    done < <(series_new_files "$series" "$p")
    awk '/^(diff |--- )/ { exit } { print }' "$f" | git_ commit -q -F -
done < <(series_patches "$series")

# ... and the last commit must end where qemu/ is.
while read -r n; do
    cmp -s "$top/qemu/$n" "$repo/$n" ||
        die "the series does not end with qemu/$n as it is"
done < "$claimed"

rm -rf "$out"
git_ config branch.vmi.description "$(cat "$top/patches/cover-letter")"
git_ format-patch -q --cover-letter --cover-from-description=subject \
    --subject-prefix="PATCH" -o "$out" base..vmi

echo "export-series: $(ls "$out" | wc -l) files in $out"
status=0
for p in "$out"/0*.patch; do
    case "$p" in */0000-cover-letter.patch) continue ;; esac
    if ! (cd "$repo" && ./scripts/checkpatch.pl -q "$p"); then
        echo "export-series: checkpatch failed on $(basename "$p")" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "export-series: checkpatch clean"
exit $status
