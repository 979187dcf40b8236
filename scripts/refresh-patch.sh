#!/bin/bash
# Regenerate patches/NAME from edits made in the working tree
# build/$BASE/qemu.  On an older base (BASE=7.2, 10.0) it writes that
# base's own version, bases/$BASE/patches/NAME, of the edits to files
# QEMU has (a compatibility patch of bases/$BASE/patches/series too).
#
#   refresh-patch.sh NAME [FILE...]
#
# FILEs (paths inside QEMU) are the files to diff again; without them, the
# files the patch already touches.  Files the patch touches but that are
# not named keep their hunks as they are, so an earlier patch can be
# refreshed for some files while the tree also holds later patches' edits
# to others.  The diff is taken against pristine QEMU with
# the patches listed before NAME in patches/series applied, so the series
# stays a stack.  The text before the first "diff"/"---" line of an
# existing patch (its commit message) is kept.  NAME is added to
# patches/series if missing.
#
# A FILE under qemu/ (added by an earlier commit, see series-lib.sh) is
# diffed from its content before NAME to its content after NAME: "after"
# is qemu/F with the hunks of the patches after NAME reverse-applied,
# "before" is "after" with NAME's current hunks for F reverse-applied.
# When that fails (you edited qemu/F inside NAME's own hunks), give the
# old copies explicitly: OLD_TREE=DIR, with DIR/F the content before NAME,
# e.g. from "git show HEAD:qemu/F".  The first diff of F into NAME needs
# OLD_TREE too: nothing else records what F was before the edit.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
series=$top/patches/series
. "$top/scripts/series-lib.sh"
name=${1:?usage: refresh-patch.sh NAME [FILE...]}
shift
out=$top/patches/$name
older=false
if [ "$BASE" != "$BASE_NEWEST" ]; then
    older=true
    out=$base_dir/patches/$name
    compat=$base_dir/patches/series
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    [ -f "$out" ] || { echo "refresh-patch: new patch needs FILEs" >&2; exit 1; }
    mapfile -t files < <(patch_files "$out")
fi

# earlier: the patches before NAME on this base, as paths
earlier=()
is_compat=false
if $older; then
    for f in "${files[@]}"; do
        [ ! -f "$top/qemu/$f" ] ||
            { echo "refresh-patch: qemu/$f: edit it on the newest base" >&2; exit 1; }
    done
    if [ -f "$compat" ]; then
        while read -r p; do
            [ "$p" = "$name" ] && { is_compat=true; break; }
            earlier+=("$base_dir/patches/$p")
        done < <(series_patches "$compat")
    fi
    $is_compat || series_patches "$series" | grep -qx "$name" ||
        { echo "refresh-patch: $name is in neither patches/series nor ${compat#$top/}" >&2; exit 1; }
else
    touch "$series"
    series_patches "$series" | grep -qx "$name" || echo "$name" >> "$series"
fi
if ! $is_compat; then
    while read -r p; do
        [ "$p" = "$name" ] && break
        if [ -f "$base_dir/patches/$p" ]; then
            earlier+=("$base_dir/patches/$p")
        else
            earlier+=("$top/patches/$p")
        fi
    done < <(series_patches "$series")
fi

base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT
{
    printf '%s\n' "${files[@]}"
    for p in "${earlier[@]}"; do
        patch_files "$p"
    done
} | sort -u | while read -r f; do
    if [ -f "$pristine/$f" ]; then
        mkdir -p "$base/$(dirname "$f")"
        cp "$pristine/$f" "$base/$f"
    fi
done
for p in "${earlier[@]}"; do
    apply_without_overlay "$top" "$base" "$p" ||
        { echo "refresh-patch: ${p#$top/} fails" >&2; exit 1; }
done

# Files under qemu/: $base/old/F before NAME, $base/new/F after it.
for f in "${files[@]}"; do
    [ -f "$top/qemu/$f" ] || continue
    mkdir -p "$base/old/$(dirname "$f")" "$base/new/$(dirname "$f")"
    overlay_file_at "$top" "$series" "$f" "$name" "$base/new/$f" || exit 1
    if [ -n "${OLD_TREE:-}" ]; then
        cp "$OLD_TREE/$f" "$base/old/$f"
        continue
    fi
    if ! { [ -f "$out" ] && patch_files "$out" | grep -qxF "$f"; }; then
        echo "refresh-patch: $name does not edit qemu/$f yet: give its" \
             "content before $name with OLD_TREE=DIR" >&2
        exit 1
    fi
    cp "$base/new/$f" "$base/old/$f"
    if ! (cd "$base/old" && git apply -R --include="$f" "$out"); then
        echo "refresh-patch: qemu/$f no longer matches $name's hunks;" \
             "give its old content with OLD_TREE=DIR" >&2
        exit 1
    fi
done

header=""
if [ -f "$out" ]; then
    header=$(awk '/^(diff |--- )/ { exit } { print }' "$out")
fi
{
    if [ -n "$header" ]; then
        printf '%s\n' "$header"
    elif $older; then
        printf 'QEMU %s version of the edits of patches/%s to files QEMU\n' \
            "$QEMU_UPSTREAM_VERSION" "$name"
        printf 'already has (the commit message and the files under qemu/ are the\n'
        printf "series' own).\n\n"
    else
        printf 'Subject: [PATCH] TODO: subject\n\nTODO: commit message\n\n'
    fi
    # Hunks of files not named, kept as they are
    if [ -f "$out" ]; then
        { patch_files "$out" | grep -vxF -f <(printf '%s\n' "${files[@]}") || true; } |
            while read -r f; do
                patch_section "$out" "$f"
            done
    fi
    for f in "${files[@]}"; do
        old=$base/$f
        new=$tree/$f
        if [ -f "$top/qemu/$f" ]; then
            old=$base/old/$f
            new=$base/new/$f
        fi
        [ -f "$old" ] || old=/dev/null
        diff -u --label "a/$f" --label "b/$f" "$old" "$new" || true
    done
} > "$out.new"
mv "$out.new" "$out"
echo "refresh-patch: wrote ${out#$top/} (${#files[@]} files)"
