# qemu-vmi: fast, safe guest-memory introspection for QEMU.
# The targets only call scripts/; see README.md.
#
# BASE picks the QEMU base for every target (a directory of bases/:
# 7.2, 10.0, 10.2); without it the newest is used, except by check,
# which then tests every base.  Example: make BASE=7.2 run
ifdef BASE
export BASE
endif

.PHONY: all setup build check run qemu series bench bench-qmp bench-drgn compare stress fuzz asan clean distclean

all: build

setup:
	@scripts/setup-deps.sh

build: setup
	@scripts/build-qemu.sh

check: setup
	@scripts/check.sh

# the demo: a running Debian guest introspected from outside
run: setup
	@scripts/run-demo.sh

# QEMU with HMP on this terminal, for trying the commands by hand
qemu: setup
	@scripts/run-qemu.sh

series: setup
	@scripts/export-series.sh

# pmemaccess against a bare UNIX socket, xp and pmemsave, in one run
bench: setup
	@scripts/bench.sh

# QMP read-guest-memory against xp and query-status, one QMP connection
bench-qmp: setup
	@scripts/bench-qmp.sh

# every way to read guest memory (xp, pmemsave, gdbstub, process_vm_readv,
# pmemaccess v1/v2, pmemmap) side by side, idle and on a busy guest:
# tables on stdout, build/compare/compare.md and compare.png
compare: setup
	@scripts/compare.sh

# one drgn script on the live Debian guest, its memory read through
# pmemmap, pmemaccess READ, QMP read-guest-memory and HMP xp: times side
# by side, results compared
bench-drgn: setup
	@scripts/bench-drgn.sh

# 64 clients, 1000 connect/disconnect cycles and a paused storm against a
# running guest: every reply checked, QEMU's fds/RSS/QMP latency measured
stress: setup
	@scripts/stress.sh

# libFuzzer on the request decoder, ASan + UBSan: FUZZ_TIME seconds,
# FUZZ_JOBS processes (check runs 30 s of it)
FUZZ_TIME ?= 1800
FUZZ_JOBS ?= 2
fuzz: setup
	@scripts/fuzz.sh $(FUZZ_TIME) $(FUZZ_JOBS)

# The patched QEMU built with ASan + UBSan (build/qemu/build-asan), our
# qtests run under it
asan: setup
	@scripts/check-asan.sh

# Drop the build trees but keep the downloaded sources and pristine trees.
clean:
	rm -rf build/*/qemu build/*/series build/*/run

distclean:
	rm -rf build
