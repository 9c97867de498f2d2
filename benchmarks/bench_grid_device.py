"""Benchmark: what each configuration of the paper's M x N grid costs on an emulated Cortex-M4.

    KERAS_HAR_TFLM=/path/to/tflm/tree python benchmarks/bench_grid_device.py \
        --output benchmarks/results/grid_device.json
    python benchmarks/bench_grid_device.py --table benchmarks/results/grid_device.json   # the markdown table

For TinierHAR with M filters in {2, 4, 8} and N GRU units in {8, 16, 32} at
HAPT's shape (200 x 6, 12 classes), untrained (sizes and instruction counts
do not depend on the weights), for the default export (the BiGRU as one
fused ``KERAS_HAR_BIGRU`` op) and for the BiGRU unrolled into stock ops:
the measurement a search makes with ``--footprint measure-cortex-m4``
(`keras_har.tuning.budget.model_footprint`). Reported: params and MACs; the
int8 model's bytes (the C array); the smallest arena on the Cortex-M4 (the
larger of the CMSIS-NN and reference kernel builds); the CMSIS-NN
firmware's instructions per inference (QEMU ``-icount``) and its linked
flash (model, TFLM runtime for the model's ops, C library, test runner).

Resumable: rows already in ``--output`` are skipped.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import resumable  # noqa: E402

FILTERS = (2, 4, 8)
GRU_UNITS = (8, 16, 32)
RECURRENCES = ("fused", "merged")
SHAPE = (200, 6, 12)


def measure(filters, gru_units, recurrence):
    import keras_har
    from keras_har.backend import keras
    from keras_har.tuning.budget import model_footprint

    keras.utils.set_random_seed(0)
    model = keras_har.TinierHAR(input_shape=SHAPE[:2], num_classes=SHAPE[2], filters=filters, gru_units=gru_units)
    footprint = model_footprint(model, footprint="measure-cortex-m4", recurrence=recurrence)
    return {
        "filters": filters, "gru_units": gru_units, "recurrence": recurrence,
        "params": int(footprint["params"]), "macs": int(footprint["macs"]),
        "model_kb": footprint["flash_kb"], "arena_kb": footprint["arena_kb"],
        "instructions_m": footprint["instructions_m"], "firmware_flash_kb": footprint["firmware_flash_kb"],
        "int8_ops": int(footprint["int8_ops"]),
    }


def table(rows):
    fused = {(row["filters"], row["gru_units"]): row for row in rows if row["recurrence"] == "fused"}
    merged = {(row["filters"], row["gru_units"]): row for row in rows if row["recurrence"] == "merged"}
    head = ("| M | N | params | MACs | model KB | arena KB | firmware flash KB | M instructions | "
            "stock-op export: model KB / arena KB / M instructions |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for key in sorted(set(fused) | set(merged)):
        row, other = fused.get(key), merged.get(key)
        base = row or other
        cells = [str(key[0]), str(key[1]), f"{base['params']:,}", f"{base['macs']:,}"]
        if row:
            cells += [f"{row['model_kb']:.1f}", f"{row['arena_kb']:.1f}", f"{row['firmware_flash_kb']:.1f}",
                      f"{row['instructions_m']:.2f}"]
        else:
            cells += ["-"] * 4
        cells.append(f"{other['model_kb']:.1f} / {other['arena_kb']:.1f} / {other['instructions_m']:.2f}"
                     if other else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    def add_arguments(parser):
        parser.add_argument("--recurrence", choices=RECURRENCES, action="append", default=None,
                            help="exports to measure (repeatable; default both)")

    def jobs(args):
        from keras_har.tf_logging import quiet_tensorflow

        quiet_tensorflow()
        for recurrence in args.recurrence or RECURRENCES:
            for filters in FILTERS:
                for gru_units in GRU_UNITS:
                    yield (filters, gru_units, recurrence), lambda m=filters, n=gru_units, r=recurrence: measure(m, n, r)

    return resumable.main(argv, description=__doc__.split("\n\n")[0], jobs=jobs,
                          row_key=lambda row: (row["filters"], row["gru_units"], row["recurrence"]), table=table,
                          add_arguments=add_arguments)


if __name__ == "__main__":
    sys.exit(main())
