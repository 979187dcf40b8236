#!/bin/bash
# Compile the series' host-dependent files as for a POSIX host that is
# not Linux: with a config-host.h that lacks CONFIG_LINUX and what only
# Linux has (memfd, eventfd, inotify).  What the series may use only on
# Linux (SO_PEERCRED, /proc/self/fd, UnixSocketAddress's 'abstract',
# which QAPI generates under CONFIG_LINUX) must then be behind
# CONFIG_LINUX, or the compile fails.  The host's headers stay Linux's:
# this checks the series' conditionals, not another libc, and it
# compiles without linking.  Windows is not checked here: there the
# server is left out by meson, QAPI 'if' and the .hx files, and
# pmemaccess_cleanup() is an inline stub; no Windows toolchain with
# glib can be had on this machine.  What can be checked for it is the
# schema: check-qapi-conditions.py fails if a QAPI type of the series is
# unconditional while only conditional (POSIX-only) commands use it.
#
#   BASE=10.2 scripts/check-portability.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

files=(monitor/pmemaccess.c monitor/pmemaccess-client.c
       monitor/pmemaccess-mem.c monitor/pmemaccess-walk.c
       monitor/pmemaccess-hmp-cmds.c monitor/pmemaccess-vmcoreinfo.c
       monitor/guest-memory-qmp.c monitor/vmcoreinfo-query.c
       monitor/vmcoreinfo-hmp-cmds.c system/pmemmap.c)
[ -f "$objdir/compile_commands.json" ] ||
    { echo "check-portability: build QEMU first (scripts/build-qemu.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/shadow"
sed -E 's/^#define (CONFIG_LINUX|CONFIG_LINUX_MAGIC_H|CONFIG_MEMFD|CONFIG_EVENTFD|CONFIG_INOTIFY1?)([[:space:]].*)?$/#undef \1/' \
    "$objdir/config-host.h" > "$work/shadow/config-host.h"
grep -Eq '^#define CONFIG_LINUX([[:space:]]|$)' "$work/shadow/config-host.h" &&
    { echo "check-portability: CONFIG_LINUX still defined" >&2; exit 1; }

/usr/bin/python3 - "$objdir" "$work" "${files[@]}" <<'PY'
import json, shlex, subprocess, sys
objdir, work, files = sys.argv[1], sys.argv[2], sys.argv[3:]
cmds = {}
for e in json.load(open(objdir + '/compile_commands.json')):
    for f in files:
        if e['file'].endswith('../' + f):
            cmds[f] = e
failed = []
for f in files:
    if f not in cmds:
        print('check-portability: %s: not in this build' % f)
        failed.append(f)
        continue
    argv = shlex.split(cmds[f]['command'])
    out, skip = [argv[0], '-iquote', work + '/shadow'], False
    for a in argv[1:]:
        if skip:
            skip = False
            continue
        if a in ('-o', '-MQ', '-MF'):
            skip = True
            continue
        if a == '-MD':
            continue
        out.append(a)
    out += ['-o', work + '/x.o', '-Werror']
    r = subprocess.run(out, cwd=cmds[f]['directory'], capture_output=True,
                       text=True)
    print('check-portability: %s: %s' % (f, 'ok' if r.returncode == 0
                                         else 'FAILS without CONFIG_LINUX'))
    if r.returncode:
        print(r.stderr[-3000:])
        failed.append(f)
sys.exit(1 if failed else 0)
PY
/usr/bin/python3 "$top/scripts/check-qapi-conditions.py" "$tree"
echo "check-portability: [$BASE] the series compiles without CONFIG_LINUX;"\
    "its QAPI types are as conditional as their users"
