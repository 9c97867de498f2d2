"""run_settings: a resumed run refuses other settings and names every key that differs."""

import pytest

from keras_har import run_settings


def test_a_key_only_one_side_has_is_named_even_when_the_other_would_read_none(tmp_path):
    path = tmp_path / "run.json"
    run_settings.check_or_write(path, {"epochs": 1}, holds="another run", remedy="use a new folder")
    run_settings.check_or_write(path, {"epochs": 1}, holds="another run", remedy="use a new folder")
    with pytest.raises(ValueError, match=r"Differs in: \['units'\] \(stored: units=\(absent\)\)\. "
                                         r"Received: units=None"):
        run_settings.check_or_write(path, {"epochs": 1, "units": None}, holds="another run", remedy="use a new folder")
    with pytest.raises(ValueError, match=r"Differs in: \['epochs'\] \(stored: epochs=1\)\. Received: epochs=2"):
        run_settings.check_or_write(path, {"epochs": 2}, holds="another run", remedy="use a new folder")
