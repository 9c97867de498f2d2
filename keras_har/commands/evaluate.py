"""``keras-har evaluate``: subject-wise cross-validation of a model on a dataset."""

from keras_har.commands.train import add_data_and_model_options, load_dataset_from_args, model_kwargs_from_args


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
    parser.add_argument("--protocol", choices=("paper", "loso", "kfold"), default="paper")
    parser.add_argument(
        "--folds",
        type=int,
        default=None,
        help="kfold: number of subject groups (default 5); paper/loso: run only the first K folds",
    )
    parser.add_argument("--output", required=True, help="output folder")
    parser.set_defaults(func=run)


def run(args):
    from keras_har.evaluation import cross_validate

    model_kwargs = model_kwargs_from_args(args)
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
    )
    print(
        f"{results['model']} on {results['dataset']} ({results['protocol']}, "
        f"{results['folds_run']}/{results['folds_total']} folds): "
        f"macro-F1 {results['macro_f1_mean']:.4f} ± {results['macro_f1_std']:.4f}, "
        f"accuracy {results['accuracy_mean']:.4f} ± {results['accuracy_std']:.4f}, "
        f"params {results['params']:,}, MACs {results['macs']:,}; results in {args.output}"
    )
    return 0
