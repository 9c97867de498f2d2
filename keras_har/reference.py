"""Facts from the official TinierHAR code that keras_har reproduces.

``DATASET_SHAPES`` holds each of the paper's 14 datasets as the official
``configs/data.yaml`` sets it up: sampling rate, channels, classes, and the
4 s window (2.56 s for UCI HAR). ``OFFICIAL_COUNTS`` holds the (MACs, params)
pairs that the official code logged (``Run_logs/macs_params.txt``) for the
default configuration of each model on each dataset. The log holds several
runs per model and dataset; these are the rows whose parameter count is that
of the published model code with its defaults.

``PYTORCH_EXTRA_PARAMS`` is how many more parameters the PyTorch model has
than ours: PyTorch's LSTM keeps two bias vectors per gate (``b_ih`` and
``b_hh``, which only ever appear summed), Keras's keeps one.
"""

# name: (sampling_rate_hz, window_sec, channels, classes)
DATASETS = {
    "hapt": (50, 4.0, 6, 12),
    "recgym": (20, 4.0, 7, 12),
    "dg": (64, 4.0, 9, 2),
    "uschad": (100, 4.0, 6, 12),
    "pamap2": (33, 4.0, 18, 12),
    "rw": (50, 4.0, 21, 8),
    "skodar": (33, 4.0, 30, 10),
    "dsads": (25, 4.0, 45, 19),
    "oppo": (30, 4.0, 77, 18),
    "wisdm": (20, 4.0, 3, 6),
    "uci": (50, 2.56, 9, 6),
    "mhealth": (50, 4.0, 23, 12),
    "motionsense": (50, 4.0, 12, 6),
    "sho": (50, 4.0, 60, 7),
}


def dataset_shape(name):
    """Returns ``(T, C, K)`` for one of the paper's datasets."""
    rate, window_sec, channels, classes = DATASETS[name]
    return int(round(rate * window_sec)), channels, classes


DATASET_SHAPES = {name: dataset_shape(name) for name in DATASETS}

# (MACs, params) of the official PyTorch models, from the official log.
OFFICIAL_COUNTS = {
    "tinierhar": {
        "hapt": (697246, 7483), "recgym": (318976, 8251), "dg": (1274498, 9457),
        "uschad": (1394096, 7483), "pamap2": (1249149, 16699), "rw": (2191114, 18871),
        "skodar": (2037915, 25849), "dsads": (2291252, 37666), "oppo": (4661664, 62209),
        "wisdm": (159418, 4981), "uci": (637414, 9589), "mhealth": (2390446, 20539),
        "motionsense": (1294648, 11893), "sho": (6075481, 48790),
    },
    "tinyhar": {
        "hapt": (4425960, 27674), "recgym": (1750912, 28474), "dg": (8286718, 29664),
        "uschad": (9255810, 27674), "pamap2": (7762227, 37274), "rw": (14372416, 39510),
        "skodar": (13059377, 46792), "dsads": (14554853, 59161), "oppo": (33029378, 84720),
        "wisdm": (866106, 25028), "uci": (3859938, 29828), "mhealth": (15760132, 41274),
        "motionsense": (8306946, 32228), "sho": (44032811, 70669),
    },
    "deepconvlstm": {
        "hapt": (41014796, 326732), "recgym": (16300684, 359500), "dg": (78387586, 423746),
        "uschad": (85859596, 326732), "pamap2": (73636236, 719948), "rw": (136085000, 817736),
        "skodar": (121504650, 1112906), "dsads": (131055571, 1605587),
        "oppo": (276869138, 2654034), "wisdm": (7528838, 227654), "uci": (36422534, 424262),
        "mhealth": (148761612, 883788), "motionsense": (79042310, 522566),
        "sho": (383268743, 2095559),
    },
}

# Per model with its default configuration: 4 * units biases per LSTM layer.
PYTORCH_EXTRA_PARAMS = {"tinierhar": 0, "tinyhar": 4 * 40, "deepconvlstm": 4 * 128}
