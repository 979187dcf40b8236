#!/bin/bash
# Make build/$BASE/qemu = pristine Debian QEMU of $BASE + the series +
# the qemu/ overlay.  On an older base (bases/$BASE has more than
# base.conf): its compatibility patches (bases/$BASE/patches/series) come
# first, a series patch of the same name in bases/$BASE/patches/ replaces
# patches/ (the same edits, rebased onto that base), and the files in
# bases/$BASE/files/ are added beside qemu/'s.
#
# Incremental by design: a file is rewritten only when its content changes,
# so ninja rebuilds only what an edit to patches/ or qemu/ affects.  Files
# under qemu/ are symlinked, so editing them needs no copy at all.  A
# later patch's hunks for a file under qemu/ are not applied: qemu/ holds
# final contents (see series-lib.sh).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
state=$tree/.qemu-vmi-state
series=$top/patches/series
. "$top/scripts/series-lib.sh"

die() { echo "prepare-tree: $*" >&2; exit 1; }

[ -d "$pristine" ] || die "no pristine tree; run scripts/fetch-qemu.sh"
if [ ! -f "$tree/VERSION" ]; then
    echo "prepare-tree: copying pristine tree to $tree"
    rm -rf "$tree"
    cp -a "$pristine" "$tree"
fi
mkdir -p "$state"

# Copy $1 to $2 unless they already have the same content.  A copy of
# what was written is kept under $state/last/: a tree file that no longer
# matches it was edited by hand, and is not overwritten (turn the edit into
# a patch with scripts/refresh-patch.sh, or delete the file to drop it).
sync_file() {
    local rel=${2#$tree/}
    local last=$state/last/$rel

    if cmp -s "$1" "$2"; then
        if ! cmp -s "$1" "$last"; then
            mkdir -p "$(dirname "$last")"
            cp "$1" "$last"
        fi
        return
    fi
    if [ -f "$2" ] && [ -f "$last" ] && ! cmp -s "$2" "$last"; then
        die "build/qemu/$rel has edits of its own; run scripts/refresh-patch.sh for them, or remove the file to drop them"
    fi
    mkdir -p "$(dirname "$2")" "$(dirname "$last")"
    rm -f "$2"
    cp "$1" "$2"
    cp "$1" "$last"
    echo "  updated $rel"
}

# --- patches: apply the series to pristine copies of the files it touches
# (as full paths: the base's compatibility patches, then the series, each
# in the base's own version where it has one)
patches=()
if [ -f "$base_dir/patches/series" ]; then
    while read -r p; do
        patches+=("$base_dir/patches/$p")
    done < <(series_patches "$base_dir/patches/series")
fi
while read -r p; do
    [ -f "$top/patches/$p" ] || die "patches/series names missing $p"
    if [ -f "$base_dir/patches/$p" ]; then
        patches+=("$base_dir/patches/$p")
    else
        patches+=("$top/patches/$p")
    fi
done < <(series_patches "$series")
for p in "${patches[@]}"; do
    [ -f "$p" ] || die "missing ${p#$top/}"
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
: > "$stage/.files"
for p in "${patches[@]}"; do
    patch_files "$p" >> "$stage/.files"
done
# Hunks for files under qemu/ (later edits to a file an earlier commit
# added, see series-lib.sh) are already in qemu/F: leave them out here,
# but check that they reverse-apply, so that export-series.sh can rebuild
# each commit's version of F.
sort -u "$stage/.files" | while read -r f; do
    if [ -f "$top/qemu/$f" ]; then
        overlay_file_at "$top" "$series" "$f" "$(series_adder "$series" "$f")" \
            /dev/null || die "patches/ and qemu/$f disagree"
    else
        echo "$f"
    fi
done > "$stage/.files.new"
mv "$stage/.files.new" "$stage/.files"
while read -r f; do
    if [ -f "$pristine/$f" ]; then
        mkdir -p "$stage/$(dirname "$f")"
        cp "$pristine/$f" "$stage/$f"
    fi
done < "$stage/.files"
for p in "${patches[@]}"; do
    apply_without_overlay "$top" "$stage" "$p" ||
        die "${p#$top/} does not apply to QEMU $QEMU_UPSTREAM_VERSION"
done
while read -r f; do
    [ -f "$stage/$f" ] && sync_file "$stage/$f" "$tree/$f"
done < "$stage/.files"

# Files patched last time but no longer: back to pristine.
if [ -f "$state/patched" ]; then
    comm -23 "$state/patched" "$stage/.files" | while read -r f; do
        if [ -f "$pristine/$f" ]; then
            sync_file "$pristine/$f" "$tree/$f"
        else
            rm -f "$tree/$f"
        fi
    done
fi
mv "$stage/.files" "$state/patched"

# --- qemu/ and bases/$BASE/files/: new files, symlinked into the tree
overlay_dirs=("$top/qemu")
[ -d "$base_dir/files" ] && overlay_dirs+=("$base_dir/files")
for d in "${overlay_dirs[@]}"; do
    (cd "$d" && find . -type f ! -name '*~' | sed "s|^\./|$d/|")
done | sort > "$state/overlay.src"
sed "s|^$top/qemu/||; s|^$base_dir/files/||" "$state/overlay.src" \
    > "$state/overlay.new"
dups=$(sort "$state/overlay.new" | uniq -d)
[ -z "$dups" ] || die "in both qemu/ and bases/$BASE/files/: $dups"
while read -r src; do
    f=${src#$top/qemu/}
    f=${f#$base_dir/files/}
    [ -e "$pristine/$f" ] &&
        die "${src#$top/} exists in QEMU $QEMU_UPSTREAM_VERSION: edit it through a patch"
    if [ "$(readlink "$tree/$f" 2>/dev/null)" != "$src" ]; then
        mkdir -p "$(dirname "$tree/$f")"
        ln -sfn "$src" "$tree/$f"
        echo "  linked ${src#$top/}"
    fi
done < "$state/overlay.src"
sort -o "$state/overlay.new" "$state/overlay.new"
if [ -f "$state/overlay" ]; then
    comm -23 "$state/overlay" "$state/overlay.new" | while read -r f; do
        rm -f "$tree/$f"
        echo "  removed $f"
    done
fi
mv "$state/overlay.new" "$state/overlay"
