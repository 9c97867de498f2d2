"""The "Don't freeze" study on real data: pretrain, then fine-tune with k labels per class.

Reproduces the comparison of Dumbrava et al., "Don't freeze: Finetune
encoders for better Self-Supervised HAR" (arXiv:2307.01168) with keras_har:
for each target dataset and pretext, an encoder is pretrained on unlabelled
windows (variance-weighted 10% per epoch), then fine-tuned on the target
with 1, 2, 5, 10, 50, 100 labelled windows per class, frozen vs finetuned,
against the same architecture trained from scratch; macro-F1 on held-out
subjects. Each fit is trained with `keras_har.ssl.FINETUNE_RECIPE` (early
stopping on a fifth of the labelled windows; with one window per class, on
the training windows) through `keras_har.evaluation.run_fold`.

Two presets:

- ``--preset paper`` (the paper's protocol as far as our data allows):
  accelerometer channels only, resampled to 50 Hz, 2 s windows (re-windowed
  from the raw recordings of a built-in dataset); the CNN+GRU encoder with
  256 features and a forward GRU (``--encoder cnngru-causal``,
  `keras_har.ssl.make_encoder`), which CPC and multitask pretrain as their
  context network, as in the CPC for HAR the paper builds on (with
  ``--encoder cnngru``'s bidirectional GRU, CPC cannot: the GRU stays at its
  initial weights until fine-tuning); one 5-fold subject split
  shared by 3 seeds (``--split-seed``; the paper draws a new split with
  each seed, which would need a pretraining per seed and fold); for each
  target fold, the pretext is pretrained on the **pool**: every window of
  the other ``--datasets`` and the target's training subjects of that fold
  (never its test subjects), standardised together, for at most 50 epochs
  with early stopping on the pretext loss (patience 5). The pretext's
  learning rate and width are not searched (the paper searched 20
  configurations).
- ``--preset reduced`` (the default; the committed table of BENCHMARKS.md):
  both datasets at 50 Hz, 4 s windows, the 6 channels acc x/y/z, gyro x/y/z
  they share, pretraining once on the other dataset (``--directions``).

``--pretext-weight W`` adds one more row per pretext, ``finetune+pretext``:
finetuning that keeps the pretext loss at weight W (the paper's open
question 3), compared with plain finetuning.

Writes to ``--output``: ``results.csv`` (one row per fit), ``summary.csv``
(mean, std, 95% CI and n per target, pretext, mode and k),
``differences.csv`` (finetune - frozen, finetune - scratch and frozen -
scratch, paired by seed and fold, with their 95% CI), ``trends.csv`` (how
each difference changes per tenfold windows per class, fitted per seed and
fold, with its 95% CI: `keras_har.ssl.difference_trends`), ``versions.json``
(the software that wrote the tables), ``dont_freeze.png``
(the paper's Figure 2: macro-F1 against windows per class), the pretrained
models under ``pretrained/`` with a copy of each one's ``pretrain.json``
(its loss curve) as ``pretrain_NAME.json`` and the curves in
``pretraining_loss.png``, and every fit's files under ``fits/``. A rerun
skips the finished pretraining and fits, continues a killed pretraining from
its last finished epoch, and ``--fold-indices`` splits a run
across processes that share ``--output``; a last call without it gathers
every fold into the tables. ``--merge DIR... --output OUT`` writes the
tables of study folders of the same settings (``study.json``; folds run on
other machines, or committed results) from their ``results.csv``, and the
loss curves from their pretrained models or ``pretrain_NAME.json``, training
nothing. ``--table DIR`` prints a finished folder's
tables as markdown (cells: mean [95% CI] (n)).

Example:
    KERAS_HAR_DATA=/path/to/datasets nice -n 10 python examples/dont_freeze.py --preset paper \\
        --pretexts cpc,multitask --windows-per-class 1,5,10,100 --fold-indices 0-1 --output runs/dont_freeze_paper
"""

import argparse
import dataclasses
import json
import os
import pathlib
import time

DIRECTIONS = ("usc_had:hapt", "hapt:usc_had")
PRESETS = {
    "reduced": dict(sampling_rate_hz=50.0, window_sec=4.0, channels="acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z",
                    encoder="tinierhar", pool="source", pretrain_epochs=20, pretrain_patience=0, seeds="0",
                    split_seed=None),
    "paper": dict(sampling_rate_hz=50.0, window_sec=2.0, channels="acc_x,acc_y,acc_z", encoder="cnngru-causal",
                  pool="all-but-test", pretrain_epochs=50, pretrain_patience=5, seeds="0,1,2", split_seed=0),
}

# The mode of the fits that keep the pretext loss while finetuning (--pretext-weight), and its comparison.
CONTINUED = "finetune+pretext"
COMPARISONS = (("finetune", "frozen"), ("finetune", "scratch"), ("frozen", "scratch"), (CONTINUED, "finetune"))
# What a study folder's results depend on, written to SETTINGS_FILE by the first call and checked by every
# later one (--fold-indices, --folds, --targets and --pretexts may differ between the calls that share it).
SETTINGS_FILE = "study.json"
STUDY_SETTINGS = ("preset", "datasets", "directions", "pool", "encoder", "gru_units", "channels", "sampling_rate_hz",
                  "window_sec", "pretrain_epochs", "pretrain_patience", "pretrain_learning_rate", "fraction",
                  "prediction_steps", "windows_per_class", "epochs", "n_splits", "seeds", "split_seed")


def add_study_arguments(parser):
    """The settings dont_freeze.py shares with pretext_search.py: data, encoder, pretraining, fine-tuning."""
    from keras_har.commands.pretrain import ENCODERS

    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"),
                        help="folder with hapt/ and usc_had/ (default: $KERAS_HAR_DATA)")
    parser.add_argument("--datasets", default="hapt,usc_had",
                        help="the datasets (names or .npz paths): each is a target, and the others pretrain for it")
    parser.add_argument("--channels", default=None, help="comma-separated channel names every dataset has")
    parser.add_argument("--sampling-rate-hz", type=float, default=None)
    parser.add_argument("--window-sec", type=float, default=None)
    parser.add_argument("--encoder", choices=ENCODERS, default=None,
                        help="the encoder (see `keras_har.ssl.make_encoder`): tinierhar, cnngru (bidirectional GRU) "
                             "or cnngru-causal (forward GRU, which CPC trains as its context network)")
    parser.add_argument("--gru-units", type=int, default=None,
                        help="the encoder's width, GRU units per direction (default: the encoder's own)")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="most pretraining epochs")
    parser.add_argument("--pretrain-patience", type=int, default=None,
                        help="stop pretraining after this many epochs without a lower pretext loss (0: never)")
    parser.add_argument("--pretrain-learning-rate", type=float, default=1e-3)
    parser.add_argument("--fraction", type=float, default=0.1, help="share of unlabelled windows drawn per epoch")
    parser.add_argument("--prediction-steps", type=int, default=12, help="CPC future steps")
    parser.add_argument("--windows-per-class", default="1,2,5,10,50,100")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most fine-tuning epochs per fit, with early stopping on a fifth of the labelled "
                             "windows (default: keras_har.ssl.FINETUNE_RECIPE)")
    parser.add_argument("--n-splits", type=int, default=5, help="folds of the subject split")
    parser.add_argument("--seeds", default=None)
    parser.add_argument("--split-seed", type=int, default=None,
                        help="one subject split for every seed (pool 'all-but-test' needs one)")


def fit_settings(args):
    """`keras_har.ssl.label_scarce_study` keywords from the options: k values, seeds, split seed, recipe."""
    from keras_har import ssl

    recipe = ssl.FINETUNE_RECIPE
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    return dict(windows_per_class=[int(k) for k in args.windows_per_class.split(",")],
                seeds=[int(s) for s in args.seeds.split(",")], split_seed=args.split_seed, recipe=recipe)


def apply_preset(args, preset):
    """Fills every setting ``args`` has but left unset (None) with ``preset``'s value."""
    for key, value in PRESETS[preset].items():
        if hasattr(args, key) and getattr(args, key) is None:
            setattr(args, key, value)
    return args


def parse_args(argv=None):
    from keras_har.commands.evaluate import parse_fold_indices

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="reduced",
                        help="the defaults of the settings below (see the module docstring)")
    parser.add_argument("--output", default="runs/dont_freeze", help="output folder")
    add_study_arguments(parser)
    parser.add_argument("--targets", default=None, help="evaluate only on these of --datasets (default: all)")
    parser.add_argument("--directions", default=",".join(DIRECTIONS),
                        help="source:target pairs, comma-separated (pool 'source' only)")
    parser.add_argument("--pool", choices=("source", "all-but-test"), default=None,
                        help="pretrain on the source of each direction, once; or, per target fold, on every "
                             "dataset but that fold's test subjects")
    parser.add_argument("--pretexts", default="cpc,multitask,reconstruction,simclr", help="comma-separated pretexts")
    parser.add_argument("--pretext-weight", type=float, default=0.0,
                        help=f"above 0, one more row per pretext, '{CONTINUED}': finetuning that keeps the pretext "
                             "loss with this weight (the paper's open question 3; default: 0, no such row)")
    parser.add_argument("--folds", type=int, default=None, help="run only the first FOLDS folds")
    parser.add_argument("--fold-indices", type=parse_fold_indices, default=None, metavar="LIST",
                        help="run only these folds, e.g. '0-1' (processes with other folds can share --output)")
    parser.add_argument("--table", metavar="DIR", default=None,
                        help="print the markdown tables of a finished --output folder and exit (runs nothing)")
    parser.add_argument("--merge", nargs="+", metavar="DIR", default=None,
                        help="write the tables of these study folders (of one study's settings, e.g. folds run on "
                             "other machines) into --output, from their results.csv and pretraining loss curves; "
                             "trains nothing")
    args = parser.parse_args(argv)
    if args.table is not None or args.merge is not None:
        return args
    apply_preset(args, args.preset)
    if args.pool == "all-but-test" and args.split_seed is None:
        parser.error("--pool all-but-test pretrains one encoder per fold, so every seed must share the folds: "
                     "give --split-seed")
    return args


def load(name, args):
    """A dataset (built-in name or .npz) on the study's rate, window and channels."""
    from keras_har import datasets, ssl

    window_length = int(round(args.window_sec * args.sampling_rate_hz))
    if datasets.is_npz_path(name):
        dataset = ssl.load_windows(name)
    else:  # re-windowed from the raw recordings at the study's window length
        dataset = datasets.load_dataset(name, data_home=args.data_home, window_sec=args.window_sec, verbose=False)
    return ssl.resample_dataset(dataset, args.sampling_rate_hz, window_length, channels=args.channels.split(","))


def acceleration_channels(args):
    """Indices of the acceleration channels, which the variance-weighted sampler scores."""
    names = args.channels.split(",")
    indices = [i for i, name in enumerate(names) if name.startswith("acc")]
    return indices or None


def pretrained_model(pretext_name, unlabelled, directory, args, seed):
    """Pretrains a pretext into ``directory``, or loads it when it is already there.

    ``unlabelled`` returns the standardised windows to pretrain on; it is
    called only when the pretext has to be trained.
    """
    from keras_har import ssl
    from keras_har.backend import keras

    if (directory / ssl.pretraining.PRETEXT_FILE).is_file():
        return ssl.load_pretext(directory), ssl.load_metadata(directory)["loss"]
    windows = unlabelled()
    keras.utils.set_random_seed(seed)
    kwargs = {"prediction_steps": args.prediction_steps} if pretext_name in ("cpc", "multitask") else {}
    if pretext_name == "simclr":
        kwargs["seed"] = seed
    window_shape = tuple(windows.shape[1:])
    encoder = ssl.make_encoder(args.encoder, window_shape, args.gru_units)
    pretext = ssl.get_pretext_class(pretext_name)(encoder, **kwargs)
    checkpoint = directory.with_name(f"{directory.name}.checkpoint.npz")
    print(f"pretraining {pretext_name} on {len(windows)} windows -> {directory}")
    history = ssl.pretrain(pretext, windows, epochs=args.pretrain_epochs, fraction=args.fraction,
                           learning_rate=args.pretrain_learning_rate, acceleration_channels=acceleration_channels(args),
                           seed=seed, patience=args.pretrain_patience, checkpoint=checkpoint, verbose=2)
    loss = [float(v) for v in history.history["loss"]]
    ssl.save_pretrained(pretext, directory, metadata={
        "loss": loss, "windows": int(len(windows)), "sampling_rate_hz": args.sampling_rate_hz,
        "window_length": int(window_shape[0]), "channel_names": args.channels.split(","), "encoder": args.encoder,
        "gru_units": args.gru_units,
        "learning_rate": args.pretrain_learning_rate, "epochs_max": args.pretrain_epochs,
        "patience": args.pretrain_patience})
    checkpoint.unlink()  # the epoch state is only needed until the pretext is saved
    return pretext, loss


def standardised(*arrays):
    """A function giving the arrays concatenated and standardised, computed on its first call only."""
    import functools

    import numpy as np
    from keras_har.datasets import Standardizer

    return functools.cache(lambda: Standardizer().fit_transform(np.concatenate(arrays)))


def run_pooled(args, data, study, output):
    """Per target fold: pretrain on every dataset but that fold's test subjects, then run its cells."""
    from keras_har import ssl
    from keras_har.datasets.splits import subject_kfold
    from keras_har.evaluation import select_folds

    targets = args.targets.split(",") if args.targets else list(data)
    tables = []
    for target in targets:
        dataset = data[target]
        folds = subject_kfold(dataset.subjects, args.n_splits, args.split_seed)
        selected = select_folds(args.fold_indices, len(folds), first=args.folds)
        selected = list(range(len(folds))) if selected is None else selected
        others = [d.X for name, d in data.items() if name != target]
        started = time.time()
        tables.append(_scratch(args, dataset, study, output, target).assign(source="pool", target=target))
        print(f"scratch on {target}: {time.time() - started:.0f} s")
        for fold in selected:
            # One pool per fold, shared by the pretexts (and not built when they are all pretrained).
            pool = standardised(*others, dataset.X[folds[fold][0]])
            for pretext_name in args.pretexts.split(","):
                directory = output / "pretrained" / f"{pretext_name}_{target}_fold{fold}"
                pretext, _ = pretrained_model(pretext_name, pool, directory, args, seed=args.split_seed)
                fits = output / "fits" / f"{pretext_name}_{target}_fold{fold}"
                table = ssl.label_scarce_study(pretext, dataset, modes=["frozen", "finetune"], fold_indices=[fold],
                                               **study, output_dir=fits)
                tables.append(table.assign(source="pool", target=target, pretext=pretext_name))
                if args.pretext_weight > 0:
                    table = _continued(args, pretext, dataset, study, fits, folds=None, fold_indices=[fold])
                    tables.append(table.assign(source="pool", target=target, pretext=pretext_name))
    return tables


def run_directions(args, data, study, output):
    """Pretrain once on each direction's source dataset, then run the target's cells."""
    from keras_har import ssl

    tables = []
    for source, target in (tuple(pair.split(":")) for pair in args.directions.split(",")):
        tables.append(_scratch(args, data[target], study, output, target).assign(source=source, target=target))
        unlabelled = standardised(data[source].X)
        for pretext_name in args.pretexts.split(","):
            pretext, _ = pretrained_model(pretext_name, unlabelled, output / "pretrained" / f"{pretext_name}_{source}",
                                          args, seed=study["seeds"][0])
            fits = output / "fits" / f"{pretext_name}_{source}_to_{target}"
            table = ssl.label_scarce_study(pretext, data[target], modes=["frozen", "finetune"], folds=args.folds,
                                           fold_indices=args.fold_indices, **study, output_dir=fits)
            tables.append(table.assign(source=source, target=target, pretext=pretext_name))
            if args.pretext_weight > 0:
                table = _continued(args, pretext, data[target], study, fits, folds=args.folds,
                                   fold_indices=args.fold_indices)
                tables.append(table.assign(source=source, target=target, pretext=pretext_name))
    return tables


def _continued(args, pretext, dataset, study, fits, *, folds, fold_indices):
    """The finetune fits that keep the pretext loss at --pretext-weight, as mode CONTINUED, beside ``fits``."""
    from keras_har import ssl

    table = ssl.label_scarce_study(pretext, dataset, modes=["finetune"], folds=folds, fold_indices=fold_indices,
                                   pretext_weight=args.pretext_weight, **study,
                                   output_dir=fits.with_name(f"{fits.name}_pretext{args.pretext_weight:g}"))
    return table.assign(mode=CONTINUED)


def _scratch(args, dataset, study, output, target):
    """The scratch cells: the pretrained models' exact architecture (the projection to 256 included), new weights."""
    from keras_har import ssl
    from keras_har.backend import keras

    keras.utils.set_random_seed(study["seeds"][0])
    encoder = ssl.make_encoder(args.encoder, tuple(dataset.X.shape[1:]), args.gru_units)
    architecture = ssl.PretextModel(encoder).feature_model()
    table = ssl.label_scarce_study(architecture, dataset, modes=["scratch"], folds=args.folds,
                                   fold_indices=args.fold_indices, **study,
                                   output_dir=output / "fits" / f"scratch_{target}")
    return table.assign(pretext="none")


def read_pretraining(folders):
    """Each pretrained model's loss curve in ``folders``: ``{NAME: (record, path it was read from)}``.

    NAME is the model's folder under ``pretrained/`` (``PRETEXT_TARGET_foldN`` or ``PRETEXT_SOURCE``); its
    ``pretrain.json`` is read from there, or from a ``pretrain_NAME.json`` already gathered (a committed
    study folder holds those, without the models), the former first. The same model found in two folders
    with another loss curve is refused. Writes nothing.
    """
    from keras_har.ssl.pretraining import METADATA_FILE

    curves = {}
    for folder in map(pathlib.Path, folders):
        # A folder's models outrank its gathered copies (a model pretrained again after a copy was gathered).
        found = {path.parent.name: path for path in sorted((folder / "pretrained").glob(f"*/{METADATA_FILE}"))}
        found = {path.stem.removeprefix("pretrain_"): path for path in sorted(folder.glob("pretrain_*.json"))} | found
        for name, path in found.items():
            record = json.loads(path.read_text())
            if name in curves and curves[name][0]["loss"] != record["loss"]:
                raise ValueError(f"--merge: the pretrained model {name} has another loss curve in {path} than in "
                                 f"{curves[name][1]}; they are not runs of one study.")
            curves[name] = (record, path)
    return curves


def write_pretraining(curves, output):
    """The curves of `read_pretraining` as ``pretrain_NAME.json`` in ``output``, drawn in ``pretraining_loss.png``.

    Returns the records by NAME.
    """
    from keras_har import atomic

    output.mkdir(parents=True, exist_ok=True)
    for name, (record, path) in curves.items():
        if path != output / f"pretrain_{name}.json":
            atomic.write_json(output / f"pretrain_{name}.json", record)
    records = {name: record for name, (record, _) in curves.items()}
    if records:
        plot_losses(records, output / "pretraining_loss.png")
    return records


def gather_pretraining(folders, output):
    """`read_pretraining` of ``folders``, then `write_pretraining` into ``output``. Returns the records by NAME."""
    return write_pretraining(read_pretraining(folders), output)


def plot_losses(records, path):
    """The pretext loss per epoch, one panel per pretext, one line per pretrained model (target and fold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_har import atomic

    # NAME = PRETEXT_rest (`gather_pretraining`); pretext names hold no underscore.
    curves = sorted((*name.split("_", 1), record["loss"]) for name, record in records.items())
    pretexts = sorted({pretext for pretext, _, _ in curves})
    figure, axes = plt.subplots(1, len(pretexts), figsize=(4.2 * len(pretexts), 3.2), squeeze=False)
    for axis, pretext in zip(axes[0], pretexts):
        for label, loss in ((label, loss) for name, label, loss in curves if name == pretext):
            axis.plot(range(1, len(loss) + 1), loss, label=label.replace("_fold", " fold "))
        axis.set_title(pretext)
        axis.set_xlabel("pretraining epoch")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("pretext loss")
    axes[0][-1].legend(fontsize=7)
    figure.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)


def cell(mean, low, high, n, signed=False):
    """``0.512 [0.47, 0.55] (9)``: a mean, its 95% CI and n; no interval for one value."""
    sign = "+" if signed else ""
    if n < 2:
        return f"{mean:{sign}.3f} (1)"
    return f"{mean:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}] ({n})"


def markdown_tables(folder):
    """Markdown of a study folder's ``summary.csv`` and ``differences.csv`` (one row per cell, k as columns), and
    of its ``trends.csv`` where it has one."""
    import pandas as pd

    folder = pathlib.Path(folder)
    missing = [name for name in ("summary.csv", "differences.csv") if not (folder / name).is_file()]
    if missing:
        raise SystemExit(f"--table: {folder} lacks {', '.join(missing)}; run the study into it first. "
                         f"Received: --table {str(folder)!r}")
    summary, differences = pd.read_csv(folder / "summary.csv"), pd.read_csv(folder / "differences.csv")
    # "pool->hapt", "usc_had->hapt": differences.csv already carries its source and target in one column.
    summary = summary.assign(data=summary["source"] + "->" + summary["target"])
    differences = differences.assign(data=differences["source"])
    ks = sorted(set(summary["windows_per_class"]))
    header = " | ".join(f"k={k}" for k in ks)
    lines = [f"| data | pretext | mode | {header} |", "|---|---|---|" + "---|" * len(ks)]
    for (data, pretext, mode), rows in summary.groupby(["data", "pretext", "mode"], sort=False):
        cells = {row.windows_per_class: cell(row.macro_f1_mean, row.macro_f1_ci95_low, row.macro_f1_ci95_high,
                                              int(row.fits)) for row in rows.itertuples()}
        lines.append(f"| {data} | {pretext} | {mode} | " + " | ".join(cells.get(k, "-") for k in ks) + " |")
    lines += ["", f"| data | pretext | difference | {header} |", "|---|---|---|" + "---|" * len(ks)]
    for (data, pretext, mode, baseline), rows in differences.groupby(["data", "pretext", "mode", "baseline"],
                                                                       sort=False):
        cells = {row.windows_per_class: cell(row.difference_mean, row.difference_ci95_low, row.difference_ci95_high,
                                              int(row.pairs), signed=True) for row in rows.itertuples()}
        lines.append(f"| {data} | {pretext} | {mode} − {baseline} | "
                     + " | ".join(cells.get(k, "-") for k in ks) + " |")
    trends = pd.read_csv(folder / "trends.csv") if (folder / "trends.csv").is_file() else pd.DataFrame()
    if len(trends):
        lines += ["", "| data | pretext | difference | change per tenfold windows per class | seed-folds falling |",
                  "|---|---|---|---|---|"]
        for row in trends.itertuples():
            lines.append(f"| {row.source} | {row.pretext} | {row.mode} − {row.baseline} | "
                         f"{cell(row.slope_mean, row.slope_ci95_low, row.slope_ci95_high, int(row.units), signed=True)}"
                         f" | {row.units_falling} of {row.units} |")
    if (folder / "versions.json").is_file():
        versions = json.loads((folder / "versions.json").read_text())
        lines += ["", "Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()) + "."]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.table is not None:
        print(markdown_tables(args.table))
        return None
    if args.merge is not None:
        return merge_folders(args.merge, pathlib.Path(args.output))
    import pandas as pd

    from keras_har import run_settings

    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    # The pretrained encoders and fits in --output are reused on a rerun: refuse other settings.
    run_settings.check_or_write(output / SETTINGS_FILE, {key: getattr(args, key) for key in STUDY_SETTINGS},
                                holds="a study run with other settings",
                                remedy="give those settings again, or another --output")
    study = fit_settings(args) | dict(n_splits=args.n_splits)
    names = args.datasets.split(",") if args.pool == "all-but-test" else sorted(
        {name for pair in args.directions.split(",") for name in pair.split(":")})
    # Keyed by the dataset's name (an .npz file's stem), which also names the output folders.
    loaded = {given: load(given, args) for given in names}
    data = {dataset.name: dataset for dataset in loaded.values()}
    for dataset in data.values():
        print(dataset)
    unknown = [t for t in (args.targets or "").split(",") if t and t not in loaded]
    if unknown:
        raise SystemExit(f"--targets must be among --datasets {names}. Received: {unknown}")
    args.targets = args.targets and ",".join(loaded[t].name for t in args.targets.split(","))
    args.directions = ",".join(":".join(loaded[n].name for n in pair.split(":")) for pair in args.directions.split(",")
                               ) if args.pool == "source" else args.directions
    run = run_pooled if args.pool == "all-but-test" else run_directions
    results = pd.concat(run(args, data, study, output), ignore_index=True)
    gather_pretraining([output], output)
    return write_tables(results, output, args.encoder)


# A fit is identified by these columns of results.csv.
FIT_KEYS = ["source", "target", "pretext", "mode", "windows_per_class", "seed", "fold"]


def write_tables(results, output, encoder):
    """results.csv, summary.csv, differences.csv, versions.json and the Figure-2 plot of a study's fits."""
    import pandas as pd

    from keras_har import atomic, ssl
    from keras_har.backend import software_versions

    ssl.save_csv(results, output / "results.csv")
    summary = ssl.summarize(results)
    ssl.save_csv(summary, output / "summary.csv")
    # Scratch does not depend on the pretext: draw its line in every panel, and pair it with each pretext's fits.
    pretexts = sorted(set(results["pretext"]) - {"none"})
    scratch = results[results["mode"] == "scratch"]
    pretrained = results[results["mode"] != "scratch"]
    plotted = pd.concat([pretrained] + [scratch.assign(pretext=p) for p in pretexts], ignore_index=True)
    plotted = plotted.assign(source=plotted["source"] + "->" + plotted["target"]).drop(columns="target")
    ssl.plot_study(plotted, output / "dont_freeze.png",
                   title=f"{encoder} encoder, macro-F1 on held-out subjects (95% CI)")
    differences = ssl.study_differences(plotted, comparisons=COMPARISONS)
    ssl.save_csv(differences, output / "differences.csv")
    ssl.save_csv(ssl.difference_trends(plotted, comparisons=COMPARISONS), output / "trends.csv")
    atomic.write_json(output / "versions.json", software_versions())
    print(summary.to_string(index=False))
    print(differences.to_string(index=False))
    return summary


def merge_folders(folders, output):
    """The tables of several study folders of the same settings (e.g. folds run on other machines), in ``output``.

    Reads each folder's ``results.csv`` and ``study.json``; refuses folders of other settings, and a fit
    (`FIT_KEYS`) found twice with different macro-F1. Trains nothing.
    """
    import pandas as pd

    from keras_har import run_settings

    tables, settings = [], None
    for folder in map(pathlib.Path, folders):
        missing = [name for name in ("results.csv", SETTINGS_FILE) if not (folder / name).is_file()]
        if missing:
            raise SystemExit(f"--merge: {folder} lacks {', '.join(missing)}; give finished study folders. "
                             f"Received: --merge {' '.join(map(str, folders))}")
        stored = json.loads((folder / SETTINGS_FILE).read_text())
        if settings is None:
            settings = stored
        run_settings.compare(settings, stored, where=str(folders[0]), holds=f"a study run with other settings "
                             f"than {folder}'s", remedy="merge only folders of one study")
        tables.append(pd.read_csv(folder / "results.csv"))
    results = pd.concat(tables, ignore_index=True)
    conflicting = results.groupby(FIT_KEYS)["macro_f1"].nunique()
    conflicting = conflicting[conflicting > 1]
    if len(conflicting):
        raise ValueError(f"--merge: {len(conflicting)} fits differ between the folders, e.g. "
                         f"{ {key: getattr(value, 'item', lambda: value)() for key, value in zip(FIT_KEYS, conflicting.index[0])} }; "
                         "they are not runs of one study. "
                         f"Received: --merge {' '.join(map(str, folders))}")
    results = results.drop_duplicates(FIT_KEYS).sort_values(FIT_KEYS, ignore_index=True)
    # Every check before the first write: a refused merge leaves nothing behind in --output.
    check = dict(holds="a study run with other settings", remedy="give another --output")
    run_settings.check_or_write(output / SETTINGS_FILE, settings, write=False, **check)
    curves = read_pretraining(folders)
    output.mkdir(parents=True, exist_ok=True)
    run_settings.check_or_write(output / SETTINGS_FILE, settings, **check)
    write_pretraining(curves, output)
    return write_tables(results, output, settings["encoder"])

if __name__ == "__main__":
    main()
