"""Downloads against a real HTTP server on 127.0.0.1, serving fixture archives."""

import dataclasses
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import numpy as np
import pytest

import keras_har
import test_datasets_files as fixtures
from helpers import zip_folder
from keras_har.datasets import download, hapt, uci_har, wisdm

RemoteFileMetadata = download.RemoteFileMetadata


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (body, mode)

    def do_GET(self):
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, mode = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "truncated":
            # Announce the whole body, send half of it, hang up.
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(monkeypatch):
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)  # 127.0.0.1 must not go through a proxy
    _Handler.routes = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def serve(path, body, mode="ok"):
        _Handler.routes[path] = (body, mode)
        return f"http://127.0.0.1:{httpd.server_address[1]}{path}"

    yield serve
    httpd.shutdown()
    httpd.server_close()


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_the_checksum_and_moves_into_place(server, tmp_path):
    body = os.urandom(200_000)
    url = server("/data.bin", body)
    path = download.fetch_remote(RemoteFileMetadata("data.bin", url, _sha256(body)), tmp_path, verbose=False)
    assert path == tmp_path / "data.bin" and path.read_bytes() == body
    assert os.listdir(tmp_path) == ["data.bin"]


def test_wrong_checksum_raises_and_leaves_nothing(server, tmp_path):
    url = server("/data.bin", b"the wrong bytes")
    remote = RemoteFileMetadata("data.bin", url, _sha256(b"the right bytes"))
    with pytest.raises(ValueError, match=rf"corrupt or changed: its sha256 is {_sha256(b'the wrong bytes')}"):
        download.fetch_remote(remote, tmp_path, verbose=False)
    assert os.listdir(tmp_path) == []


def test_interrupted_transfer_leaves_no_partial_file(server, tmp_path):
    url = server("/big.zip", os.urandom(300_000), mode="truncated")
    with pytest.raises(OSError, match=r"big\.zip ended early: got 150000 of 300000 bytes"):
        download.fetch_remote(RemoteFileMetadata("big.zip", url, None), tmp_path, verbose=False)
    assert os.listdir(tmp_path) == []


def test_http_error_leaves_nothing(server, tmp_path):
    url = server("/exists", b"x").replace("/exists", "/missing")
    with pytest.raises(OSError, match=r"failed after 0 bytes.*404"):
        download.fetch_remote(RemoteFileMetadata("missing.zip", url, None), tmp_path, verbose=False)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("member, expected", [
    ("../evil.txt", "outside the target folder"),
    ("ok/../../evil.txt", "outside the target folder"),
    ("/tmp/evil.txt", "absolute path"),
])
def test_zip_members_outside_the_target_are_refused(tmp_path, member, expected):
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("fine.txt", "fine")
        zipped.writestr(member, "evil")
    target = tmp_path / "target"
    with pytest.raises(ValueError, match=rf"Refusing to unpack .*slip\.zip: member .*{expected}"):
        download.extract_archive(archive, target)
    assert os.listdir(target) == []  # not even the harmless member
    assert not (tmp_path / "evil.txt").exists()


def test_tar_links_and_parent_paths_are_refused(tmp_path):
    for name, add in (
        ("link.tar.gz", lambda tar: tar.addfile(_tar_info("escape", tarfile.SYMTYPE, linkname="/etc/passwd"))),
        ("parent.tar.gz", lambda tar: tar.addfile(_tar_info("../evil.txt", tarfile.REGTYPE), io.BytesIO())),
    ):
        archive = tmp_path / name
        with tarfile.open(archive, "w:gz") as tar:
            add(tar)
        with pytest.raises(ValueError, match=r"Refusing to unpack"):
            download.extract_archive(archive, tmp_path / "target")
    assert os.listdir(tmp_path / "target") == []


def _tar_info(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, 0
    return info


def test_load_hapt_downloads_unpacks_and_removes_the_archive(server, tmp_path, monkeypatch):
    facts = fixtures.write_hapt(tmp_path / "source")
    # The UCI archive has no "HAPT Data Set/" top folder: its members start at RawData/.
    body = zip_folder(tmp_path / "source" / "hapt" / "HAPT Data Set")
    url = server("/HAPT%20Data%20Set.zip", body)
    monkeypatch.setattr(hapt, "SPEC", dataclasses.replace(
        hapt.SPEC, remote=RemoteFileMetadata("HAPT Data Set.zip", url, _sha256(body))))
    home = tmp_path / "home"
    data = keras_har.datasets.load_hapt(data_home=home, window_sec=1.0, step_sec=0.5, verbose=False)
    assert data.y.tolist() == facts["y"] and data.subjects.tolist() == facts["subjects"]
    assert sorted(os.listdir(home / "hapt")) == ["RawData", "keras_har_cache"]


def test_download_with_wrong_checksum_leaves_the_data_home_without_data(server, tmp_path, monkeypatch):
    fixtures.write_hapt(tmp_path / "source")
    body = zip_folder(tmp_path / "source" / "hapt" / "HAPT Data Set")
    url = server("/hapt.zip", body)
    monkeypatch.setattr(hapt, "SPEC", dataclasses.replace(
        hapt.SPEC, remote=RemoteFileMetadata("hapt.zip", url, "0" * 64)))
    with pytest.raises(ValueError, match="sha256"):
        keras_har.datasets.load_hapt(data_home=tmp_path / "home", verbose=False)
    assert not (tmp_path / "home").exists()  # nothing is created before a download succeeds


def test_load_uci_har_unpacks_the_zip_inside_the_zip(server, tmp_path, monkeypatch):
    facts = fixtures.write_uci_har(tmp_path / "source")
    inner = zip_folder(tmp_path / "source" / "uci_har", prefix="")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zipped:
        zipped.writestr("UCI HAR Dataset.zip", inner)
        zipped.writestr("__MACOSX/._UCI HAR Dataset.zip", b"resource fork")
    url = server("/uci.zip", outer.getvalue())
    monkeypatch.setattr(uci_har, "SPEC", dataclasses.replace(
        uci_har.SPEC, remote=RemoteFileMetadata("uci.zip", url, None)))
    data = keras_har.datasets.load_uci_har(data_home=tmp_path / "home", verbose=False)
    assert data.y.tolist() == facts["y"] and data.X.shape == facts["shape"]
    assert sorted(os.listdir(tmp_path / "home" / "uci_har")) == ["UCI HAR Dataset", "keras_har_cache"]


@pytest.mark.parametrize("filters", [True, False], ids=["python_with_tar_filters", "python_3.11.2"])
def test_load_wisdm_from_a_tar_gz(server, tmp_path, monkeypatch, filters):
    if not filters:  # Python before 3.11.4, Debian 12's: extractall takes no filter
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
        monkeypatch.setattr(tarfile.TarFile, "extractall", lambda *args, **kwargs: pytest.fail("extractall called"))
    facts = fixtures.write_wisdm(tmp_path / "source")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "source" / "wisdm" / "WISDM_ar_v1.1", arcname="WISDM_ar_v1.1")
    url = server("/WISDM_ar_latest.tar.gz", buffer.getvalue())
    monkeypatch.setattr(wisdm, "SPEC", dataclasses.replace(
        wisdm.SPEC, remote=RemoteFileMetadata("WISDM_ar_latest.tar.gz", url, None)))
    data = keras_har.datasets.load_wisdm(data_home=tmp_path / "home", window_sec=1.0, step_sec=0.5,
                                         verbose=False)
    assert data.y.tolist() == facts["y"]
    np.testing.assert_array_equal(np.unique(data.subjects), [1, 2])


def test_corrupt_archive_is_a_clear_error_and_leaves_nothing(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValueError, match=r"broken\.zip is not a complete, valid archive"):
        download.extract_archive(archive, tmp_path / "target")
    assert os.listdir(tmp_path / "target") == []
    with pytest.raises(ValueError, match=r"Unknown archive type.*Received: archive=.*data\.rar"):
        download.extract_archive(tmp_path / "data.rar", tmp_path / "target")
