#!/bin/bash
# The README's run command: build QEMU with the series (the newest base
# unless BASE says otherwise) and the real-guest fixture, then run
# demo/vmi-demo (its arguments: e.g. --kaslr on).  With --drgn, also the
# guest kernel's debug info that drgn needs (fetched once).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
"$top/scripts/build-guest.sh"
case " $* " in
*" --drgn "*) "$top/scripts/fetch-guest-debuginfo.sh" >/dev/null ;;
esac
QEMU_BINARY=$objdir/qemu-system-x86_64 exec "$top/demo/vmi-demo" "$@"
