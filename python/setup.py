"""Builds libdsm with the Go toolchain into the package (dsm/libdsm.so).

The library is the Go package libdsm of this repository (one directory up),
so the package builds from a checkout: `pip install --no-build-isolation
./python`. The Go toolchain (`go`, or the GO environment variable) and a C
compiler (cgo) must be installed.
"""

import os
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LIBDSM = os.path.join(os.path.dirname(HERE), "libdsm")


class BuildWithLibdsm(build_py):
    """build_py that also builds libdsm.so into the built package."""

    def run(self):
        super().run()
        if not os.path.isfile(os.path.join(LIBDSM, "dsm.h")):
            raise SystemExit(f"libdsm's Go sources are not at {LIBDSM}: build from a checkout of dsm")
        go = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
        out = os.path.join(os.path.abspath(self.build_lib), "dsm", "libdsm.so")
        subprocess.run([go, "build", "-buildmode=c-shared", "-o", out, "."], cwd=LIBDSM, check=True)
        os.remove(os.path.splitext(out)[0] + ".h")  # cgo's header of the Go side


class BinaryDistribution(Distribution):
    """The wheel holds a native library: not pure Python."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibdsm}, distclass=BinaryDistribution)
