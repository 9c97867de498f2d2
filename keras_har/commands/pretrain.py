"""``keras-har pretrain``: self-supervised pretraining of an encoder on unlabelled windows."""

import pathlib

CHECKPOINT_FILE = "checkpoint.npz"
# The choices of --encoder: keras_har.ssl.ENCODERS, written out so that the
# parser does not import TensorFlow.
ENCODERS = ("tinierhar", "cnngru", "cnngru-causal")


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="pretrain an encoder with CPC, reconstruction, multi-task or SimCLR",
        description=(
            "Pretrains TinierHAR's feature extractor (or a larger CNN+GRU encoder) on unlabelled windows of one "
            "or more datasets, resampled to one rate and window, drawing a variance-weighted fraction per epoch "
            "(Dumbrava et al., arXiv:2307.01168). Writes DIR/encoder.keras, DIR/pretext.keras, "
            "DIR/standardizer.json and DIR/pretrain.json. The state after each epoch goes to DIR/checkpoint.npz "
            "(removed once the encoder is saved), so a killed run, rerun with the same arguments, resumes from "
            "its last finished epoch."
        ),
    )
    parser.add_argument("--pretext", required=True, help="cpc, reconstruction, multitask or simclr")
    parser.add_argument("--dataset", action="append", required=True,
                        help="dataset name (e.g. usc_had), or the path of your own data: a folder of CSV recordings "
                             "with a dataset.json, or an .npz with x and sampling_rate_hz (y, subjects optional); "
                             "repeat to pool")
    parser.add_argument("--output", required=True, help="output folder DIR")
    parser.add_argument("--data-home", default=None, help="folder with the datasets (default: $KERAS_HAR_DATA)")
    parser.add_argument("--encoder", choices=ENCODERS, default="tinierhar",
                        help="tinierhar: TinierHAR's feature extractor; cnngru: convolutions and a bidirectional "
                             "GRU, 256 features; cnngru-causal: convolutions and a forward GRU of 256 units, which "
                             "CPC and multitask pretrain as their context network (default: tinierhar)")
    parser.add_argument("--sampling-rate-hz", type=float, default=None, help="common rate (default: first dataset's)")
    parser.add_argument("--window-sec", type=float, default=None, help="common window (default: first dataset's)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=0,
                        help="stop after this many epochs without a lower pretext loss, keeping the best weights "
                             "(default: 0, run every epoch)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fraction", type=float, default=0.1, help="share of windows drawn per epoch")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--prediction-steps", type=int, default=12, help="CPC/multitask: future steps predicted")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, the windows drawn and the augmentations (default: 0)")
    parser.set_defaults(func=run)


def run(args):
    import keras_har
    from keras_har import ssl
    from keras_har.backend import keras

    pretext_class = ssl.get_pretext_class(args.pretext)
    datasets = [ssl.load_windows(name, data_home=args.data_home, labelled=False) for name in args.dataset]
    rate = args.sampling_rate_hz or datasets[0].sampling_rate_hz
    window_length = int(round((args.window_sec or datasets[0].window_sec) * rate))
    common = [c for c in datasets[0].channel_names if all(c in d.channel_names for d in datasets)]
    channels = None if len(datasets) == 1 else common
    if channels is not None and not common:
        raise ValueError(f"The datasets share no channel names. Received: dataset={args.dataset!r}")
    windows = ssl.pool_windows(datasets, rate, window_length, channels=channels)
    channel_names = channels or datasets[0].channel_names
    standardizer = keras_har.datasets.Standardizer().fit(windows)
    windows = standardizer.transform(windows)
    acceleration = [i for i, c in enumerate(channel_names) if str(c).startswith("acc")] or None

    keras.utils.set_random_seed(args.seed)
    window_shape = windows.shape[1:]
    encoder = ssl.make_encoder(args.encoder, window_shape)
    kwargs = {}
    if pretext_class in (ssl.CPC, ssl.MultiTask):
        kwargs["prediction_steps"] = args.prediction_steps
    if pretext_class is ssl.SimCLR:
        kwargs["seed"] = args.seed
    pretext = pretext_class(encoder, **kwargs)
    checkpoint = pathlib.Path(args.output) / CHECKPOINT_FILE
    print(f"pretraining {args.pretext} on {len(windows)} windows of shape {window_shape} at {rate:g} Hz")
    history = ssl.pretrain(pretext, windows, epochs=args.epochs, batch_size=args.batch_size, fraction=args.fraction,
                           learning_rate=args.learning_rate, acceleration_channels=acceleration, seed=args.seed,
                           patience=args.patience, checkpoint=checkpoint)
    metadata = {
        "datasets": args.dataset,
        "sampling_rate_hz": rate,
        "window_length": window_length,
        "channel_names": list(channel_names),
        "loss": history.history["loss"],
    }
    directory = ssl.save_pretrained(pretext, args.output, metadata=metadata)
    standardizer.save(directory / "standardizer.json")
    checkpoint.unlink()  # the epoch state is only needed until the encoder is saved
    print(f"saved {directory / ssl.ENCODER_FILE}")
    return 0
