"""``keras-har profile``: the paper's model-size table, or one model's profile."""

import json


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="print params and MACs of TinierHAR, TinyHAR and DeepConvLSTM on the paper's 14 datasets",
        description=(
            "Without options: the paper's table of params and MACs for TinierHAR, TinyHAR and "
            "DeepConvLSTM over the 14 dataset shapes, next to the official code's log. With "
            "--model/--window/--channels/--classes: one model's profile."
        ),
    )
    parser.add_argument("--model", help="one model: tinierhar, tinyhar or deepconvlstm")
    parser.add_argument("--window", type=int, help="window length T in samples")
    parser.add_argument("--channels", type=int, help="sensor channels C")
    parser.add_argument("--classes", type=int, help="classes K")
    parser.add_argument("--filters", type=int, default=None, help="TinierHAR filters M")
    parser.add_argument("--gru-units", type=int, default=None, help="TinierHAR GRU units N")
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.set_defaults(func=run)


def run(args):
    from keras_har.profiler import paper_table, profile
    from keras_har.models import get_model_class

    if args.model is None:
        rows = paper_table()
        print(json.dumps(rows, indent=2) if args.format == "json" else _markdown(rows))
        return 0
    missing = [flag for flag in ("window", "channels", "classes") if getattr(args, flag) is None]
    if missing:
        raise ValueError(f"--model needs --{', --'.join(missing)}")
    kwargs = {}
    if args.filters is not None:
        kwargs["filters"] = args.filters
    if args.gru_units is not None:
        kwargs["gru_units"] = args.gru_units
    model = get_model_class(args.model)(
        input_shape=(args.window, args.channels), num_classes=args.classes, **kwargs
    )
    result = profile(model)
    result.pop("layers") if args.format == "json" else None
    print(json.dumps(result, indent=2) if args.format == "json" else _one(result))
    return 0


def _one(result):
    lines = [f"params: {result['params']:,}", f"macs: {result['macs']:,}", f"core_macs: {result['core_macs']:,}"]
    lines += [f"  {name}: {core:,} / {total:,}" for name, core, total in result["layers"] if total]
    return "\n".join(lines)


def _markdown(rows):
    header = (
        "| dataset | T x C, K | TinierHAR params | TinierHAR MACs | TinyHAR params | TinyHAR MACs "
        "| DeepConvLSTM params | DeepConvLSTM MACs | TinyHAR/TinierHAR params | TinyHAR/TinierHAR MACs |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for row in rows:
        t, d, c = row["tinierhar"], row["tinyhar"], row["deepconvlstm"]
        lines.append(
            f"| {row['dataset']} | {row['window']} x {row['channels']}, {row['classes']} "
            f"| {t['params']:,} | {t['macs']:,} | {d['params']:,} | {d['macs']:,} "
            f"| {c['params']:,} | {c['macs']:,} "
            f"| {d['params'] / t['params']:.1f}x | {d['macs'] / t['macs']:.1f}x |"
        )
    mean_params = sum(r["tinyhar"]["params"] / r["tinierhar"]["params"] for r in rows) / len(rows)
    mean_macs = sum(r["tinyhar"]["macs"] / r["tinierhar"]["macs"] for r in rows) / len(rows)
    lines.append(f"\nMean over the {len(rows)} datasets: TinyHAR has {mean_params:.1f}x the parameters "
                 f"and {mean_macs:.1f}x the MACs of TinierHAR.")
    lines.append("Every params/MACs cell equals the official log (params: Keras count, i.e. without "
                 "PyTorch's second LSTM bias; see keras_har.reference).")
    return "\n".join(lines)
