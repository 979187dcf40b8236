"""Where the QEMU under test is.

scripts/*.sh export BASE (the QEMU base, a directory of bases/; the
newest when not given) and QEMU_BINARY; run by hand, the tests find the
build of BASE in build/BASE/qemu the same way.
"""

import os
import re

TOP = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "../.."))


def _newest_base():
    def version(name):
        return [int(x) for x in re.findall(r"\d+", name)]
    return max(os.listdir(os.path.join(TOP, "bases")), key=version)


BASE = os.environ.get("BASE") or _newest_base()
TREE = os.environ.get("QEMU_TREE",
                      os.path.join(TOP, "build", BASE, "qemu"))
BINARY = os.environ.get("QEMU_BINARY",
                        os.path.join(TREE, "build/qemu-system-x86_64"))
