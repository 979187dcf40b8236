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

# qemu_configure_options ARRAY: our configure options into ARRAY: the
# targets of base.conf's QEMU_TARGETS, or x86_64-softmmu alone.  Default
# devices stay in: QEMU's own monitor tests (test-hmp) start every machine
# with its default devices.  KVM is in, as users run KVM guests
# (--without-default-features turns it off).  7.2 takes Debian's meson;
# 10.x finds the newer one on PYTHONPATH.
qemu_configure_options() {
    local -n _opts=$1
    _opts=(
        --target-list=${QEMU_TARGETS:-x86_64-softmmu}
        --without-default-features
        --enable-kvm
        --disable-docs
        --disable-install-blobs
        ${QEMU_EXTRA_CONFIGURE:-}
    )
    [ "$QEMU_MESON" = backports ] || _opts+=(--meson=meson)
}

# qemu_configured OBJDIR: whether OBJDIR is configured with our options
# (configure records them in a stamp there).
qemu_configured() {
    local config=()

    qemu_configure_options config
    [ -f "$1/build.ninja" ] &&
        [ "$(cat "$1/.qemu-vmi-configure" 2>/dev/null)" = "${config[*]}" ]
}

# qemu_configure OBJDIR LOG: configure the QEMU tree above OBJDIR into
# OBJDIR, made anew, with our options; configure's output goes to LOG,
# its tail to stderr if it fails.
qemu_configure() {
    local config=()

    qemu_configure_options config
    rm -rf "$1"
    mkdir -p "$1"
    (cd "$1" && ../configure "${config[@]}") > "$2" 2>&1 ||
        { tail -30 "$2" >&2; return 1; }
    echo "${config[*]}" > "$1/.qemu-vmi-configure"
}

# link_firmware OBJDIR: the firmware a QEMU run from build directory OBJDIR
# looks for.  Stripped from Debian's source, it comes from Debian's seabios,
# qemu-system-data and ipxe-qemu (NIC option ROMs) packages.  Only
# firmware: the bundle has its own trace-events-all, keymaps and so on,
# and where Debian's QEMU is installed (qemu-system-common) /usr/share/qemu
# has files of those names too.
link_firmware() {
    local fw=$1/qemu-bundle/usr/local/share/qemu f

    mkdir -p "$fw"
    for f in /usr/share/seabios/* /usr/share/qemu/* /usr/lib/ipxe/qemu/*; do
        case $f in *.bin|*.rom|*.fd|*.img) ;; *) continue ;; esac
        [ -f "$f" ] || continue
        [ -e "$fw/$(basename "$f")" ] || [ -L "$fw/$(basename "$f")" ] ||
            ln -s "$f" "$fw/$(basename "$f")"
    done
}

# base_say MESSAGE: print MESSAGE prefixed with the base, as "[10.2] ..."
base_say() {
    echo "[$BASE] $*"
}
