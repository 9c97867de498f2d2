"""``keras-har finetune``: the label-scarce protocol on a pretrained encoder."""

from keras_har.commands.evaluate import parse_fold_indices, positive_int


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="fine-tune a pretrained encoder with K labelled windows per class (frozen, finetune or scratch)",
        description=(
            "Loads DIR/encoder.keras from `keras-har pretrain`, moves the dataset to the encoder's rate and "
            "window, and runs the protocol of Dumbrava et al. (arXiv:2307.01168): K labelled windows per class "
            "from the training subjects of each fold, a Dense 256-128-128 head, macro-F1 on held-out subjects."
        ),
    )
    parser.add_argument("--encoder", required=True, help="folder written by `keras-har pretrain`")
    parser.add_argument("--dataset", required=True,
                        help="dataset name (e.g. hapt), or the path of your own data: a folder of CSV recordings "
                             "with a dataset.json (one with train/ and test/ is evaluated on that split), or an .npz "
                             "with x, y, subjects and sampling_rate_hz")
    parser.add_argument("--mode", action="append", choices=("frozen", "finetune", "scratch"),
                        help="repeat for several (default: frozen and finetune)")
    parser.add_argument("--windows-per-class", default="1,2,5,10,50,100", help="K values, comma-separated")
    parser.add_argument("--data-home", default=None, help="folder with the datasets (default: $KERAS_HAR_DATA)")
    parser.add_argument("--n-splits", type=int, default=5,
                        help="folds of the split by subject (unused for data with a predefined train/test split)")
    parser.add_argument("--folds", type=positive_int("--folds"), default=None,
                        help="run only the first FOLDS folds")
    parser.add_argument("--fold-indices", type=parse_fold_indices, default=None, metavar="LIST",
                        help="run only these folds, 0-based, e.g. '3-5' or '0,4' (several processes can share "
                             "one --output, each with its own folds)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--split-seed", type=int, default=None,
                        help="one subject split for all --seeds, from this seed (default: each seed splits anew); "
                             "use it when the encoder was pretrained without a fold's test subjects")
    parser.add_argument("--epochs", type=positive_int("--epochs"), default=None,
                        help="most epochs per fit; early stopping watches a fifth of the labelled windows "
                             "(default: keras_har.ssl.FINETUNE_RECIPE)")
    parser.add_argument("--batch-size", type=positive_int("--batch-size"), default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--pretext-weight", type=float, default=0.0,
                        help="keep the pretext loss running with this weight (mode finetune only)")
    parser.add_argument("--output", default=None,
                        help="folder: every fit's files (a rerun skips the finished ones), results.csv (one row "
                             "per fit), summary.csv (mean, confidence interval and n per cell), differences.csv "
                             "(paired differences between modes, with their confidence intervals) and study.png")
    parser.set_defaults(func=run)


def _ints(text, flag):
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ValueError(f"{flag} must be comma-separated integers. Received: {flag}={text!r}")
    return values


def run(args):
    import dataclasses
    import pathlib

    from keras_har import ssl

    metadata = ssl.load_metadata(args.encoder)
    modes = args.mode or ["frozen", "finetune"]
    pretrained = ssl.load_pretext(args.encoder) if args.pretext_weight > 0 else ssl.load_encoder(args.encoder)
    dataset = ssl.load_windows(args.dataset, data_home=args.data_home)
    channels = metadata.get("channel_names")
    if channels and not all(c in dataset.channel_names for c in channels):
        channels = None
    dataset = ssl.resample_dataset(dataset, metadata["sampling_rate_hz"], metadata["window_length"], channels=channels)
    given = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate}
    recipe = dataclasses.replace(ssl.FINETUNE_RECIPE, **{key: value for key, value in given.items() if value is not None})
    results = ssl.label_scarce_study(
        pretrained,
        dataset,
        windows_per_class=_ints(args.windows_per_class, "--windows-per-class"),
        modes=modes,
        n_splits=args.n_splits,
        folds=args.folds,
        fold_indices=args.fold_indices,
        seeds=_ints(args.seeds, "--seeds"),
        split_seed=args.split_seed,
        recipe=recipe,
        pretext_weight=args.pretext_weight,
        output_dir=args.output,
    )
    summary = ssl.summarize(results)
    print(summary.to_string(index=False))
    if args.output:
        output = pathlib.Path(args.output)
        ssl.save_csv(results, output / "results.csv")
        ssl.save_csv(summary, output / "summary.csv")
        ssl.save_csv(ssl.study_differences(results), output / "differences.csv")
        ssl.plot_study(results, output / "study.png", title=f"{metadata['pretext']} -> {dataset.name}")
        print(f"saved results.csv, summary.csv, differences.csv and study.png in {output}")
    return 0
