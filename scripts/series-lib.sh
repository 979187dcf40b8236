# Shared by scripts/*.sh: read patches/series, the one manifest of the
# series.  Each unindented line names a commit: the patch under patches/
# that holds its message and its edits to files QEMU already has.
# Indented lines below it name the new files (paths under qemu/) that the
# commit adds.  '#' starts a comment.

# series_patches SERIES: print the patch names, in order.
series_patches() {
    sed -e 's/#.*//' -e '/^[[:space:]]/d' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"
}

# series_new_files SERIES PATCH: print the new files of the commit PATCH.
series_new_files() {
    awk -v want="$2" '
        { sub(/#.*/, "") }
        /^[^[:space:]]/ { cur = $1; next }
        NF && cur == want { print $1 }' "$1"
}

# patch_files PATCHFILE: print the QEMU files a patch edits.
patch_files() {
    sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$1"
}

# --- Later edits to files under qemu/
#
# qemu/F always holds F's FINAL content, and the commit that lists F in
# patches/series adds it.  A later commit may still edit F: its patch in
# patches/ then carries hunks for F like for any QEMU file.  Those hunks
# are already part of qemu/F, so:
#  - prepare-tree.sh applies patches without their hunks for qemu/ files;
#  - export-series.sh gives the adding commit F as overlay_file_at()
#    computes it (later hunks reverse-applied), and the later commits
#    apply their hunks on top, ending at qemu/F again;
#  - refresh-patch.sh diffs F against its content before the patch.
# The hunks are applied with git apply (exact context, no fuzz).

# overlay_files TOP PATCHFILE: print the files of a patch that are under
# TOP/qemu/ (edits to a file that an earlier commit added).
overlay_files() {
    patch_files "$2" | while read -r f; do
        if [ -f "$1/qemu/$f" ]; then echo "$f"; fi
    done
}

# series_after SERIES PATCH: print the patches after PATCH, newest first.
series_after() {
    series_patches "$1" | awk -v p="$2" 'seen { print } $0 == p { seen = 1 }' |
        tac
}

# overlay_file_at TOP SERIES F PATCH DEST: write to DEST the content of
# qemu/F right after the commit PATCH: the final qemu/F with the hunks for
# F of every later patch reverse-applied, newest first.  Fails if a hunk
# does not reverse-apply (the patch and qemu/F disagree).
overlay_file_at() {
    local top=$1 series=$2 f=$3 patch=$4 dest=$5 tmp p rc=0

    tmp=$(mktemp -d)
    mkdir -p "$tmp/$(dirname "$f")"
    cp "$top/qemu/$f" "$tmp/$f"
    while read -r p; do
        patch_files "$top/patches/$p" | grep -qxF "$f" || continue
        if ! (cd "$tmp" && git apply -R --include="$f" "$top/patches/$p"); then
            echo "patches/$p: its hunks for $f do not match qemu/$f" >&2
            rc=1
            break
        fi
    done < <(series_after "$series" "$patch")
    [ $rc -eq 0 ] && cp "$tmp/$f" "$dest"
    rm -rf "$tmp"
    return $rc
}

# series_adder SERIES F: print the patch whose commit adds qemu/F.
series_adder() {
    awk -v want="$2" '
        { sub(/#.*/, "") }
        /^[^[:space:]]/ { cur = $1; next }
        NF && $1 == want { print cur; exit }' "$1"
}

# apply_without_overlay TOP DIR PATCHFILE: apply a patch in DIR, leaving
# out its hunks for files under qemu/.
apply_without_overlay() {
    local excl=() f

    while read -r f; do
        excl+=("--exclude=$f")
    done < <(overlay_files "$1" "$3")
    (cd "$2" && git apply "${excl[@]}" "$3")
}

# patch_section PATCHFILE F: print the part of a patch that edits F, from
# its "--- a/F" (or "--- /dev/null") line to the next file's.  A hunk
# line that itself starts with "--- " is told apart by the "+++ b/" line
# that must follow a file header.
patch_section() {
    awk -v f="$2" '
        function header(l, n) { return l ~ /^--- / && n ~ /^\+\+\+ b\// }
        NR > 1 {
            if (header(prev, $0)) { on = ($0 == "+++ b/" f) }
            if (on) print prev
        }
        { prev = $0 }
        END { if (on) print prev }' "$1"
}
