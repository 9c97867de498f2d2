"""The firmware object cache shared by processes: each TFLM object is compiled once (no toolchain needed)."""

import concurrent.futures
import threading
import time

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
