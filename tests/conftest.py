import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_datasets_dir():
    """The staged real datasets: $KERAS_HAR_DATA, else ../shared/datasets beside the repo."""
    env = os.environ.get("KERAS_HAR_DATA")
    candidates = [pathlib.Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "datasets")
    for path in candidates:
        if path.is_dir():
            return path
    return None


# Fixtures that put a test in a tier: a test that takes one of them gets the
# marker, so `-m "not real_data and not firmware"` can never run a test that
# needs the data or the toolchain, and no test can use them unmarked.
_FIXTURE_MARKERS = {
    "real_data_home": "real_data",
    "tflm_tree": "firmware",
    "firmware_toolchain": "firmware",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, marker in _FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


def skip_or_fail(reason):
    """Skips with a visible reason on a user's machine; fails under CI=true, where everything must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_data_home():
    path = shared_datasets_dir()
    if path is None:
        skip_or_fail("real datasets not found: set KERAS_HAR_DATA or put shared/datasets beside the repo")
    return path


def shared_tflm_tree():
    """The TFLM source tree: $KERAS_HAR_TFLM, else ../shared/tflm/tree beside the repo."""
    env = os.environ.get("KERAS_HAR_TFLM")
    path = pathlib.Path(env) if env else REPO_ROOT.parent / "shared" / "tflm" / "tree"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def tflm_tree():
    path = shared_tflm_tree()
    if path is None:
        skip_or_fail("no TFLM source tree: set KERAS_HAR_TFLM or put shared/tflm/tree beside the repo")
    return path


@pytest.fixture(scope="session")
def firmware_toolchain(tflm_tree):
    """The TFLM trees (reference, CMSIS-NN) once the host and Cortex-M4 toolchains are known to be there."""
    from keras_har.firmware.toolchain import missing_tools

    missing = missing_tools("host") + missing_tools("cortex-m4")
    if missing:
        skip_or_fail(f"the firmware toolchain is missing: {', '.join(missing)} (see README: Firmware)")
    cmsis_nn = pathlib.Path(str(tflm_tree) + "-cmsis-nn")
    if not cmsis_nn.is_dir():
        skip_or_fail(f"no TFLM tree with CMSIS-NN kernels beside {tflm_tree} (expected {cmsis_nn})")
    return tflm_tree, cmsis_nn


def shared_reference_dir():
    """The committed reference files: $KERAS_HAR_REFERENCE, else ../shared/reference beside the repo."""
    env = os.environ.get("KERAS_HAR_REFERENCE")
    path = pathlib.Path(env) if env else REPO_ROOT.parent / "shared" / "reference"
    return path if path.is_dir() else None


OFFICIAL_CHECKPOINT_FILES = ("final_best_vali.pth", "state_dict.npz", "windows_and_logits.npz")


@pytest.fixture(scope="session")
def official_checkpoint_dir():
    """``official_checkpoint_mhealth/``: an official TinierHAR checkpoint, windows and the official logits.

    Skipped when missing on a user's machine; a failure under CI (``CI=true``),
    where the fixture is always laid beside the repository.
    """
    base = shared_reference_dir()
    path = base / "official_checkpoint_mhealth" if base is not None else None
    missing = [name for name in OFFICIAL_CHECKPOINT_FILES if path is None or not (path / name).is_file()]
    if missing:
        reason = (
            f"official checkpoint fixture not found (missing {', '.join(missing)}): set KERAS_HAR_REFERENCE to "
            "the folder holding official_checkpoint_mhealth/, or put shared/reference beside the repo"
        )
        skip_or_fail(reason)
    return path
