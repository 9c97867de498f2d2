"""Benchmark: int8 macro-F1 of the fused BiGRU op against the float model and the stock-op export.

    KERAS_HAR_DATA=/path/to/datasets python benchmarks/bench_fused_gru.py \
        --output benchmarks/results/fused_gru.json [--folds 0 1 2]
    python benchmarks/bench_fused_gru.py --table benchmarks/results/fused_gru.json

The bench_tflite protocol (``benchmarks/bench_tflite.py``): HAPT's six UCI
activities, 2.56 s windows (128 x 6), one paper fold, standardised on its
training subjects; the paper's TinierHAR (M=4, N=16, BiGRU, attention)
trained for 15 epochs (Adam 1e-3, batch 64, seed 0); 300 training windows
calibrate the int8 ranges. Each trained model is exported twice:

- ``fused``: the export default, one ``KERAS_HAR_BIGRU`` custom op
  (`keras_har.export.fused_gru`), evaluated on the Python side as the
  firmware computes it (TFLM around the op's integer reference, which the
  firmware tests show bit-exact on host and Cortex-M4);
- ``merged``: the same GRU unrolled into stock TFLite ops.

Reported per fold: float Keras macro-F1, TFLM int8 macro-F1 of both
exports, their differences to float, and argmax agreement with float.
Resumable: folds already in ``--output`` are skipped.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_tflite import load_hapt, train_float  # noqa: E402  (the same protocol)

import resumable  # noqa: E402



def measure_fold(fold, data_home, epochs, seed, representative_windows):
    from keras_har.export import convert_int8, run_tflm
    from keras_har.metrics import macro_f1

    _, _, train_x, train_y, test_x, test_y = load_hapt(data_home, fold)
    started = time.time()
    model = train_float("bigru", train_x, train_y, epochs, seed)
    row = {"fold": fold, "epochs": epochs, "seed": seed, "train_seconds": round(time.time() - started, 1),
           "test_windows": int(len(test_x))}
    rng = np.random.default_rng(seed)
    representative = train_x[rng.choice(len(train_x), representative_windows, replace=False)]
    float_predictions = model.predict(test_x, verbose=0, batch_size=256).argmax(-1)
    row["float_macro_f1"] = macro_f1(test_y, float_predictions)
    for recurrence in ("fused", "merged"):
        flatbuffer = convert_int8(model, representative, recurrence=recurrence)
        predictions = run_tflm(flatbuffer, test_x).argmax(-1)
        row[f"{recurrence}_int8_macro_f1"] = macro_f1(test_y, predictions)
        row[f"{recurrence}_minus_float"] = row[f"{recurrence}_int8_macro_f1"] - row["float_macro_f1"]
        row[f"{recurrence}_argmax_agreement_with_float"] = float(np.mean(predictions == float_predictions))
        row[f"{recurrence}_model_bytes"] = len(flatbuffer)
    return row


def table(rows):
    lines = ["| fold | float macro-F1 | fused op int8 | unrolled int8 | fused - float | unrolled - float "
             "| fused agrees with float | model B fused / unrolled |",
             "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r["fold"]):
        lines.append(
            f"| {row['fold']} | {row['float_macro_f1']:.4f} | {row['fused_int8_macro_f1']:.4f} "
            f"| {row['merged_int8_macro_f1']:.4f} | {100 * row['fused_minus_float']:+.2f} pts "
            f"| {100 * row['merged_minus_float']:+.2f} pts | {100 * row['fused_argmax_agreement_with_float']:.1f}% "
            f"| {row['fused_model_bytes']:,} / {row['merged_model_bytes']:,} |")
    if len(rows) > 1:
        def mean(key):
            return float(np.mean([row[key] for row in rows]))

        lines.append(
            f"| mean of {len(rows)} | {mean('float_macro_f1'):.4f} | {mean('fused_int8_macro_f1'):.4f} "
            f"| {mean('merged_int8_macro_f1'):.4f} | {100 * mean('fused_minus_float'):+.2f} pts "
            f"| {100 * mean('merged_minus_float'):+.2f} pts | {100 * mean('fused_argmax_agreement_with_float'):.1f}% "
            "| |")
    return "\n".join(lines)


def main(argv=None):
    def add_arguments(parser):
        parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"))
        parser.add_argument("--folds", type=int, nargs="+", default=[0], help="paper HAPT folds (default: 0)")
        parser.add_argument("--epochs", type=int, default=15)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--representative-windows", type=int, default=300)

    def jobs(args):
        for fold in args.folds:
            yield fold, lambda fold=fold: measure_fold(fold, args.data_home, args.epochs, args.seed,
                                                       args.representative_windows)

    return resumable.main(argv, description=__doc__.split("\n\n")[0], jobs=jobs, row_key=lambda row: row["fold"],
                          table=table, add_arguments=add_arguments)


if __name__ == "__main__":
    sys.exit(main())
