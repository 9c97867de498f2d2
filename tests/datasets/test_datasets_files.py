"""Tiny copies of each dataset in its original file layout, for test_datasets.py (no tests here).

Each writer returns the facts the loader must reproduce exactly: the windows'
labels and subjects for the window settings given, and the class count.
"""

import gzip
import pathlib

import numpy as np
import scipy.io


def _write_rows(path, rows, delimiter=" ", fmt="%.6f", gz=False):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(delimiter.join(fmt % value for value in row) for row in rows) + "\n"
    if gz:
        with gzip.open(path, "wt") as file:
            file.write(text)
    else:
        path.write_text(text)


def _ramp(rows, channels, offset):
    """Distinct values: row index + 1000 * channel + offset."""
    return np.arange(rows)[:, None] + 1000.0 * np.arange(channels)[None, :] + offset


def write_hapt(home):
    raw = pathlib.Path(home) / "hapt" / "HAPT Data Set" / "RawData"
    experiments = {(1, 1): 200, (2, 1): 100, (3, 2): 60}  # (experiment, user): rows
    for (experiment, user), rows in experiments.items():
        stem = f"exp{experiment:02d}_user{user:02d}"
        gz = experiment != 2  # both .txt.gz (as staged) and .txt (as distributed)
        suffix = ".txt.gz" if gz else ".txt"
        _write_rows(raw / f"acc_{stem}{suffix}", _ramp(rows, 3, experiment * 0.25), gz=gz)
        _write_rows(raw / f"gyro_{stem}{suffix}", _ramp(rows, 3, 3000 + experiment * 0.25), gz=gz)
    segments = [
        (1, 1, 1, 0, 99),     # WALKING
        (1, 1, 7, 100, 199),  # STAND_TO_SIT
        (2, 1, 4, 10, 39),    # SITTING, the rest of experiment 2 unlabelled
        (3, 2, 12, 0, 59),    # LIE_TO_STAND
    ]
    _write_rows(raw / "labels.txt", segments, fmt="%d")
    # window 1 s = 50 samples, step 25: see the test for the arithmetic.
    return {"window_sec": 1.0, "step_sec": 0.5, "y": [0, 0, 0, 0, 6, 6, 6, 3, 11],
            "subjects": [1] * 8 + [2], "num_classes": 12, "shape": (9, 50, 6)}


def write_usc_had(home):
    root = pathlib.Path(home) / "usc_had" / "USC-HAD"
    trials = {(1, 1, 1): 450, (1, 12, 2): 400, (2, 3, 1): 800}  # (subject, activity, trial): rows
    for (subject, activity, trial), rows in trials.items():
        path = root / f"Subject{subject}" / f"a{activity}t{trial}.mat"
        path.parent.mkdir(parents=True, exist_ok=True)
        # Like Subject14/a3t2.mat: the field disagrees with the file name.
        number = 2 if activity == 3 else activity
        scipy.io.savemat(path, {"sensor_readings": _ramp(rows, 6, subject), "activity_number": str(number)})
    return {"window_sec": None, "step_sec": None, "y": [0, 11, 2, 2, 2], "subjects": [1, 1, 2, 2, 2],
            "num_classes": 12, "shape": (5, 400, 6)}


def write_uci_har(home):
    root = pathlib.Path(home) / "uci_har" / "UCI HAR Dataset"
    splits = {"train": ([1, 1, 3], [1, 2, 6]), "test": ([2, 4], [5, 5])}
    channels = ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z",
                "total_acc_x", "total_acc_y", "total_acc_z"]
    for split, (subjects, labels) in splits.items():
        _write_rows(root / split / f"subject_{split}.txt", [[s] for s in subjects], fmt="%d")
        _write_rows(root / split / f"y_{split}.txt", [[label] for label in labels], fmt="%d")
        for index, channel in enumerate(channels):
            rows = [np.full(128, 100.0 * index + row) for row in range(len(labels))]
            _write_rows(root / split / "Inertial Signals" / f"{channel}_{split}.txt", rows, fmt="%.1f")
    return {"window_sec": None, "step_sec": None, "y": [0, 1, 5, 4, 4], "subjects": [1, 1, 3, 2, 4],
            "num_classes": 6, "shape": (5, 128, 9)}


def write_wisdm(home):
    path = pathlib.Path(home) / "wisdm" / "WISDM_ar_v1.1" / "WISDM_ar_v1.1_raw.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(28):
        lines.append(f"1,Walking,{i},{i}.5,2.0,3.0;")
    lines.append("1,Walking,28,1.0,2.0,3.0;1,Walking,29,1.0,2.0,3.0;")  # two records on one line
    for i in range(25):
        lines.append(f"2,Jogging,{i},1.0,2.0,3.0;" if i != 7 else "2,Jogging,7,1.0,2.0,;")  # one value missing
    for i in range(20):
        lines.append(f"1,Sitting,{i},1.0,2.0,3.0,;")  # trailing comma, as in the original
    path.write_text("\n".join(lines) + "\n")
    # window 1 s = 20 samples, step 10: user 1 30 rows -> 2, user 2 24 rows -> 1, user 1 20 rows -> 1.
    return {"window_sec": 1.0, "step_sec": 0.5, "y": [0, 0, 1, 2], "subjects": [1, 1, 2, 1],
            "num_classes": 6, "shape": (4, 20, 3)}


def write_pamap2(home):
    root = pathlib.Path(home) / "pamap2" / "PAMAP2_Dataset" / "Protocol"
    first = np.zeros((300, 54))
    first[:, 0] = np.arange(300) / 100
    first[:150, 1] = 1  # lying, then "other" (0)
    first[:, 4] = np.arange(300)
    second = np.zeros((200, 54))
    second[:, 1] = 24  # rope jumping
    second[:, 4] = np.arange(200)
    second[3, 4] = np.nan  # interpolated back to 3
    second[:, 2] = np.nan  # heart rate, unused
    _write_rows(root / "subject101.dat", first, fmt="%g")
    _write_rows(root / "subject102.dat", second, fmt="%g")
    # window 1 s = 33 samples, step 16, every third row kept.
    return {"window_sec": 1.0, "step_sec": None, "y": [0, 0, 0, 11, 11, 11], "subjects": [1, 1, 1, 2, 2, 2],
            "num_classes": 12, "shape": (6, 33, 18)}


def write_mhealth(home):
    root = pathlib.Path(home) / "mhealth" / "MHEALTHDATASET"
    first = np.zeros((250, 24))
    first[:150, 23] = 1
    first[:, :23] = _ramp(250, 23, 0)
    second = np.full((100, 24), 0.5)
    second[:, 23] = 12
    _write_rows(root / "mHealth_subject1.log", first, delimiter="\t", fmt="%g")
    _write_rows(root / "mHealth_subject10.log", second, delimiter="\t", fmt="%g")
    return {"window_sec": 1.0, "step_sec": 0.5, "y": [0] * 5 + [11] * 3, "subjects": [1] * 5 + [10] * 3,
            "num_classes": 12, "shape": (8, 50, 23)}


MOTIONSENSE_HEADER = (
    ",attitude.roll,attitude.pitch,attitude.yaw,gravity.x,gravity.y,gravity.z,rotationRate.x,"
    "rotationRate.y,rotationRate.z,userAcceleration.x,userAcceleration.y,userAcceleration.z"
)


def write_motionsense(home):
    root = pathlib.Path(home) / "motionsense" / "A_DeviceMotion_data"
    files = {("jog_9", 1): 120, ("dws_11", 1): 60, ("std_6", 2): 49, ("sit_5", 2): 75, ("wlk_99", 2): 500}
    for (folder, subject), rows in files.items():
        path = root / folder / f"sub_{subject}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join(f"{i}," + ",".join(f"{v:g}" for v in row) for i, row in enumerate(_ramp(rows, 12, 0)))
        path.write_text(MOTIONSENSE_HEADER + "\n" + body + "\n")
    # window 1 s = 50, step 25: jog 120 -> 3, dws 60 -> 1, std 49 -> 0, sit 75 -> 2;
    # "wlk_99" is no official trial and is ignored. Sorted by (subject, class, trial).
    return {"window_sec": 1.0, "step_sec": 0.5, "y": [0, 5, 5, 5, 2, 2], "subjects": [1, 1, 1, 1, 2, 2],
            "num_classes": 6, "shape": (6, 50, 12)}


def write_daphnet(home):
    root = pathlib.Path(home) / "daphnet" / "dataset_fog_release" / "dataset"
    first = np.zeros((200, 11))
    first[:, 0] = np.arange(200) * 15.625
    first[:, 1:10] = _ramp(200, 9, 0)
    first[:100, 10], first[100:, 10] = 1, 2
    empty = np.zeros((100, 11))  # annotation 0 throughout: no window
    last = np.zeros((64, 11))
    last[:, 10] = 2
    _write_rows(root / "S01R01.txt", first, fmt="%g")
    _write_rows(root / "S02R01.txt", empty, fmt="%g")
    _write_rows(root / "S02R02.txt", last, fmt="%g")
    return {"window_sec": 1.0, "step_sec": 0.5, "y": [0, 0, 0, 1, 1, 1], "subjects": [1] * 5 + [2],
            "num_classes": 2, "shape": (6, 64, 9)}


WRITERS = {
    "uci_har": write_uci_har, "hapt": write_hapt, "usc_had": write_usc_had, "wisdm": write_wisdm,
    "pamap2": write_pamap2, "mhealth": write_mhealth, "motionsense": write_motionsense, "daphnet": write_daphnet,
}
