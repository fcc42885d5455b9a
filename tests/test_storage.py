"""Saved models: sparse matrices keep compact indices on disk and come back equal."""

from __future__ import annotations

import io
import pickle

import numpy as np
import scipy.sparse as sp

from mindshare.models.storage import CompactPickler, load_model_file, save_compact


def compact_dumps(obj) -> bytes:
    buffer = io.BytesIO()
    CompactPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _random(shape: tuple[int, int], nnz: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, shape[0], nnz), rng.integers(0, shape[1], nnz)
    return sp.csr_matrix((rng.random(nnz, dtype=np.float32), (rows, cols)), shape=shape)


def test_csr_and_csc_come_back_equal_with_int32_indices(tmp_path):
    narrow, wide = _random((50, 3000), 4000), _random((20, 70_000), 500, seed=1)
    state = {"narrow": narrow, "wide": wide, "columns": narrow.tocsc(), "dense": np.arange(3)}
    save_compact(state, tmp_path / "m.pkl")
    assert (tmp_path / "m.pkl").read_bytes()[:2] == b"\x1f\x8b"  # gzip'd
    loaded = load_model_file(tmp_path / "m.pkl")
    for key in ("narrow", "wide", "columns"):
        assert type(loaded[key]) is type(state[key])
        assert loaded[key].shape == state[key].shape and loaded[key].dtype == np.float32
        assert loaded[key].indices.dtype == np.int32 and loaded[key].indptr.dtype == np.int32
        assert (loaded[key] != state[key]).nnz == 0
    assert np.array_equal(loaded["dense"], state["dense"])


def test_indices_below_65536_columns_take_two_bytes():
    matrix = _random((100, 60_000), 50_000)
    plain, compact = len(pickle.dumps(matrix, protocol=5)), len(compact_dumps(matrix))
    assert plain - compact >= 2 * matrix.nnz * 0.99  # 4-byte indices became 2-byte ones


def test_one_object_referenced_twice_is_stored_once():
    matrix = _random((100, 5000), 20_000)
    assert len(compact_dumps([matrix, matrix])) < 1.1 * len(compact_dumps(matrix))


def test_a_plain_pickle_saved_before_still_loads(tmp_path):
    matrix = _random((10, 100), 50)
    (tmp_path / "old.pkl").write_bytes(pickle.dumps({"weights": matrix}))
    assert (load_model_file(tmp_path / "old.pkl")["weights"] != matrix).nnz == 0
