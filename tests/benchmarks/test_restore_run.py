"""benchmarks/restore_run.py: a run kept only as results.json resumes without retraining its folds."""

import json
import os
import shutil

import numpy as np
import pytest
from helpers import CountingBuilder, load_benchmark_script, toy_dataset

from keras_har import evaluation


@pytest.fixture(scope="module")
def restore_run():
    return load_benchmark_script("restore_run")


def _toy_dataset():
    return toy_dataset(per_subject=12, t=8, c=2, k=2)


@pytest.mark.slow  # over 5 s: a cross-validation run
def test_restored_folds_are_skipped_and_the_missing_ones_trained(restore_run, tmp_path):
    data = _toy_dataset()
    builder = CountingBuilder()
    first = evaluation.cross_validate(builder, data, protocol="loso", folds=2, epochs=1, output_dir=tmp_path,
                                      verbose=0)
    # What an earlier session committed: results.json alone.
    shutil.rmtree(tmp_path / "folds")
    os.remove(tmp_path / "run.json")
    assert restore_run.restore(str(tmp_path)) == [0, 1]
    assert restore_run.restore(str(tmp_path)) == []          # existing fold files are kept
    restored = json.loads((tmp_path / "folds" / "fold_01.json").read_text())
    assert restored["restored_from"] == "results.json" and restored["confusion"] is None

    extended = evaluation.cross_validate(builder, data, protocol="loso", epochs=1, output_dir=tmp_path, verbose=0)
    assert builder.calls == 4                                 # folds 2 and 3 only
    assert [fold["macro_f1"] for fold in extended["folds"][:2]] == [fold["macro_f1"] for fold in first["folds"]]
    assert extended["confusion_folds"] == [2, 3]
    assert np.array(extended["confusion"]).sum() == int(np.isin(data.subjects, [3, 4]).sum())


def test_restore_refuses_a_folder_that_is_not_a_run(restore_run, tmp_path):
    with pytest.raises(SystemExit, match=r"results.json not found"):
        restore_run.restore(str(tmp_path))
    (tmp_path / "results.json").write_text(json.dumps({"model": "tinierhar"}))
    with pytest.raises(SystemExit, match=r"lacks \['model_kwargs'"):
        restore_run.restore(str(tmp_path))


def test_restore_refuses_a_run_json_of_other_settings(restore_run, tmp_path):
    evaluation.cross_validate(CountingBuilder(), _toy_dataset(), protocol="loso", folds=1, epochs=1,
                              output_dir=tmp_path, verbose=0)
    config = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps(dict(config, epochs_max=7)))
    with pytest.raises(SystemExit, match=r"run.json differs"):
        restore_run.restore(str(tmp_path))
