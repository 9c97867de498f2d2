"""Benchmark: smaller TinierHAR variants against the 16 KB arena goal, with their accuracy.

    KERAS_HAR_DATA=/path/to/datasets nice -n 10 python benchmarks/bench_tflite_small.py \
        --output /tmp/bench_tflite_small --epochs 15

The default export (M=4, N=16, ``recurrent="bilstm"``) needs about 21 KB of TFLM arena at UCI
HAR's shape even with the offline memory plan. The arena is set by the first blocks' T x C x M
activations, so this measures what fewer filters (M) and a one-directional LSTM cost in
macro-F1. Same protocol as ``bench_tflite.py``: HAPT raw data, 2.56 s windows (T=128), the six
UCI activities, C=6, the paper's HAPT fold 0, Adam 1e-3, batch 64, ``--epochs`` epochs, one
seed; int8 PTQ with the offline memory plan, every test window run in TFLM. Sizes are measured
at UCI HAR's shape (T=128, C=9, K=6) with `keras_har.export.footprint.measure_flatbuffer`.
Writes ``results.json`` and ``results.md`` to ``--output``.
"""

import argparse
import json
import os
import sys
import time

from keras_har.atomic import write_json, write_text

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VARIANTS = [  # (filters M, GRU/LSTM units N, recurrent)
    (4, 16, "bilstm"),
    (2, 16, "bilstm"),
    (2, 8, "bilstm"),
    (4, 16, "lstm"),
    (2, 16, "lstm"),
    (2, 32, "lstm"),
    (3, 16, "lstm"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"))
    parser.add_argument("--output", required=True)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import numpy as np

    import keras_har
    from bench_tflite import UCI_ACTIVITIES, load_hapt
    from keras_har.backend import keras
    from keras_har.export import add_offline_memory_plan, convert_int8, describe, find_arena_bytes, run_tflm
    from keras_har.export.footprint import measure_flatbuffer
    from keras_har.metrics import macro_f1

    os.makedirs(args.output, exist_ok=True)
    results_path = os.path.join(args.output, "results.json")
    rows = json.load(open(results_path)) if os.path.exists(results_path) else []
    done = {(r["filters"], r["units"], r["recurrent"]) for r in rows}
    _, _, x_train, y_train, x_test, y_test = load_hapt(args.data_home, 0)
    representative = x_train[np.random.default_rng(args.seed).choice(len(x_train), 300, replace=False)]
    for filters, units, recurrent in VARIANTS:
        if (filters, units, recurrent) in done:
            continue
        started = time.time()
        keras.utils.set_random_seed(args.seed)
        model = keras_har.TinierHAR(input_shape=x_train.shape[1:], num_classes=UCI_ACTIVITIES, filters=filters,
                                    gru_units=units, recurrent=recurrent)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, shuffle=True, verbose=2)
        float_pred = np.argmax(model.predict(x_test, batch_size=256, verbose=0), -1)
        flatbuffer = add_offline_memory_plan(convert_int8(model, representative))
        arena_hapt = find_arena_bytes(flatbuffer, window=representative[0])
        tflm_pred = np.argmax(run_tflm(flatbuffer, x_test, arena_bytes=arena_hapt).astype(int), -1)
        uci = measure_flatbuffer(keras_har.TinierHAR(input_shape=(128, 9), num_classes=6, filters=filters,
                                                     gru_units=units, recurrent=recurrent))
        row = {
            "filters": filters, "units": units, "recurrent": recurrent,
            "params": int(model.count_params()), "macs": int(keras_har.profile(model)["macs"]),
            "float_macro_f1": macro_f1(y_test, float_pred), "tflm_int8_macro_f1": macro_f1(y_test, tflm_pred),
            "tflm_vs_float_argmax": float(np.mean(tflm_pred == float_pred)),
            "hapt_128x6_flash_bytes": describe(flatbuffer)["flash_bytes"], "hapt_128x6_arena_bytes": arena_hapt,
            "uci_128x9_flash_bytes": uci["flash_bytes"], "uci_128x9_arena_bytes": uci["arena_bytes"],
            "ops": uci["ops"], "seconds": round(time.time() - started, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        write_json(results_path, rows)
    lines = [
        "| M | N | recurrent | params | MACs | float macro-F1 | TFLM int8 macro-F1 | TFLM=float argmax "
        "| flash B (128x9) | arena B (128x9) | within 32 KB / 16 KB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fits = (r["uci_128x9_flash_bytes"] <= 32 * 1024, r["uci_128x9_arena_bytes"] <= 16 * 1024)
        lines.append(
            f"| {r['filters']} | {r['units']} | {r['recurrent']} | {r['params']:,} | {r['macs']:,} "
            f"| {r['float_macro_f1']:.4f} | {r['tflm_int8_macro_f1']:.4f} | {r['tflm_vs_float_argmax']:.4f} "
            f"| {r['uci_128x9_flash_bytes']:,} | {r['uci_128x9_arena_bytes']:,} "
            f"| {'yes' if fits[0] else 'no'} / {'yes' if fits[1] else 'no'} |"
        )
    write_text(os.path.join(args.output, "results.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
