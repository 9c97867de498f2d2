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


def _subparsers():
    import argparse

    from keras_har.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_command_lives_in_the_cli_package():
    from keras_har.cli import COMMANDS

    assert sorted(COMMANDS) == sorted(
        ["profile", "train", "evaluate", "tune", "export", "pretrain", "finetune", "firmware", "convert"])
    assert all(module == f"keras_har.commands.{name}" for name, module in COMMANDS.items())


@pytest.mark.parametrize("command, expected", [("export", "--gru-units"), ("tune", "--max-flash-kb")])
def test_export_and_tune_help(command, expected):
    # In a process: `keras-har COMMAND --help` prints its flags and imports no TensorFlow.
    code = ("import sys\nfrom keras_har.cli import main\n"
            "try:\n    main([sys.argv[1], '--help'])\nexcept SystemExit as stop:\n"
            "    print('tensorflow' in sys.modules, stop.code)\n")
    done = subprocess.run([sys.executable, "-c", code, command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"usage: keras-har {command}" in done.stdout and expected in done.stdout
    assert done.stdout.rstrip().endswith("False 0")


def test_export_units_is_a_deprecated_alias_of_gru_units(capsys):
    from keras_har.commands.export import build_parser

    parser = build_parser()
    args = parser.parse_args(["--train", "--output", "out", "--units", "32"])
    assert args.gru_units == 32
    assert "tflite/export.py: note: --units is deprecated; use --gru-units" in capsys.readouterr().err
    assert parser.parse_args(["--train", "--output", "out", "--gru-units", "8"]).gru_units == 8
    assert parser.parse_args(["--train", "--output", "out"]).gru_units == 16
    assert capsys.readouterr().err == ""


def test_command_protocols_match_the_evaluation_module():
    from keras_har.commands import evaluate, export, tune
    from keras_har.evaluation import PROTOCOLS

    # One list for the commands (importable without TensorFlow), the same as the library's.
    assert evaluate.PROTOCOLS == PROTOCOLS
    assert export.PROTOCOLS is evaluate.PROTOCOLS and tune.PROTOCOLS is evaluate.PROTOCOLS


def test_one_name_per_concept_across_commands():
    for name, parser in _subparsers().items():
        flags = {option: action for action in parser._actions for option in action.option_strings}
        # Recurrent units are --gru-units; export's old --units is only a deprecated alias.
        if "--units" in flags:
            assert flags["--units"].dest == "gru_units" and "deprecated" in flags["--units"].help, name
        for flag in ("--seed", "--data-home", "--output"):
            assert flag not in flags or flags[flag].help, f"keras-har {name} {flag} has no help"
        if "--data-home" in flags:
            assert flags["--data-home"].help == "folder with the datasets (default: $KERAS_HAR_DATA)", name


def test_help_texts_hold_no_measured_numbers():
    # Sizes, scores and times go stale in --help: they belong in BENCHMARKS.md.
    import re

    measured = re.compile(r"\d[\d,.]*\s*(?:(?:KB|kB|B|points|ms|s)\b|%)")
    # Settings, not measurements: the share of subjects or windows held out.
    settings = ("hold out 20%% of subjects", "10% held out for validation")
    for name, parser in _subparsers().items():
        texts = [parser.description or ""] + [action.help or "" for action in parser._actions]
        for text in texts:
            for setting in settings:
                text = text.replace(setting, "")
            found = [m.group(0) for m in measured.finditer(text)]
            assert not found, f"keras-har {name}: {found} in {text!r}"


def test_export_train_refuses_a_standardizer_it_would_not_use(tmp_path):
    from keras_har.commands.export import main as export_main

    # --train fits its own standardiser; a saved one belongs with the --model trained with it.
    with pytest.raises(ValueError, match=r"--standardizer goes with --model .*Received: standardizer='s\.json'"):
        export_main(["--train", "--standardizer", "s.json", "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_command_encoders_match_the_ssl_module():
    from keras_har import ssl
    from keras_har.commands import pretrain

    assert pretrain.ENCODERS == ssl.ENCODERS
