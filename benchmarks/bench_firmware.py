"""Benchmark: the exported firmware on an emulated Cortex-M4, per export variant and shape.

    KERAS_HAR_TFLM=/path/to/tflm/tree python benchmarks/bench_firmware.py \
        --output benchmarks/results/firmware.json
    python benchmarks/bench_firmware.py --table benchmarks/results/firmware.json   # the markdown table

For each variant (the paper's BiGRU as the fused ``KERAS_HAR_BIGRU`` op, the
export default, and unrolled into stock ops; the BiLSTM; the M=2, N=32 LSTM)
at UCI HAR's shape (128 x 9, 6 classes) and HAPT's (200 x 6 and 128 x 6, 12
classes; the stock-op variants at the first two): an untrained model (sizes and instruction counts do
not depend on the weights), converted to int8 with the offline memory plan
(`keras_har.export.export_model`, calibrated on 64 standard-normal windows),
then built and run by `keras_har.firmware.verify_export` for the host and
for a Cortex-M4 with CMSIS-NN and with reference kernels (``arm-none-eabi-g++
-Os``, QEMU ``mps2-an386``). Reported: model bytes; linked flash split into
model array, TFLM runtime (only the objects the model's ops pull in) and the
rest (C library, start-up, test runner); the smallest arena on the Cortex-M4
next to the one the 64-bit Python interpreter needs; instructions per
inference (QEMU ``-icount``, deterministic); and whether 32 random windows
were bit-exact against the TFLM Python interpreter. Resumable: variants
already in ``--output`` are skipped.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import resumable  # noqa: E402

VARIANTS = [  # name, TinierHAR settings, recurrence (keras_har.export.convert_int8), shapes (None: all)
    ("BiGRU M=4 N=16 (paper, fused op, export default)", {"filters": 4, "gru_units": 16, "recurrent": "bigru"},
     "fused", None),
    ("BiGRU M=4 N=16 (paper, unrolled)", {"filters": 4, "gru_units": 16, "recurrent": "bigru"}, "merged",
     ("UCI HAR", "HAPT")),
    ("BiLSTM M=4 N=16", {"filters": 4, "gru_units": 16, "recurrent": "bilstm"}, "merged", ("UCI HAR", "HAPT")),
    ("LSTM M=2 N=32", {"filters": 2, "gru_units": 32, "recurrent": "lstm"}, "merged", ("UCI HAR", "HAPT")),
]
SHAPES = [("UCI HAR", 128, 9, 6), ("HAPT", 200, 6, 12), ("HAPT 2.56 s", 128, 6, 12)]
CLOCK_HZ = 64e6
# Assumed cycles per instruction on a Cortex-M4 for these kernels (not measured: QEMU counts instructions,
# not cycles; loads, multiplies-accumulate and branches with flash wait states put real cores at about 1-1.5).
ASSUMED_CPI = 1.25


def measure(name, settings, recurrence, shape, work):
    import numpy as np

    import keras_har
    from keras_har.backend import keras
    from keras_har.export import export_model
    from keras_har.firmware import verify_export

    dataset, window, channels, classes = shape
    keras.utils.set_random_seed(0)
    model = keras_har.TinierHAR(input_shape=(window, channels), num_classes=classes, **settings)
    rng = np.random.default_rng(0)
    report = export_model(
        model, work, representative_windows=rng.normal(size=(64, window, channels)).astype("float32"),
        sampling_rate_hz=50.0, channel_names=[f"c{i}" for i in range(channels)],
        label_names=[f"k{i}" for i in range(classes)], channel_mean=np.zeros(channels), channel_std=np.ones(channels),
        recurrence=recurrence, progress=False,
    )
    windows = rng.normal(size=(32, window, channels)).astype("float32")
    result = verify_export(work, windows=windows, targets=("host", "cortex-m4"), progress=False)
    m4 = result["cortex_m4"]
    cmsis, reference = m4["by_kernels"]["cmsis-nn"], m4["by_kernels"]["reference"]
    return {
        "variant": name, "dataset_shape": dataset, "window": window, "channels": channels, "classes": classes,
        "op_count": report["op_count"], "model_bytes": m4["model_bytes"],
        "flash_cmsis_nn": cmsis["flash"], "flash_reference": reference["flash"],
        "arena_cmsis_nn": cmsis["arena_bytes"], "arena_reference": reference["arena_bytes"],
        "arena_python_64bit": report["arena_bytes"], "arena_host_64bit": result["builds"]["host-reference"]["arena_bytes"],
        "instructions_cmsis_nn": cmsis["instructions_per_inference"],
        "instructions_reference": reference["instructions_per_inference"],
        "bit_exact": all(build["bit_exact"] for build in result["builds"].values()),
        "windows_compared": len(windows),
    }


def table(rows):
    lines = [
        "| shape | variant | ops | model B | flash B, CMSIS-NN (runtime + model) | Cortex-M4 arena B, CMSIS-NN / reference "
        "| 64-bit Python arena B | instructions, CMSIS-NN | instructions, reference | ms at 64 MHz, CMSIS-NN "
        f"(CPI {ASSUMED_CPI}) | bit-exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    shapes = [shape[0] for shape in SHAPES]
    variants = [variant[0] for variant in VARIANTS]
    for row in sorted(rows, key=lambda r: (shapes.index(r["dataset_shape"]), variants.index(r["variant"]))):
        flash = row["flash_cmsis_nn"]
        ms = row["instructions_cmsis_nn"] * ASSUMED_CPI / CLOCK_HZ * 1e3
        lines.append(
            f"| {row['dataset_shape']} {row['window']}x{row['channels']}, {row['classes']} classes | {row['variant']} "
            f"| {row['op_count']} | {row['model_bytes']:,} | {flash['runtime'] + flash['model']:,} "
            f"({flash['runtime']:,} + {flash['model']:,}) | {row['arena_cmsis_nn']:,} / {row['arena_reference']:,} "
            f"| {row['arena_python_64bit']:,} | {row['instructions_cmsis_nn'] / 1e6:.2f} M "
            f"| {row['instructions_reference'] / 1e6:.2f} M | {ms:.0f} | {'yes' if row['bit_exact'] else 'NO'} "
            f"({row['windows_compared']}) |"
        )
    return "\n".join(lines)


def main(argv=None):
    def jobs(args):
        for shape in SHAPES:
            for name, settings, recurrence, shapes in VARIANTS:
                if shapes is None or shape[0] in shapes:
                    yield (name, shape[0]), lambda name=name, settings=settings, recurrence=recurrence, shape=shape: \
                        _measure_in_tempdir(name, settings, recurrence, shape)

    return resumable.main(argv, description=__doc__.split("\n\n")[0], jobs=jobs,
                          row_key=lambda row: (row["variant"], row["dataset_shape"]), table=table)


def _measure_in_tempdir(name, settings, recurrence, shape):
    with tempfile.TemporaryDirectory(prefix="bench_firmware_") as work:
        return measure(name, settings, recurrence, shape, work)


if __name__ == "__main__":
    sys.exit(main())
