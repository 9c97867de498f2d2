"""Fine-tuning modes, the label-scarce protocol and the pretrain/finetune commands."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import keras_har
from keras_har import ssl
from keras_har.backend import keras
from keras_har.cli import main
from keras_har.datasets import HARDataset
from keras_har.training import Recipe
from model_harness import check_model

SHAPE = (32, 3)
# One epoch of the study's recipe, to keep the tests short.
ONE_EPOCH = dataclasses.replace(ssl.FINETUNE_RECIPE, epochs=1)


def _pretrained():
    keras.utils.set_random_seed(0)
    return ssl.Reconstruction(keras_har.TinierHARBackbone(input_shape=SHAPE), hidden_units=16)


def _toy_dataset(windows_per_subject=6, subjects=6, classes=3):
    rng = np.random.default_rng(0)
    count = windows_per_subject * subjects
    labels = np.arange(count) % classes
    # Classes differ in amplitude, so a few fits can tell them apart.
    windows = rng.normal(size=(count, *SHAPE)) * (1 + labels[:, None, None])
    return HARDataset(
        name="toy", X=windows, y=labels, subjects=np.repeat(np.arange(subjects), windows_per_subject),
        class_names=[f"c{i}" for i in range(classes)], channel_names=["acc_x", "acc_y", "acc_z"],
        sampling_rate_hz=50.0, window_sec=SHAPE[0] / 50.0, step_sec=0.32,
    )


def _fit(model, data):
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.X, data.y, epochs=2, batch_size=12, verbose=0)


def test_head_is_256_128_128_with_batchnorm_relu_dropout():
    model = ssl.build_classifier(_pretrained().feature_model(), num_classes=5, mode="finetune")
    assert [model.get_layer(f"head{i}_dense").units for i in (1, 2, 3)] == [256, 128, 128]
    assert [model.get_layer(f"head{i}_dropout").rate for i in (1, 2, 3)] == [0.2, 0.2, 0.2]
    assert all(isinstance(model.get_layer(f"head{i}_bn"), keras.layers.BatchNormalization) for i in (1, 2, 3))
    assert model.get_layer("logits").units == 5 and model.output_shape == (None, 5)


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_frozen_keeps_the_encoder_bit_identical_and_finetune_changes_it():
    features = _pretrained().feature_model()
    pretrained = [w.copy() for w in features.get_weights()]
    data = _toy_dataset()
    frozen = ssl.build_classifier(features, 3, mode="frozen")
    finetuned = ssl.build_classifier(features, 3, mode="finetune")
    for model in (frozen, finetuned):
        _fit(model, data)
    frozen_weights = frozen.get_layer("ssl_encoder").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(pretrained, frozen_weights))  # BatchNorm statistics too
    assert any(not np.array_equal(a, b) for a, b in zip(pretrained, finetuned.get_layer("ssl_encoder").get_weights()))
    # The classifiers worked on copies: the pretrained model is untouched.
    assert all(np.array_equal(a, b) for a, b in zip(pretrained, features.get_weights()))
    assert frozen.get_layer("head1_dense").get_weights()[0].std() > 0


def test_scratch_reinitialises_the_encoder():
    features = _pretrained().feature_model()
    scratch = ssl.build_classifier(features, 3, mode="scratch")
    copy = scratch.get_layer("ssl_encoder")
    kernels = [(w.numpy(), c.numpy()) for w, c in zip(features.weights, copy.weights) if "kernel" in w.name]
    assert len(kernels) == 20  # 6 depthwise, 6 pointwise, 2 shortcuts, 4 GRU, pooling score, projection
    assert all(not np.array_equal(a, b) for a, b in kernels)


def test_bad_mode_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Received: mode='linear'"):
        ssl.build_classifier(_pretrained().feature_model(), 3, mode="linear")


@pytest.mark.slow  # over 10 s: fits or CLI runs
def test_pretext_loss_can_keep_running_during_finetuning(tmp_path):
    pretext = _pretrained()
    model = ssl.PretextRegularizedClassifier(pretext, num_classes=3, pretext_weight=0.5)
    assert model.classifier.get_layer("ssl_encoder").get_layer("tinier_har_backbone") is pretext.encoder
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    decoder_before = pretext.decoder.get_weights()[0].copy()
    data = _toy_dataset()
    history = model.fit(data.X, data.y, epochs=1, batch_size=12, verbose=0)
    assert set(history.history) == {"loss", "pretext_loss"}
    assert history.history["loss"][0] > 0.5 * history.history["pretext_loss"][0]
    assert not np.array_equal(decoder_before, pretext.decoder.get_weights()[0])
    model.save(tmp_path / "joint.keras")
    restored = keras.models.load_model(tmp_path / "joint.keras", safe_mode=True)
    assert restored.classifier.get_layer("ssl_encoder").get_layer("tinier_har_backbone") is restored.pretext.encoder
    np.testing.assert_array_equal(restored.predict(data.X, verbose=0), model.predict(data.X, verbose=0))


@pytest.mark.slow  # several fits, each traced afresh
def test_label_scarce_study_rows_and_counts():
    data = _toy_dataset()
    # One mode: what frozen and finetune each do is tested below, on their weights.
    table = ssl.label_scarce_study(_pretrained(), data, windows_per_class=[1, 2], modes=["finetune"],
                                   n_splits=3, folds=1, seeds=[0], recipe=ONE_EPOCH, progress=False)
    assert len(table) == 2
    assert table["train_windows"].tolist() == [3, 6]  # k windows of each of 3 classes
    assert set(table["test_windows"]) == {12}  # 2 of 6 subjects, 6 windows each
    assert table["macro_f1"].between(0, 1).all()
    summary = ssl.summarize(table)
    assert summary["fits"].tolist() == [1, 1]


def test_label_scarce_study_refuses_a_frozen_pretext_loss_and_wrong_shapes():
    with pytest.raises(ValueError, match=r"Received: modes=\['frozen'\]"):
        ssl.label_scarce_study(_pretrained(), _toy_dataset(), modes=["frozen"], pretext_weight=1.0)
    other = ssl.Reconstruction(keras_har.TinierHARBackbone(input_shape=(64, 3)))
    with pytest.raises(ValueError, match="Received: dataset='toy'"):
        ssl.label_scarce_study(other, _toy_dataset())
    with pytest.raises(ValueError, match=r"`recipe` must be a keras_har.training.Recipe. Received: recipe=\{'epochs': 1\}"):
        ssl.label_scarce_study(_pretrained(), _toy_dataset(), recipe={"epochs": 1})


@pytest.mark.slow
def test_pretrain_and_finetune_commands(tmp_path, capsys):
    data = _toy_dataset()
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=data.X, y=data.y, subjects=data.subjects, sampling_rate_hz=50.0,
             channel_names=np.array(data.channel_names))
    run = tmp_path / "run"
    assert main(["pretrain", "--pretext", "reconstruction", "--dataset", str(npz), "--output", str(run),
                 "--epochs", "1", "--fraction", "0.5", "--batch-size", "8"]) == 0
    assert {p.name for p in run.iterdir()} == {"encoder.keras", "pretext.keras", "pretrain.json", "standardizer.json"}
    assert ssl.load_metadata(run)["window_length"] == 32
    assert ssl.load_encoder(run).output_shape == (None, 256)
    study = tmp_path / "study"
    assert main(["finetune", "--encoder", str(run), "--dataset", str(npz), "--mode", "frozen",
                 "--windows-per-class", "1", "--n-splits", "3", "--fold-indices", "2", "--epochs", "1",
                 "--split-seed", "4", "--output", str(study)]) == 0
    table = pd.read_csv(study / "results.csv")
    assert table[["mode", "windows_per_class", "fold", "train_windows"]].values.tolist() == [["frozen", 1, 2, 3]]
    assert pd.read_csv(study / "summary.csv")["fits"].tolist() == [1]
    assert json.loads((study / "study.json").read_text())["split"] == "subject_kfold(3), seed 4"
    differences = pd.read_csv(study / "differences.csv")  # one mode: nothing to compare
    assert differences.empty and "difference_ci95_low" in differences.columns
    assert (study / "study.png").stat().st_size > 0
    assert (study / "frozen" / "k001" / "seed0" / "folds" / "fold_02.json").is_file()
    assert main(["finetune", "--encoder", str(tmp_path), "--dataset", str(npz)]) == 2
    assert "pretrain.json" in capsys.readouterr().err


def _cpc_on_a_forward_gru():
    # CPC predicts the convolutions' encodings (a step projection of its own) and uses the encoder's GRU as context.
    keras.utils.set_random_seed(0)
    return ssl.CPC(ssl.make_encoder("cnngru-causal", SHAPE, gru_units=8), prediction_steps=2)


def test_the_profile_of_a_pretext_regularized_classifier_is_its_classifiers():
    # Issue 24: the pretext's training-only layers (CPC's step projection, predictors) have no inference graph.
    model = ssl.PretextRegularizedClassifier(_cpc_on_a_forward_gru(), num_classes=3)
    counts = keras_har.profile(model)
    assert counts == keras_har.profile(model.classifier)
    assert counts["params"] == sum(int(np.prod(w.shape)) for w in model.classifier.trainable_weights)
    assert counts["params"] < sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.slow  # several fits, each traced afresh
@pytest.mark.parametrize("make_pretext", [_pretrained, _cpc_on_a_forward_gru], ids=["reconstruction", "cpc"])
def test_label_scarce_study_with_the_pretext_loss_running(make_pretext):
    pretext = make_pretext()
    before = [w.copy() for w in pretext.get_weights()]
    table = ssl.label_scarce_study(pretext, _toy_dataset(), windows_per_class=[2], modes=["finetune"], n_splits=3,
                                   folds=1, recipe=ONE_EPOCH, pretext_weight=1.0, progress=False)
    assert table[["mode", "train_windows"]].values.tolist() == [["finetune", 6]]
    # The study trains a copy: the pretrained pretext model is unchanged.
    assert all(np.array_equal(a, b) for a, b in zip(before, pretext.get_weights()))


def test_windows_per_class_above_every_class_is_refused_before_training(capsys, tmp_path):
    # Issue 22: --windows-per-class 100000 trained on every window but reported k=100000.
    data = _toy_dataset()  # 3 folds: 4 training subjects, 8 windows per class
    with pytest.raises(ValueError, match=r"`windows_per_class` \[100000\] is more than any class has in the "
                                         r"training subjects of fold 0 \(seed 0; the largest class has 8 windows\)"):
        ssl.label_scarce_study(_pretrained(), data, windows_per_class=[1, 100000], n_splits=3,
                               recipe=ONE_EPOCH, progress=False)


@pytest.mark.slow  # several fits, each traced afresh
def test_the_k_a_small_class_really_got_is_reported():
    data = _toy_dataset()
    # Keep one window of class 2 per subject: 4 in the training subjects of a fold, against 8 for the others.
    keep = (data.y != 2) | (np.arange(len(data.y)) % 6 == 2)
    table = ssl.label_scarce_study(_pretrained(), data.subset(keep), windows_per_class=[6], modes=["frozen"],
                                   n_splits=3, folds=1, recipe=ONE_EPOCH, progress=False)
    assert table[["windows_per_class", "fewest_windows_per_class", "train_windows"]].values.tolist() == [[6, 4, 16]]
    assert ssl.summarize(table)["fewest_windows_per_class"].tolist() == [4]


@pytest.mark.slow  # several fits, each traced afresh
def test_study_validates_on_held_out_labelled_windows_and_resumes_from_its_folder(tmp_path, monkeypatch):
    data = _toy_dataset()  # 3 classes; 3 folds of 2 subjects
    study = dict(windows_per_class=[1, 2], modes=["frozen"], n_splits=3, fold_indices=[1], recipe=ONE_EPOCH,
                 progress=False, output_dir=tmp_path / "study")
    table = ssl.label_scarce_study(_pretrained(), data, **study)
    assert table["fold"].tolist() == [1, 1]
    # k=1: nothing to hold out, the fit validates on its 3 training windows; k=2: one window of each class validates.
    assert table[["windows_per_class", "train_windows", "val_windows", "validation"]].values.tolist() == [
        [1, 3, 0, "training windows"], [2, 6, 3, "held out"]]
    assert (tmp_path / "study" / "frozen" / "k002" / "seed0" / "folds" / "fold_01.json").is_file()
    assert not (tmp_path / "study" / "frozen" / "k002" / "seed0" / "checkpoints").exists()

    # A second call finds every fit finished and trains nothing.
    def no_training(*args, **kwargs):
        raise AssertionError("a finished fit was trained again")

    monkeypatch.setattr(ssl.protocol, "run_fold", no_training)
    again = ssl.label_scarce_study(_pretrained(), data, **study)
    pd.testing.assert_frame_equal(again, table)
    # Another encoder, or another recipe, in the same folder is refused.
    other = _pretrained()
    other.set_weights([w + 1 for w in other.get_weights()])
    with pytest.raises(ValueError, match=r"label-scarce study with other settings.*Differs in: \['pretrained'\]"):
        ssl.label_scarce_study(other, data, **study)
    with pytest.raises(ValueError, match=r"Differs in: \['recipe'\]"):
        ssl.label_scarce_study(_pretrained(), data, **{**study, "recipe": Recipe(epochs=2)})
    with pytest.raises(ValueError, match=r"fold numbers in \[0, 3\) for this protocol\. Received: fold_indices=\[3\]"):
        ssl.label_scarce_study(_pretrained(), data, **{**study, "fold_indices": [3]})
    with pytest.raises(ValueError, match=r"not both. Received: folds=1, fold_indices=\[1\]"):
        ssl.label_scarce_study(_pretrained(), data, **{**study, "folds": 1})


def test_with_the_pretext_loss_running_validation_scores_the_classifier_alone():
    data = _toy_dataset()
    model = ssl.PretextRegularizedClassifier(_pretrained(), num_classes=3, pretext_weight=5.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logits = model.predict(data.X, verbose=0)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(data.y, logits)
    assert model.evaluate(data.X, data.y, batch_size=len(data.y), verbose=0) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.slow  # over 5 s: three fits with the pretext loss
def test_pretext_regularized_classifier_config_file_and_training_step(tmp_path):
    data = _toy_dataset()
    model = ssl.PretextRegularizedClassifier(_pretrained(), num_classes=3, pretext_weight=0.5)
    restored = check_model(model, data.X[:6].astype("float32"), tmp_path, labels=data.y[:6])
    assert restored.classifier.get_layer("ssl_encoder").get_layer("tinier_har_backbone") is restored.pretext.encoder


@pytest.mark.slow  # over 5 s: a label-scarce study of several fits
def test_a_split_seed_gives_every_seed_the_same_subject_folds(monkeypatch, tmp_path):
    data = _toy_dataset(subjects=6)
    seen = []

    def record(build, dataset, fold_indices, fold, directory, *, seed, **kwargs):
        train, test = fold_indices
        seen.append((seed, fold, tuple(sorted(set(dataset.subjects[test]))), tuple(sorted(train))))
        return {"n_val": 0, "n_test": len(test), "validation": "training windows", "epochs_run": 1,
                "best_epoch": 1, "macro_f1": 0.5}

    monkeypatch.setattr(ssl.protocol, "run_fold", record)
    study = dict(windows_per_class=[1], modes=["frozen"], n_splits=3, seeds=[0, 1], progress=False)
    ssl.label_scarce_study(_pretrained(), data, split_seed=7, **study)
    test_subjects = {seed: [s for (r, _, s, _) in seen if r == seed] for seed in (0, 1)}
    expected = [tuple(sorted(set(data.subjects[test])))
                for _, test in keras_har.datasets.splits.subject_kfold(data.subjects, 3, 7)]
    assert test_subjects[0] == test_subjects[1] == expected
    # The labelled draw still changes with the seed.
    assert {train for (r, _, _, train) in seen if r == 0} != {train for (r, _, _, train) in seen if r == 1}
    # Without it each seed splits anew (seeds 0 and 1 put other subjects in fold 0 of this toy set).
    seen.clear()
    ssl.label_scarce_study(_pretrained(), data, **study)
    assert [s for (r, f, s, _) in seen if f == 0 and r == 0] != [s for (r, f, s, _) in seen if f == 0 and r == 1]
    # The shared split is part of a study folder's settings.
    ssl.label_scarce_study(_pretrained(), data, split_seed=7, output_dir=tmp_path / "study", **study)
    with pytest.raises(ValueError, match=r"Differs in: \['split'\]"):
        ssl.label_scarce_study(_pretrained(), data, split_seed=8, output_dir=tmp_path / "study", **study)
