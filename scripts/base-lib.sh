# Shared by scripts/*.sh: which QEMU base a script works on.
#
# BASE names a directory of bases/ (7.2, 10.0, 10.2); the default is the
# newest, the one the upstream series is exported against.  Each base has
# its own pin (bases/$BASE/base.conf) and its own build directory
# (build/$BASE: pristine source, working tree, QEMU build, series), so
# switching bases rebuilds nothing.  What a script shares across bases
# (the guest fixture, downloaded tools) stays in build/.
#
# Needs $top.  Sets: BASE, base_dir, build, bbuild, pristine, tree, objdir,
# MESON; exports PATH (Debian's python3 first) and, for a base that needs a
# newer meson than Debian 12's, PYTHONPATH.

BASES_ALL=$(cd "$top/bases" && ls -d */ | tr -d / | sort -V)
BASE_NEWEST=$(echo "$BASES_ALL" | tail -n 1)
BASE=${BASE:-$BASE_NEWEST}
base_dir=$top/bases/$BASE
if [ ! -f "$base_dir/base.conf" ]; then
    echo "$(basename "$0"): unknown BASE '$BASE'; the bases are:" \
        $BASES_ALL >&2
    exit 2
fi
QEMU_DEB_PACKAGE=qemu
. "$base_dir/base.conf"
export BASE

build=${BUILD:-$top/build}
bbuild=$build/$BASE
pristine=$bbuild/qemu-pristine
tree=$bbuild/qemu
objdir=$tree/${QEMU_BUILD_NAME:-build}

# configure, the QAPI generators and meson run on Debian's python3
export PATH=/usr/bin:$PATH

# QEMU 10 needs meson >= 1.5; Debian 12 has 1.0.1.  bookworm-backports'
# meson is unpacked into build/tools (never installed on the host), pinned
# here by version and checksum.
MESON_BPO_DEB=meson_1.7.0-1~bpo12+1_all.deb
MESON_BPO_SHA256=4b86d2f2cb4431d03826fa4b2c3a89508edeb8140509e7e4b285285ec3175bbe
MESON_BPO_DIR=$build/tools/meson-1.7.0
# (sourced again for another base, start from the caller's PYTHONPATH)
BASE_CALLER_PYTHONPATH=${BASE_CALLER_PYTHONPATH-${PYTHONPATH-}}
if [ "$QEMU_MESON" = backports ]; then
    MESON=$MESON_BPO_DIR/usr/bin/meson
    PYTHONPATH=$MESON_BPO_DIR/usr/lib/python3/dist-packages
    PYTHONPATH+=${BASE_CALLER_PYTHONPATH:+:$BASE_CALLER_PYTHONPATH}
    export PYTHONPATH
else
    MESON=meson
    if [ -n "$BASE_CALLER_PYTHONPATH" ]; then
        export PYTHONPATH=$BASE_CALLER_PYTHONPATH
    else
        unset PYTHONPATH
    fi
fi

# base_say MESSAGE: print MESSAGE prefixed with the base, as "[10.2] ..."
base_say() {
    echo "[$BASE] $*"
}
