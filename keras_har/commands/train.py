"""``keras-har train``: train one model on a whole dataset and save it for deployment."""

# Model choices are listed here rather than imported, so that building the
# parser does not import TensorFlow; tests check they match the model module.
MODEL_NAMES = ("tinierhar", "tinyhar", "deepconvlstm")
CONV_TYPES = ("separable", "standard", "none")
RECURRENT_TYPES = ("bigru", "gru", "lstm", "bilstm", "none")
AGGREGATION_TYPES = ("attention", "mean", "last")


def add_data_and_model_options(parser):
    """Flags shared by ``train`` and ``evaluate``: data, model, budget."""
    parser.add_argument("--model", required=True, help=f"model name: {', '.join(MODEL_NAMES)}")
    parser.add_argument("--dataset", required=True,
                        help="dataset name (e.g. hapt or usc_had), or the path of your own data: a folder of CSV "
                             "recordings with a dataset.json, or an .npz file with x, y, subjects")
    parser.add_argument("--window-sec", type=float, default=None, help="window length in seconds")
    parser.add_argument("--step-sec", type=float, default=None, help="step between windows in seconds")
    parser.add_argument("--data-home", default=None, help="folder with the datasets (default: $KERAS_HAR_DATA)")
    parser.add_argument("--epochs", type=int, default=None, help="most epochs (default: the reference's 150)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, the shuffling and the validation or fold split (default: 0)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    group = parser.add_argument_group("TinierHAR options (ablations)")
    group.add_argument("--filters", type=int, default=None, help="filters M of the first block")
    group.add_argument("--gru-units", type=int, default=None, help="recurrent units N per direction")
    group.add_argument("--conv", default=None, choices=CONV_TYPES, help="convolution blocks")
    group.add_argument("--recurrent", default=None, choices=RECURRENT_TYPES, help="recurrent layer")
    group.add_argument("--aggregation", default=None, choices=AGGREGATION_TYPES, help="temporal aggregation")
    group.add_argument("--no-residual", action="store_true", help="drop the residual shortcuts")


def model_kwargs_from_args(args):
    """The model constructor arguments the user set; TinierHAR-only flags are checked."""
    from keras_har.models import get_model_class

    # Raises ValueError listing the known models.
    get_model_class(args.model)
    kwargs = {
        "filters": args.filters,
        "gru_units": args.gru_units,
        "conv": args.conv,
        "recurrent": args.recurrent,
        "aggregation": args.aggregation,
    }
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if args.no_residual:
        kwargs["residual"] = False
    if kwargs and args.model.lower() != "tinierhar":
        flags = ", ".join("--" + key.replace("_", "-") for key in kwargs)
        raise ValueError(f"{flags} only apply to --model tinierhar. Received: model={args.model!r}")
    return kwargs


def load_dataset_from_args(args):
    from keras_har.datasets import load_dataset

    return load_dataset(args.dataset, data_home=args.data_home, window_sec=args.window_sec, step_sec=args.step_sec)


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="train a model on a whole dataset; save model.keras and normalization.json",
        description=(
            "Train with the official TinierHAR recipe (AdamW, lr 1e-3, batch 256, early stopping "
            "on validation loss) on all windows of a dataset, 10% held out for validation. "
            "Writes model.keras, normalization.json, history.json and TensorBoard logs to --output "
            "(a folder that already holds a model is refused unless --overwrite)."
        ),
    )
    add_data_and_model_options(parser)
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in --output")
    parser.set_defaults(func=run)


def run(args):
    from keras_har.training import prepare_train_output, train

    model_kwargs = model_kwargs_from_args(args)
    # Before the data is loaded: a wrong --output is reported at once.
    prepare_train_output(args.output, args.overwrite)
    dataset = load_dataset_from_args(args)
    _, summary = train(
        args.model,
        dataset,
        output_dir=args.output,
        epochs=args.epochs,
        seed=args.seed,
        model_kwargs=model_kwargs,
        jit_compile=args.jit_compile,
        overwrite=args.overwrite,
    )
    print(
        f"trained {summary['model']} on {summary['dataset']}: {summary['epochs_run']} epochs, "
        f"best val loss {summary['best_val_loss']:.4f} at epoch {summary['best_epoch']}; "
        f"saved to {args.output}"
    )
    return 0
