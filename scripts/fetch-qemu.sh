#!/bin/bash
# Fetch and unpack the pinned Debian QEMU source of $BASE into
# build/$BASE/qemu-pristine, and the newer meson a 10.x base needs.
# Idempotent: skips what is already there.
#
# The source package comes straight from Debian's pool by version: the
# .dsc must match the checksum pinned in bases/$BASE/base.conf, and
# dpkg-source checks every tarball against the .dsc and applies Debian's
# patches (which skip the firmware blobs the +dfsg/+ds tarballs strip).
# When Debian has dropped the pinned version, this fails and names what
# the archive offers instead: a pin is never silently replaced.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

pools=(http://deb.debian.org/debian/pool/main
       http://security.debian.org/debian-security/pool/updates/main)
stamp=$pristine/.qemu-vmi-version

die() { echo "fetch-qemu: $*" >&2; exit 1; }

# offered SUITE PACKAGE: the versions of source PACKAGE in SUITE now
offered() {
    curl -fsS "http://deb.debian.org/debian/dists/$1/main/source/Sources.xz" |
        xz -dc | awk -v p="$2" '
            /^Package: / { on = ($2 == p) }
            on && /^Version: / { print $2 }' | sort -u | tr '\n' ' '
}

# fetch_pool PACKAGE FILE DEST: download FILE of PACKAGE from Debian's pool
fetch_pool() {
    local dir pool
    dir=$(echo "$1" | cut -c1)/$1
    for pool in "${pools[@]}"; do
        if curl -fsS -o "$3.part" "$pool/$dir/$2" 2>/dev/null; then
            mv "$3.part" "$3"
            return 0
        fi
    done
    rm -f "$3.part"
    return 1
}

# --- meson from bookworm-backports (10.x bases)
if [ "$QEMU_MESON" = backports ] && [ ! -x "$MESON" ]; then
    deb=$build/debsrc/$MESON_BPO_DEB
    mkdir -p "$build/debsrc"
    if [ ! -f "$deb" ]; then
        echo "fetch-qemu: downloading $MESON_BPO_DEB (bookworm-backports)"
        fetch_pool meson "$MESON_BPO_DEB" "$deb" ||
            die "cannot download $MESON_BPO_DEB; bookworm-backports offers meson $(offered bookworm-backports meson)- update MESON_BPO_DEB and MESON_BPO_SHA256 in scripts/base-lib.sh"
    fi
    echo "$MESON_BPO_SHA256  $deb" | sha256sum -c --quiet - ||
        die "$deb does not match MESON_BPO_SHA256"
    rm -rf "$MESON_BPO_DIR"
    mkdir -p "$MESON_BPO_DIR"
    dpkg-deb -x "$deb" "$MESON_BPO_DIR"
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$QEMU_DEB_VERSION" ]; then
    exit 0
fi

dl=$build/debsrc
mkdir -p "$dl"
noepoch=${QEMU_DEB_VERSION#*:}
dscname=${QEMU_DEB_PACKAGE}_$noepoch.dsc
dsc=$dl/$dscname
if [ ! -f "$dsc" ]; then
    echo "fetch-qemu: [$BASE] downloading $QEMU_DEB_PACKAGE $QEMU_DEB_VERSION"
    if ! fetch_pool "$QEMU_DEB_PACKAGE" "$dscname" "$dsc"; then
        now=$(offered "$QEMU_DEB_SUITE" "$QEMU_DEB_PACKAGE" || true)
        die "Debian's archive no longer has $QEMU_DEB_PACKAGE $QEMU_DEB_VERSION (base $BASE).
  $QEMU_DEB_SUITE offers now: ${now:-(could not read the index)}
  To move the pin: set QEMU_DEB_VERSION and QEMU_DSC_SHA256 (sha256sum of
  the new .dsc) in bases/$BASE/base.conf, and rebuild."
    fi
fi
echo "$QEMU_DSC_SHA256  $dsc" | sha256sum -c --quiet - || {
    rm -f "$dsc"
    die "$dscname does not match QEMU_DSC_SHA256 in bases/$BASE/base.conf"
}
for f in $(awk '/^Checksums-Sha256:/ { on = 1; next }
                /^[^ ]/ { on = 0 }
                on { print $3 }' "$dsc"); do
    [ -f "$dl/$f" ] || fetch_pool "$QEMU_DEB_PACKAGE" "$f" "$dl/$f" ||
        die "cannot download $f"
done

echo "fetch-qemu: [$BASE] unpacking (dpkg-source verifies checksums)"
rm -rf "$pristine" "$pristine.tmp"
mkdir -p "$bbuild"
# (the .dsc's own signature is the maintainer's, whose key Debian 12 may
# lack: the pinned checksum stands for it)
dpkg-source -x "$dsc" "$pristine.tmp" > "$bbuild/dpkg-source.log" 2>&1 || {
    cat "$bbuild/dpkg-source.log" >&2
    die "dpkg-source failed"
}
rm -f "$bbuild"/*.orig.tar.*
# dpkg-source applies Debian's patches; keep the result, drop the packaging
rm -rf "$pristine.tmp/.pc" "$pristine.tmp/debian"
got=$(cat "$pristine.tmp/VERSION")
[ "$got" = "$QEMU_UPSTREAM_VERSION" ] ||
    die "VERSION is $got, expected $QEMU_UPSTREAM_VERSION"
echo "$QEMU_DEB_VERSION" > "$pristine.tmp/.qemu-vmi-version"
mv "$pristine.tmp" "$pristine"
