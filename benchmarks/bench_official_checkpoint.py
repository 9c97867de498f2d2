"""Benchmark: an official PyTorch TinierHAR checkpoint in keras_har, against the official model's logits.

    KERAS_HAR_REFERENCE=../shared/reference python benchmarks/bench_official_checkpoint.py

Loads ``official_checkpoint_mhealth/final_best_vali.pth`` and its ``state_dict.npz``
(TinierHAR, MHEALTH, M=4, N=16, 200 x 23, 12 classes) into ``keras_har.TinierHAR`` with
`keras_har.models.load_official_weights`, runs the 165 committed windows, and compares the
logits with the official PyTorch model's (``windows_and_logits.npz``). Writes
``benchmarks/results/official_checkpoint.json`` and the Markdown table made from it,
``benchmarks/results/official_checkpoint.md`` (``--table-only`` remakes the table from the JSON).

A last row takes the converted model on to full-integer int8 (`keras_har.export.convert_int8`,
calibrated on every 4th of the 165 windows, as the fixture has no training windows) and runs all
165 windows in the TFLM interpreter, as the firmware would.
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys

from keras_har.atomic import write_json, write_text

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "official_checkpoint.json"
TABLE = REPO / "benchmarks" / "results" / "official_checkpoint.md"


def reference_dir():
    """$KERAS_HAR_REFERENCE, else ../shared/reference beside the repository (as the tests)."""
    return pathlib.Path(os.environ.get("KERAS_HAR_REFERENCE") or REPO.parent / "shared" / "reference")


def measure(folder):
    import numpy as np

    import keras_har
    from keras_har.backend import software_versions
    from keras_har.models import load_official_weights

    windows = np.load(folder / "windows_and_logits.npz")
    x, official = windows["x"][:, 0], windows["logits"].astype("float64")
    rows = []
    for name in ("final_best_vali.pth", "state_dict.npz"):
        path = folder / name
        model = load_official_weights(keras_har.TinierHAR(input_shape=(200, 23), num_classes=12), path)
        logits = model.predict(x, batch_size=64, verbose=0).astype("float64")
        difference = np.abs(logits - official)
        rows.append({
            "source": name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "windows": int(len(x)),
            "max_abs_logit_difference": float(difference.max()),
            "mean_abs_logit_difference": float(difference.mean()),
            "argmax_agreement": int((logits.argmax(1) == official.argmax(1)).sum()),
            "accuracy_official": float((official.argmax(1) == windows["y"]).mean()),
            "accuracy_keras": float((logits.argmax(1) == windows["y"]).mean()),
        })
    from keras_har.export import convert_int8, run_tflm
    from keras_har.export.tflm import dequantize_outputs

    flatbuffer = convert_int8(model, x[::4])
    logits = dequantize_outputs(run_tflm(flatbuffer, x), flatbuffer).astype("float64")
    difference = np.abs(logits - official)
    rows.append({
        "source": "state_dict.npz -> int8 TFLM",
        "windows": int(len(x)),
        "flash_bytes": len(flatbuffer),
        "max_abs_logit_difference": float(difference.max()),
        "mean_abs_logit_difference": float(difference.mean()),
        "argmax_agreement": int((logits.argmax(1) == official.argmax(1)).sum()),
        "accuracy_official": float((official.argmax(1) == windows["y"]).mean()),
        "accuracy_keras": float((logits.argmax(1) == windows["y"]).mean()),
    })
    return {
        "checkpoint": "official TinierHAR, MHEALTH, M=4, N=16, input 200 x 23, 12 classes",
        "rows": rows,
        "versions": software_versions(),
    }


def markdown_table(results):
    lines = [
        "| source | windows | max abs logit difference | mean abs logit difference | same argmax | "
        "accuracy on these windows: official / keras_har |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| `{row['source']}` | {row['windows']} | {row['max_abs_logit_difference']:.2e} "
            f"| {row['mean_abs_logit_difference']:.2e} | {row['argmax_agreement']}/{row['windows']} "
            f"| {row['accuracy_official']:.4f} / {row['accuracy_keras']:.4f} |"
        )
    versions = ", ".join(f"{name} {version}" for name, version in results["versions"].items())
    lines.append(f"\nVersions: {versions}.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table-only", action="store_true", help="remake the table from the committed JSON")
    args = parser.parse_args(argv)
    if not args.table_only:
        folder = reference_dir() / "official_checkpoint_mhealth"
        if not folder.is_dir():
            raise SystemExit(f"no {folder}: set KERAS_HAR_REFERENCE to the folder holding official_checkpoint_mhealth/")
        write_json(RESULTS, measure(folder))
    results = json.loads(RESULTS.read_text())
    table = markdown_table(results)
    write_text(TABLE, table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
