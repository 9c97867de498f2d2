"""``keras-har firmware``: build an export's firmware for the host and a Cortex-M4, run it, check it."""

import json


def add_parser(subparsers, name):
    parser = subparsers.add_parser(
        name,
        help="build and run an export folder's firmware (host, emulated Cortex-M4), bit for bit against Python",
        description=(
            "Compiles TensorFlow Lite Micro, the exported model and the keras_har core (har_classifier.cc) into a "
            "test runner for the host (g++) and for a Cortex-M4 (arm-none-eabi-g++, CMSIS-NN and reference "
            "kernels), runs it (natively, and under qemu-system-arm -M mps2-an386) on real test windows and on one "
            "continuous test recording streamed sample by sample, and checks its int8 outputs bit for bit "
            "against the TFLM Python interpreter. Measures, on the Cortex-M4: the smallest arena, flash by "
            "origin and instructions per inference. Writes them to report.json under \"cortex_m4\" and the "
            "Cortex-M4 arena into model_settings.h."
        ),
    )
    parser.add_argument("export_dir", help="a folder written by tflite/export.py")
    parser.add_argument("--dataset", default="hapt",
                        help="dataset the model was exported for (default: hapt), a name or the path of your own data")
    parser.add_argument("--data-home", default=None, help="folder with the datasets (default: $KERAS_HAR_DATA)")
    parser.add_argument("--fold", type=int, default=0,
                        help="fold whose test windows give the inputs (the paper's folds for a built-in dataset)")
    parser.add_argument("--window-sec", type=float, default=None, help="window length in seconds, as exported")
    parser.add_argument("--windows", type=int, default=100, help="test windows to compare (default: 100)")
    parser.add_argument("--targets", default="host,cortex-m4", help="comma-separated: host, cortex-m4")
    parser.add_argument("--kernels", default="cmsis-nn,reference",
                        help="Cortex-M4 kernel builds, comma-separated: cmsis-nn, reference")
    parser.add_argument("--tflm-root", default=None, help="TFLM source tree (default: $KERAS_HAR_TFLM, else the cache)")
    parser.add_argument("--cmsis-nn-root", default=None,
                        help="TFLM tree with CMSIS-NN (default: $KERAS_HAR_TFLM_CMSIS_NN, else <tflm-root>-cmsis-nn)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a firmware run counts as hung")
    parser.set_defaults(func=run)


def parse_list(text, allowed, flag):
    values = [value.strip() for value in text.split(",") if value.strip()]
    unknown = [value for value in values if value not in allowed]
    if unknown or not values:
        raise ValueError(f"{flag} takes a comma-separated list of {', '.join(allowed)}. Received: {flag}={text!r}")
    return tuple(values)


def run(args):
    from keras_har.firmware import verify
    from keras_har.firmware.build import TARGETS
    from keras_har.firmware.tflm_source import KERNELS

    targets = parse_list(args.targets, TARGETS, "--targets")
    kernels = parse_list(args.kernels, KERNELS, "--kernels")
    windows, recording = verify.dataset_inputs(args.export_dir, args.dataset, data_home=args.data_home,
                                               fold=args.fold, windows=args.windows, window_sec=args.window_sec)
    result = verify.verify_export(args.export_dir, windows=windows, recording=recording, targets=targets,
                                  kernels=kernels, tflm_root=args.tflm_root, cmsis_nn_root=args.cmsis_nn_root,
                                  timeout_s=args.timeout)
    print(json.dumps(result, indent=2))
    failed = verify.failed_builds(result)
    if failed:
        print(f"keras-har firmware: the firmware differs from the Python interpreter on {', '.join(failed)}")
        return 1
    return 0
