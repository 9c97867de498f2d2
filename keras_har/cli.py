"""The ``keras-har`` command line (also ``python -m keras_har``).

Each subcommand is a module of `keras_har.commands` that defines
``add_parser(subparsers)``, which registers its flags and sets ``func`` to a
function taking the parsed arguments. This file only lists the modules, so
that ``keras-har --help`` does not import TensorFlow.
"""

import argparse
import importlib
import sys

from keras_har.tf_logging import quiet_tensorflow, verbose_tensorflow

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
