#!/bin/bash
# Fetch and unpack the pinned Debian QEMU source into $BUILD/qemu-pristine.
# Idempotent: skips what is already there.  Needs the deb-src entry that
# scripts/setup-deps.sh adds.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/qemu-base.conf"
build=${BUILD:-$top/build}
dl=$build/debsrc
pristine=$build/qemu-pristine
stamp=$pristine/.qemu-vmi-version

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$QEMU_DEB_VERSION" ]; then
    exit 0
fi

mkdir -p "$dl"
noepoch=${QEMU_DEB_VERSION#*:}
dsc=$dl/${QEMU_DEB_PACKAGE}_${noepoch}.dsc
if [ ! -f "$dsc" ]; then
    echo "fetch-qemu: downloading $QEMU_DEB_PACKAGE $QEMU_DEB_VERSION"
    (cd "$dl" && apt-get source --download-only -q \
        "$QEMU_DEB_PACKAGE=$QEMU_DEB_VERSION") || {
        echo "fetch-qemu: cannot download $QEMU_DEB_PACKAGE=$QEMU_DEB_VERSION." >&2
        echo "  Run scripts/setup-deps.sh (adds the deb-src entry), or update" >&2
        echo "  QEMU_DEB_VERSION in qemu-base.conf to what" >&2
        echo "  'apt-cache showsrc qemu' offers." >&2
        exit 1
    }
fi

echo "fetch-qemu: unpacking (dpkg-source verifies checksums)"
rm -rf "$pristine" "$pristine.tmp"
dpkg-source -x "$dsc" "$pristine.tmp" >/dev/null
# dpkg-source applies Debian's patches; keep the result, drop the packaging
rm -rf "$pristine.tmp/.pc" "$pristine.tmp/debian"
got=$(cat "$pristine.tmp/VERSION")
if [ "$got" != "$QEMU_UPSTREAM_VERSION" ]; then
    echo "fetch-qemu: VERSION is $got, expected $QEMU_UPSTREAM_VERSION" >&2
    exit 1
fi
echo "$QEMU_DEB_VERSION" > "$pristine.tmp/.qemu-vmi-version"
mv "$pristine.tmp" "$pristine"
