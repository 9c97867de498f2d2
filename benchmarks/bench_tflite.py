"""Int8 TFLM export of TinierHAR: flash, arena, ops and accuracy of each recurrence formulation.

Trains on real HAPT data (one fold, few epochs: the CPU is shared), exports
every variant through `keras_har.export`, runs TFLM and LiteRT on every test
window, and writes ``results.json``, ``results.md`` and ``budget.png`` to
``--output``. A second table measures flash, arena and ops at UCI HAR's shape
(T=128, C=9, K=6), which do not depend on the trained weights.

Usage:
    KERAS_HAR_DATA=/path/to/datasets nice -n 10 python benchmarks/bench_tflite.py \
        --output /tmp/bench_tflite --epochs 15 --qat-epochs 3
"""

import argparse
import json
import os
import platform
import time

import numpy as np

FLASH_BUDGET_BYTES = 32 * 1024
ARENA_BUDGET_BYTES = 16 * 1024
# The six activities that UCI HAR also has (HAPT classes 1-6).
UCI_ACTIVITIES = 6


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"))
    parser.add_argument("--output", required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--fold", type=int, default=0, help="index into the paper's HAPT folds")
    parser.add_argument("--representative-windows", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--remeasure", nargs="*", default=[],
                        help="variant names whose rows in an earlier results.json are measured again")
    return parser.parse_args(argv)


def load_hapt(data_home, fold):
    import keras_har

    if not data_home:
        raise FileNotFoundError("Set --data-home or KERAS_HAR_DATA to the folder holding hapt/.")
    data = keras_har.datasets.load_dataset("hapt", data_home=data_home, window_sec=2.56, verbose=True)
    keep = np.where(data.y < UCI_ACTIVITIES)[0]
    data = data.subset(keep)
    train, test = keras_har.datasets.splits.paper_folds("hapt", data.subjects)[fold]
    scaler = keras_har.datasets.Standardizer().fit(data.X[train])
    return data, scaler, scaler.transform(data.X[train]), data.y[train], scaler.transform(data.X[test]), data.y[test]


def train_float(recurrent, x, y, epochs, seed):
    import keras_har
    from keras_har.backend import keras

    keras.utils.set_random_seed(seed)
    model = keras_har.TinierHAR(input_shape=x.shape[1:], num_classes=UCI_ACTIVITIES, recurrent=recurrent)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=64, shuffle=True, verbose=2)
    return model


def train_qat(model, x, y, epochs):
    from keras_har.backend import keras
    from keras_har.export import dequantized_copy, quantize_aware

    qat = quantize_aware(model)
    qat.compile(optimizer=keras.optimizers.Adam(2e-4),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    qat.fit(x, y, epochs=epochs, batch_size=64, shuffle=True, verbose=2)
    return qat, dequantized_copy(qat, model)


def measure(name, model, representative, test_x, test_y, *, recurrence, float_model=None, qat_model=None):
    from keras_har.export import convert_int8, describe, evaluate_int8, find_arena_bytes, strip_strings

    print(f"--- {name}", flush=True)
    started = time.time()
    # Keras's own unrolled GRU is the baseline: it is measured even when the
    # converter leaves float ops in it, and the row says how many.
    check = recurrence != "keras_unrolled"
    unstripped = convert_int8(model, representative, recurrence=recurrence, strip=False, check=check)
    flatbuffer = strip_strings(unstripped)
    facts = describe(flatbuffer)
    row = {
        "variant": name, "recurrence": recurrence, "flash_bytes": facts["flash_bytes"],
        "float_tensors": facts["float_tensors"],
        "quantize_ops": sum(op in ("QUANTIZE", "DEQUANTIZE") for op in facts["ops"]),
        "flash_bytes_unstripped": len(unstripped), "op_count": facts["op_count"], "op_types": facts["op_types"],
        "arena_bytes": find_arena_bytes(flatbuffer, window=representative[0]),
    }
    if test_x is not None:
        row.update(evaluate_int8(flatbuffer, test_x, test_y, float_model=float_model or model,
                                 qat_model=qat_model, arena_bytes=row["arena_bytes"]))
    row["seconds"] = round(time.time() - started, 1)
    print(json.dumps({k: v for k, v in row.items() if k != "op_types"}), flush=True)
    return row


def size_rows(seed, done, variants):
    """Flash/arena/ops at UCI HAR's shape; calibrated on random windows (sizes do not depend on weights).

    Rows already in ``done`` (from an earlier, interrupted run) are kept, not measured again.
    """
    import keras_har
    from keras_har.backend import keras

    windows = np.random.default_rng(seed).normal(size=(32, 128, 9)).astype("float32")
    rows = {row["variant"]: row for row in done}
    for recurrent, recurrence in variants:
        label = recurrent if recurrent != "bigru" else f"bigru/{recurrence}"
        name = f"{label} (128x9, K=6)"
        if name not in rows:
            keras.utils.set_random_seed(seed)
            model = keras_har.TinierHAR(input_shape=(128, 9), num_classes=6, recurrent=recurrent)
            rows[name] = measure(name, model, windows, None, None, recurrence=recurrence)
        yield rows[name]


def markdown(results):
    lines = [
        "| variant | flash B (stripped) | flash B (names kept) | arena B | ops | float macro-F1 | QAT Keras macro-F1 "
        "| LiteRT int8 macro-F1 | TFLM int8 macro-F1 | TFLM=LiteRT argmax (builtin / XNNPACK / reference) "
        "| TFLM=float argmax |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["hapt"]:
        f1, agree = row["macro_f1"], row["agreement"]
        xnnpack = agree.get("tflm_vs_litert_auto_argmax")  # missing where XNNPACK refused the model
        lines.append(
            f"| {row['variant']} | {row['flash_bytes']:,} | {row['flash_bytes_unstripped']:,} | {row['arena_bytes']:,} "
            f"| {row['op_count']} | {f1['float_keras']:.4f} "
            f"| {format(f1['qat_keras'], '.4f') if 'qat_keras' in f1 else '-'} "
            f"| {f1['litert_int8']:.4f} | {f1['tflm_int8']:.4f} "
            f"| {agree['tflm_vs_litert_builtin_argmax']:.4f} / "
            f"{'refused' if xnnpack is None else format(xnnpack, '.4f')} / "
            f"{agree['tflm_vs_litert_reference_argmax']:.4f} | {agree['tflm_vs_float_keras_argmax']:.4f} |"
        )
    lines += ["", "| variant at UCI HAR shape | flash B (stripped) | flash B (names kept) | arena B | ops "
              "| float tensors | QUANTIZE+DEQUANTIZE |", "|---|---|---|---|---|---|---|"]
    for row in results["uci_shape"]:
        lines.append(f"| {row['variant']} | {row['flash_bytes']:,} | {row['flash_bytes_unstripped']:,} "
                     f"| {row['arena_bytes']:,} | {row['op_count']} | {row['float_tensors']} | {row['quantize_ops']} |")
    return "\n".join(lines) + "\n"


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["uci_shape"]
    names = [row["variant"].replace(" (128x9, K=6)", "") for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key, budget, title in ((axes[0], "flash_bytes", FLASH_BUDGET_BYTES, "flash (stripped .tflite)"),
                                     (axes[1], "arena_bytes", ARENA_BUDGET_BYTES, "TFLM arena")):
        axis.barh(names, [row[key] / 1024 for row in rows])
        axis.axvline(budget / 1024, color="red", linestyle="--", label=f"budget {budget // 1024} KB")
        axis.set_xscale("log")
        axis.set_xlabel("KB (log scale)")
        axis.set_title(f"TinierHAR int8, 128x9, K=6: {title}")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    from keras_har.atomic import write_text

    data, scaler, train_x, train_y, test_x, test_y = load_hapt(args.data_home, args.fold)
    rng = np.random.default_rng(args.seed)
    representative = train_x[rng.choice(len(train_x), args.representative_windows, replace=False)]
    results = {"machine": f"{platform.machine()} {os.cpu_count()} CPUs, no GPU", "epochs": args.epochs,
               "qat_epochs": args.qat_epochs, "fold": args.fold, "train_windows": len(train_x),
               "test_windows": len(test_x), "hapt": [], "uci_shape": []}
    path = os.path.join(args.output, "results.json")
    earlier = json.load(open(path)) if os.path.exists(path) else {}
    # Rows of an earlier run are kept unless asked for again, so an
    # interrupted or partial re-run costs only what it re-measures.
    done = [row for row in earlier.get("uci_shape", []) if row["variant"] not in args.remeasure]
    kept = [row for row in earlier.get("hapt", []) if row["variant"] not in args.remeasure]
    results["hapt"] = kept

    def save():
        write_text(path, json.dumps(results, indent=2))
        write_text(os.path.join(args.output, "results.md"), markdown(results))

    variants = (("bigru", "merged"), ("bigru", "per_direction"), ("bilstm", "merged"), ("lstm", "merged"))
    for row in size_rows(args.seed, done, variants):
        results["uci_shape"].append(row)
        save()

    measured = {row["variant"] for row in kept}
    if {"bigru/merged PTQ", "bigru/merged QAT"} - measured:
        bigru = trained_model("bigru", args, train_x, train_y, results)
        if "bigru/merged PTQ" not in measured:
            # The per-direction and Keras-unrolled formulations compute the same
            # function with 2x and 2.5x the ops (sizes above); only the merged
            # one, the default, is run on every test window to save CPU.
            results["hapt"].append(measure("bigru/merged PTQ", bigru, representative, test_x, test_y,
                                           recurrence="merged"))
            save()
        if "bigru/merged QAT" not in measured:
            qat, qat_float = train_qat(bigru, train_x, train_y, args.qat_epochs)
            results["hapt"].append(measure("bigru/merged QAT", qat_float, representative, test_x, test_y,
                                           recurrence="merged", float_model=bigru, qat_model=qat))
            save()
    if "bilstm (fused LSTM) PTQ" not in measured:
        bilstm = trained_model("bilstm", args, train_x, train_y, results)
        results["hapt"].append(measure("bilstm (fused LSTM) PTQ", bilstm, representative, test_x, test_y,
                                       recurrence="merged"))
        save()
    plot(results, os.path.join(args.output, "budget.png"))
    print(markdown(results), flush=True)
    # Last, because the converter has segfaulted on Keras's unrolled GRU here
    # (docs/toolchain.md); everything above is saved by then.
    for row in size_rows(args.seed, done, (("bigru", "keras_unrolled"),)):
        results["uci_shape"].append(row)
    save()
    plot(results, os.path.join(args.output, "budget.png"))


def trained_model(recurrent, args, train_x, train_y, results):
    """Trains a float TinierHAR, or reloads the one an earlier run saved in --output."""
    from keras_har.backend import keras
    from keras_har.training import save_model_atomic

    path = os.path.join(args.output, f"{recurrent}_float.keras")
    if os.path.exists(path):
        return keras.models.load_model(path, safe_mode=True)
    started = time.time()
    model = train_float(recurrent, train_x, train_y, args.epochs, args.seed)
    results[f"train_seconds_{recurrent}"] = round(time.time() - started, 1)
    save_model_atomic(model, path)
    return model


if __name__ == "__main__":
    main()
