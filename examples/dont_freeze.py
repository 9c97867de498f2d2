"""The "Don't freeze" study on real data: pretrain on one dataset, fine-tune on another.

Reproduces the comparison of Dumbrava et al., "Don't freeze: Finetune
encoders for better Self-Supervised HAR" (arXiv:2307.01168) with keras_har:
for each direction (source -> target) and pretext, a TinierHAR (or larger
CNN+GRU) encoder is pretrained on the source's unlabelled windows
(variance-weighted 10% per epoch), then fine-tuned on the target with 1, 2,
5, 10, 50, 100 labelled windows per class, frozen vs finetuned, against the
same architecture trained from scratch; macro-F1 on held-out subjects.

Both datasets are put on one rate and window (HAPT's 50 Hz, 4 s = 200
samples; USC-HAD is resampled from 100 Hz with `scipy.signal.resample_poly`)
and the 6 channels acc x/y/z, gyro x/y/z they share.

Each fit is trained with `keras_har.ssl.FINETUNE_RECIPE` (early stopping on
a fifth of the labelled windows) through `keras_har.evaluation.run_fold`.
Writes to ``--output``: ``results.csv`` (one row per fit), ``summary.csv``
(mean, std, 95% CI and n per direction, pretext, mode and k),
``differences.csv`` (finetune - frozen, finetune - scratch and frozen -
scratch, paired by seed and fold, with their 95% CI), ``dont_freeze.png``, the
pretrained encoders (``<pretext>_<source>/encoder.keras``) and every fit's
files under ``fits/``: a rerun skips the finished fits.

Example:
    KERAS_HAR_DATA=/path/to/datasets nice -n 10 python examples/dont_freeze.py \\
        --pretexts cpc,multitask --folds 2 --output runs/dont_freeze
"""

import argparse
import dataclasses
import os
import pathlib
import time

DIRECTIONS = ("usc_had:hapt", "hapt:usc_had")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"),
                        help="folder with hapt/ and usc_had/ (default: $KERAS_HAR_DATA)")
    parser.add_argument("--output", default="runs/dont_freeze", help="output folder")
    parser.add_argument("--directions", default=",".join(DIRECTIONS), help="source:target pairs, comma-separated")
    parser.add_argument("--pretexts", default="cpc,multitask,reconstruction,simclr", help="comma-separated pretexts")
    parser.add_argument("--encoder", choices=("tinierhar", "cnngru"), default="tinierhar")
    parser.add_argument("--sampling-rate-hz", type=float, default=50.0)
    parser.add_argument("--window-sec", type=float, default=4.0)
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--fraction", type=float, default=0.1, help="share of unlabelled windows drawn per epoch")
    parser.add_argument("--prediction-steps", type=int, default=12, help="CPC future steps")
    parser.add_argument("--windows-per-class", default="1,2,5,10,50,100")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most fine-tuning epochs per fit, with early stopping on a fifth of the labelled "
                             "windows (default: keras_har.ssl.FINETUNE_RECIPE)")
    parser.add_argument("--n-splits", type=int, default=5, help="folds of the subject split")
    parser.add_argument("--folds", type=int, default=None, help="run only the first FOLDS folds")
    parser.add_argument("--seeds", default="0")
    return parser.parse_args(argv)


def harmonise(dataset, sampling_rate_hz, window_length):
    """The dataset on the common rate and window length, labels and subjects unchanged."""
    from keras_har.ssl import pool_windows

    return dataclasses.replace(
        dataset,
        X=pool_windows([dataset], sampling_rate_hz, window_length),
        sampling_rate_hz=sampling_rate_hz,
        window_sec=window_length / sampling_rate_hz,
    )


def make_encoder(kind, window_shape):
    import keras_har

    if kind == "tinierhar":
        return keras_har.TinierHARBackbone(input_shape=window_shape)
    return keras_har.ssl.CNNGRUEncoder(input_shape=window_shape)


def main(argv=None):
    args = parse_args(argv)
    import pandas as pd

    import keras_har
    from keras_har import ssl
    from keras_har.backend import keras

    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    directions = [tuple(pair.split(":")) for pair in args.directions.split(",")]
    pretexts = [p for p in args.pretexts.split(",") if p]
    windows_per_class = [int(k) for k in args.windows_per_class.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    window_length = int(round(args.window_sec * args.sampling_rate_hz))

    names = sorted({name for pair in directions for name in pair})
    data = {
        name: harmonise(keras_har.datasets.load_dataset(name, data_home=args.data_home, verbose=False),
                        args.sampling_rate_hz, window_length)
        for name in names
    }
    for dataset in data.values():
        print(dataset)
    window_shape = (window_length, 6)

    tables, timings = [], []
    recipe = ssl.FINETUNE_RECIPE
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    study = dict(windows_per_class=windows_per_class, n_splits=args.n_splits, folds=args.folds, seeds=seeds,
                 recipe=recipe)
    for source, target in directions:
        unlabelled = keras_har.datasets.Standardizer().fit_transform(data[source].X)
        started = time.time()
        keras.utils.set_random_seed(seeds[0])
        # Scratch gets the pretrained models' exact architecture, the linear
        # projection to 256 included, freshly initialised.
        architecture = ssl.PretextModel(make_encoder(args.encoder, window_shape)).feature_model()
        scratch = ssl.label_scarce_study(architecture, data[target], modes=["scratch"], **study,
                                         output_dir=output / "fits" / f"scratch_{target}")
        tables.append(scratch.assign(source=source, target=target, pretext="none"))
        timings.append(dict(source=source, target=target, pretext="none", stage="scratch",
                            seconds=time.time() - started))
        for pretext_name in pretexts:
            keras.utils.set_random_seed(seeds[0])
            kwargs = {"prediction_steps": args.prediction_steps} if pretext_name in ("cpc", "multitask") else {}
            if pretext_name == "simclr":
                kwargs["seed"] = seeds[0]
            pretext = ssl.get_pretext_class(pretext_name)(make_encoder(args.encoder, window_shape), **kwargs)
            started = time.time()
            print(f"pretraining {pretext_name} on {source} ({len(unlabelled)} windows)")
            history = ssl.pretrain(pretext, unlabelled, epochs=args.pretrain_epochs, fraction=args.fraction,
                                   acceleration_channels=[0, 1, 2], seed=seeds[0], verbose=2)
            timings.append(dict(source=source, target=target, pretext=pretext_name, stage="pretrain",
                                seconds=time.time() - started))
            ssl.save_pretrained(pretext, output / f"{pretext_name}_{source}",
                                metadata={"source": source, "loss": history.history["loss"],
                                          "sampling_rate_hz": args.sampling_rate_hz, "window_length": window_length})
            started = time.time()
            table = ssl.label_scarce_study(pretext, data[target], modes=["frozen", "finetune"], **study,
                                           output_dir=output / "fits" / f"{pretext_name}_{source}_to_{target}")
            tables.append(table.assign(source=source, target=target, pretext=pretext_name))
            timings.append(dict(source=source, target=target, pretext=pretext_name, stage="finetune",
                                seconds=time.time() - started))
            results = pd.concat(tables, ignore_index=True)
            ssl.save_csv(results, output / "results.csv")
            ssl.save_csv(pd.DataFrame(timings), output / "timings.csv")

    results = pd.concat(tables, ignore_index=True)
    ssl.save_csv(results, output / "results.csv")
    summary = ssl.summarize(results)
    ssl.save_csv(summary, output / "summary.csv")
    # Scratch does not depend on the pretext: draw its line in every panel.
    scratch = results[results["mode"] == "scratch"]
    pretrained = results[results["mode"] != "scratch"]
    plotted = pd.concat([pretrained] + [scratch.assign(pretext=p) for p in pretexts], ignore_index=True)
    plotted = plotted.assign(source=plotted["source"] + "->" + plotted["target"]).drop(columns="target")
    ssl.plot_study(plotted, output / "dont_freeze.png", title=f"{args.encoder} encoder, macro-F1 on held-out subjects")
    differences = ssl.study_differences(plotted)
    ssl.save_csv(differences, output / "differences.csv")
    print(differences.to_string(index=False))
    print(summary.to_string(index=False))
    return summary


if __name__ == "__main__":
    main()
