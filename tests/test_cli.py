"""The keras-har command line."""

import json
import os
import subprocess
import sys

import pytest

from keras_har.cli import main


def test_profile_one_model_as_json(capsys):
    assert main(["profile", "--model", "tinierhar", "--window", "128", "--channels", "9",
                 "--classes", "6", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["params"], result["macs"]) == (9589, 637414)


def test_profile_with_missing_flags_is_a_clear_error(capsys):
    assert main(["profile", "--model", "tinierhar", "--window", "128"]) == 2
    assert "--channels, --classes" in capsys.readouterr().err


def test_unknown_model_lists_the_known_ones(capsys):
    assert main(["profile", "--model", "resnet", "--window", "128", "--channels", "9", "--classes", "6"]) == 2
    assert "tinierhar" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_cli():
    done = subprocess.run([sys.executable, "-m", "keras_har", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "profile" in done.stdout


@pytest.mark.slow
def test_tensorflow_start_up_noise_is_hidden_unless_verbose():
    command = [sys.executable, "-m", "keras_har", "profile", "--model", "tinierhar", "--window", "128",
               "--channels", "9", "--classes", "6", "--format", "json"]
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    loud = subprocess.run(command[:3] + ["--verbose"] + command[3:], capture_output=True, text=True, env=env,
                          timeout=300)
    assert quiet.returncode == loud.returncode == 0
    # No absl/oneDNN/CUDA/cpu_feature_guard line, nor anything else, on stderr.
    assert quiet.stderr == ""
    # --verbose brings TensorFlow's own lines back, and the result is the same.
    assert loud.stderr.strip() != ""
    assert quiet.stdout == loud.stdout
    assert json.loads(quiet.stdout)["params"] == 9589
