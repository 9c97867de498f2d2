"""``keras-har evaluate``: subject-wise cross-validation of a model on a dataset."""

import argparse

from keras_har.commands.train import add_data_and_model_options, load_dataset_from_args, model_kwargs_from_args

# keras_har.evaluation.PROTOCOLS, repeated here so that `keras-har --help` does not import TensorFlow
# (tests/test_cli.py checks that the two agree).
PROTOCOLS = ("paper", "loso", "kfold", "split")


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="cross-validate a model by subject (paper, loso or kfold protocol)",
        description=(
            "Cross-validate with the official TinierHAR recipe. Writes results.json, folds.csv, "
            "confusion.png, per-fold checkpoints and TensorBoard logs to --output; a rerun into "
            "the same folder skips the folds already finished."
        ),
    )
    add_data_and_model_options(parser)
    parser.add_argument(
        "--protocol", choices=PROTOCOLS, default=None,
        help="default: paper for a dataset with official folds; otherwise split for a CSV folder with train/ and "
             "test/, loso up to 10 subjects, kfold above (the choice is printed)",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=None,
        help="kfold: number of subject groups (default 5); paper/loso: run only the first K folds",
    )
    parser.add_argument(
        "--fold-indices",
        type=parse_fold_indices,
        default=None,
        metavar="LIST",
        help="run only these folds, 0-based, e.g. '3-5' or '0,4,7-9' (several processes can share "
             "one --output, each with its own folds)",
    )
    parser.add_argument(
        "--jobs", type=positive_int("--jobs"), default=1, metavar="N",
        help="run N folds at once, each in its own worker process (default 1: one after another)",
    )
    parser.add_argument(
        "--threads-per-job", type=positive_int("--threads-per-job"), default=None, metavar="T",
        help="TensorFlow intra-op and inter-op threads in each worker (default: CPU count // N; given with "
             "--jobs 1, the folds run in one worker process with these threads)",
    )
    parser.add_argument("--no-baselines", dest="baselines", action="store_false",
                        help="skip the majority-class and random-forest (mean/std/min/max) baselines scored on "
                             "every fold")
    parser.add_argument("--output", required=True, help="output folder")
    parser.set_defaults(func=run)


def positive_int(flag):
    """An argparse type: a positive integer, else a usage error naming ``flag``.

    Example:
    >>> import keras_har.commands.evaluate
    >>> keras_har.commands.evaluate.positive_int("--jobs")("2")
    2
    """

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a positive integer. Received: {flag}={text!r}")
        return value

    return parse


def parse_fold_indices(text):
    """``'0,4,7-9'`` -> ``[0, 4, 7, 8, 9]``; argparse turns the ValueError into a usage error.

    Example:
    >>> import keras_har.commands.evaluate
    >>> keras_har.commands.evaluate.parse_fold_indices("0,3-5")
    [0, 3, 4, 5]
    """
    indices = []
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            first = int(first)
            last = int(last) if last else first
            if first < 0 or last < first:
                raise ValueError
            indices.extend(range(first, last + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected fold numbers such as '3-5' or '0,4,7-9'. Received: --fold-indices={text!r}"
        ) from None
    return indices


def run(args):
    from keras_har import atomic
    from keras_har.evaluation import cross_validate

    model_kwargs = model_kwargs_from_args(args)
    atomic.writable_dir(args.output, "--output")  # before the data is loaded
    dataset = load_dataset_from_args(args)
    results = cross_validate(
        args.model,
        dataset,
        output_dir=args.output,
        protocol=args.protocol,
        folds=args.folds,
        epochs=args.epochs,
        seed=args.seed,
        model_kwargs=model_kwargs,
        jit_compile=args.jit_compile,
        fold_indices=args.fold_indices,
        baselines=args.baselines,
        jobs=args.jobs,
        threads_per_job=args.threads_per_job,
    )
    print(
        f"{results['model']} on {results['dataset']} ({results['protocol']}, "
        f"{results['folds_run']}/{results['folds_total']} folds): "
        f"macro-F1 {results['macro_f1_mean']:.4f} ± {results['macro_f1_std']:.4f}, "
        f"accuracy {results['accuracy_mean']:.4f} ± {results['accuracy_std']:.4f}, "
        f"params {results['params']:,}, MACs {results['macs']:,}; results in {args.output}"
    )
    return 0
