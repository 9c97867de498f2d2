"""Where the TensorFlow Lite Micro sources come from.

A firmware build needs a standalone TFLM source tree, the one TFLM's own
``create_tflm_tree.py`` generates: ``tensorflow/lite/micro/...`` with the
third-party headers (flatbuffers, gemmlowp, ruy) beside it. A second tree
with Arm's CMSIS-NN kernels (``OPTIMIZED_KERNEL_DIR=cmsis_nn``) is what a
Cortex-M board build uses.

A tree resolves, in order, as the ``tflm_root`` argument, the
``KERAS_HAR_TFLM`` environment variable, or ``<cache>/tflm/<commit>/tree``
(filled by `fetch_tflm`). The CMSIS-NN tree resolves as the
``cmsis_nn_root`` argument, ``KERAS_HAR_TFLM_CMSIS_NN``, a sibling folder
named ``<tree>-cmsis-nn``, or the cache. Nothing is hard-coded to one machine.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile

TFLM_ENV = "KERAS_HAR_TFLM"
CMSIS_NN_ENV = "KERAS_HAR_TFLM_CMSIS_NN"
CACHE_ENV = "KERAS_HAR_FIRMWARE_CACHE"

# The TFLM commit the firmware code is tested with. Its download scripts pin
# the third-party versions (flatbuffers v25.9.23, gemmlowp 719139ce, ruy
# d3712831, CMSIS-NN 4ab83cc3, CMSIS 5782d6f8); create_tflm_tree.py fetches
# them itself.
TFLM_COMMIT = "90b983c2b3f1480642e040bbd2ddb37b998f3424"
TFLM_URL = f"https://github.com/tensorflow/tflite-micro/archive/{TFLM_COMMIT}.zip"
TFLM_TOP_FOLDER = f"tflite-micro-{TFLM_COMMIT}"

# Files every usable tree has; a folder without them is not a TFLM tree.
REQUIRED_FILES = (
    "tensorflow/lite/micro/micro_interpreter.h",
    "tensorflow/lite/micro/micro_interpreter.cc",
    "tensorflow/lite/micro/micro_mutable_op_resolver.h",
    "tensorflow/lite/micro/kernels/kernel_util.cc",
    "tensorflow/lite/schema/schema_generated.h",
    "third_party/flatbuffers/include/flatbuffers/flatbuffers.h",
    "third_party/gemmlowp/fixedpoint/fixedpoint.h",
)
CMSIS_NN_REQUIRED_FILES = (
    "tensorflow/lite/micro/kernels/cmsis_nn/fully_connected.cc",
    "third_party/cmsis_nn/Include/arm_nnfunctions.h",
    "third_party/cmsis/CMSIS/Core/Include/cmsis_compiler.h",
)

KERNELS = ("reference", "cmsis-nn")


def cache_root(cache_dir=None):
    """The firmware cache: argument, ``$KERAS_HAR_FIRMWARE_CACHE``, or ``~/.cache/keras_har/firmware``."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "keras_har", "firmware")
    return pathlib.Path(cache_dir).expanduser()


def check_tree(root, *, kernels="reference", source="tflm_root"):
    """Raises a clear error unless ``root`` is a TFLM tree for ``kernels``; returns it as a Path."""
    root = pathlib.Path(root).expanduser()
    required = REQUIRED_FILES + (CMSIS_NN_REQUIRED_FILES if kernels == "cmsis-nn" else ())
    if not root.is_dir():
        raise FileNotFoundError(f"The TFLM source tree {root} does not exist. Received: {source}={str(root)!r}")
    missing = [name for name in required if not (root / name).is_file()]
    if missing:
        hint = (" It looks like the tflite-micro repository itself: generate a tree from it with "
                "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py (or use "
                "keras_har.firmware.fetch_tflm)." if (root / "tensorflow/lite/micro/tools").is_dir() else "")
        raise FileNotFoundError(
            f"{root} is not a TFLM source tree for {kernels} kernels: it lacks {', '.join(missing[:3])}"
            f"{' and more' if len(missing) > 3 else ''}. Expected the output of TFLM's create_tflm_tree.py"
            f"{' with OPTIMIZED_KERNEL_DIR=cmsis_nn' if kernels == 'cmsis-nn' else ''}.{hint} "
            f"Received: {source}={str(root)!r}"
        )
    return root


def resolve_tflm_root(tflm_root=None, *, kernels="reference", cmsis_nn_root=None, cache_dir=None):
    """The TFLM tree to build with ``kernels`` (``"reference"`` or ``"cmsis-nn"``), checked.

    Raises:
        FileNotFoundError: naming where it looked and how to get a tree.
    """
    if kernels not in KERNELS:
        raise ValueError(f"`kernels` must be one of {list(KERNELS)}. Received: kernels={kernels!r}")
    cached = cache_root(cache_dir) / "tflm" / TFLM_COMMIT
    if kernels == "reference":
        if tflm_root is not None:
            return check_tree(tflm_root, source="tflm_root")
        if os.environ.get(TFLM_ENV):
            return check_tree(os.environ[TFLM_ENV], source=f"${TFLM_ENV}")
        if (cached / "tree").is_dir():
            return check_tree(cached / "tree", source="cache")
        raise FileNotFoundError(
            f"No TFLM source tree: pass tflm_root (--tflm-root), set ${TFLM_ENV} to a tree made by TFLM's "
            f"create_tflm_tree.py, or run keras_har.firmware.fetch_tflm() (needs internet) to fill {cached}."
        )
    if cmsis_nn_root is not None:
        return check_tree(cmsis_nn_root, kernels=kernels, source="cmsis_nn_root")
    if os.environ.get(CMSIS_NN_ENV):
        return check_tree(os.environ[CMSIS_NN_ENV], kernels=kernels, source=f"${CMSIS_NN_ENV}")
    reference = tflm_root if tflm_root is not None else os.environ.get(TFLM_ENV)
    candidates = [pathlib.Path(reference).expanduser()] if reference else []
    candidates += [pathlib.Path(str(path).rstrip("/\\") + "-cmsis-nn") for path in candidates]
    candidates.append(cached / "tree-cmsis-nn")
    for candidate in candidates:
        if (candidate / CMSIS_NN_REQUIRED_FILES[0]).is_file():
            return check_tree(candidate, kernels=kernels, source="cmsis_nn_root")
    raise FileNotFoundError(
        "No TFLM source tree with CMSIS-NN kernels: pass cmsis_nn_root (--cmsis-nn-root), set "
        f"${CMSIS_NN_ENV}, put a '<tree>-cmsis-nn' folder beside the TFLM tree, or run "
        f"keras_har.firmware.fetch_tflm(). Looked in: {', '.join(str(path) for path in candidates)}"
    )


def tree_fingerprint(root):
    """sha256 over every file's relative path and content: the tree's identity in the build cache."""
    root = pathlib.Path(root)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def safe_extract_zip(archive, target):
    """Extracts a zip into ``target``; refuses members that would land outside it or are links."""
    target = pathlib.Path(target).resolve()
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            destination = (target / member.filename).resolve()
            if destination != target and target not in destination.parents:
                raise ValueError(f"{archive}: member {member.filename!r} would be written outside {target}; refused.")
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise ValueError(f"{archive}: member {member.filename!r} is a symbolic link; refused.")
        bundle.extractall(target)


def _download(url, destination):
    with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as out:
        shutil.copyfileobj(response, out)


def fetch_tflm(*, cache_dir=None, download=_download, python=sys.executable, verbose=True):
    """Downloads TFLM at `TFLM_COMMIT` and generates both trees into the cache.

    Steps: the tflite-micro archive at the pinned commit into a temporary
    folder (checked member by member, never written outside it); then TFLM's
    ``create_tflm_tree.py`` twice (reference kernels and
    ``OPTIMIZED_KERNEL_DIR=cmsis_nn``, both ``TARGET=cortex_m_qemu
    TARGET_ARCH=cortex-m4``), which downloads the third-party libraries at
    the versions TFLM pins and needs ``make``, ``curl`` and ``unzip``. Each
    tree is generated in a temporary folder and moved into place only when
    complete and checked.

    Returns:
        ``(tree, tree_cmsis_nn)`` paths.
    """
    final = cache_root(cache_dir) / "tflm" / TFLM_COMMIT
    trees = {"reference": final / "tree", "cmsis-nn": final / "tree-cmsis-nn"}
    if all((path / REQUIRED_FILES[0]).is_file() for path in trees.values()):
        return trees["reference"], trees["cmsis-nn"]
    final.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final, prefix=".fetch-") as work:
        work = pathlib.Path(work)
        archive = work / "tflite-micro.zip"
        if verbose:
            print(f"Downloading {TFLM_URL}", file=sys.stderr)
        download(TFLM_URL, archive)
        safe_extract_zip(archive, work / "src")
        source = work / "src" / TFLM_TOP_FOLDER
        script = source / "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py"
        if not script.is_file():
            raise FileNotFoundError(f"The downloaded archive {TFLM_URL} has no {script.relative_to(source)}.")
        for kernels, destination in trees.items():
            if (destination / REQUIRED_FILES[0]).is_file():
                continue
            options = "TARGET=cortex_m_qemu TARGET_ARCH=cortex-m4"
            if kernels == "cmsis-nn":
                options += " OPTIMIZED_KERNEL_DIR=cmsis_nn"
            staging = work / f"out-{kernels}"
            subprocess.run([python, str(script), f"--makefile_options={options}", str(staging)], cwd=source,
                           check=True)
            check_tree(staging, kernels=kernels, source="generated tree")
            os.replace(staging, destination)
    return trees["reference"], trees["cmsis-nn"]
