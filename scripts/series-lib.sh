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
