"""The compilers and the emulator a firmware build needs, with clear errors when one is missing."""

import shutil
import subprocess

# tool -> the Debian package that provides it.
DEBIAN_PACKAGES = {
    "g++": "g++",
    "gcc": "gcc",
    "arm-none-eabi-g++": "gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib",
    "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
}
INSTALL_HINT = (
    "On Debian or Ubuntu: apt-get install -y --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
    "libstdc++-arm-none-eabi-newlib qemu-system-arm"
)


class ToolchainError(FileNotFoundError):
    """A compiler or emulator is not installed."""


def find_tool(name):
    """The absolute path of ``name``, or `ToolchainError` naming the Debian package to install."""
    path = shutil.which(name)
    if path is None:
        raise ToolchainError(
            f"`{name}` is not installed (Debian package: {DEBIAN_PACKAGES.get(name, name)}). {INSTALL_HINT}"
        )
    return path


def missing_tools(target):
    """The tools a ``target`` ("host" or "cortex-m4") needs that are not installed, as ``name (package)``."""
    needed = ("g++", "gcc") if target == "host" else ("arm-none-eabi-g++", "arm-none-eabi-gcc", "qemu-system-arm")
    return [f"{name} ({DEBIAN_PACKAGES[name]})" for name in needed if shutil.which(name) is None]


def compiler_identity(compiler):
    """The compiler's ``--version`` first line: part of the build cache key."""
    result = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0].strip()
