"""tuning/search.py in real processes: resume after SIGKILL, and KerasTuner's chief/worker mode."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # real processes: search, SIGKILL, chief and workers

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tuning" / "search.py"


@pytest.fixture()
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(3), 24)
    x = rng.normal(size=(72, 8, 2)).astype("float32")
    x[:, :, 0] += 2.0 * y[:, None]
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x, y=y, subjects=np.repeat(np.arange(6), 12))
    return path


def search_command(npz, directory, *extra):
    return [
        sys.executable, str(SCRIPT), "--dataset", str(npz), "--tuner", "grid", "--max-trials", "2",
        "--epochs", "1", "--directory", str(directory), "--project-name", "p", *extra,
    ]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return env


def fits_per_trial(project):
    log = pd.read_csv(project / "fit_log.csv")
    return log, log.groupby("trial_id").size().to_dict()


def test_sigkill_mid_trial_loses_only_that_trial(tmp_path, tiny_npz):
    project = tmp_path / "runs" / "p"
    command = search_command(tiny_npz, tmp_path / "runs")
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 240
        # Kill as soon as trial 1 starts training: trial 0 is finished, trial 1 is not.
        while time.time() < deadline and process.poll() is None:
            fit_log = project / "fit_log.csv"
            if fit_log.exists() and any(line.startswith("1,") for line in fit_log.read_text().splitlines()):
                break
            time.sleep(0.1)
        assert process.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert not (project / "trials.csv").exists()

    rerun = subprocess.run(command, cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    trials = pd.read_csv(project / "trials.csv")
    assert trials["trial_id"].tolist() == [0, 1]
    assert trials["status"].tolist() == ["completed"] * 2
    _, fits = fits_per_trial(project)
    # Trial 0 was kept; only trial 1, killed while training, was run again.
    assert fits == {0: 1, 1: 2}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_chief_and_two_workers_run_each_trial_once(tmp_path, tiny_npz):
    project = tmp_path / "runs" / "p"
    command = search_command(tiny_npz, tmp_path / "runs")
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    processes = {}
    for tuner_id in ("chief", "tuner0", "tuner1"):
        log = open(tmp_path / f"{tuner_id}.log", "w")
        processes[tuner_id] = (
            subprocess.Popen(
                command, cwd=REPO_ROOT, env=clean_env(KERASTUNER_TUNER_ID=tuner_id, **oracle),
                stdout=log, stderr=subprocess.STDOUT,
            ),
            log,
        )
    try:
        for tuner_id, (process, log) in processes.items():
            process.wait(timeout=300)
            log.close()
            assert process.returncode == 0, (tmp_path / f"{tuner_id}.log").read_text()[-3000:]
    finally:
        for process, _ in processes.values():
            if process.poll() is None:
                process.kill()
    trials = pd.read_csv(project / "trials.csv")
    assert trials["trial_id"].tolist() == [0, 1]
    assert trials["status"].tolist() == ["completed"] * 2
    assert trials["val_macro_f1"].between(0, 1).all()
    log, fits = fits_per_trial(project)
    assert fits == {0: 1, 1: 1}
    # Only the workers train; the chief serves the oracle.
    assert set(log["tuner_id"]) <= {"tuner0", "tuner1"}
    assert (project / "pareto.csv").exists()
