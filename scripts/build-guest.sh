#!/bin/bash
# Build the real-guest fixture: Debian's kernel (pinned in guest.conf) and
# an initramfs of Debian's busybox-static whose init prints what tests
# compare against (/proc/version) to the serial console, then idles.
# Packages are downloaded and unpacked, not installed.  Idempotent.
#   build-guest.sh  ->  build/guest/vmlinuz, build/guest/initramfs.cpio.gz
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/guest.conf"
out=${BUILD:-$top/build}/guest
stamp=$out/.built

want="$GUEST_KERNEL_PACKAGE $GUEST_BUSYBOX_PACKAGE $(md5sum < "$0")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

rm -rf "$out"
mkdir -p "$out/debs" "$out/unpacked" "$out/initramfs/bin"
(cd "$out/debs" && apt-get download -q "$GUEST_KERNEL_PACKAGE" \
     "$GUEST_BUSYBOX_PACKAGE") >/dev/null || {
    echo "build-guest: cannot download $GUEST_KERNEL_PACKAGE; update" \
         "guest.conf to what 'apt-cache depends linux-image-amd64' names" >&2
    exit 1
}
for deb in "$out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/unpacked"
done
cp "$out"/unpacked/boot/vmlinuz-* "$out/vmlinuz"
cp "$out/unpacked/bin/busybox" "$out/initramfs/bin/busybox"

cat > "$out/initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "GUEST-VERSION: $(cat /proc/version)"
echo "GUEST-READY"
while :; do sleep 3600; done
INIT
chmod +x "$out/initramfs/init"
mkdir -p "$out/initramfs/proc" "$out/initramfs/sys"
(cd "$out/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) \
    > "$out/initramfs.cpio.gz"
rm -rf "$out/unpacked" "$out/debs"
echo "$want" > "$stamp"
echo "build-guest: $out/vmlinuz ($GUEST_KERNEL_PACKAGE) and initramfs"
