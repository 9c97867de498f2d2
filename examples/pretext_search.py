"""A small search over the pretext's learning rate and the encoder's width, scored on validation subjects.

The "Don't freeze" paper chose each pretext's hyperparameters by a search (20
configurations, 50 epochs, early stopping). This script runs a small grid of
that kind for the paper preset of `examples/dont_freeze.py` (same data,
windows, encoder and pretraining settings, read from the same options):

- for each learning rate in ``--learning-rates`` and each width (GRU units per
  direction) in ``--widths``, the pretext is pretrained on the pool of one
  target fold (``--fold``): every window of the other ``--datasets`` and of
  that fold's training subjects, never its test subjects;
- each pretrained encoder is fine-tuned, frozen and finetuned, with k windows
  per class (``--windows-per-class``, default 10) from an inner split of the
  fold's training subjects (``--inner-splits`` subject folds; the first one's
  subjects validate), and scored by macro-F1 on those validation subjects.
  The fold's test subjects are not used at all, so the choice can be applied
  to the study without touching its test data. The validation subjects'
  windows are in the pool, unlabelled, as every training subject's is in the
  study.

Writes to ``--output``: ``search.csv`` (one row per fit, with the
configuration, its lowest pretext loss and its pretraining epochs),
``summary.csv`` (mean, std, 95% CI and n of macro-F1 per configuration, mode
and k), ``best.json`` (the configuration with the highest mean macro-F1 of
``--select``, averaged over k), ``search.png`` (macro-F1 against learning
rate, one line per width, one panel per mode), ``versions.json``, and each
configuration's pretrained pretext and fits. A rerun skips finished
pretrainings and fits and continues a killed pretraining; a rerun with other
settings is refused. ``--table DIR`` prints a finished folder's summary as
markdown.

Example:
    KERAS_HAR_DATA=/path/to/datasets nice -n 10 python examples/pretext_search.py --target hapt --pretext cpc \\
        --learning-rates 3e-4,1e-3,3e-3 --widths 128,256 --pretrain-epochs 20 --output runs/pretext_search
"""

import argparse
import importlib.util
import json
import pathlib


def _study_module():
    """``examples/dont_freeze.py``, whose data loading, pretraining and settings this search shares."""
    spec = importlib.util.spec_from_file_location("dont_freeze", pathlib.Path(__file__).with_name("dont_freeze.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study_module = _study_module()
SETTINGS_FILE = "search.json"
SEARCH_SETTINGS = ("target", "pretext", "fold", "inner_splits", "learning_rates", "widths")


def _numbers(kind):
    def parse(text):
        try:
            values = [kind(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None
        if not values or min(values) <= 0:
            raise argparse.ArgumentTypeError(f"expected positive values, got {text!r}")
        return values

    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/pretext_search", help="output folder")
    study_module.add_study_arguments(parser)
    parser.add_argument("--target", default="hapt", help="the dataset (of --datasets) whose subjects score")
    parser.add_argument("--pretext", default="cpc", help="one pretext: cpc, multitask, reconstruction or simclr")
    parser.add_argument("--fold", type=int, default=0, help="the target fold whose pool pretrains (default: 0)")
    parser.add_argument("--inner-splits", type=int, default=4,
                        help="subject folds of the fold's training subjects; the first validates (default: 4)")
    parser.add_argument("--learning-rates", type=_numbers(float), default=[3e-4, 1e-3, 3e-3],
                        help="pretext learning rates, comma-separated (default: 3e-4,1e-3,3e-3)")
    parser.add_argument("--widths", type=_numbers(int), default=[128, 256],
                        help="the encoder's GRU units per direction, comma-separated (default: 128,256)")
    parser.add_argument("--select", choices=("finetune", "frozen"), default="finetune",
                        help="the mode whose validation macro-F1 picks the best configuration")
    parser.add_argument("--table", metavar="DIR", default=None,
                        help="print the markdown summary of a finished --output folder and exit (runs nothing)")
    parser.set_defaults(windows_per_class="10")
    args = parser.parse_args(argv)
    if args.table is not None:
        return args
    study_module.apply_preset(args, "paper")
    if args.target not in args.datasets.split(","):
        parser.error(f"--target must be one of --datasets {args.datasets!r}. Received: --target {args.target!r}")
    if args.gru_units is not None:
        parser.error("--gru-units is the study's one width; the search takes its widths from --widths")
    return args


def run_config(args, learning_rate, width, pool, target_train, output, study):
    """Pretrains one configuration and fine-tunes it on the inner split; its rows of ``search.csv``."""
    from keras_har import ssl

    name = f"{args.pretext}_lr{learning_rate:g}_units{width}"
    config = argparse.Namespace(**{**vars(args), "pretrain_learning_rate": learning_rate, "gru_units": width})
    pretext, loss = study_module.pretrained_model(args.pretext, pool, output / "pretrained" / name, config,
                                                  seed=args.split_seed)
    table = ssl.label_scarce_study(pretext, target_train, modes=["frozen", "finetune"], n_splits=args.inner_splits,
                                   fold_indices=[0], **study, output_dir=output / "fits" / name)
    return table.assign(pretext=args.pretext, learning_rate=learning_rate, gru_units=width,
                        pretext_loss=min(loss), pretrain_epochs=len(loss))


def summarize(results):
    """`keras_har.ssl.summarize` per configuration, with its pretraining's lowest loss and epochs."""
    import pandas as pd

    from keras_har import ssl

    tables = []
    for (learning_rate, width), rows in results.groupby(["learning_rate", "gru_units"], sort=True):
        tables.append(ssl.summarize(rows).assign(learning_rate=learning_rate, gru_units=width,
                                                 pretext_loss=rows["pretext_loss"].iloc[0],
                                                 pretrain_epochs=int(rows["pretrain_epochs"].iloc[0])))
    summary = pd.concat(tables, ignore_index=True)
    first = ["learning_rate", "gru_units"]
    return summary[first + [c for c in summary.columns if c not in first]]


def best_configuration(summary, mode):
    """The configuration with the highest mean macro-F1 of ``mode``, averaged over k."""
    scores = summary[summary["mode"] == mode].groupby(["learning_rate", "gru_units"])["macro_f1_mean"].mean()
    learning_rate, width = scores.idxmax()
    return {"learning_rate": float(learning_rate), "gru_units": int(width), "mode": mode,
            "macro_f1_mean_over_k": float(scores.max())}


def plot_search(summary, path, title):
    """Macro-F1 against learning rate, one line per width, one panel per mode and k (png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_har import atomic

    panels = list(summary.groupby(["mode", "windows_per_class"]))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False, sharey=True)
    for axis, ((mode, k), panel) in zip(axes[0], panels):
        for width, lines in panel.groupby("gru_units"):
            low = (lines["macro_f1_mean"] - lines["macro_f1_ci95_low"]).fillna(0)
            high = (lines["macro_f1_ci95_high"] - lines["macro_f1_mean"]).fillna(0)
            axis.errorbar(lines["learning_rate"], lines["macro_f1_mean"], yerr=[low, high], marker="o", capsize=3,
                          label=f"{width} GRU units")
        axis.set_xscale("log")
        rates = sorted(set(panel["learning_rate"]))
        axis.set_xticks(rates, [f"{rate:g}" for rate in rates])
        axis.set_xticks([], minor=True)  # the log axis's own minor labels would overlap the rates
        axis.set_title(f"{mode}, k={k}")
        axis.set_xlabel("pretext learning rate")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation macro-F1")
    axes[0][-1].legend(fontsize=7)
    figure.suptitle(title, fontsize=9, wrap=True)
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=110, format="png", bbox_inches="tight")
    plt.close(figure)


def markdown_table(folder):
    """Markdown of a search folder's ``summary.csv``: one row per configuration and mode, k as columns."""
    import pandas as pd

    folder = pathlib.Path(folder)
    if not (folder / "summary.csv").is_file():
        raise SystemExit(f"--table: {folder} lacks summary.csv; run the search into it first. "
                         f"Received: --table {str(folder)!r}")
    summary = pd.read_csv(folder / "summary.csv")
    ks = sorted(set(summary["windows_per_class"]))
    header = " | ".join(f"k={k}" for k in ks)
    lines = [f"| learning rate | GRU units | lowest pretext loss (epochs) | mode | {header} |",
             "|---|---|---|---|" + "---|" * len(ks)]
    for (learning_rate, width, mode), rows in summary.groupby(["learning_rate", "gru_units", "mode"], sort=True):
        cells = {row.windows_per_class: study_module.cell(row.macro_f1_mean, row.macro_f1_ci95_low,
                                                          row.macro_f1_ci95_high, int(row.fits))
                 for row in rows.itertuples()}
        first = rows.iloc[0]
        lines.append(f"| {learning_rate:g} | {width} | {first.pretext_loss:.3f} ({first.pretrain_epochs}) | {mode} | "
                     + " | ".join(cells.get(k, "-") for k in ks) + " |")
    if (folder / "best.json").is_file():
        best = json.loads((folder / "best.json").read_text())
        lines += ["", f"Best by {best['mode']} macro-F1 (mean over k): learning rate {best['learning_rate']:g}, "
                      f"{best['gru_units']} GRU units ({best['macro_f1_mean_over_k']:.3f})."]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.table is not None:
        print(markdown_table(args.table))
        return None
    import pandas as pd

    from keras_har import atomic, run_settings, ssl
    from keras_har.backend import software_versions
    from keras_har.datasets.splits import subject_kfold

    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    settings = {key: getattr(args, key) for key in study_module.STUDY_SETTINGS + SEARCH_SETTINGS
                if hasattr(args, key)}
    run_settings.check_or_write(output / SETTINGS_FILE, settings, holds="a search run with other settings",
                                remedy="give those settings again, or another --output")
    study = study_module.fit_settings(args)
    data = {}
    for given in args.datasets.split(","):
        dataset = study_module.load(given, args)
        data[given] = dataset
        print(dataset)
    target = data[args.target]
    folds = subject_kfold(target.subjects, args.n_splits, args.split_seed)
    if not 0 <= args.fold < len(folds):
        raise SystemExit(f"--fold must be below --n-splits ({len(folds)}). Received: --fold {args.fold}")
    train, _ = folds[args.fold]
    pool = study_module.standardised(*[d.X for name, d in data.items() if name != args.target], target.X[train])
    target_train = target.subset(train)
    tables = [run_config(args, learning_rate, width, pool, target_train, output, study)
              for width in args.widths for learning_rate in args.learning_rates]
    results = pd.concat(tables, ignore_index=True)
    ssl.save_csv(results, output / "search.csv")
    summary = summarize(results)
    ssl.save_csv(summary, output / "summary.csv")
    best = best_configuration(summary, args.select)
    atomic.write_json(output / "best.json", best)
    plot_search(summary, output / "search.png",
                title=f"{args.pretext} on {args.encoder}: validation macro-F1 (95% CI), fold {args.fold}'s "
                      f"training subjects of {target.name}")
    atomic.write_json(output / "versions.json", software_versions())
    print(summary.to_string(index=False))
    print(f"best: {best}")
    return summary


if __name__ == "__main__":
    main()
