"""The ``keras-har`` command line (also ``python -m keras_har``).

Each subcommand is a module of `keras_har.commands` that defines
``add_parser(subparsers)``, which registers its flags and sets ``func`` to a
function taking the parsed arguments. This file only lists the modules, so
that ``keras-har --help`` does not import TensorFlow.
"""

import argparse
import contextlib
import importlib
import os
import sys

# subcommand name -> module that defines add_parser()
COMMANDS = {
    "profile": "keras_har.commands.profile",
    "pretrain": "keras_har.commands.pretrain",
    "finetune": "keras_har.commands.finetune",
    "train": "keras_har.commands.train",
    "evaluate": "keras_har.commands.evaluate",
    "tune": "keras_har.commands.tune",
    "export": "keras_har.commands.export",
    "firmware": "keras_har.commands.firmware",
    "convert": "keras_har.commands.convert",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-har",
        description="Ultra-lightweight human activity recognition (TinierHAR) for microcontrollers.",
    )
    parser.add_argument(
        "--verbose", dest="tensorflow_logs", action="store_true",
        help="show TensorFlow's start-up and C++ log lines (absl, oneDNN, CUDA), hidden by default",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, module_name in COMMANDS.items():
        importlib.import_module(module_name).add_parser(subparsers, name)
    return parser


def _firmware_errors():
    # A failing firmware build or run is reported in one line too; imported
    # lazily so that `keras-har --help` stays light.
    from keras_har.firmware.run import FirmwareError

    return FirmwareError


@contextlib.contextmanager
def _stderr_to_devnull():
    # TensorFlow's C++ start-up lines ("All log messages before
    # absl::InitializeLog() ...", oneDNN, CUDA stubs) go to file descriptor 2
    # before any log level applies, so they are held back there, around the import only.
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow():
    """Imports TensorFlow with its log noise off: C++ logs, start-up lines and absl INFO/WARNING.

    Only logging changes: oneDNN stays as it is (``TF_ENABLE_ONEDNN_OPTS``
    changes numerics, so it is left alone). A ``TF_CPP_MIN_LOG_LEVEL`` set by
    the user is kept.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_to_devnull():
        import keras_har.backend  # noqa: F401  (imports TensorFlow and tf_keras)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)


def verbose_tensorflow():
    """Lets TensorFlow log as it does by default (``keras-har --verbose``)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.tensorflow_logs:
        verbose_tensorflow()
    else:
        quiet_tensorflow()
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, _firmware_errors()) as error:
        # Bad input from the user: say what was wrong, without a traceback.
        print(f"keras-har {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
