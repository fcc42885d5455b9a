"""Keyed pseudonyms for user ids (HMAC-SHA256), so raw ids never reach outputs, models or MLflow.

The key comes from `MINDSHARE_PSEUDONYM_KEY`, else from a git-ignored key file made on first
use. Only the key's owner can map a pseudonym back to a person (by hashing candidate ids).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

KEY_ENV = "MINDSHARE_PSEUDONYM_KEY"
KEY_FILE_ENV = "MINDSHARE_PSEUDONYM_KEY_FILE"
DEFAULT_KEY_FILE = Path(".mindshare") / "pseudonym.key"
PSEUDONYM_HEX_CHARS = 20  # 80 bits: collisions are negligible below billions of users


def load_key(key_file: str | Path | None = None, create: bool = True) -> bytes:
    """The key: the environment variable, else the key file (made with 256 random bits if absent)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return from_env.encode()
    path = Path(key_file or os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)
    if not path.exists():
        if not create:
            from mindshare.errors import MindshareError

            raise MindshareError(f"no pseudonymisation key: set {KEY_ENV} or create {path} (run the ingest stage once)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


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


def pseudonym(raw_id: str, key: bytes) -> str:
    """One raw id's pseudonym (any string, lone surrogates included)."""
    return hmac.new(key, raw_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
