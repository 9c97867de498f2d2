"""Seconds per training epoch of TinierHAR under the official recipe: a profile and an A/B of settings.

Two studies, both on the first fold of the dataset's default protocol (its
standardised training windows, 10% kept for validation, as `run_fold` does):

``--profile``: where one training step goes. For each layer of TinierHAR the
model is cut after that layer and one forward and backward pass of a batch
of 256 is timed (the fastest of ``--steps``, the layer sets alternating);
the table lists the cumulative time with the stock Keras layers, with the
package's default (the fast-training depthwise convolution and max pool of
`keras_har.layers.time_conv`, the fused batch norm), and with the unfused
batch norm as well; then each fast-training layer alone against its stock
op at every input shape it has in TinierHAR; then one epoch of the recipe split into training steps,
validation and the work between epochs, and the cost of a checkpoint write.

Settings (the default study): each ``--setting`` is run ``--repeats`` times in
a fresh child process, interleaved (A B C, then C B A, ...), each fitting
``--epochs`` epochs with `keras_har.training.fit`. A setting is ``key=value``
pairs joined by commas:

- ``layers``: ``fast`` (the package's default) or ``stock`` (TinierHAR built
  with Keras's own DepthwiseConv2D, MaxPooling2D and BatchNormalization);
- ``threads``: TensorFlow intra- and inter-op threads (0: TensorFlow's default);
- ``procs``: processes training at once (``evaluate --jobs``); the epoch time
  is then that of one process with the others beside it, and the throughput
  column counts all of them;
- ``unroll``: 1 unrolls the GRU's time loop;
- ``steps_per_execution``: training steps per call of the compiled training
  function (Keras's ``steps_per_execution``; 1, the default, calls it once per
  batch); the same steps in the same order;
- ``gru_implementation``: 2 (Keras's default: the three gates' matrix products
  batched into one) or 1 (one product per gate); the same function;
- ``optimizer``: ``early`` (the package's default: `keras_har.training.compile_model`
  builds the optimizer's variables before the fit) or ``lazy`` (Keras creates
  them inside the first training step, and the step is traced twice); only
  the first epoch differs;
- ``cudnn``: ``skip`` (the package's default on a machine without a GPU,
  `keras_har.backend`) or ``register`` (Keras's own behaviour: every GRU
  traced in a graph also traces and registers its cuDNN variant); only the
  first epoch differs;
- ``autotune``: ``off`` (the package's default, ``KERAS_HAR_DATA_AUTOTUNE``)
  or ``on`` (tf.data's model-based autotuning of the input pipeline, as
  before): it changes the time between epochs, with one process or several;
- ``precision``: ``float32`` (the package's default) or ``mixed_bfloat16``
  (Keras's mixed-precision policy: variables in float32, the layers compute
  in bfloat16; the logits too, so the loss reads bfloat16 logits). It
  changes the arithmetic, so its macro-F1 is another model's; it can only
  pay off on a CPU with bfloat16 instructions (AVX512-BF16, AMX).

Reported per setting: the median over repeats of the median epoch (epoch 1,
which traces the graph, is left out), epochs per minute over all processes,
and the ratio to the first setting, as the median and within each repeat (the
runs of one repeat share the machine's load). The wall columns time each epoch
from its start to the next epoch's start (`keras_har.training.EpochTimer.wall`),
the mean over the epochs after the first, so they include what happens between
epochs: the median epoch leaves out an occasional pause there, the wall
columns do not. Numbers are only meaningful on
quiet cores.

Examples:
    python benchmarks/bench_epoch.py --dataset hapt --profile --output benchmarks/results/epoch_profile.json
    python benchmarks/bench_epoch.py --dataset hapt --setting layers=stock --setting layers=fast \
        --setting layers=fast,procs=2,threads=1 --output benchmarks/results/epoch_speed.json
    python benchmarks/bench_epoch.py --table benchmarks/results/epoch_speed.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SETTING_KEYS = {"layers": ("fast", "stock"), "threads": None, "procs": None, "unroll": ("0", "1"),
                "optimizer": ("early", "lazy"), "cudnn": ("skip", "register"),
                "precision": ("float32", "mixed_bfloat16"), "bn": ("fused", "unfused"), "autotune": ("off", "on"),
                "gru_implementation": ("1", "2"), "steps_per_execution": None}
TEXT_KEYS = ("layers", "optimizer", "cudnn", "precision", "bn", "autotune")
BATCH = 256


def parse_setting(text):
    """``"layers=fast,threads=1"`` -> ``{"layers": "fast", "threads": 1, "procs": 1, "unroll": 0, ...}``."""
    setting = {"layers": "fast", "threads": 0, "procs": 1, "unroll": 0, "optimizer": "early", "cudnn": "skip",
               "precision": "float32", "bn": "fused", "autotune": "off", "gru_implementation": 2,
               "steps_per_execution": 1}
    for part in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = part.partition("=")
        choices = SETTING_KEYS.get(key, ())
        if key not in SETTING_KEYS or (choices and value not in choices) or (choices is None and not value.isdigit()):
            raise argparse.ArgumentTypeError(
                "expected key=value pairs: layers=fast|stock, threads=N, procs=N, unroll=0|1, optimizer=early|lazy, "
                f"cudnn=skip|register, precision=float32|mixed_bfloat16, bn=fused|unfused, autotune=off|on, "
                f"gru_implementation=1|2, steps_per_execution=N, e.g. 'layers=fast,threads=1'. Received: {text!r}"
            )
        setting[key] = value if key in TEXT_KEYS else int(value)
    for key in ("procs", "steps_per_execution"):
        if setting[key] < 1:
            raise argparse.ArgumentTypeError(f"{key} must be at least 1. Received: {text!r}")
    return setting


def use_layers(kind, unroll=False, gru_implementation=2):
    """Makes TinierHAR build with the stock Keras layers (``"stock"``) or the fast ones; optionally unrolled GRUs,
    or GRUs with another ``implementation`` (1: the gates' matrix products one by one; 2, Keras's default: batched)."""
    from keras_har.backend import keras
    from keras_har.layers import time_conv
    from keras_har.models import tinier_har

    for fast, stock in time_conv.STOCK_CLASSES.items():
        setattr(tinier_har, fast.__name__, stock if kind == "stock" else fast)
    forced = {"unroll": True} if unroll else {}
    if gru_implementation != 2:
        forced["implementation"] = gru_implementation
    if forced:  # a child process of its own: patching Keras's GRU class affects only it
        gru = keras.layers.GRU

        class PatchedGRU(gru):
            def __init__(self, *args, **kwargs):
                kwargs.update(forced)
                super().__init__(*args, **kwargs)

        keras.layers.GRU = PatchedGRU


def fold_data(dataset_name, data_home, seed=0):
    """The first fold's standardised training and validation windows, split as `run_fold` splits them."""
    import keras_har
    from keras_har.datasets.splits import Standardizer, train_val_split
    from keras_har.evaluation import make_folds

    dataset = keras_har.datasets.load_dataset(dataset_name, data_home=data_home)
    (train_idx, _), = make_folds(dataset, folds=1)[0][:1]
    standardizer = Standardizer().fit(dataset.X[train_idx])
    fit_idx, val_idx = train_val_split(train_idx, val_fraction=0.1, seed=seed)
    return (dataset.name, dataset.num_classes, (standardizer.transform(dataset.X[fit_idx]), dataset.y[fit_idx]),
            (standardizer.transform(dataset.X[val_idx]), dataset.y[val_idx]))


def set_threads(threads):
    from keras_har.backend import tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def worker(args):
    """One child process: fit ``--epochs`` epochs under one setting and print the epoch times as JSON."""
    setting = json.loads(args.worker)
    from keras_har import tf_logging

    tf_logging.quiet_tensorflow()
    set_threads(setting["threads"])
    use_layers(setting["layers"], setting["unroll"], setting.get("gru_implementation", 2))
    import keras_har
    import keras_har.training

    if setting.get("optimizer") == "lazy":  # Keras's own lazy build, inside the first training step
        keras_har.training.build_optimizer = lambda model: model
    if setting.get("cudnn") == "register":  # Keras's own behaviour, as if a GPU were visible
        import keras_har.backend

        keras_har.backend._GPU_VISIBLE = True
    if setting.get("steps_per_execution", 1) > 1:  # fit compiles through the module's compile_model
        compile_model = keras_har.training.compile_model

        def compile_with_steps(model, **kwargs):
            model = compile_model(model, **kwargs)
            model._configure_steps_per_execution(setting["steps_per_execution"])
            return model

        keras_har.training.compile_model = compile_with_steps
    if setting.get("precision", "float32") != "float32":
        from keras_har.backend import keras

        keras.mixed_precision.set_global_policy(setting["precision"])
    _, num_classes, train, val = fold_data(args.dataset, args.data_home)
    model = keras_har.TinierHAR(input_shape=train[0].shape[1:], num_classes=num_classes)
    fitted = keras_har.training.fit(model, train, val, epochs=args.epochs, verbose=0)
    from keras_har.layers import time_conv

    print(json.dumps({"seconds_per_epoch": fitted["seconds_per_epoch"], "wall_per_epoch": fitted["wall_per_epoch"],
                      "fit_seconds": fitted["fit_seconds"], "n_train": int(len(train[1])),
                      "autotune": keras_har.training.data_autotune(),
                      "steps_per_execution": int(model._steps_per_execution.numpy()),
                      "logits_dtype": model.output.dtype.name, "bn": time_conv.batch_norm_training_route()}))
    return 0


def run_setting(args, label, setting):
    command = [sys.executable, os.path.abspath(__file__), "--dataset", args.dataset, "--epochs", str(args.epochs),
               "--worker", json.dumps(setting)]
    if args.data_home:
        command += ["--data-home", args.data_home]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_HAR_BN_TRAINING=setting["bn"],
               KERAS_HAR_DATA_AUTOTUNE=setting["autotune"])
    start = time.perf_counter()
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                for _ in range(setting["procs"])]
    outputs = [child.communicate() for child in children]
    wall = time.perf_counter() - start
    runs = []
    for child, (out, err) in zip(children, outputs):
        if child.returncode != 0:
            raise RuntimeError(f"setting {label!r}: the worker exited with {child.returncode}:\n{err[-3000:]}")
        runs.append(json.loads(out.strip().splitlines()[-1]))
    epochs = [statistics.median(run["seconds_per_epoch"][1:]) for run in runs]
    seconds = statistics.mean(epochs)
    # Start to next start, every epoch after the first: the time between epochs included.
    walls = statistics.mean(statistics.mean(run["wall_per_epoch"][1:]) for run in runs)
    return {"setting": label, "seconds_per_epoch": seconds, "epochs_per_minute": 60.0 * len(runs) / seconds,
            "wall_seconds_per_epoch": walls, "wall_epochs_per_minute": 60.0 * len(runs) / walls,
            "first_epoch_seconds": statistics.mean(run["seconds_per_epoch"][0] for run in runs),
            "wall_seconds": wall, "n_train": runs[0]["n_train"], "logits_dtype": runs[0]["logits_dtype"],
            "bn": runs[0]["bn"], "autotune": runs[0]["autotune"],
            "steps_per_execution": runs[0]["steps_per_execution"]}


WALL_KEYS = ("wall_seconds_per_epoch", "wall_epochs_per_minute")


def summarise(trials, labels):
    keys = ("seconds_per_epoch", "epochs_per_minute", "first_epoch_seconds")
    if all(key in trial for trial in trials for key in WALL_KEYS):  # results from before these keys lack them
        keys += WALL_KEYS
    summary = {}
    for label in labels:
        runs = [trial for trial in trials if trial["setting"] == label]
        summary[label] = {key: statistics.median(run[key] for run in runs) for key in keys}
        summary[label]["runs"] = len(runs)
    base = summary[labels[0]]
    for label in labels:
        summary[label]["throughput_ratio"] = summary[label]["epochs_per_minute"] / base["epochs_per_minute"]
        if "wall_epochs_per_minute" in base:
            summary[label]["wall_throughput_ratio"] = (summary[label]["wall_epochs_per_minute"]
                                                       / base["wall_epochs_per_minute"])
        # The same ratio within each repeat: the runs of one repeat ran back to back, under the same load.
        summary[label]["throughput_ratio_per_repeat"] = [
            run["epochs_per_minute"] / first["epochs_per_minute"]
            for run in trials if run["setting"] == label
            for first in trials if first["setting"] == labels[0] and first["repeat"] == run["repeat"]]
    return summary


#: The profile's layer sets: (layers, batch-norm training route) of each column.
PROFILE_KINDS = {"stock": ("stock", "fused"), "fast": ("fast", "fused"), "unfused": ("fast", "unfused")}


def profile(args):
    """Cumulative forward-and-backward time of TinierHAR cut after each block, three layer sets side by side.

    ``stock``: Keras's own layers; ``fast``: the package's default (the
    reshaped depthwise convolution and max pool of `keras_har.layers.time_conv`,
    the fused batch norm); ``unfused``: the same with the unfused batch norm
    (``KERAS_HAR_BN_TRAINING=unfused``). The three steps alternate, and each
    cut reports the fastest of ``--steps`` steps: the minimum is the time the
    step needs, whatever else runs beside it.
    """
    from keras_har import tf_logging
    from keras_har.layers import time_conv

    tf_logging.quiet_tensorflow()
    from keras_har.backend import keras, tf

    _, num_classes, train, val = fold_data(args.dataset, args.data_home)
    x = tf.constant(train[0][:BATCH])
    steps, models = {}, {}
    for kind, (layers, bn) in PROFILE_KINDS.items():
        use_layers(layers)
        import keras_har

        model = models[kind] = keras_har.TinierHAR(input_shape=train[0].shape[1:], num_classes=num_classes)
        cuts = [layer.name for layer in model.layers if layer.name.endswith("_add")] + ["recurrent", "pooling",
                                                                                       model.layers[-1].name]
        for cut in cuts:
            sub = keras.Model(model.input, model.get_layer(cut).output)

            @tf.function
            def step(batch, sub=sub):
                with tf.GradientTape() as tape:
                    out = sub(batch, training=True)
                    loss = tf.reduce_sum(out * out)
                return tape.gradient(loss, sub.trainable_weights)

            with time_conv.batch_norm_route(bn):  # read when the step is traced
                for _ in range(2):
                    step(x)
            steps.setdefault(cut, {})[kind] = step
    rows = []
    for cut, kinds in steps.items():
        best = {kind: float("inf") for kind in kinds}
        for _ in range(args.steps):
            for kind, step in kinds.items():
                start = time.perf_counter()
                step(x)
                best[kind] = min(best[kind], time.perf_counter() - start)
        rows.append({"up_to": cut, **{f"{kind}_ms": 1000.0 * best[kind] for kind in kinds}})
        print(f"up to {cut:<14} " + ", ".join(f"{kind} {1000.0 * best[kind]:7.1f} ms" for kind in kinds), flush=True)
    layers = layer_timings(args, models["fast"])
    use_layers("fast")
    return rows, layers, epoch_breakdown(args, num_classes, train, val)


#: What each fast-training layer does instead of the stock op, for the per-layer table.
ROUTES = {"DepthwiseConv2D": "reshaped to (T, 1, C*F)", "MaxPooling2D": "reshaped to (T, 1, C*F)",
          "BatchNormalization": "unfused moments (bn=unfused)"}


def layer_timings(args, model):
    """Each fast-training layer alone against its stock op, at every input shape it has in ``model``.

    A forward and backward pass of a batch of 256 random maps (the input's and the weights' gradients), the
    stock op's and the fast route's alternating, the median of ``4 * --steps`` passes each. The batch norm's
    two routes are its fused kernel and the unfused moments (``KERAS_HAR_BN_TRAINING``).
    """
    import numpy as np

    from keras_har.backend import tf
    from keras_har.layers import time_conv

    shapes = {}
    for layer in model.layers:
        if type(layer) in time_conv.STOCK_CLASSES:
            shapes.setdefault(type(layer), {}).setdefault(tuple(layer.input_shape[1:]), layer.get_config())
    rows = []
    rng = np.random.default_rng(0)
    for fast_class, configs in shapes.items():
        stock_class = time_conv.STOCK_CLASSES[fast_class]
        for shape, config in configs.items():
            x = tf.constant(rng.standard_normal((BATCH,) + shape).astype("float32"))
            routes = {}
            batch_norm = fast_class is time_conv.TimeBatchNormalization
            for kind in ("stock", "fast"):
                layer = (fast_class if kind == "fast" or batch_norm else stock_class).from_config(
                    dict(config, name=f"{kind}_{config['name']}"))
                layer.build((None,) + shape)

                @tf.function
                def step(batch, layer=layer):
                    with tf.GradientTape() as tape:
                        tape.watch(batch)
                        out = layer(batch, training=True)
                        loss = tf.reduce_sum(out * out)
                    return tape.gradient(loss, [batch] + layer.trainable_weights)

                with time_conv.batch_norm_route("unfused" if kind == "fast" else "fused"):
                    step(x)  # traced now, under this route
                routes[kind] = step
            times = {kind: [] for kind in routes}
            for _ in range(4 * args.steps):
                for kind, step in routes.items():
                    start = time.perf_counter()
                    [tensor.numpy() for tensor in step(x)]
                    times[kind].append(time.perf_counter() - start)
            row = {"layer": stock_class.__name__, "input": [BATCH, *shape], "route": ROUTES[stock_class.__name__],
                   **{f"{kind}_ms": 1000.0 * float(np.median(values)) for kind, values in times.items()}}
            rows.append(row)
            print(f"{row['layer']:<20} {str(tuple(row['input'])):<20} stock {row['stock_ms']:6.2f} ms, "
                  f"fast route {row['fast_ms']:6.2f} ms", flush=True)
    return rows


def epoch_breakdown(args, num_classes, train, val):
    """The epochs of the recipe (the package's layers and callbacks, as cross-validation runs them) split into
    training steps, validation and the work between epochs, and the cost of one checkpoint write.

    One fit of ``--epochs`` epochs; each part is the mean over its epochs after the first (which traces). An
    epoch's whole time runs from its start to the next epoch's start (`keras_har.training.EpochTimer.wall`);
    validation is timed apart (``model.evaluate`` of the validation windows, as often); the training steps are
    the timer's epoch less the validation; the rest is the whole less the timer's epoch: TensorBoard, the next
    epoch's shuffled iterator and the checkpoint writes that fell in the timed epochs
    (`keras_har.training.BestModelCheckpoint` writes at most once a minute and at the end). A checkpoint write
    (``save_model_atomic`` of the model) is timed apart, the mean of ``--epochs`` writes.
    """
    import numpy as np

    from keras_har import training
    import keras_har

    with tempfile.TemporaryDirectory() as work:
        model = keras_har.TinierHAR(input_shape=train[0].shape[1:], num_classes=num_classes)
        checkpoint = os.path.join(work, "best.keras")
        full = training.fit(model, train, val, epochs=args.epochs, verbose=0, log_dir=os.path.join(work, "tb"),
                            checkpoint_path=checkpoint)
        writes = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            training.save_model_atomic(model, checkpoint)
            writes.append(time.perf_counter() - start)
    val_ds = training.make_dataset(*val)
    model.evaluate(val_ds, verbose=0)
    validation = []
    for _ in range(args.epochs - 1):
        start = time.perf_counter()
        model.evaluate(val_ds, verbose=0)
        validation.append(time.perf_counter() - start)
    whole, inner, check, write = (float(np.mean(values)) for values in (
        full["wall_per_epoch"][1:], full["seconds_per_epoch"][1:], validation, writes))
    return {"epoch_seconds": whole, "train_steps_seconds": inner - check, "validation_seconds": check,
            "other_seconds": whole - inner, "checkpoint_write_seconds": write,
            "checkpoint_writes": int(full["checkpoint_writes"]), "epochs": args.epochs,
            "n_train": int(len(train[1])), "n_val": int(len(val[1]))}


def table(result):
    if result["study"] == "profile":
        lines = ["| model cut after | stock layers | fast layers (the default) | fast layers, unfused batch norm "
                 "| fast / stock | unfused / stock |", "|---|---|---|---|---|---|"]
        for row in result["rows"]:
            lines.append(f"| {row['up_to']} | {row['stock_ms']:.1f} | {row['fast_ms']:.1f} | {row['unfused_ms']:.1f} | "
                         f"{row['fast_ms'] / row['stock_ms']:.2f} | {row['unfused_ms'] / row['stock_ms']:.2f} |")
        lines += ["", "| layer alone (forward and backward) | input | fast route | stock op (ms, median) "
                  "| fast route (ms, median) | fast / stock |", "|---|---|---|---|---|---|"]
        for row in result["layers"]:
            lines.append(f"| {row['layer']} | {' x '.join(str(size) for size in row['input'])} | {row['route']} | "
                         f"{row['stock_ms']:.2f} | {row['fast_ms']:.2f} | {row['fast_ms'] / row['stock_ms']:.2f} |")
        epoch = result["epoch"]
        lines += ["", f"| one epoch (the default layers, recipe callbacks; epochs 2-{epoch['epochs']} of a fit) "
                  "| seconds | share |", "|---|---|---|"]
        for key, name in (("train_steps_seconds", f"training steps ({epoch['n_train']} windows)"),
                          ("validation_seconds", f"validation ({epoch['n_val']} windows)"),
                          ("other_seconds", "between epochs: TensorBoard, the next iterator")):
            lines.append(f"| {name} | {epoch[key]:.2f} | {epoch[key] / epoch['epoch_seconds']:.0%} |")
        lines.append(f"| whole epoch | {epoch['epoch_seconds']:.2f} | 100% |")
        lines.append(f"| one checkpoint write, timed apart (the fit of {epoch['epochs']} epochs wrote "
                     f"{epoch['checkpoint_writes']}) | {epoch['checkpoint_write_seconds']:.2f} | "
                     f"{epoch['checkpoint_write_seconds'] / epoch['epoch_seconds']:.0%} |")
        return "\n".join(lines)
    wall = all("wall_throughput_ratio" in row for row in result["summary"].values())
    head = ("| setting | s/epoch (one process) | first epoch (s) | epochs/min (all processes) | throughput vs first "
            "| the same, per repeat |")
    if wall:
        head += " wall s/epoch, start to next start | wall epochs/min (all processes) | wall throughput vs first |"
    head += " runs |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for label, row in result["summary"].items():
        per_repeat = ", ".join(f"{ratio:.2f}x" for ratio in row["throughput_ratio_per_repeat"])
        line = (f"| `{label}` | {row['seconds_per_epoch']:.2f} | {row['first_epoch_seconds']:.1f} | "
                f"{row['epochs_per_minute']:.1f} | {row['throughput_ratio']:.2f}x | {per_repeat} |")
        if wall:
            line += (f" {row['wall_seconds_per_epoch']:.2f} | {row['wall_epochs_per_minute']:.1f} | "
                     f"{row['wall_throughput_ratio']:.2f}x |")
        lines.append(line + f" {row['runs']} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="hapt", help="dataset name or .npz file")
    parser.add_argument("--data-home", default=os.environ.get("KERAS_HAR_DATA"),
                        help="datasets folder (default $KERAS_HAR_DATA)")
    parser.add_argument("--setting", action="append", default=None,
                        help="a setting to time (repeatable; default layers=stock and layers=fast)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run (the first is left out)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setting")
    parser.add_argument("--profile", action="store_true", help="time the layers instead of whole epochs")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per cut (--profile)")
    parser.add_argument("--output", default=None, help="results JSON")
    parser.add_argument("--table", default=None, help="print the markdown table of a results JSON and exit")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table is None and args.worker is None and args.output is None:
        parser.error("--output is required unless --table is given")
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first epoch is left out). Received: --epochs={args.epochs}")
    if args.repeats < 1:
        parser.error(f"--repeats must be a positive integer. Received: --repeats={args.repeats}")
    labels = args.setting or ["layers=stock", "layers=fast"]
    try:
        args.settings = {label: parse_setting(label) for label in labels}
    except argparse.ArgumentTypeError as error:
        parser.error(f"--setting: {error}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    if args.table is not None:
        with open(args.table, encoding="utf-8") as handle:
            print(table(json.load(handle)))
        return 0
    from keras_har import atomic
    from keras_har.backend import software_versions

    versions = {**software_versions(), "cpu_count": os.cpu_count()}
    if args.profile:
        rows, layers, epoch = profile(args)
        result = {"study": "profile", "dataset": args.dataset, "batch": BATCH, "steps": args.steps,
                  "epochs": args.epochs, **versions, "rows": rows, "layers": layers, "epoch": epoch}
    else:
        labels = list(args.settings)
        trials = []
        for repeat in range(args.repeats):
            for label in labels if repeat % 2 == 0 else labels[::-1]:
                trial = dict(repeat=repeat, **run_setting(args, label, args.settings[label]))
                trials.append(trial)
                print(f"{label} (repeat {repeat}): {trial['seconds_per_epoch']:.2f} s/epoch, "
                      f"{trial['epochs_per_minute']:.1f} epochs/min", flush=True)
        result = {"study": "settings", "dataset": args.dataset, "epochs": args.epochs, "repeats": args.repeats,
                  **versions, "settings": args.settings, "trials": trials, "summary": summarise(trials, labels)}
    atomic.write_json(args.output, result)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
