"""Builds the C++ module gradcheck._core with CMake (the repository's own build,
only the library and the module) and installs it beside the Python sources."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent.parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        build = Path(self.build_temp).resolve() / "cmake"
        build.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                        "-DGRADCHECK_BUILD_PYTHON=ON", "-DGRADCHECK_BUILD_TESTS=OFF", "-DGRADCHECK_BUILD_TOOLS=OFF",
                        "-DGRADCHECK_BUILD_SAMPLES=OFF", f"-DPython_EXECUTABLE={sys.executable}",
                        # a one-off build: source files compiled in batches, in about half the time
                        "-DCMAKE_UNITY_BUILD=ON"], check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "gradcheck_python", "-j", str(os.cpu_count() or 2)],
                       check=True)
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = build / "python" / "gradcheck" / ("_core" + suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(packages=["gradcheck"], ext_modules=[CMakeExtension("gradcheck._core")], cmdclass={"build_ext": CMakeBuild})
