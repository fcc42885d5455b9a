"""How a fitted model is written to disk: a gzip'd pickle (level 1: fast) whose sparse matrices keep
their column indices in the smallest unsigned type that holds them (uint16 below 65,536 columns),
widened back on load.

A sparse item x item block such as EASE's kept weights is half indices; with the compression a
re-ranker's file is much smaller than a plain pickle (docs/benchmarks.md, "Model and store sizes"), and
nothing about the model changes (the loaded matrices equal the saved ones). `load_model_file` also reads plain
pickles (models saved before)."""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mindshare.atomic_files import atomic_path

GZIP_MAGIC = b"\x1f\x8b"


def _compact_indices(indices: np.ndarray, n_columns: int) -> np.ndarray:
    for dtype in (np.uint16, np.uint32):
        if n_columns <= np.iinfo(dtype).max + 1:
            return indices.astype(dtype, copy=False)
    return indices


def _sparse_from_parts(kind: str, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                       shape: tuple[int, int]) -> sp.spmatrix:
    """The inverse of `CompactPickler`'s reduction: indices widened to int32 (int64 if they need it)."""
    wide = np.int32 if max(shape) < np.iinfo(np.int32).max and len(data) < np.iinfo(np.int32).max else np.int64
    matrix = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}[kind]
    return matrix((data, indices.astype(wide), indptr.astype(wide, copy=False)), shape=shape)


class CompactPickler(pickle.Pickler):
    """A pickler that writes CSR/CSC matrices with compact index types (see the module's docstring)."""

    def reducer_override(self, obj: Any):
        kind = {sp.csr_matrix: "csr", sp.csc_matrix: "csc"}.get(type(obj))
        if kind is None:
            return NotImplemented
        n_minor = obj.shape[1] if kind == "csr" else obj.shape[0]
        return _sparse_from_parts, (kind, obj.data, _compact_indices(obj.indices, n_minor), obj.indptr, obj.shape)


def save_compact(obj: Any, path: str | Path) -> None:
    """Pickle `obj` to `path` atomically (nothing half-written), sparse matrices compacted, gzip'd."""
    with atomic_path(path) as tmp, gzip.open(tmp, "wb", compresslevel=1) as handle:
        CompactPickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)


def _pickle_bytes(path: str | Path) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def load_model_file(path: str | Path) -> Any:
    """What `save_compact` wrote (or a plain pickle): read whole, decompressed in one call (fast)."""
    return pickle.loads(_pickle_bytes(path))


class _RecordingUnpickler(pickle.Unpickler):
    """An unpickler that notes the module of every class and function the pickle refers to."""

    def __init__(self, file) -> None:
        super().__init__(file)
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


def referenced_modules(path: str | Path) -> set[str]:
    """The modules a saved model's pickle needs importable to load (every class and function it refers to),
    found by loading it once."""
    unpickler = _RecordingUnpickler(io.BytesIO(_pickle_bytes(path)))
    unpickler.load()
    return unpickler.modules
