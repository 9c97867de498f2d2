"""Times loading the staged HAR datasets: first load (parse + window) and cached load.

Usage:
    KERAS_HAR_DATA=/path/to/datasets python benchmarks/bench_loading.py \
        [--datasets hapt usc_had] [--repeats 3] [--out benchmarks/results]

The first load parses the original files into a fresh temporary cache; the
cached loads read that cache and cut the windows again. Writes
`datasets.md` (a markdown section), `datasets_loading.json` and
`datasets_class_counts.png` into `--out`.
"""

import argparse
import datetime
import pathlib
import platform
import tempfile
import time

import numpy as np

import keras_har
from keras_har.atomic import atomic_path, write_json, write_text


def bench(name, data_home, repeats):
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        data = keras_har.datasets.load_dataset(name, data_home=data_home, download_if_missing=False,
                                               cache_dir=cache_dir, verbose=True)
        first_sec = time.perf_counter() - start
        cached_sec = []
        for _ in range(repeats):
            start = time.perf_counter()
            keras_har.datasets.load_dataset(name, data_home=data_home, download_if_missing=False,
                                            cache_dir=cache_dir, verbose=False)
            cached_sec.append(time.perf_counter() - start)
        cache_bytes = sum(p.stat().st_size for p in pathlib.Path(cache_dir).rglob("*.npz"))
    counts = np.bincount(data.y, minlength=data.num_classes)
    return {
        "dataset": name, "windows": len(data), "window_shape": list(data.X.shape[1:]),
        "sampling_rate_hz": data.sampling_rate_hz, "window_sec": data.window_sec, "step_sec": data.step_sec,
        "subjects": int(len(np.unique(data.subjects))), "first_load_sec": first_sec,
        "cached_load_sec": cached_sec, "cache_bytes": cache_bytes,
        "class_counts": dict(zip(data.class_names, counts.tolist())),
        "paper_folds": len(keras_har.datasets.splits.paper_folds(name, data.subjects)),
    }


def markdown(results, command):
    lines = [
        "## Dataset loading (keras_har.datasets)", "",
        f"- Command: `{command}`",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        "- Machine: 2-core x86-64 VM, no GPU (shared with other jobs; run under `nice -n 10`)",
        f"- Python {platform.python_version()}, numpy {np.__version__}", "",
        "| dataset | windows | window (T, C) | rate (Hz) | window / step (s) | subjects | paper folds "
        "| first load: parse + window (s) | cached load (s), min of runs | cache size (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['windows']} | {tuple(r['window_shape'])} | {r['sampling_rate_hz']:g} "
            f"| {r['window_sec']:g} / {r['step_sec']:g} | {r['subjects']} | {r['paper_folds']} "
            f"| {r['first_load_sec']:.2f} | {min(r['cached_load_sec']):.2f} (runs: "
            f"{', '.join(f'{t:.2f}' for t in r['cached_load_sec'])}) | {r['cache_bytes'] / 1e6:.1f} |"
        )
    for r in results:
        lines += ["", f"Windows per class, {r['dataset']}:", "", "| class | windows |", "|---|---|"]
        lines += [f"| {name} | {count} |" for name, count in r["class_counts"].items()]
    return "\n".join(lines) + "\n"


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for axis, r in zip(axes[0], results):
        names, counts = zip(*r["class_counts"].items())
        axis.barh(range(len(names)), counts)
        axis.set_yticks(range(len(names)), names, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlabel("windows")
        axis.set_title(f"{r['dataset']}: {r['windows']} windows of {r['window_sec']:g} s")
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="default: $KERAS_HAR_DATA")
    parser.add_argument("--datasets", nargs="+", default=["hapt", "usc_had"])
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to time")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    args = parser.parse_args()
    data_home = keras_har.datasets.get_data_home(args.data_home)
    results = [bench(name, data_home, args.repeats) for name in args.datasets]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "nice -n 10 python benchmarks/bench_loading.py " + " ".join(
        ["--datasets", *args.datasets, "--repeats", str(args.repeats)])
    text = markdown(results, command)
    write_json(out / "datasets_loading.json", results)
    write_text(out / "datasets.md", text)
    plot(results, out / "datasets_class_counts.png")
    print(text)


if __name__ == "__main__":
    main()
