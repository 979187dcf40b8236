# qemu-vmi: fast, safe guest-memory introspection for QEMU.
# The targets only call scripts/; see README.md.

.PHONY: all setup build check run series bench clean distclean

all: build

setup:
	@scripts/setup-deps.sh

build: setup
	@scripts/build-qemu.sh

check: setup
	@scripts/check.sh

run: setup
	@scripts/run-qemu.sh

series: setup
	@scripts/export-series.sh

# pmemaccess against a bare UNIX socket, xp and pmemsave, in one run
bench: setup
	@scripts/bench.sh

# Drop the build tree but keep the downloaded source and the pristine tree.
clean:
	rm -rf build/qemu build/series build/run

distclean:
	rm -rf build
