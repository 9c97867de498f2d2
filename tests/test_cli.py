"""The keras-har command line."""

import json
import subprocess
import sys


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
