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


@pytest.fixture(scope="session")
def real_data_home():
    path = shared_datasets_dir()
    if path is None:
        pytest.skip("real datasets not found: set KERAS_HAR_DATA or put shared/datasets beside the repo")
    return path
