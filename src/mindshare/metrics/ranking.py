"""Top-k ranking metrics over a (users x k) hit matrix, averaged over users; `per_user` gives each
user's value (for confidence intervals and paired tests over users).

Worked example used in the docstrings and tests: one user, 4 relevant items, list of 3 with
hits [1, 0, 1].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


def hit_matrix(recommended: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """hits[u, j] = item recommended[u, j] is relevant for row u (-1 never hits)."""
    n_rows, k = recommended.shape
    rows = np.repeat(np.arange(n_rows), k)
    cols = recommended.ravel()
    hits = np.zeros(n_rows * k, dtype=bool)
    ok = cols >= 0
    hits[ok] = np.asarray(relevant[rows[ok], cols[ok]]).ravel()
    return hits.reshape(n_rows, k)


def _top(hits: np.ndarray, k: int) -> np.ndarray:
    hits = np.asarray(hits, dtype=bool)
    if k < 1 or k > hits.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the list length {hits.shape[1]}")
    return hits[:, :k]


def precision_at_k(hits: np.ndarray, k: int) -> float:
    """mean_u |hits in top k| / k. Example: 2 / 3 = 0.6667."""
    return float(_top(hits, k).sum(axis=1).mean() / k)


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    """mean_u |hits in top k| / |rel_u|. Example: 2 / 4 = 0.5."""
    return float(np.mean(_top(hits, k).sum(axis=1) / np.asarray(n_relevant, dtype=np.float64)))


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    """mean_u DCG/IDCG, DCG = sum_j hit_j / log2(j + 1) (j from 1), IDCG over min(k, |rel_u|) hits.

    Example: DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/2 = 2.1309; NDCG = 0.7039.
    """
    return float(np.mean(_ndcg_rows(_top(hits, k), n_relevant, k)))


def _ndcg_rows(top: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    discounts = _discounts(k)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(np.asarray(n_relevant).astype(int), k)]
    return (top @ discounts) / ideal


def _precision_at_hits(top: np.ndarray) -> np.ndarray:
    """sum_j P@j * hit_j for each user."""
    ranks = np.arange(1, top.shape[1] + 1)
    return (np.cumsum(top, axis=1) / ranks * top).sum(axis=1)


def map_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    """mean_u (sum_j P@j * hit_j) / min(k, |rel_u|).

    Example: (1/1 + 2/3) / min(3, 4) = 0.5556.
    """
    top = _top(hits, k)
    return float(np.mean(_precision_at_hits(top) / np.minimum(np.asarray(n_relevant), k)))


def map_at_k_over_relevant(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    """Microsoft Recommenders' `map`: mean_u (sum_j P@j * hit_j) / |rel_u| over the top k.

    Example: (1/1 + 2/3) / 4 = 0.4167. Reported as `map`.
    """
    top = _top(hits, k)
    return float(np.mean(_precision_at_hits(top) / np.asarray(n_relevant, dtype=np.float64)))


def hit_rate_at_k(hits: np.ndarray, k: int) -> float:
    """Share of users with at least one hit in the top k. Example: 1.0."""
    return float(_top(hits, k).any(axis=1).mean())


def mrr_at_k(hits: np.ndarray, k: int) -> float:
    """mean_u 1 / rank of the first hit in the top k (0 if none). Example: 1 / 1 = 1.0."""
    return float(np.mean(_mrr_rows(_top(hits, k))))


def _mrr_rows(top: np.ndarray) -> np.ndarray:
    return np.where(top.any(axis=1), 1.0 / (np.argmax(top, axis=1) + 1), 0.0)


def repeat_hit_share_at_k(hits: np.ndarray, repeat: np.ndarray, k: int) -> float:
    """Of all hits in the top k (over users), the share on items the user already had (re-purchases);
    `repeat[u, j]`: the item at rank j+1 was in user u's history. 0 where there is no hit.

    Example: hits [1, 0, 1], repeat [1, 1, 0]: 1 of 2 hits is a repeat = 0.5.
    """
    top = _top(hits, k)
    n_hits = top.sum()
    return float((top & _top(repeat, k)).sum() / n_hits) if n_hits else 0.0


def new_item_recall_at_k(hits: np.ndarray, repeat: np.ndarray, n_relevant_new: np.ndarray, k: int) -> float:
    """Recall on new items alone (discovery): mean over users with at least one relevant item they had not had
    of |hits in the top k on such items| / |those items|. NaN where no user has one.

    Example: hits [1, 0, 1], repeat [1, 1, 0], 2 relevant new items: 1 / 2 = 0.5.
    """
    n_new = np.asarray(n_relevant_new, dtype=np.float64)
    found = (_top(hits, k) & ~_top(repeat, k)).sum(axis=1)
    has_new = n_new > 0
    return float(np.mean(found[has_new] / n_new[has_new])) if has_new.any() else float("nan")


def per_user(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Each user's precision, recall, ndcg, map, hit rate and mrr at k, and `map` (MS definition).

    The means of these arrays are exactly the functions above.
    """
    top = _top(hits, k)
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    n_hits = top.sum(axis=1)
    at_hits = _precision_at_hits(top)
    return {
        f"precision_at_{k}": n_hits / k,
        f"recall_at_{k}": n_hits / n_relevant,
        f"ndcg_at_{k}": _ndcg_rows(top, n_relevant, k),
        f"map_at_{k}": at_hits / np.minimum(n_relevant, k),
        f"hit_rate_at_{k}": top.any(axis=1).astype(np.float64),
        f"mrr_at_{k}": _mrr_rows(top),
        "map": at_hits / n_relevant,
    }
