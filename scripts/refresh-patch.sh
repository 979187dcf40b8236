#!/bin/bash
# Regenerate patches/NAME from edits made in the working tree $BUILD/qemu.
#
#   refresh-patch.sh NAME [FILE...]
#
# FILEs (paths inside QEMU) are the files the patch edits; without them, the
# files it already touches.  The diff is taken against pristine QEMU with
# the patches listed before NAME in patches/series applied, so the series
# stays a stack.  The text before the first "diff"/"---" line of an
# existing patch (its commit message) is kept.  NAME is added to
# patches/series if missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
pristine=$build/qemu-pristine
tree=$build/qemu
series=$top/patches/series
. "$top/scripts/series-lib.sh"
name=${1:?usage: refresh-patch.sh NAME [FILE...]}
shift
out=$top/patches/$name

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    [ -f "$out" ] || { echo "refresh-patch: new patch needs FILEs" >&2; exit 1; }
    mapfile -t files < <(patch_files "$out")
fi

touch "$series"
series_patches "$series" | grep -qx "$name" || echo "$name" >> "$series"

earlier=()
while read -r p; do
    [ "$p" = "$name" ] && break
    earlier+=("$p")
done < <(series_patches "$series")

base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT
{
    printf '%s\n' "${files[@]}"
    for p in "${earlier[@]}"; do
        patch_files "$top/patches/$p"
    done
} | sort -u | while read -r f; do
    if [ -f "$pristine/$f" ]; then
        mkdir -p "$base/$(dirname "$f")"
        cp "$pristine/$f" "$base/$f"
    fi
done
for p in "${earlier[@]}"; do
    patch -p1 -s -N -r - --no-backup-if-mismatch -d "$base" \
        < "$top/patches/$p" || { echo "refresh-patch: $p fails" >&2; exit 1; }
done

header=""
if [ -f "$out" ]; then
    header=$(awk '/^(diff |--- )/ { exit } { print }' "$out")
fi
{
    if [ -n "$header" ]; then
        printf '%s\n' "$header"
    else
        printf 'Subject: [PATCH] TODO: subject\n\nTODO: commit message\n\n'
    fi
    for f in "${files[@]}"; do
        old=$base/$f
        [ -f "$old" ] || old=/dev/null
        diff -u --label "a/$f" --label "b/$f" "$old" "$tree/$f" || true
    done
} > "$out.new"
mv "$out.new" "$out"
echo "refresh-patch: wrote patches/$name (${#files[@]} files)"
