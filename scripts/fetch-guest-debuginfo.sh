#!/bin/bash
# The guest kernel's DWARF, for drgn: downloads the -dbg package of the
# kernel pinned in guest.conf (858 MB), keeps only its vmlinux (633 MB)
# and deletes the package.  Kept in build/guest-dbg, outside build/guest
# (which build-guest.sh rebuilds from scratch), so it is fetched once.
# Idempotent: nothing to do when the vmlinux of the pin is there.
#   fetch-guest-debuginfo.sh  ->  build/guest-dbg/vmlinux-VERSION
# Prints the vmlinux's path.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/guest.conf"
out=${BUILD:-$top/build}/guest-dbg
name=vmlinux-${GUEST_KERNEL_PACKAGE#linux-image-}
stamp=$out/.fetched
want="$GUEST_KERNEL_DBG_PACKAGE=$GUEST_KERNEL_DBG_VERSION"

if [ -f "$out/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$out/$name"
    exit 0
fi
echo "fetch-guest-debuginfo: downloading $want (858 MB) for its" \
     "vmlinux" >&2
rm -rf "$out"
mkdir -p "$out/tmp"
if ! (cd "$out/tmp" && apt-get download -q "$want") >/dev/null 2>&1; then
    echo "fetch-guest-debuginfo: Debian no longer offers $want: pin the" \
         "guest kernel anew in guest.conf (build-guest.sh says what" \
         "Debian offers), run 'apt-get update' if the index is old." >&2
    rm -rf "$out"
    exit 1
fi
deb=$(ls "$out"/tmp/*.deb)
dpkg-deb --fsys-tarfile "$deb" |
    tar -x -C "$out/tmp" "./usr/lib/debug/boot/$name"
mv "$out/tmp/usr/lib/debug/boot/$name" "$out/$name"
rm -rf "$out/tmp"
echo "$want" > "$stamp"
echo "fetch-guest-debuginfo: $out/$name ($(du -h "$out/$name" | cut -f1))" >&2
echo "$out/$name"
