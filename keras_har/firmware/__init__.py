"""Building and running the exported firmware: host and emulated Cortex-M4, bit for bit against Python.

An export folder (`keras_har.export.export_model`) holds the model's C array,
``model_settings.h``, ``model_ops.h`` and the portable core
``har_classifier.h/.cc`` (set up, classify a window, stream samples). This
package compiles TFLM with them into a test runner (`build_runner`, for the
host's g++ or ``arm-none-eabi-g++`` with reference or CMSIS-NN kernels), runs
it (natively, or under ``qemu-system-arm -M mps2-an386``), and
`verify_export` checks its int8 outputs bit for bit against the TFLM Python
interpreter on real windows and on a streamed recording, and measures the
Cortex-M4 arena, flash and instructions per inference.

Example:
    >>> from keras_har.firmware import verify_export  # doctest: +SKIP
    >>> result = verify_export("export/", windows=test_windows, recording=signal)  # doctest: +SKIP
    >>> result["cortex_m4"]["bit_exact"], result["cortex_m4"]["arena_bytes"]  # doctest: +SKIP
"""

from keras_har.firmware.build import Build, build_runner
from keras_har.firmware.run import FirmwareError, find_arena, flash_breakdown, run_stream, run_windows
from keras_har.firmware.tflm_source import fetch_tflm, resolve_tflm_root
from keras_har.firmware.toolchain import ToolchainError, missing_tools
from keras_har.firmware.verify import ARENA_MARGIN_BYTES, verify_export

__all__ = [
    "ARENA_MARGIN_BYTES", "Build", "FirmwareError", "ToolchainError", "build_runner", "fetch_tflm", "find_arena",
    "flash_breakdown", "missing_tools", "resolve_tflm_root", "run_stream", "run_windows", "verify_export",
]
