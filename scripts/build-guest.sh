#!/bin/bash
# Build the real-guest fixture: Debian's kernel (pinned in guest.conf) and
# an initramfs of Debian's busybox-static, the kernel's qemu_fw_cfg module
# (so -device vmcoreinfo gets the guest's VMCOREINFO) and guest/'s
# programs.  Its init prints, one "GUEST-KEY: value" line each, what tests
# compare against (/proc/version, uname -r, /proc/kallsyms addresses, its
# own ps, the /proc/PID/stack of vmi-idler and of its sleep), starts a few
# named processes and idles.
# Packages are downloaded and unpacked, not installed.  Idempotent.
# The kernel's DWARF (for drgn) comes with it, fetched once into
# build/guest-dbg by fetch-guest-debuginfo.sh.
#   build-guest.sh  ->  build/guest/vmlinuz, vmlinux, initramfs.cpio.gz
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/guest.conf"
out=${BUILD:-$top/build}/guest
stamp=$out/.built

"$top/scripts/fetch-guest-debuginfo.sh" >/dev/null
want="$GUEST_KERNEL_PACKAGE=$GUEST_KERNEL_VERSION $GUEST_BUSYBOX_PACKAGE=$GUEST_BUSYBOX_VERSION $(cat "$0" \
      "$top/guest/"*.c "$top/clients/python/linux_image.py" | md5sum)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

rm -rf "$out"
mkdir -p "$out/debs" "$out/unpacked" "$out/initramfs/bin" \
         "$out/initramfs/lib/modules" "$out/initramfs/proc" \
         "$out/initramfs/sys"
# pinned_gone PACKAGE VERSION META: the pin cannot be downloaded; say what
# Debian offers now (META: the package that names the current one)
pinned_gone() {
    local now
    now=$(apt-cache depends "$3" 2>/dev/null |
          sed -n 's/^ *Depends: \([^ <]*\).*/\1/p' | head -n 1)
    now=${now:-$1}
    echo "build-guest: Debian no longer offers $1=$2 (pinned in guest.conf)." >&2
    echo "  It offers now: $now $(apt-cache policy "$now" 2>/dev/null |
          sed -n 's/^ *Candidate: //p')" >&2
    echo "  Pin that (its package and version lines in guest.conf), run" \
         "'apt-get update' if the index is old, and rebuild." >&2
    exit 1
}
(cd "$out/debs" &&
    apt-get download -q "$GUEST_KERNEL_PACKAGE=$GUEST_KERNEL_VERSION") \
    >/dev/null 2>&1 ||
    pinned_gone "$GUEST_KERNEL_PACKAGE" "$GUEST_KERNEL_VERSION" linux-image-amd64
(cd "$out/debs" &&
    apt-get download -q "$GUEST_BUSYBOX_PACKAGE=$GUEST_BUSYBOX_VERSION") \
    >/dev/null 2>&1 ||
    pinned_gone "$GUEST_BUSYBOX_PACKAGE" "$GUEST_BUSYBOX_VERSION" busybox-static
for deb in "$out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/unpacked"
done
cp "$out"/unpacked/boot/vmlinuz-* "$out/vmlinuz"
cp "$out/unpacked/bin/busybox" "$out/initramfs/bin/busybox"
find "$out/unpacked/lib/modules" -name 'qemu_fw_cfg.ko*' \
     -exec cp {} "$out/initramfs/lib/modules/" \;
# The kernel image as an ELF file, for its BTF and exported symbols
/usr/bin/python3 "$top/clients/python/linux_image.py" extract \
    "$out/vmlinuz" "$out/vmlinux"

for src in "$top"/guest/*.c; do
    gcc -static -O2 -Wall -Werror -o "$out/initramfs/bin/$(basename "$src" .c)" \
        "$src"
done
cat > "$out/initramfs/bin/vmi-idler" <<'IDLER'
#!/bin/sh
while :; do sleep 3600; done
IDLER
chmod +x "$out/initramfs/bin/vmi-idler"

cat > "$out/initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
if insmod /lib/modules/qemu_fw_cfg.ko* 2>/dev/null; then
    echo "GUEST-FW-CFG: loaded"
else
    echo "GUEST-FW-CFG: not loaded"
fi
echo "GUEST-VERSION: $(cat /proc/version)"
echo "GUEST-UNAME-R: $(uname -r)"
echo "GUEST-CMDLINE: $(cat /proc/cmdline)"
for sym in _text _end linux_banner init_task init_uts_ns init_top_pgt; do
    grep " $sym\$" /proc/kallsyms | sed 's/^/GUEST-KALLSYMS: /'
done
vmi-counter &
vmi-idler &
idler=$!
sleep 1
ps -o pid,comm | sed 's/^/GUEST-PS: /'
# "PID COMM FUNCTION..." of two sleepers, vmi-idler and its child (its
# sleep): the functions of /proc/PID/stack
child=$(for stat in /proc/[0-9]*/stat; do
            set -- $(cat "$stat")
            [ "$4" = "$idler" ] && echo "$1"
        done)
for pid in $idler $child; do
    echo "GUEST-STACK: $pid $(cat /proc/$pid/comm)" \
         $(sed 's/^\[<[0-9a-f]*>\] //; s/+0x.*//' /proc/$pid/stack)
done
echo "GUEST-READY"
while :; do sleep 3600; done
INIT
chmod +x "$out/initramfs/init"
(cd "$out/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) \
    > "$out/initramfs.cpio.gz"
rm -rf "$out/unpacked" "$out/debs"
echo "$want" > "$stamp"
echo "build-guest: $out/vmlinuz ($GUEST_KERNEL_PACKAGE), vmlinux, initramfs"
