"""Top-k neighbour similarities between the rows of a sparse matrix, built block-wise.

Similarities (a, b are two rows; shrinkage s damps pairs with little support):
- cosine:  a.b / (|a| |b| + s) on binarised rows
- pearson: cosine of the rows centred on each row's mean over its stored values
- jaccard: |a & b| / (|a| + |b| - |a & b| + s) on binarised rows
Only a block of rows x all rows is ever dense (at most `max_dense_floats` floats); each row
keeps its `k` largest positive similarities, never itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.errors import MindshareError

SIMILARITIES = ("cosine", "pearson", "jaccard")
AUTO = "auto"


def check_neighbours(k: int | str) -> None:
    """`k` is a positive integer or "auto"; anything else is refused naming the setting."""
    if k == AUTO:
        return
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise MindshareError(f"params.yaml: n_neighbours {k!r} is neither a positive integer nor '{AUTO}'")


def ranks_within_rows(matrix: sp.csr_matrix) -> np.ndarray:
    """Each stored entry's rank in its row, largest first (0: the largest): one sort for every cut of the rows."""
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.float64), counts)
    spread = float(np.ptp(matrix.data)) if matrix.nnz else 0.0
    scaled = (matrix.data.max(initial=0.0) - matrix.data) / (2.0 * spread) if spread > 0 else 0.0  # [0, 0.5]
    order = np.argsort(rows + scaled, kind="stable")  # by row, then largest first, then by position
    ranks = np.empty(matrix.nnz, dtype=np.int64)
    ranks[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    return ranks


def keep_top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries: the neighbours of a smaller k cut from those of a larger one, without
    computing the similarities again."""
    counts = np.diff(matrix.indptr)
    if counts.max(initial=0) <= k:
        return matrix
    keep = ranks_within_rows(matrix) < k
    indptr = np.concatenate([[0], np.cumsum(np.minimum(counts, k))])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def _centred(rows: sp.csr_matrix) -> sp.csr_matrix:
    counts = np.diff(rows.indptr)
    sums = np.asarray(rows.sum(axis=1)).ravel()
    means = np.divide(sums, counts, out=np.zeros_like(sums, dtype=np.float64), where=counts > 0)
    out = rows.astype(np.float64, copy=True)
    out.data -= np.repeat(means, counts)
    return out


def _binary(rows: sp.csr_matrix) -> sp.csr_matrix:
    out = rows.astype(np.float32, copy=True)
    out.data[:] = 1.0
    return out


def most_frequent_rows(rows: sp.csr_matrix, limit: int | None) -> np.ndarray | None:
    """The `limit` rows with the most stored entries (ties: the lower index), or None (every row) when
    there are no more rows than that or no limit."""
    if not limit or rows.shape[0] <= limit:
        return None
    return np.argsort(-np.diff(rows.indptr), kind="stable")[:limit]


def top_k_similarities(rows: sp.csr_matrix, similarity: str, k: int, shrinkage: float,
                       max_dense_floats: int, of_rows: np.ndarray | None = None,
                       among: np.ndarray | None = None) -> sp.csr_matrix:
    """(n x n) CSR: row a holds the k rows most similar to a, with their similarity; only the rows
    `of_rows` (the others empty) where given, and neighbours drawn from the rows `among` where given
    (a sample: the cost then grows with n x len(among), not n^2)."""
    if similarity not in SIMILARITIES:
        raise MindshareError(f"params.yaml: similarity '{similarity}' is unknown; use one of {', '.join(SIMILARITIES)}")
    vectors = _centred(rows) if similarity == "pearson" else _binary(rows)
    vectors = vectors.astype(np.float32).tocsr()
    n = vectors.shape[0]
    norms_sq = np.asarray(vectors.multiply(vectors).sum(axis=1), dtype=np.float32).ravel()
    norms = np.sqrt(norms_sq)
    columns = np.arange(n) if among is None else np.sort(np.asarray(among, dtype=np.int64))
    keep = min(k, len(columns) - (among is None))  # a row's own entry is 0, never kept (only positives are)
    if keep < 1:
        return sp.csr_matrix((n, n), dtype=np.float32)
    transposed = vectors[columns].T.tocsc()
    column_of = np.full(n, -1, dtype=np.int64)  # where a row sits among the columns (itself: not a neighbour)
    column_of[columns] = np.arange(len(columns))
    block = max(1, max_dense_floats // max(1, len(columns)))
    wanted = np.arange(n) if of_rows is None else np.asarray(of_rows, dtype=np.int64)
    parts = []
    for start in range(0, len(wanted), block):
        chunk = wanted[start : start + block]
        sim = (vectors[chunk] @ transposed).toarray()  # the dots, turned into similarities in place
        if similarity == "jaccard":
            denominator = norms_sq[chunk, None] + norms_sq[None, columns]
            denominator -= sim
        else:
            denominator = norms[chunk, None] * norms[None, columns]
        denominator += shrinkage + 1e-12
        sim /= denominator
        del denominator
        itself = column_of[chunk] >= 0
        sim[np.flatnonzero(itself), column_of[chunk[itself]]] = 0.0
        rows, cols, values = top_k_of_block(sim, 0, keep)
        parts.append((chunk[rows], columns[cols], values))
    return csr_from_parts(parts, n) if parts else sp.csr_matrix((n, n), dtype=np.float32)


def top_k_of_block(block: np.ndarray, start: int, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, values) of each row's `keep` largest positive entries of a dense block of rows
    start, start + 1, ... of an n x n matrix (argpartition: no full sort)."""
    top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
    values = np.take_along_axis(block, top, axis=1)
    positive = values > 0
    rows = np.repeat(np.arange(start, start + len(block)), keep)[positive.ravel()]
    return rows, top[positive], values[positive].astype(np.float32)


def csr_from_parts(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int) -> sp.csr_matrix:
    """The n x n float32 CSR matrix of the blocks' (rows, columns, values)."""
    rows, cols, values = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return sp.csr_matrix((values, (rows, cols)), shape=(n, n), dtype=np.float32)


def weighted_residual_average(weights: sp.csr_matrix, residuals_t: sp.csr_matrix, rated_t: sp.csr_matrix,
                              damping: float) -> np.ndarray:
    """Row-wise sum(w * r) / (sum(|w| * rated) + damping) for aligned pair rows; 0 where no neighbour rated.

    `damping` shrinks the correction towards 0 (the baseline) when little neighbour weight supports it.
    Each row of `weights` (pairs x n) holds the neighbour similarities of the pair's anchor, each row
    of `residuals_t` the neighbours' residuals for the pair's target, `rated_t` where they exist.
    """
    numerator = np.asarray(weights.multiply(residuals_t).sum(axis=1)).ravel()
    denominator = np.asarray(abs(weights).multiply(rated_t).sum(axis=1)).ravel()
    return np.divide(numerator, denominator + damping, out=np.zeros_like(numerator), where=denominator > 0)
