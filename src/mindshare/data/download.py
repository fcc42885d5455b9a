"""Download a MovieLens release from GroupLens, check it against the published MD5, with a progress bar.

The zip lands in `data/raw/ml-<release>.zip` (written only once the checksum matches); ingest then
reads it offline like any local copy. `MINDSHARE_MOVIELENS_URL` (or `--base-url`) points at a mirror.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from mindshare.atomic_files import atomic_path
from mindshare.errors import MindshareError
from mindshare.layout import RAW
from mindshare.settings import MOVIELENS_RELEASES

BASE_URL = "https://files.grouplens.org/datasets/movielens/"
RELEASES = {release: f"ml-{release}" for release in MOVIELENS_RELEASES}  # release -> the zip's name
CHUNK = 1 << 20


def release_file(release: str, folder: Path = RAW) -> Path:
    if release not in RELEASES:
        raise MindshareError(f"MovieLens release '{release}' is unknown; use one of {', '.join(RELEASES)}")
    return Path(folder) / f"{RELEASES[release]}.zip"


def missing_release(source: str, release: str | None, path: Path) -> str | None:
    """The release ingest asks for (`source`, `release`, `path` as in params.yaml) if it is not at `path` yet,
    else None; `path` must be where `download_release` puts that release."""
    if source != "movielens" or not release or path.exists():
        return None
    if path != release_file(release, path.parent):
        raise MindshareError(f"params.yaml: ingest.path is {path}; to download release {release} there, "
                             f"name it {release_file(release, path.parent)}")
    return release


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http(s) URLs from our table or the user)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise MindshareError(f"{url}: cannot download ({reason}); check the network, or download the file "
                             "yourself and set ingest.path to it") from None


def published_md5(url: str, timeout: float = 30.0) -> str:
    with _open(url + ".md5", timeout) as response:
        text = response.read(4096).decode("ascii", "replace").split()
    digest = next((t.lower() for t in text if len(t) == 32 and all(c in "0123456789abcdefABCDEF" for c in t)), None)
    if digest is None:
        raise MindshareError(f"{url}.md5: no MD5 checksum in it; cannot check the download")
    return digest


def download_release(release: str, folder: Path = RAW, base_url: str | None = None, progress: bool = True,
                     timeout: float = 60.0) -> Path:
    """The verified zip of `release` in `folder` (downloaded unless it is already there)."""
    target = release_file(release, folder)
    if target.exists():
        return target
    base = (base_url or os.environ.get("MINDSHARE_MOVIELENS_URL") or BASE_URL).rstrip("/") + "/"
    url = base + target.name
    expected = published_md5(url, timeout)
    digest = hashlib.md5(usedforsecurity=False)
    with _open(url, timeout) as response, atomic_path(target) as tmp:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=target.name,
                                          file=sys.stderr, disable=not progress) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        if digest.hexdigest() != expected:
            raise MindshareError(f"{url}: MD5 {digest.hexdigest()} does not match the published {expected}; "
                                 "the download is damaged, try again")
    return target
