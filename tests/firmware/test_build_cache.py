"""The firmware object caches: each TFLM object is compiled once, even by processes that build at once, and a
runner's own objects are reused when nothing they are compiled from has changed."""

import concurrent.futures
import threading
import time

import numpy as np
import pytest

from keras_har.firmware import build as firmware_build


def test_two_builds_of_one_library_at_once_compile_each_object_once(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    sources = [root / "tensorflow" / "a.cc", root / "third_party" / "b.c"]
    for source in sources:
        source.parent.mkdir(parents=True)
        source.write_text("int x;\n")
    compiled = []

    def slow_compile(command, source, output):
        compiled.append(source)
        time.sleep(0.5)  # long enough for the other build to look for the objects meanwhile
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(b"object")
        return ""

    monkeypatch.setattr(firmware_build, "_compile", slow_compile)
    library_dir = tmp_path / "objects" / "host-reference-key"
    both_started = threading.Barrier(2)

    def build(_):
        both_started.wait()
        return firmware_build.compile_library(library_dir, [(["cc"], source) for source in sources], root,
                                              False, "test library")

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, second = pool.map(build, range(2))
    assert sorted(compiled) == sorted(sources)  # without the lock, both builds compile both sources
    assert first == second == [library_dir / "tensorflow" / "a.o", library_dir / "third_party" / "b.o"]
    # A later build reuses the objects.
    firmware_build.compile_library(library_dir, [(["cc"], source) for source in sources], root, False, "again")
    assert len(compiled) == 2


def _runner_sources(folder, settings="const int kSteps = 32;\n"):
    """A runner's sources folder: the core's files as they include each other, and a model header."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_settings.h").write_text(settings)
    (folder / "model_ops.h").write_text("// ops\n")
    (folder / "har_classifier.h").write_text('#include "model_ops.h"\n#include "model_settings.h"\n')
    (folder / "har_classifier.cc").write_text('#include "har_classifier.h"\n#include <cstdint>\n')
    (folder / "keras_har_bigru.h").write_text("int bigru();\n")
    (folder / "keras_har_bigru.cc").write_text('#include "keras_har_bigru.h"\n')
    return folder


def test_a_runner_objects_key_follows_its_source_and_the_local_headers_it_includes(tmp_path):
    key = firmware_build._app_object_key
    src = _runner_sources(tmp_path / "a" / "src")
    command = ["g++", "-O2", "-I", str(src)]
    classifier, bigru = key(command, src / "har_classifier.cc", src), key(command, src / "keras_har_bigru.cc", src)
    # Another folder with the same files: the same keys (the folder is not part of them).
    other = _runner_sources(tmp_path / "b" / "src")
    assert key(["g++", "-O2", "-I", str(other)], other / "har_classifier.cc", other) == classifier
    # A header two includes away changes the classifier's key, not the BiGRU kernel's.
    (src / "model_settings.h").write_text("const int kSteps = 64;\n")
    assert key(command, src / "har_classifier.cc", src) != classifier
    assert key(command, src / "keras_har_bigru.cc", src) == bigru
    # So do the command and the source itself.
    assert key(command + ["-DKERAS_HAR_TEST_SKIP_STATE_RESET"], src / "keras_har_bigru.cc", src) != bigru
    (src / "keras_har_bigru.cc").write_text('#include "keras_har_bigru.h"\nint bigru() { return 1; }\n')
    assert key(command, src / "keras_har_bigru.cc", src) != bigru


def test_a_rebuilt_runner_compiles_only_what_changed_and_never_hides_a_warning(tmp_path, firmware_toolchain,
                                                                               monkeypatch):
    import uuid

    import keras_har
    from keras_har.export import convert_int8
    from keras_har.export.firmware import write_firmware
    from keras_har.export.footprint import calibration_windows

    tflm_tree, _ = firmware_toolchain
    model = keras_har.TinierHAR(input_shape=(32, 3), num_classes=4, filters=2, gru_units=4)
    export = tmp_path / "export"
    write_firmware(export, convert_int8(model, calibration_windows((32, 3))), sampling_rate_hz=1.0,
                   channel_names=["x", "y", "z"], label_names=["a", "b", "c", "d"], channel_mean=np.zeros(3),
                   channel_std=np.ones(3), arena_bytes=0)
    # A line no earlier build has seen, so the first build below compiles the model's objects.
    settings = export / "model_settings.h"
    settings.write_text(settings.read_text() + f"\n// {uuid.uuid4()}\n")
    compiled = []
    original = firmware_build._compile
    monkeypatch.setattr(firmware_build, "_compile",
                        lambda command, source, output: compiled.append(source.name) or original(command, source, output))

    def build(name, **kwargs):
        compiled.clear()
        return firmware_build.build_runner(export, target="host", tflm_root=tflm_tree, build_dir=tmp_path / name,
                                           progress=False, **kwargs)

    first = build("first")
    # Every object that includes model_settings.h was compiled (the TFLM library and the BiGRU kernel may come
    # from the cache of earlier builds).
    assert {"har_classifier.cc", "runner_main.cc"} <= set(compiled)
    again = build("again")
    assert compiled == []
    assert again.executable.read_bytes() == first.executable.read_bytes()
    # A header seen by the classifier and the test runner only: those two are compiled, nothing else.
    settings.write_text(settings.read_text() + f"// {uuid.uuid4()}\n")
    build("changed")
    assert sorted(compiled) == ["har_classifier.cc", "runner_main.cc"]
    # An object that compiled with a warning is not kept: building it again reports the warning again.
    guarded, end = settings.read_text().rsplit("#endif", 1)  # inside the include guard
    settings.write_text(f"{guarded}static int unused_{uuid.uuid4().hex};\n#endif{end}")
    for name in ("warned", "warned_again"):
        with pytest.raises(RuntimeError, match="compiled with warnings"):
            build(name)
        assert "har_classifier.cc" in compiled
