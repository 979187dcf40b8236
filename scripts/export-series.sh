#!/bin/bash
# Export the series as patches: a pristine tree committed as base, one
# commit per entry of patches/series, git format-patch with a cover letter
# into build/$BASE/series/patches, and QEMU's scripts/checkpatch.pl on
# every patch.  Exits non-zero if a patch does not apply, a file under
# qemu/ belongs to no commit, or checkpatch reports an error.
#
# On the newest base this is the upstream series: patches/ and qemu/ only.
# On an older base it is a backport for that release: first one commit
# per compatibility patch and one for bases/$BASE/files/, then the series
# with the base's own versions of its patches (checkpatch is run by the
# newest base's export; here it only reports).
#
# A file under qemu/ holds its final content; each commit gets it as it is
# after that commit, with the later commits' hunks for it reverse-applied
# (series-lib.sh).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
. "$top/scripts/series-lib.sh"
series=$top/patches/series
repo=$bbuild/series/repo
out=$bbuild/series/patches
upstream=false
[ "$BASE" = "$BASE_NEWEST" ] && upstream=true

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
    echo "export-series: [$BASE] committing the pristine tree as base"
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
mapfile -t patches < <(series_patches "$series")
for p in "${patches[@]}"; do
    series_new_files "$series" "$p"
done | sort > "$claimed"
dups=$(uniq -d "$claimed")
[ -z "$dups" ] || die "added by more than one commit: $dups"
orphans=$(cd "$top/qemu" && find . -type f ! -name '*~' | sed 's|^\./||' |
          sort | comm -23 - "$claimed")
[ -z "$orphans" ] || die "in qemu/ but in no commit of patches/series: $orphans"
excludes=()
while read -r n; do
    excludes+=("--exclude=$n")
done < "$claimed"

# --- an older base: its compatibility patches and files come first
if ! $upstream; then
    if [ -f "$base_dir/patches/series" ]; then
        while read -r p; do
            git_ apply --index "$base_dir/patches/$p" ||
                die "bases/$BASE/patches/$p does not apply"
            awk '/^(diff |--- )/ { exit } { print }' "$base_dir/patches/$p" |
                git_ commit -q -F -
        done < <(series_patches "$base_dir/patches/series")
    fi
    if [ -d "$base_dir/files" ]; then
        cp -a "$base_dir/files/." "$repo/"
        git_ add -A
        git_ commit -q -m "QEMU $QEMU_UPSTREAM_VERSION compatibility headers for the series" \
            -m "Not part of the series: headers under current QEMU's names."
    fi
fi

# --- the series
i=0
for p in "${patches[@]}"; do
    i=$((i + 1))
    f=$top/patches/$p
    [ -f "$f" ] || die "patches/series names missing $p"
    [ -f "$base_dir/patches/$p" ] && f=$base_dir/patches/$p
    # git apply skips the text in front of the diff; qemu/ files come below
    if grep -q '^+++ b/' "$f"; then
        git_ apply --index "${excludes[@]}" "$f" ||
            die "${f#$top/} does not apply"
    fi
    # every qemu/ file added so far, as it is after this commit
    for q in "${patches[@]:0:$i}"; do
        while read -r n; do
            mkdir -p "$repo/$(dirname "$n")"
            overlay_file_at "$top" "$series" "$n" "$p" "$repo/$n" ||
                die "cannot rebuild qemu/$n as of $p"
            git_ add "$n"
        done < <(series_new_files "$series" "$q")
    done
    awk '/^(diff |--- )/ { exit } { print }' "$top/patches/$p" |
        git_ commit -q -F -
done

# ... and the last commit must end where qemu/ is.
while read -r n; do
    cmp -s "$top/qemu/$n" "$repo/$n" ||
        die "the series does not end with qemu/$n as it is"
done < "$claimed"

rm -rf "$out"
cover=$(sed "s/@BASE_VERSION@/$QEMU_UPSTREAM_VERSION/; s/@BASE_DEB_VERSION@/$QEMU_DEB_VERSION/" \
        "$top/patches/cover-letter")
prefix=PATCH
$upstream || prefix="PATCH for-$QEMU_UPSTREAM_VERSION backport"
git_ config branch.vmi.description "$cover"
git_ format-patch -q --cover-letter --cover-from-description=subject \
    --subject-prefix="$prefix" -o "$out" base..vmi

echo "export-series: [$BASE] $(ls "$out" | wc -l) files in $out"
status=0
for p in "$out"/0*.patch; do
    case "$p" in */0000-cover-letter.patch) continue ;; esac
    if ! (cd "$repo" && ./scripts/checkpatch.pl -q "$p"); then
        echo "export-series: checkpatch failed on $(basename "$p")" >&2
        status=1
    fi
done
if ! $upstream; then
    echo "export-series: [$BASE] a backport, not for upstream: checkpatch only reported"
    exit 0
fi
[ $status -eq 0 ] && echo "export-series: [$BASE] checkpatch clean"
exit $status
