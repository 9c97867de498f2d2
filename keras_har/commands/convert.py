"""``keras-har convert``: an official PyTorch checkpoint -> a keras_har ``.keras`` model."""

import argparse

# Listed here rather than imported, so that building the parser does not import TensorFlow.
MODEL_NAMES = ("tinierhar", "tinyhar", "deepconvlstm")
# Flag -> the models whose constructor takes it.
_MODEL_FLAGS = {
    "filters": MODEL_NAMES,
    "gru_units": ("tinierhar",),
    "lstm_units": ("deepconvlstm",),
    "lstm_layers": ("deepconvlstm",),
}


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="convert an official PyTorch checkpoint (.pth or .npz) to a .keras model",
        description=(
            "Load an official TinierHAR, TinyHAR or DeepConvLSTM state_dict (github.com/zhaxidele/TinierHAR) "
            "into the keras_har model, checking every tensor, and save it as .keras. The .pth is read "
            "without PyTorch, and its pickle may only rebuild tensors. The result goes straight into "
            "`python tflite/export.py --model`."
        ),
    )
    parser.add_argument("--official-checkpoint", required=True, metavar="PATH",
                        help="the state_dict: a torch.save .pth, or an .npz of the same tensors")
    parser.add_argument("--model", required=True, help=f"model name: {', '.join(MODEL_NAMES)}")
    parser.add_argument("--input-shape", required=True, type=parse_input_shape, metavar="T,C",
                        help="window length and sensor channels the checkpoint was trained on, e.g. 200,23")
    parser.add_argument("--num-classes", required=True, type=int, help="classes K")
    parser.add_argument("--output", required=True, help="the .keras file to write")
    parser.add_argument("--filters", type=int, default=None,
                        help="filters: TinierHAR's M (default 4), TinyHAR's F (20), DeepConvLSTM's (64)")
    parser.add_argument("--gru-units", type=int, default=None, help="TinierHAR's N (default 16)")
    parser.add_argument("--lstm-units", type=int, default=None, help="DeepConvLSTM's LSTM units (default 128)")
    parser.add_argument("--lstm-layers", type=int, default=None, help="DeepConvLSTM's LSTM layers (default 1)")
    parser.set_defaults(func=run)


def parse_input_shape(text):
    """``'200,23'`` -> ``(200, 23)``; argparse turns the error into a usage message.

    Example:
    >>> import keras_har.commands.convert
    >>> keras_har.commands.convert.parse_input_shape("200,23")
    (200, 23)
    """
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected the window length and channels as two positive integers, e.g. 200,23. "
            f"Received: --input-shape={text!r}"
        )
    return shape


def run(args):
    from keras_har.models import from_official_checkpoint, get_model_class
    from keras_har.training import save_model_atomic

    model_name = get_model_class(args.model).__name__
    key = args.model.lower().replace("_", "").replace("-", "")
    kwargs = {name: getattr(args, name) for name in _MODEL_FLAGS if getattr(args, name) is not None}
    for name in kwargs:
        if key not in _MODEL_FLAGS[name]:
            raise ValueError(
                f"--{name.replace('_', '-')} does not apply to {model_name}; it applies to "
                f"{', '.join(_MODEL_FLAGS[name])}. Received: model={args.model!r}"
            )
    if not args.output.endswith(".keras"):
        raise ValueError(f"--output must end in `.keras`. Received: output={args.output!r}")
    model = from_official_checkpoint(args.official_checkpoint, key, args.input_shape, args.num_classes, **kwargs)
    save_model_atomic(model, args.output)
    print(f"converted {args.official_checkpoint} into {model_name} "
          f"(input {args.input_shape[0]} x {args.input_shape[1]}, {args.num_classes} classes, "
          f"{model.count_params():,} params): {args.output}")
    return 0
