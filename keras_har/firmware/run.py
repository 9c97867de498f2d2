"""Running a built runner on the host or in QEMU, and reading what it prints."""

import dataclasses
import os
import pathlib
import re
import subprocess
import tempfile

import numpy as np

from keras_har.firmware.toolchain import find_tool

# With `-icount shift=0` QEMU's virtual clock advances 1 ns per instruction;
# the mps2-an386 SysTick counts the 25 MHz processor clock, one tick per
# 40 ns, so one tick is 40 instructions (../tflm README: checked with a loop
# of known length).
INSTRUCTIONS_PER_TICK = 40
QEMU_MACHINE = ("-M", "mps2-an386", "-cpu", "cortex-m4")
SETUP_STATUS = {0: "ok", 1: "schema mismatch", 2: "op registration failed", 3: "AllocateTensors failed",
                4: "shape mismatch"}


class FirmwareError(RuntimeError):
    """The firmware failed: it could not set up, it crashed, or it hung."""


@dataclasses.dataclass
class WindowsRun:
    scores: np.ndarray        # (N, K) int8
    labels: np.ndarray        # (N,) arg-max classes
    instructions: np.ndarray  # (N,) per classification (0 on the host)
    arena_used_bytes: int


@dataclasses.dataclass
class StreamRun:
    sample_index: np.ndarray  # (R,) index of the sample that completed each classified window
    labels: np.ndarray
    scores: np.ndarray
    instructions: np.ndarray


def _command(build, arguments):
    if build.target == "host":
        return [str(build.executable), *arguments]
    qemu = find_tool("qemu-system-arm")
    for argument in arguments:
        if "," in argument or " " in argument:
            raise ValueError(f"QEMU semihosting arguments cannot hold commas or spaces. Received: {argument!r}")
    semihosting = ",".join(["enable=on", "target=native", "arg=runner", *(f"arg={a}" for a in arguments)])
    return [qemu, *QEMU_MACHINE, "-nographic", "-monitor", "none", "-icount", "shift=0",
            "-semihosting-config", semihosting, "-kernel", str(build.executable)]


def run(build, arguments, *, cwd, timeout_s=300):
    """Runs the runner with ``arguments`` in ``cwd``; returns its stdout lines, or raises `FirmwareError`."""
    command = _command(build, arguments)
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise FirmwareError(
            f"The {build.target} firmware ({build.kernels} kernels) did not finish within {timeout_s} s "
            f"and was stopped: it hangs, or the run needs a longer timeout_s. Command: {' '.join(command)}"
        ) from None
    lines = result.stdout.splitlines()
    errors = [line for line in lines if line.startswith("ERROR")]
    setup = next((line.split() for line in lines if line.startswith("SETUP")), None)
    if setup is not None and int(setup[1]) != 0:
        status = SETUP_STATUS.get(int(setup[1]), setup[1])
        if int(setup[1]) == 3:
            raise FirmwareError(f"AllocateTensors failed on the {build.target} build: an arena of {setup[3]} bytes "
                                "is too small for this model there. Use a larger arena (keras-har firmware measures "
                                "the smallest one).")
        raise FirmwareError(f"The {build.target} firmware could not set up the model: {status}.")
    if result.returncode != 0 or errors:
        detail = "; ".join(errors) or (result.stderr.strip()[-1000:] or "no output")
        raise FirmwareError(f"The {build.target} firmware ({build.kernels}) exited with status {result.returncode}: "
                            f"{detail}")
    return lines


def _values(lines, tag):
    rows = [line.split()[1:] for line in lines if line.startswith(tag + " ")]
    return np.array(rows, dtype=np.int64).reshape(len(rows), -1)


def run_windows(build, windows_int8, *, arena_bytes, timeout_s=600):
    """Classifies int8 windows ``(N, T, C)`` in the firmware; returns a `WindowsRun`."""
    windows_int8 = np.ascontiguousarray(windows_int8, dtype=np.int8)
    with tempfile.TemporaryDirectory(prefix="keras_har_fw_") as work:
        windows_int8.tofile(os.path.join(work, "windows.bin"))
        lines = run(build, ["windows", "windows.bin", str(int(arena_bytes))], cwd=work, timeout_s=timeout_s)
    rows = _values(lines, "W")
    done = _values(lines, "DONE")
    if len(rows) != len(windows_int8) or done.size == 0 or done[0, 0] != len(windows_int8):
        raise FirmwareError(f"The firmware classified {len(rows)} of {len(windows_int8)} windows.")
    setup = _values(lines, "SETUP")
    return WindowsRun(scores=rows[:, 2:-1].astype(np.int8), labels=rows[:, 1], instructions=rows[:, -1] * _per_tick(build),
                      arena_used_bytes=int(setup[0, 1]))


def run_stream(build, samples, *, arena_bytes, timeout_s=600):
    """Streams raw float32 samples ``(L, C)`` through the core's ring buffer; returns a `StreamRun`."""
    samples = np.ascontiguousarray(samples, dtype="<f4")
    with tempfile.TemporaryDirectory(prefix="keras_har_fw_") as work:
        samples.tofile(os.path.join(work, "stream.bin"))
        lines = run(build, ["stream", "stream.bin", str(int(arena_bytes))], cwd=work, timeout_s=timeout_s)
    rows = _values(lines, "S")
    return StreamRun(sample_index=rows[:, 0], labels=rows[:, 1], scores=rows[:, 2:-1].astype(np.int8),
                     instructions=rows[:, -1] * _per_tick(build))


def find_arena(build, *, timeout_s=600):
    """``(arena_used_bytes, smallest_arena_bytes)`` measured in the firmware itself.

    The runner allocates once in its full static arena (``arena_used_bytes``,
    TFLM's own count) and then binary-searches, in 16-byte steps, the smallest
    arena in which ``AllocateTensors`` succeeds and a window is classified.
    """
    with tempfile.TemporaryDirectory(prefix="keras_har_fw_") as work:
        lines = run(build, ["arena"], cwd=work, timeout_s=timeout_s)
    values = _values(lines, "ARENA")
    return int(values[0, 0]), int(values[0, 1])


def _per_tick(build):
    return INSTRUCTIONS_PER_TICK if build.target == "cortex-m4" else 0


_INPUT_SECTION = re.compile(r"^ (\.\S+)?\s*0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_FLASH_SECTIONS = (".vectors", ".text", ".init", ".fini", ".rodata", ".ARM.extab", ".ARM.exidx", ".eh_frame",
                   ".init_array", ".fini_array", ".preinit_array", ".data", ".tdata")


def flash_breakdown(build):
    """Flash of the linked Cortex-M4 runner by origin, from the linker map.

    Flash is every byte that must be stored on the device: code, read-only
    data and the initial values of ``.data`` (not ``.bss``).

    Returns:
        dict of bytes: ``model`` (the model's C array), ``runtime`` (TFLM and
        CMSIS-NN objects, only what the model's ops pull in), ``other``
        (keras_har core, test runner, C/C++ libraries, start-up) and
        ``total``.
    """
    text = pathlib.Path(build.map_file).read_text(errors="replace")
    start = text.find("Linker script and memory map")
    if start < 0:
        raise FirmwareError(f"{build.map_file} is not a GNU ld map file.")
    runtime_objects = {str(path) for path in build.library_objects}
    totals = {"model": 0, "runtime": 0, "other": 0}
    output_section, pending = None, None
    for line in text[start:].splitlines():
        if line and not line.startswith(" "):
            output_section = line.split()[0]
            pending = None
            continue
        match = _INPUT_SECTION.match(line)
        if match is None:
            stripped = line.strip()
            pending = stripped if stripped.startswith(".") and " " not in stripped else None
            continue
        name = match.group(1) or pending
        pending = None
        if name is None or output_section not in _FLASH_SECTIONS:
            continue
        size, origin = int(match.group(3), 16), match.group(4).strip()
        if size == 0 or origin.startswith("load address"):
            continue
        if origin in runtime_objects:
            totals["runtime"] += size
        elif origin.endswith("model_data.cc.o"):
            totals["model"] += size
        else:
            totals["other"] += size
    totals["total"] = sum(totals.values())
    return totals
