"""The label-scarce study's statistics: confidence intervals, paired differences, the Figure-2 plot."""

import math

import numpy as np
import pandas as pd
import pytest

from keras_har import ssl
from keras_har.ssl.protocol import RESULT_COLUMNS


def _results(scores):
    """A results table from {(pretext, mode, k): [macro-F1 per (seed, fold)]}, seeds 0-1 x folds 0..n/2."""
    rows = []
    for (pretext, mode, k), values in scores.items():
        for index, value in enumerate(values):
            row = dict.fromkeys(RESULT_COLUMNS, 0)
            row.update(mode=mode, windows_per_class=k, fewest_windows_per_class=k, seed=index % 2, fold=index // 2,
                       validation="held out", macro_f1=value)
            rows.append(dict(row, pretext=pretext))
    return pd.DataFrame(rows)


def test_mean_ci95_is_students_t_interval():
    # t(0.975, 3) = 3.182446305; std (ddof=1) of [1, 2, 3, 6] = 2.160247, / sqrt(4) = 1.0801234.
    mean, low, high = ssl.mean_ci95([1.0, 2.0, 3.0, 6.0])
    assert mean == 3.0
    assert low == pytest.approx(3.0 - 3.182446305 * 1.0801234, abs=1e-6)
    assert high == pytest.approx(3.0 + 3.182446305 * 1.0801234, abs=1e-6)
    one = ssl.mean_ci95([0.4])
    assert one[0] == 0.4 and math.isnan(one[1]) and math.isnan(one[2])
    with pytest.raises(ValueError, match="non-empty 1-D array of finite numbers"):
        ssl.mean_ci95([0.5, float("nan")])
    with pytest.raises(ValueError, match="non-empty"):
        ssl.mean_ci95([])


def test_summary_has_mean_ci_and_n_per_cell():
    results = _results({("cpc", "frozen", 1): [0.2, 0.4, 0.3, 0.5], ("cpc", "finetune", 1): [0.6],
                        ("cpc", "frozen", 5): [0.5, 0.7]})
    summary = ssl.summarize(results).set_index(["mode", "windows_per_class"])
    cell = summary.loc[("frozen", 1)]
    assert cell["fits"] == 4
    assert cell["macro_f1_mean"] == pytest.approx(0.35)
    assert cell["macro_f1_std"] == pytest.approx(np.std([0.2, 0.4, 0.3, 0.5], ddof=1))
    expected = ssl.mean_ci95([0.2, 0.4, 0.3, 0.5])
    assert (cell["macro_f1_ci95_low"], cell["macro_f1_ci95_high"]) == pytest.approx(expected[1:])
    single = summary.loc[("finetune", 1)]
    assert single["fits"] == 1 and math.isnan(single["macro_f1_ci95_low"]) and math.isnan(single["macro_f1_std"])
    assert summary.loc[("frozen", 5)]["fewest_windows_per_class"] == 5


def test_paired_differences_pair_by_seed_and_fold():
    # The frozen scores vary a lot between folds; finetune is always exactly 0.1 above its pair.
    frozen = [0.2, 0.8, 0.4, 0.6]
    results = _results({("cpc", "frozen", 1): frozen, ("cpc", "finetune", 1): [f + 0.1 for f in frozen],
                        ("cpc", "frozen", 10): [0.7, 0.7, 0.7], ("cpc", "finetune", 10): [0.6, 0.65],
                        ("simclr", "frozen", 1): [0.5, 0.5], ("simclr", "finetune", 1): [0.4, 0.6]})
    table = ssl.paired_differences(results).set_index(["pretext", "windows_per_class"])
    paired = table.loc[("cpc", 1)]
    assert paired["pairs"] == 4 and paired["unpaired"] == 0 and paired["pairs_better"] == 4
    assert paired["difference_mean"] == pytest.approx(0.1)
    # Pairing removes the fold spread: the interval of a constant difference has no width.
    assert paired["difference_ci95_low"] == pytest.approx(0.1) and paired["difference_ci95_high"] == pytest.approx(0.1)
    partial = table.loc[("cpc", 10)]
    assert partial["pairs"] == 2 and partial["unpaired"] == 1 and partial["pairs_better"] == 0
    assert partial["difference_mean"] == pytest.approx(-0.075)
    mixed = table.loc[("simclr", 1)]
    assert mixed["pairs_better"] == 1 and mixed["difference_mean"] == pytest.approx(0.0)
    assert mixed["difference_ci95_low"] < 0 < mixed["difference_ci95_high"]
    reverse = ssl.paired_differences(results, mode="frozen", baseline="finetune").set_index(
        ["pretext", "windows_per_class"])
    assert reverse.loc[("cpc", 1)]["difference_mean"] == pytest.approx(-0.1)


def test_study_differences_hold_every_comparison_whose_modes_ran():
    results = _results({("cpc", "frozen", 1): [0.2, 0.4], ("cpc", "finetune", 1): [0.3, 0.6],
                        ("cpc", "scratch", 1): [0.1, 0.1]})
    table = ssl.study_differences(results)
    assert table[["mode", "baseline"]].values.tolist() == [["finetune", "frozen"], ["finetune", "scratch"],
                                                           ["frozen", "scratch"]]
    assert table["difference_mean"].tolist() == pytest.approx([0.15, 0.35, 0.2])
    only_two = ssl.study_differences(results[results["mode"] != "scratch"])
    assert only_two[["mode", "baseline"]].values.tolist() == [["finetune", "frozen"]]


def test_difference_trends_fit_each_seed_and_folds_differences_against_log_k():
    # Seed 0: finetune - frozen 0.2, 0.1, 0.0 at k = 1, 10, 100 (slope -0.1 per decade); seed 1: 0.1, 0.15, 0.2
    # (slope +0.05). Seed 0 of fold 1 has k=1 only (no slope, left out); k=1000 has no finetune fit (unpaired).
    results = _results({("cpc", "frozen", 1): [0.5, 0.5, 0.5], ("cpc", "finetune", 1): [0.7, 0.6, 0.9],
                        ("cpc", "frozen", 10): [0.5, 0.5], ("cpc", "finetune", 10): [0.6, 0.65],
                        ("cpc", "frozen", 100): [0.5, 0.5], ("cpc", "finetune", 100): [0.5, 0.7],
                        ("cpc", "frozen", 1000): [0.5, 0.5]})
    table = ssl.difference_trends(results)
    assert len(table) == 1  # no scratch fits: only finetune - frozen
    row = table.iloc[0]
    assert (row["mode"], row["baseline"], row["pretext"], row["units"]) == ("finetune", "frozen", "cpc", 2)
    assert row["windows_per_class"] == "1,10,100" and row["units_falling"] == 1
    expected = ssl.mean_ci95([-0.1, 0.05])
    assert (row["slope_mean"], row["slope_ci95_low"], row["slope_ci95_high"]) == pytest.approx(expected)
    # The reverse comparison has the negated slopes.
    reverse = ssl.difference_trends(results, comparisons=[("frozen", "finetune")]).iloc[0]
    assert reverse["slope_mean"] == pytest.approx(0.025) and reverse["units_falling"] == 1
    assert ssl.difference_trends(results[results["windows_per_class"] == 1]).empty


def test_paired_differences_refuse_a_missing_mode_and_duplicate_fits():
    results = _results({("cpc", "frozen", 1): [0.2, 0.3]})
    with pytest.raises(ValueError, match=r"no fit of mode 'finetune'; their modes are \['frozen'\]"):
        ssl.paired_differences(results)
    doubled = pd.concat([_results({("cpc", "finetune", 1): [0.4]})] * 2 + [results], ignore_index=True)
    with pytest.raises(ValueError, match="mode 'finetune' twice for one seed and fold"):
        ssl.paired_differences(doubled)


def test_study_plot_draws_the_confidence_intervals(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn = []
    original = matplotlib.axes.Axes.errorbar

    def spy(self, x, y, yerr=None, **kwargs):
        drawn.append((kwargs.get("label"), list(x), list(y), [list(side) for side in yerr]))
        return original(self, x, y, yerr=yerr, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", spy)
    results = _results({("cpc", "frozen", 1): [0.2, 0.4], ("cpc", "finetune", 1): [0.5, 0.5],
                        ("cpc", "frozen", 5): [0.6]})
    path = tmp_path / "study.png"
    ssl.plot_study(results, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frozen = next(d for d in drawn if d[0] == "frozen")
    _, low, high = ssl.mean_ci95([0.2, 0.4])
    assert frozen[1] == [1, 5] and frozen[2] == pytest.approx([0.3, 0.6])
    # Below and above the mean at k=1; none for the single fit at k=5.
    assert frozen[3][0] == pytest.approx([0.3 - low, 0.0]) and frozen[3][1] == pytest.approx([high - 0.3, 0.0])
    finetune = next(d for d in drawn if d[0] == "finetune")
    assert finetune[3] == [[0.0], [0.0]]
