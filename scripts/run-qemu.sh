#!/bin/bash
# Start the patched QEMU with sensible defaults for trying the monitor
# commands by hand: HMP on this terminal, QMP on a UNIX socket, guest RAM
# in a shared memfd, no guest OS (the CPU idles in the BIOS).
#
#   run-qemu.sh [extra QEMU arguments...]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
rundir=$bbuild/run
mkdir -p "$rundir"

"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null

qmp=$rundir/qmp.sock
echo "run: QMP socket: $qmp (qmp-shell: $tree/scripts/qmp/qmp-shell $qmp)"
echo "run: try: pmemsave 4G 1G \"$rundir/high.bin\"   then: quit"
exec "$objdir/qemu-system-x86_64" \
    -machine pc -m 6G \
    -object memory-backend-memfd,id=ram0,size=6G,share=on \
    -machine memory-backend=ram0 \
    -display none -nodefaults -serial none \
    -qmp unix:"$qmp",server=on,wait=off \
    -monitor stdio \
    "$@"
