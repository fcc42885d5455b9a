"""Keyed pseudonyms for user ids (HMAC-SHA256), so raw ids never reach outputs, models or MLflow.

The key comes from `MINDSHARE_PSEUDONYM_KEY` (a deployment's secret), else from the git-ignored key file that
ingest makes on its first run (256 random bits, written atomically, saying so in one line). Only the key's owner
can map a pseudonym back to a person (by hashing candidate ids). A key shorter than 16 bytes (128 bits) or an
empty key file is refused: an empty HMAC key would make every pseudonym computable by anyone.

The key's fingerprint (a keyed hash that reveals nothing of the key) goes into reports/ingest.json, every MLflow
run and every logged model; pseudonymising under a key whose fingerprint differs from the data's is refused
(`check_fingerprint`), so outputs made under two keys never mix.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare import layout

KEY_ENV = "MINDSHARE_PSEUDONYM_KEY"
KEY_FILE_ENV = "MINDSHARE_PSEUDONYM_KEY_FILE"
DEFAULT_KEY_FILE = Path(".mindshare") / "pseudonym.key"
PSEUDONYM_HEX_CHARS = 20  # 80 bits: collisions are negligible below billions of users
MIN_KEY_BYTES = 16  # 128 bits


def key_file_path(key_file: str | Path | None = None) -> Path:
    return Path(key_file or os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)


def load_key(key_file: str | Path | None = None, create: bool = False) -> bytes:
    """The key: the environment variable, else the key file. `create` (ingest only): make the key file if there is
    none, atomically (a concurrent first run reads the one made first)."""
    from mindshare.errors import MindshareError

    if KEY_ENV in os.environ:
        key = os.environ[KEY_ENV].encode()
        if len(key.strip()) < MIN_KEY_BYTES:
            raise MindshareError(f"{KEY_ENV} is {'empty' if not key.strip() else 'too short'}: a pseudonymisation key "
                                 f"needs at least {MIN_KEY_BYTES} bytes (e.g. `python -c 'import secrets; "
                                 "print(secrets.token_hex(32))'`)")
        return key
    path = key_file_path(key_file)
    if not path.exists():
        if not create:
            raise MindshareError(f"no pseudonymisation key: set {KEY_ENV} or create {path} (run the ingest stage once)")
        _create_key_file(path)
    key = path.read_text().strip().encode()
    if len(key) < MIN_KEY_BYTES:
        raise MindshareError(f"{path}: the pseudonymisation key file is {'empty' if not key else 'too short'} (at "
                             f"least {MIN_KEY_BYTES} bytes); restore the key the data was made with, or delete the "
                             "file and re-run ingest to make a new one (every pseudonym changes)")
    return key


def _create_key_file(path: Path) -> None:
    """256 random bits written to a temporary file, flushed to disk, then linked to `path` only if no key is there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: use that one
            return
    finally:
        tmp.unlink(missing_ok=True)
    print(f"mindshare: created a new pseudonymisation key in {path} (fingerprint "
          f"{key_fingerprint(path.read_text().strip().encode())}); keep it secret and backed up: without it the "
          f"data's pseudonyms cannot be matched again", file=sys.stderr)


def key_fingerprint(key: bytes) -> str:
    """A short public name for the key: equal keys have equal fingerprints; nothing of the key can be learnt."""
    return hmac.new(key, b"mindshare key fingerprint", hashlib.sha256).hexdigest()[:16]


def recorded_fingerprint(report: Path = layout.INGEST_REPORT) -> str | None:
    """The fingerprint of the key the data was ingested under (reports/ingest.json), None where not recorded."""
    try:
        return json.loads(report.read_text()).get("key_fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def check_fingerprint(key: bytes, expected: str | None, what: str) -> None:
    """Refuse (one line, exit 2) to pseudonymise against `what` made under another key."""
    if expected and key_fingerprint(key) != expected:
        from mindshare.errors import MindshareError

        raise MindshareError(f"the pseudonymisation key (fingerprint {key_fingerprint(key)}) is not the one {what} was "
                             f"made with ({expected}): restore that key ({KEY_ENV} or {DEFAULT_KEY_FILE}), or re-run "
                             "the pipeline from ingest under the new one")


def current_fingerprint() -> str | None:
    """The fingerprint of the key in force, None where there is no usable key."""
    from mindshare.errors import MindshareError

    try:
        return key_fingerprint(load_key())
    except MindshareError:
        return None


def load_project_key() -> bytes:
    """The key, checked against the fingerprint ingest recorded for the project's data (where there is one)."""
    key = load_key()
    check_fingerprint(key, recorded_fingerprint(), f"the project's data ({layout.INGEST_REPORT})")
    return key


def pseudonymise(ids: pd.Series | np.ndarray | list[str], key: bytes) -> np.ndarray:
    """Map raw ids to pseudonyms; each distinct id is hashed once."""
    codes, hashed = _distinct_pseudonyms(pd.Series(ids, dtype=str), key)
    hashed = np.array(hashed, dtype=object)
    return hashed[codes] if len(codes) else np.array([], dtype=object)


def _distinct_pseudonyms(ids: pd.Series, key: bytes) -> tuple[np.ndarray, list[str]]:
    """Each row's code and each distinct id's pseudonym (hashed once)."""
    codes, uniques = pd.factorize(ids.astype(str), sort=False)
    return codes, [pseudonym(str(u), key) for u in uniques]


def pseudonymise_column(ids: pd.Series, key: bytes) -> pd.Series:
    """`pseudonymise` for a whole column (same index): Arrow strings decoded from the distinct ids'
    pseudonyms, so that 20 million rows never become 20 million Python strings."""
    import pyarrow as pa

    codes, hashed = _distinct_pseudonyms(ids, key)
    column = pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32()), pa.array(hashed, pa.string())
    ).dictionary_decode()
    return pd.Series(pa.chunked_array([column], pa.string()).to_pandas().array, index=ids.index)


ERASURE_PREFIX = b"mindshare erasure:"


def erasure_hash(raw_id: str) -> str:
    """The forget list's key-independent record of a raw id (SHA-256, unkeyed): ingest drops the person under any
    pseudonymisation key, a new or a lost one. It reveals only whether a given id is on the list, to someone who
    already knows the id (what a suppression list is for)."""
    return hashlib.sha256(ERASURE_PREFIX + raw_id.encode("utf-8", "surrogatepass")).hexdigest()


def matching_ids(ids: pd.Series, hashes: set[str]) -> set[str]:
    """The distinct raw ids of `ids` whose erasure hash is in `hashes` (each distinct id hashed once)."""
    if not hashes:
        return set()
    return {raw for raw in pd.unique(ids.dropna().astype(str)) if erasure_hash(raw) in hashes}


def is_pseudonym(value: str) -> bool:
    """Whether `value` has a pseudonym's form (what `pseudonym` returns)."""
    return len(value) == PSEUDONYM_HEX_CHARS and all(c in "0123456789abcdef" for c in value)


def pseudonym(raw_id: str, key: bytes) -> str:
    """One raw id's pseudonym (any string, lone surrogates included)."""
    return hmac.new(key, raw_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
