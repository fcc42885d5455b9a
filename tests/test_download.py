"""MovieLens download with checksum, against a real HTTP server on loopback (no internet needed)."""

from __future__ import annotations

import hashlib
import http.server
import io
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from mindshare.data.download import download_release, release_file
from mindshare.data.movielens import read_movielens
from mindshare.errors import MindshareError


@pytest.fixture()
def mirror(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base URL)."""
    folder = tmp_path / "mirror"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _release_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", "1\t10\t4\t881250949\n2\t10\t3\t891717742\n")
        archive.writestr("ml-100k/u.item", "10|Film (1995)|01-Jan-1995||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n")
    return buffer.getvalue()


def test_download_checks_the_published_md5(mirror, tmp_path):
    folder, url = mirror
    data = _release_zip()
    (folder / "ml-100k.zip").write_bytes(data)
    (folder / "ml-100k.zip.md5").write_text(f"{hashlib.md5(data).hexdigest()}  ml-100k.zip\n")
    target = download_release("100k", tmp_path / "raw", base_url=url, progress=False)
    assert target == release_file("100k", tmp_path / "raw") and target.read_bytes() == data
    ratings, items = read_movielens(target)
    assert len(ratings.frame) == 2 and items.frame["title"].tolist() == ["Film (1995)"]
    assert (
        download_release("100k", tmp_path / "raw", base_url="http://127.0.0.1:9/", progress=False) == target
    )  # cached


def test_a_damaged_download_leaves_nothing(mirror, tmp_path):
    folder, url = mirror
    (folder / "ml-1m.zip").write_bytes(_release_zip())
    (folder / "ml-1m.zip.md5").write_text("0" * 32 + "  ml-1m.zip\n")
    with pytest.raises(MindshareError, match="does not match the published"):
        download_release("1m", tmp_path / "raw", base_url=url, progress=False)
    assert not list((tmp_path / "raw").iterdir())
    with pytest.raises(MindshareError, match=r"ml-25m.zip.md5: cannot download"):
        download_release("25m", tmp_path / "raw", base_url=url, progress=False)
    with pytest.raises(MindshareError, match="release '5m' is unknown"):
        release_file("5m")


def test_download_command_one_line_errors(mirror, tmp_path):
    _, url = mirror
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mindshare.cli",
            "download",
            "--release",
            "32m",
            "--to",
            str(tmp_path),
            "--base-url",
            url,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "ml-32m.zip.md5: cannot download" in result.stderr
    assert not Path(tmp_path / "ml-32m.zip").exists()
