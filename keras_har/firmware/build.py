"""Compiling TFLM, the model and the keras_har core into a runner, for the host or a Cortex-M4.

The TFLM library is compiled once per (target, kernels, compiler, flags,
source tree) and kept in a per-translation-unit object cache
(`keras_har.firmware.tflm_source.cache_root`): the framework, and of the
kernels only those the model's ops need (the file that defines each op's
``Register_*`` function, its ``*_common.cc``, and the kernel sources of the
kernel headers they include). Later builds reuse every object already there.
Each object is compiled to a temporary name and renamed into place, so an
interrupted build never leaves a half-written object in the cache. Processes
that build the same library at once (parallel test workers, a search's
footprint measurements) take turns on a lock file beside it: the first
compiles, the others find its objects and compile only what is still missing.

The runner's own objects (the keras_har core, the model's C array, the test
runner) are cached by content beside the library (`_app_object_key`): an
object is reused when its compile command, its source and the local headers
it includes are the same, and it is stored only when it compiled without
warnings, so a reused object never hides one.
"""

import concurrent.futures
import dataclasses
import functools
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

from keras_har import atomic
from keras_har.firmware import tflm_source
from keras_har.firmware.toolchain import compiler_identity, find_tool

SOURCE_DIR = pathlib.Path(__file__).resolve().parent / "src"
CORE_SOURCES = ("har_classifier.h", "har_classifier.cc", "keras_har_bigru.h", "keras_har_bigru.cc")
TARGETS = ("host", "cortex-m4")

_COMMON_CXX = ("-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-DTF_LITE_STATIC_MEMORY",
               "-DNDEBUG", "-ffunction-sections", "-fdata-sections")
_TARGETS = {
    "host": {
        "cxx": "g++", "cc": "gcc",
        "arch": ("-O2",),
        "cxx_flags": _COMMON_CXX,
        "link": ("-Wl,--gc-sections",),
    },
    "cortex-m4": {
        # The flags that TFLM's cortex_m_generic makefile and ../tflm's README use for a Cortex-M4.
        "cxx": "arm-none-eabi-g++", "cc": "arm-none-eabi-gcc",
        "arch": ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os"),
        "cxx_flags": _COMMON_CXX + ("-DTF_LITE_STRIP_ERROR_STRINGS",),
        # newlib's semihosting (printf and files reach the host; main's return
        # value becomes QEMU's exit status) and the two-word vector table at 0.
        "link": ("--specs=rdimon.specs", "-Wl,--section-start=.vectors=0x0", "-Wl,-u,keras_har_vector_table",
                 "-Wl,--gc-sections"),
    },
}
_CMSIS_NN_C_FLAGS = ("-DARM_NN_ENABLE_F16=0", "-DARM_NN_ENABLE_F32=0")
# Test and debugging helpers of the tree that no firmware links.
_SKIPPED = {"test_helpers.cc", "test_helper_custom_ops.cc", "mock_micro_graph.cc", "fake_micro_context.cc",
            "kernel_runner.cc"}
_KERNELS_DIR = "tensorflow/lite/micro/kernels"


@dataclasses.dataclass
class Build:
    """A linked runner.

    Attributes:
        target: ``"host"`` or ``"cortex-m4"``.
        kernels: ``"reference"`` or ``"cmsis-nn"``.
        executable: the runner (an ELF for the Cortex-M4).
        map_file: the linker map (which object every byte of flash came from).
        tflm_root: the TFLM tree it was built from.
        library_objects: the cached TFLM objects that went into the link.
    """

    target: str
    kernels: str
    executable: pathlib.Path
    map_file: pathlib.Path
    tflm_root: pathlib.Path
    library_objects: list


def _include_flags(root, kernels):
    includes = [root, root / "third_party/flatbuffers/include", root / "third_party/gemmlowp",
                root / "third_party/ruy"]
    if kernels == "cmsis-nn":
        includes += [root / "third_party/cmsis_nn", root / "third_party/cmsis_nn/Include",
                     root / "third_party/cmsis/CMSIS/Core/Include"]
    # -isystem: warnings inside TFLM's headers are TFLM's, not ours (-Wall -Wextra stays on for our code).
    return [flag for path in includes for flag in ("-isystem", str(path))]


@functools.lru_cache(maxsize=None)
def _register_functions(root):
    """Op-resolver method (``AddFullyConnected``) -> the ``Register_*`` function it calls by default."""
    text = (pathlib.Path(root) / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    methods = {}
    parts = re.split(r"TfLiteStatus (Add\w+)\(", text)
    for method, body in zip(parts[1::2], parts[2::2]):
        match = re.search(r"Register_(\w+)\(", body)
        if match:
            methods[method] = match.group(1)
    return methods


def _kernel_file(root, kernels, stem):
    """The source of kernel ``stem``: the CMSIS-NN one when it exists and is wanted."""
    if kernels == "cmsis-nn" and (root / _KERNELS_DIR / "cmsis_nn" / f"{stem}.cc").is_file():
        return root / _KERNELS_DIR / "cmsis_nn" / f"{stem}.cc"
    path = root / _KERNELS_DIR / f"{stem}.cc"
    return path if path.is_file() else None


def kernel_sources(root, kernels, op_types):
    """The kernel ``.cc`` files that ``op_types`` need (see the module docstring)."""
    from keras_har.export.convert import CUSTOM_OPS, TFLM_OP_RESOLVER_METHODS

    root = pathlib.Path(root)
    # keras_har's custom ops are compiled with the firmware core, not from the tree.
    op_types = [op for op in op_types if op not in CUSTOM_OPS]
    registers = _register_functions(str(root))
    candidates = sorted((root / _KERNELS_DIR).glob("*.cc")) + sorted((root / _KERNELS_DIR / "cmsis_nn").glob("*.cc"))
    texts = {path: path.read_text(errors="replace") for path in candidates}
    selected, queue = set(), []
    for op in op_types:
        function = registers.get(TFLM_OP_RESOLVER_METHODS[op])
        if function is None:
            raise ValueError(f"{root}: the op resolver has no `{TFLM_OP_RESOLVER_METHODS[op]}` for {op}. Received: op={op}")
        definition = re.compile(rf"\bRegister_{function}\(\)\s*\{{")
        found = [path for path in candidates if definition.search(texts[path])]
        preferred = [path for path in found if ("cmsis_nn" in path.parts) == (kernels == "cmsis-nn")] or found
        if not preferred:
            raise ValueError(f"{root}: no kernel source defines Register_{function}() for {op}. Received: op={op}")
        queue.append(preferred[0])
    while queue:
        path = queue.pop()
        if path in selected or path.name in _SKIPPED:
            continue
        selected.add(path)
        stems = [path.stem, path.stem + "_common"]
        stems += re.findall(r'#include "tensorflow/lite/micro/kernels/(?:cmsis_nn/)?(\w+)\.h"', texts[path])
        for stem in stems:
            for extra in (stem, stem + "_common"):
                source = _kernel_file(root, kernels, extra)
                if source is not None and source not in selected:
                    queue.append(source)
    return sorted(selected)


def library_sources(root, kernels, op_types):
    """Every TFLM source a runner for ``op_types`` compiles: framework, kernels, and CMSIS-NN's C library."""
    root = pathlib.Path(root)
    framework = [path for path in sorted((root / "tensorflow").rglob("*.cc"))
                 if _KERNELS_DIR not in path.as_posix() and path.name not in _SKIPPED]
    sources = framework + kernel_sources(root, kernels, op_types)
    if kernels == "cmsis-nn":
        sources += [path for path in sorted((root / "third_party/cmsis_nn/Source").rglob("*.c"))
                    if not re.search(r"_f16\.c$|_f32\.c$|arm_nntables_flt\.c$", path.name)]
    return sources


def _compile(command, source, output):
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp.o")
    os.close(handle)
    try:
        result = subprocess.run([*command, "-c", str(source), "-o", temporary], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"Compiling {source} failed:\n{result.stderr[-4000:]}")
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return result.stderr


def _compile_all(jobs, progress, description):
    """Compiles ``[(command, source, output)]`` in parallel; returns the compilers' warnings per source."""
    if not jobs:
        return {}
    from tqdm.auto import tqdm

    warnings = {}
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(_compile, *job): job[1] for job in jobs}
        with tqdm(total=len(jobs), desc=description, disable=not progress, unit="file") as bar:
            for future in concurrent.futures.as_completed(futures):
                stderr = future.result()
                if stderr.strip():
                    warnings[futures[future]] = stderr
                bar.update(1)
    return warnings


def compile_library(library_dir, commands, root, progress, description):
    """Compiles ``[(command, source)]`` under ``root`` into ``library_dir``; returns the object paths.

    Objects already in ``library_dir`` are reused. The compile runs under a
    lock file beside ``library_dir``, so two processes asking for the same
    library at once compile each object once: the second waits, then finds
    the first one's objects.
    """
    from filelock import FileLock

    library_dir = pathlib.Path(library_dir)
    library_dir.parent.mkdir(parents=True, exist_ok=True)
    objects = [library_dir / pathlib.Path(source).relative_to(root).with_suffix(".o") for _, source in commands]
    with FileLock(str(library_dir) + ".lock"):
        jobs = [(command, source, output) for (command, source), output in zip(commands, objects)
                if not output.is_file()]
        _compile_all(jobs, progress, description)
    return objects


_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def _app_object_key(command, source, sources_dir):
    """A digest of everything one runner object is compiled from, besides the TFLM tree.

    The compile command (its ``sources_dir`` written as a placeholder), the
    source, and every header of ``sources_dir`` it includes, directly or
    through another one. TFLM's own headers are covered by the tree
    fingerprint in the cache folder's name. So an object that does not see the
    model (the fused BiGRU kernel) is compiled once per toolchain and tree,
    and a runner rebuilt for the same export compiles nothing.
    """
    sources_dir = pathlib.Path(sources_dir)
    digest = hashlib.sha256("\0".join(command).replace(str(sources_dir), "<src>").encode())
    pending, seen = [pathlib.Path(source)], set()
    while pending:
        path = pending.pop()
        if path.name in seen:
            continue
        seen.add(path.name)
        text = path.read_bytes()
        digest.update(b"\0" + path.name.encode() + b"\0" + text)
        pending += [sources_dir / name for name in _LOCAL_INCLUDE.findall(text.decode(errors="replace"))
                    if (sources_dir / name).is_file()]
    return digest.hexdigest()[:24]


@functools.lru_cache(maxsize=None)
def _fingerprint(root):
    return tflm_source.tree_fingerprint(root)


def build_runner(export_dir, *, target="cortex-m4", kernels="reference", tflm_root=None, cmsis_nn_root=None,
                 cache_dir=None, build_dir=None, defines=(), progress=True):
    """Builds the test runner of an export folder: TFLM + the model + the keras_har core.

    Args:
        export_dir: a folder written by `keras_har.export.export_model`
            (``model.tflite``, ``model_data.cc/.h``, ``model_settings.h``,
            ``model_ops.h``, ``har_classifier.h/.cc``).
        target: ``"host"`` (the machine's g++) or ``"cortex-m4"``
            (``arm-none-eabi-g++``, thumb, soft float, ``-Os``).
        kernels: ``"reference"`` (TFLM's portable kernels) or ``"cmsis-nn"``
            (Arm's optimised int8 kernels, what a board build uses;
            Cortex-M4 only).
        tflm_root, cmsis_nn_root, cache_dir: see `keras_har.firmware.tflm_source`.
        build_dir: where the runner goes; default
            ``<export_dir>/firmware/<target>-<kernels>``.
        defines: extra preprocessor definitions for the core and runner
            (``("KERAS_HAR_TEST_SKIP_STATE_RESET",)`` is for tests only).
        progress: show a progress bar while compiling.

    Returns:
        A `Build`.
    """
    from keras_har.export.convert import check_tflm_ops

    if target not in TARGETS:
        raise ValueError(f"`target` must be one of {list(TARGETS)}. Received: target={target!r}")
    if target == "host" and kernels != "reference":
        raise ValueError(f"CMSIS-NN kernels are for Arm Cortex-M cores; build the host with kernels='reference'. "
                         f"Received: target={target!r}, kernels={kernels!r}")
    export_dir = pathlib.Path(export_dir)
    needed = ("model.tflite", "model_data.cc", "model_data.h", "model_settings.h", "model_ops.h")
    missing = [name for name in needed if not (export_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{export_dir} is not a keras_har export folder: it lacks {', '.join(missing)}. "
                                f"Write one with tflite/export.py. Received: export_dir={str(export_dir)!r}")
    settings_text = (export_dir / "model_settings.h").read_text()
    if "kStepLength" not in settings_text:
        raise ValueError(f"{export_dir / 'model_settings.h'} predates streaming (no kStepLength): re-export the model.")
    op_types = check_tflm_ops((export_dir / "model.tflite").read_bytes())
    spec = _TARGETS[target]
    cxx, cc = find_tool(spec["cxx"]), find_tool(spec["cc"])
    root = tflm_source.resolve_tflm_root(tflm_root, kernels=kernels, cmsis_nn_root=cmsis_nn_root, cache_dir=cache_dir)

    kernel_flags = ("-DCMSIS_NN",) if kernels == "cmsis-nn" else ()
    cxx_command = [cxx, *spec["arch"], *spec["cxx_flags"], *kernel_flags, *_include_flags(root, kernels)]
    cc_command = [cc, *spec["arch"], "-std=c11", "-ffunction-sections", "-fdata-sections", *_CMSIS_NN_C_FLAGS,
                  *_include_flags(root, kernels)]
    key = hashlib.sha256("\0".join([
        target, kernels, compiler_identity(cxx), compiler_identity(cc), *cxx_command[1:], *cc_command[1:],
        _fingerprint(str(root)),
    ]).replace(str(root), "<tree>").encode()).hexdigest()[:16]
    library_dir = tflm_source.cache_root(cache_dir) / "objects" / f"{target}-{kernels}-{key}"
    commands = [(cc_command if source.suffix == ".c" else cxx_command, source)
                for source in library_sources(root, kernels, op_types)]
    objects = compile_library(library_dir, commands, root, progress, f"TFLM for {target} ({kernels} kernels)")

    build_dir = pathlib.Path(build_dir) if build_dir else export_dir / "firmware" / f"{target}-{kernels}"
    build_dir.mkdir(parents=True, exist_ok=True)
    sources_dir = build_dir / "src"
    sources_dir.mkdir(exist_ok=True)
    # The core shipped in the export folder is what gets flashed, so it is what gets tested.
    for name in CORE_SOURCES:
        origin = export_dir / name if (export_dir / name).is_file() else SOURCE_DIR / name
        shutil.copyfile(origin, sources_dir / name)
    for name in ("runner_main.cc", "cortex_m4_startup.c"):
        shutil.copyfile(SOURCE_DIR / name, sources_dir / name)
    for name in needed[1:]:
        shutil.copyfile(export_dir / name, sources_dir / name)
    own = ["-Wall", "-Wextra", "-I", str(sources_dir), *(f"-D{define}" for define in defines)]
    app_jobs = [(cxx_command + own, sources_dir / name, build_dir / "obj" / (name + ".o"))
                for name in ("har_classifier.cc", "keras_har_bigru.cc", "runner_main.cc", "model_data.cc")]
    if target == "cortex-m4":
        app_jobs.append((cc_command + own, sources_dir / "cortex_m4_startup.c", build_dir / "obj" / "startup.o"))
    app_cache = library_dir.parent / "app" / f"{target}-{kernels}-{key}"
    cached = {job[2]: app_cache / (_app_object_key(job[0], job[1], sources_dir) + ".o") for job in app_jobs}
    # Looked up once: another process may store an object meanwhile, and this build must then still
    # compile (or have copied) every object it links.
    missing = [job for job in app_jobs if not cached[job[2]].is_file()]
    for output in set(cached) - {job[2] for job in missing}:
        with atomic.atomic_path(output) as temporary:
            shutil.copyfile(cached[output], temporary)
    warnings = _compile_all(missing, False, "runner")
    ours = {str(source): text for source, text in warnings.items() if "warning" in text}
    if ours:
        raise RuntimeError("The keras_har firmware sources compiled with warnings:\n" + "\n".join(ours.values()))
    for _, _, output in missing:  # compiled here, without warnings
        with atomic.atomic_path(cached[output]) as temporary:
            shutil.copyfile(output, temporary)

    name = "runner.elf" if target == "cortex-m4" else "runner"
    executable, map_file = build_dir / name, build_dir / "runner.map"
    handle, temporary = tempfile.mkstemp(dir=build_dir, prefix=f".{name}.", suffix=".tmp")
    os.close(handle)
    try:
        command = [cxx, *spec["arch"], *[str(job[2]) for job in app_jobs], *map(str, objects), *spec["link"],
                   f"-Wl,-Map={map_file}", "-o", temporary]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            undefined = sorted(set(re.findall(r"undefined reference to `([^']+)'", result.stderr)))
            hint = (f" Undefined: {', '.join(undefined[:5])}. The kernel sources chosen for {', '.join(op_types)} "
                    "miss a dependency." if undefined else "")
            raise RuntimeError(f"Linking the {target} runner failed.{hint}\n{result.stderr[-3000:]}")
        os.chmod(temporary, 0o755)
        os.replace(temporary, executable)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return Build(target=target, kernels=kernels, executable=executable, map_file=map_file, tflm_root=root,
                 library_objects=objects)
