"""``keras-har export`` (also ``tflite/export.py``): train or load a model, QAT or PTQ, export, measure.

Only argparse at import time, so that ``keras-har --help`` does not import
TensorFlow; the export itself is `keras_har.export.export_model`.
"""

import argparse
import json
import os
import sys

from keras_har.commands.evaluate import PROTOCOLS

DESCRIPTION = (
    "Export a TinierHAR model to a full-integer int8 .tflite for TensorFlow Lite Micro, with "
    "model_data.cc/.h, model_settings.h, model_ops.h and report.json (macro-F1 of float Keras, "
    "QAT Keras, LiteRT int8 and TFLM int8 on the test subjects; measured arena)."
)


class _DeprecatedAlias(argparse.Action):
    """Stores the value like the flag it stands for, and prints a deprecation note on stderr."""

    def __init__(self, option_strings, dest, new_flag, **kwargs):
        self.new_flag = new_flag
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: note: {option_string} is deprecated; use {self.new_flag}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _subject_list(text):
    """``'3,7'`` -> ``['3', '7']``; ids and names are told apart against the data."""
    subjects = [part.strip() for part in text.split(",") if part.strip()]
    if not subjects:
        raise argparse.ArgumentTypeError(f"expected subject ids or names such as '3,7'. Received: {text!r}")
    return subjects


def _configure(parser):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a trained .keras model (trained on the training part of --dataset's split)")
    source.add_argument("--train", action="store_true",
                        help="train a TinierHAR on the training part of the split first, as cross-validation "
                             "trains a fold (a validation share for early stopping; the best epoch's weights) with "
                             "export's own recipe: Adam 1e-3, batch 64, --epochs; its files go to OUTPUT/training")
    parser.add_argument("--dataset", default="hapt",
                        help="dataset name (default: hapt), or the path of your own data: a folder of CSV recordings "
                             "with a dataset.json, or an .npz file with x, y, subjects and sampling_rate_hz")
    parser.add_argument("--data-home", default=None, help="folder with the datasets (default: $KERAS_HAR_DATA)")
    parser.add_argument("--output", required=True, help="output folder")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--qat", dest="quantization", action="store_const", const="qat",
                      help="quantization-aware fine-tuning (tfmot) before conversion")
    mode.add_argument("--ptq", dest="quantization", action="store_const", const="ptq",
                      help="post-training quantization only (default; PTQ against QAT per recurrent layer: BENCHMARKS.md)")
    parser.set_defaults(quantization="ptq")
    parser.add_argument("--recurrent", default="bigru", choices=("bigru", "gru", "bilstm", "lstm"),
                        help="TinierHAR recurrent layer with --train (default: bigru, the paper's, exported as one "
                             "fused int8 KERAS_HAR_BIGRU op that the firmware registers; bilstm and lstm use TFLite's "
                             "int8 LSTM op; sizes per variant in BENCHMARKS.md)")
    parser.add_argument("--filters", type=int, default=4, help="TinierHAR filters M with --train (paper: 4)")
    parser.add_argument("--gru-units", type=int, default=16,
                        help="recurrent units N per direction with --train (paper: 16)")
    parser.add_argument("--units", dest="gru_units", type=int, action=_DeprecatedAlias, new_flag="--gru-units",
                        help="deprecated spelling of --gru-units")
    parser.add_argument("--representative-windows", type=int, default=300,
                        help="training windows used to calibrate activation ranges (default: 300)")
    parser.add_argument("--window-sec", type=float, default=None, help="window length in seconds")
    parser.add_argument("--step-sec", type=float, default=None,
                        help="step between windows in seconds (also kStepLength, the firmware's streaming step)")
    split = parser.add_argument_group(
        "test split", "which windows are held out for report.json's macro-F1 (the rest train the model and fit the "
                      "standardisation); the split used is printed and stored in report.json")
    split.add_argument("--protocol", choices=PROTOCOLS, default=None,
                       help="default: paper for a built-in dataset; for your own data split when it has train/ and "
                            "test/, else loso up to 10 subjects, kfold above (as keras-har evaluate)")
    split.add_argument("--fold", type=int, default=None,
                       help="index of the protocol's fold held out (default 0: for a built-in dataset the paper's "
                            "first subject group)")
    split.add_argument("--test-subjects", type=_subject_list, default=None, metavar="LIST",
                       help="hold out these subjects instead, comma-separated ids or the names of a CSV folder's "
                            "subjects (e.g. 3,7 or carol); not with --protocol or --fold")
    parser.add_argument("--epochs", type=int, default=15, help="most float training epochs with --train (default: 15)")
    parser.add_argument("--qat-epochs", type=int, default=3, help="QAT fine-tuning epochs with --qat")
    parser.add_argument("--recurrence", default="fused", choices=("fused", "merged", "per_direction", "keras_unrolled"),
                        help="how a GRU is exported: fused (default: one KERAS_HAR_BIGRU custom op), or unrolled into "
                             "stock TFLite ops: merged, per_direction or keras_unrolled")
    parser.add_argument("--no-offline-memory-plan", dest="offline_memory_plan", action="store_false",
                        help="leave tensor placement to TFLM's online planner instead of storing an offline plan "
                             "(OfflineMemoryAllocation metadata) in the model (arena with and without: BENCHMARKS.md)")
    parser.add_argument("--standardizer", default=None,
                        help="with --model: the saved keras_har.datasets.Standardizer it was trained with (default: fit on "
                             "the split's training windows)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split, the training and the calibration windows (default: 0)")
    parser.add_argument("--verify-on", default=None, metavar="TARGETS",
                        help="after exporting, build the firmware and run it on these targets (comma-separated: "
                             "host, cortex-m4) on real test windows and a streamed test recording, bit for bit "
                             "against the TFLM Python interpreter; writes report.json's \"cortex_m4\" section and "
                             "the Cortex-M4 arena into model_settings.h (see `keras-har firmware`)")
    parser.add_argument("--verify-windows", type=int, default=100, help="test windows for --verify-on (default: 100)")
    parser.add_argument("--tflm-root", default=None, help="TFLM source tree for --verify-on (default: $KERAS_HAR_TFLM)")
    parser.add_argument("--cmsis-nn-root", default=None, help="TFLM tree with CMSIS-NN kernels for --verify-on")
    parser.set_defaults(func=run, prog=parser.prog)
    return parser


def build_parser(prog="tflite/export.py"):
    """The argument parser of ``tflite/export.py``."""
    return _configure(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def add_parser(subparsers, name):
    """Registers ``keras-har export`` (see `keras_har.cli`)."""
    _configure(subparsers.add_parser(name, help="export a TinierHAR to int8 TFLite for TFLM, with firmware files",
                                     description=DESCRIPTION))


def main(argv=None, prog="tflite/export.py"):
    """Entry point of ``tflite/export.py``: parses ``argv`` and exports; bad input raises ValueError."""
    return run(build_parser(prog).parse_args(argv))


# export --train's recipe: a short training run for a model to export, not the paper's 150 epochs;
# Adam (no weight decay) at 1e-3 on batches of 64, as before the recipe object existed.
TRAIN_BATCH_SIZE = 64
TRAIN_LEARNING_RATE = 1e-3
TRAIN_WEIGHT_DECAY = 0.0


def train_recipe(epochs):
    """The `keras_har.training.Recipe` of ``export --train``: its own values, passed explicitly."""
    from keras_har.training import Recipe

    return Recipe(epochs=epochs, batch_size=TRAIN_BATCH_SIZE, learning_rate=TRAIN_LEARNING_RATE,
                  weight_decay=TRAIN_WEIGHT_DECAY)


def _train(data, train_index, test_index, args):
    """``--train``: one fold through `keras_har.evaluation.run_fold`; its best model and standardiser.

    The fold's files (``folds/fold_00.json`` with its macro-F1, the best
    model in ``checkpoints/``, training curves in ``tensorboard/``) go to
    ``OUTPUT/training``.
    """
    import functools

    import keras_har
    from keras_har.datasets import Standardizer
    from keras_har.evaluation import run_fold
    from keras_har.fold_store import fold_checkpoint
    from keras_har.training import load_model

    build = functools.partial(keras_har.TinierHAR, filters=args.filters, gru_units=args.gru_units,
                              recurrent=args.recurrent)
    folder = os.path.join(args.output, "training")
    result = run_fold(build, data, (train_index, test_index), 0, folder, recipe=train_recipe(args.epochs),
                      seed=args.seed, verbose=2, baselines=False)
    print(f"trained {result['epochs_run']} epochs (best: epoch {result['best_epoch']}); float macro-F1 on the test "
          f"split {result['macro_f1']:.4f}")
    model = load_model(fold_checkpoint(folder, 0), argument="checkpoint")
    return model, Standardizer.from_dict(result["standardizer"])


def run(args):
    """Trains or loads the model, quantizes, exports to ``args.output`` and prints the summary."""
    import numpy as np

    verify_targets = None
    if args.verify_on:
        from keras_har.commands.firmware import parse_list
        from keras_har.firmware.build import TARGETS

        verify_targets = parse_list(args.verify_on, TARGETS, "--verify-on")
    if args.train and args.standardizer:
        raise ValueError(
            "--standardizer goes with --model (the standardiser the model was trained with); --train fits its own "
            f"on the training windows. Received: standardizer={args.standardizer!r}"
        )
    if args.representative_windows < 1:
        raise ValueError(
            f"--representative-windows must be >= 1. Received: representative_windows={args.representative_windows}"
        )
    import keras_har
    import keras_har.layers  # noqa: F401  (registers the custom layers for load_model)
    import keras_har.models  # noqa: F401  (registers the model classes for load_model)
    from keras_har.backend import keras
    from keras_har.export import dequantized_copy, export_model, quantize_aware
    from keras_har.training import build_optimizer, load_model, save_model_atomic

    keras.utils.set_random_seed(args.seed)
    model = None
    window_sec = args.window_sec
    if args.model:
        model = load_model(args.model, argument="--model")
    from keras_har.evaluation import holdout_split

    data = keras_har.datasets.load_dataset(args.dataset, data_home=args.data_home, window_sec=window_sec,
                                           step_sec=args.step_sec)
    if data.sampling_rate_hz is None:
        raise ValueError(
            f"The firmware needs the sampling rate (kSamplingRateHz and kStepLength in model_settings.h); "
            f"save 'sampling_rate_hz' in the .npz file. Received: dataset={args.dataset!r}"
        )
    if model is not None and tuple(model.input_shape[1:]) != data.X.shape[1:]:
        raise ValueError(
            f"The model expects windows of shape {tuple(model.input_shape[1:])} but {args.dataset} gives "
            f"{data.X.shape[1:]}; pass --window-sec. Received: window_sec={window_sec}"
        )
    if model is not None and model.output_shape[-1] != data.num_classes:
        raise ValueError(
            f"The model has {model.output_shape[-1]} outputs but {args.dataset} has {data.num_classes} classes. "
            f"Received: model={args.model!r}"
        )
    train_index, test_index, test_split = holdout_split(data, protocol=args.protocol, fold=args.fold,
                                                       test_subjects=args.test_subjects, seed=args.seed)
    print(f"test split: {test_split}; {len(train_index)} training and {len(test_index)} test windows")
    if model is None:
        model, scaler = _train(data, train_index, test_index, args)
    elif args.standardizer:
        scaler = keras_har.datasets.Standardizer.load(args.standardizer)
    else:
        scaler = keras_har.datasets.Standardizer().fit(data.X[train_index])
    train_x, test_x = scaler.transform(data.X[train_index]), scaler.transform(data.X[test_index])
    train_y, test_y = data.y[train_index], data.y[test_index]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    float_model, qat_model, to_convert = model, None, model
    if args.quantization == "qat":
        qat_model = quantize_aware(model)
        qat_model.compile(optimizer=keras.optimizers.Adam(2e-4), loss=loss, metrics=["accuracy"])
        build_optimizer(qat_model)
        qat_model.fit(train_x, train_y, epochs=args.qat_epochs, batch_size=64, shuffle=True, verbose=2)
        to_convert = dequantized_copy(qat_model, model)
    rng = np.random.default_rng(args.seed)
    count = min(args.representative_windows, len(train_x))
    representative = train_x[rng.choice(len(train_x), count, replace=False)]
    report = export_model(
        to_convert, args.output, representative_windows=representative,
        sampling_rate_hz=data.sampling_rate_hz, channel_names=data.channel_names, label_names=data.class_names,
        channel_mean=scaler.mean_, channel_std=scaler.std_, test_windows=test_x, test_labels=test_y,
        float_model=float_model, qat_model=qat_model, recurrence=args.recurrence,
        offline_memory_plan=args.offline_memory_plan,
        step_length=int(round(data.step_sec * data.sampling_rate_hz)), test_split=test_split,
    )
    # The converted model's float weights, saved whole or not at all.
    save_model_atomic(to_convert, os.path.join(args.output, "model_float.keras"))
    summary = {key: report[key] for key in ("flash_bytes", "arena_bytes", "op_count", "macro_f1") if key in report}
    if verify_targets:
        from keras_har.firmware.verify import failed_builds, first_recording, spread, verify_export

        recording = first_recording(args.dataset, data.subjects[test_index], data_home=args.data_home)
        if recording is None:
            print(f"{args.dataset} is not a built-in dataset: the firmware is checked on test windows only, "
                  f"not on a streamed recording")
        verified = verify_export(args.output, windows=test_x[spread(np.arange(len(test_x)), args.verify_windows)],
                                 recording=recording, targets=verify_targets, tflm_root=args.tflm_root,
                                 cmsis_nn_root=args.cmsis_nn_root)
        summary["firmware"] = {name: {key: build[key] for key in ("bit_exact", "stream_labels_match", "arena_bytes",
                                                                  "instructions_per_inference") if key in build}
                               for name, build in verified["builds"].items()}
        print(json.dumps(summary, indent=2))
        failed = failed_builds(verified)
        if failed:
            print(f"{args.prog}: the firmware differs from the TFLM Python interpreter on {', '.join(failed)}")
            return 1
        return 0
    print(json.dumps(summary, indent=2))
    return 0
