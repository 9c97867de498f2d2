"""``keras-har tune`` (also ``tuning/search.py``): the TinierHAR scalability search with KerasTuner.

Only argparse at import time, so that ``keras-har --help`` does not import
TensorFlow; the search itself is `keras_har.tuning.search.run_search`.
"""

import argparse
import os
import sys

from keras_har.commands.evaluate import PROTOCOLS, positive_int
from keras_har.tuning._options import DEFAULT_EPOCHS, EXPORT_RECURRENCES, FOOTPRINT_MODES, SPACES, TUNERS


def parse_folds(text):
    """``--folds``: ``"all"`` or a positive integer."""
    return text if text == "all" else positive_int("--folds ('all' or a count)")(text)


DESCRIPTION = (
    "TinierHAR scalability search with KerasTuner: filters M x GRU units N (and optionally the ablation "
    "switches), scored by macro-F1 on held-out subjects, within optional hardware budgets. Results: "
    "DIRECTORY/PROJECT_NAME/trials.csv, pareto.csv, pareto.png, tensorboard/. Rerun without --overwrite "
    "to resume. Distributed: set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT."
)


def _configure(parser):
    parser.add_argument("--dataset", required=True, help="dataset name (uci_har, hapt, ...) or an .npz file with x, y, subjects")
    parser.add_argument("--data-home", default=None, help="folder with the datasets (default: $KERAS_HAR_DATA)")
    parser.add_argument("--tuner", choices=TUNERS, default="grid", help="search strategy (default: grid, the paper's M x N grid)")
    parser.add_argument("--max-trials", type=int, default=None, help="most trials (grid: whole grid; random/bayesian: 20)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"most epochs per training run (default: {DEFAULT_EPOCHS}, the reference recipe's cap)")
    parser.add_argument("--folds", type=parse_folds, default=1,
                        help="folds of each trial: 'all' (every fold of --protocol; the paper protocol: its official "
                             "folds) or a count (with --protocol kfold: subject groups, and 1 to hold out 20%% of subjects; "
                             "with paper/loso: the first folds). Default: 1")
    parser.add_argument("--protocol", choices=PROTOCOLS, default=None,
                        help="fold protocol, as in `keras-har evaluate` (default: kfold for a count; for 'all' the "
                             "paper's folds where the dataset has them)")
    parser.add_argument("--reuse-cv", action="append", default=[], metavar="DIR",
                        help="a `keras-har evaluate --output` folder of TinierHAR on the same data, protocol and "
                             "seed: a configuration it ran copies its finished folds instead of training them "
                             "(repeatable)")
    parser.add_argument("--directory", default="tuning_results", help="parent folder of the project")
    parser.add_argument("--project-name", default=None, help="default: <dataset>_<tuner>")
    parser.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    parser.add_argument("--space", choices=SPACES, default=None,
                        help="search space (default: paper_grid for grid search, wide otherwise)")
    parser.add_argument("--tune-ablations", action="store_true", help="also search conv/recurrent/aggregation/residual")
    parser.add_argument("--max-params", type=int, default=None, help="skip models with more trainable parameters")
    parser.add_argument("--max-macs", type=int, default=None, help="skip models with more MACs per window")
    parser.add_argument("--max-flash-kb", type=float, default=None, help="skip models over this int8 .tflite size (KB)")
    parser.add_argument("--max-arena-kb", type=float, default=None, help="skip models over this TFLM arena (KB)")
    parser.add_argument("--max-instructions", type=float, default=None,
                        help="skip models over this many instructions per inference of one window on the emulated "
                             "Cortex-M4 with CMSIS-NN kernels (e.g. 8e6); needs --footprint measure with the firmware "
                             "toolchain there, or measure-cortex-m4")
    parser.add_argument("--footprint", choices=FOOTPRINT_MODES, default=None,
                        help="flash/arena of each configuration: measure (convert to int8 and measure the smallest "
                             "arena on an emulated Cortex-M4, with instructions per inference and the linked "
                             "firmware's flash, when the firmware toolchain and a TFLM tree are there, else in the "
                             "64-bit TFLM Python interpreter; default with --max-flash-kb/--max-arena-kb/"
                             "--max-instructions), measure-cortex-m4 or measure-python to choose, or estimate "
                             "(instant op-count model; default otherwise). trials.csv's arena_on_cortex_m4 column "
                             "says which was used")
    parser.add_argument("--export-recurrence", choices=EXPORT_RECURRENCES, default="merged",
                        help="the int8 export whose footprint is measured: merged (default; the GRU unrolled into "
                             "stock ops) or fused (the one KERAS_HAR_BIGRU op that the export writes by default, "
                             "what a board runs). The estimate always models merged")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the subject folds, the oracle and every training run (default: 0)")
    parser.add_argument("--verbose", type=int, default=0, help="Keras verbosity while training")
    parser.set_defaults(func=run_from_args)
    return parser


def build_parser(prog="search.py"):
    """The argument parser of ``tuning/search.py``."""
    return _configure(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def add_parser(subparsers, name):
    """Registers ``keras-har tune`` (see `keras_har.cli`)."""
    _configure(subparsers.add_parser(name, help="TinierHAR scalability search with KerasTuner", description=DESCRIPTION))


def run_from_args(args):
    """Runs the search from parsed arguments and prints the best configuration."""
    from keras_har.backend import tf
    from keras_har.tuning.budget import Budget
    from keras_har.tuning.har_tuner import OBJECTIVE
    from keras_har.tuning.search import run_search

    # Every trial builds new models, so tf.function retracing warnings are expected noise.
    tf.get_logger().setLevel("ERROR")
    budget = Budget(
        max_params=args.max_params,
        max_macs=args.max_macs,
        max_flash_kb=args.max_flash_kb,
        max_arena_kb=args.max_arena_kb,
        max_instructions=args.max_instructions,
    )
    data_home = args.data_home or os.environ.get("KERAS_HAR_DATA")
    result = run_search(
        args.dataset,
        data_home=data_home,
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        folds=args.folds,
        protocol=args.protocol,
        reuse_cv=args.reuse_cv,
        directory=args.directory,
        project_name=args.project_name,
        overwrite=args.overwrite,
        budget=budget,
        footprint=args.footprint,
        export_recurrence=args.export_recurrence,
        space=args.space,
        tune_ablations=args.tune_ablations,
        seed=args.seed,
        verbose=args.verbose,
    )
    print(f"results: {result['project_dir']}")
    if "trials" not in result:
        return 0
    counts = result["trials"]["status"].value_counts().to_dict()
    print(f"trials: {counts}")
    best = result["best"]
    if best is None:
        print("no configuration within budget was trained")
        return 0
    within = " within budget" if budget.is_set else ""
    print(
        f"best{within}: trial {best['trial_id']} M={best.get('filters')} N={best.get('gru_units')} "
        f"macro-F1 {best[OBJECTIVE]:.4f} params {int(best['params']):,} MACs {int(best['macs']):,}"
    )
    return 0


def main(argv=None, prog="search.py"):
    """Entry point of ``tuning/search.py``: parses ``argv`` and runs the search."""
    args = build_parser(prog).parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
