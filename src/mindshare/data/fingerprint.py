"""Content fingerprints of tables: the same rows in the same order give the same hex string."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over column names and pandas' row hashes (first 16 hex characters)."""
    hashable = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and len(values) and isinstance(values.iloc[0], (list, tuple, np.ndarray)):
            hashable[column] = values.map(lambda v: "\x1f".join(map(str, v)))
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(hashable, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]
