#!/bin/bash
# The README's run command: build QEMU with the series and the real-guest
# fixture if needed, then run demo/vmi-demo (arguments passed on, e.g.
# --kaslr on).  `make qemu` starts QEMU for trying the commands by hand.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
"$top/scripts/build-guest.sh"
exec "$top/demo/vmi-demo" "$@"
