"""RP3beta (Paudel et al. 2017; the strong graph baseline of Ferrari Dacrema et al. 2019): a three-step
random walk user -> item -> user -> item on the interaction graph, with popular items penalised.

With P_ui the user x item binary matrix divided by each user's count and P_iu the item x user one
divided by each item's count, each transition probability raised to alpha (P3alpha):
W_ij = (P_iu^alpha P_ui^alpha)_ij / pop_j^beta, the self-loops W_ii dropped, each row i keeping its
`n_neighbours` largest weights (then scaled to sum 1 if `normalise`); score(u, i) = sum_j x_uj W_ji.
alpha < 1 flattens the walk towards counting co-occurrences; beta = 0 is the plain walk, larger beta
favours the long tail. Built block-wise: only a block of item rows x all items is ever dense.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import SCORE_BLOCK_FLOATS, ItemWeightsRecommender
from mindshare.models.neighbours import csr_from_parts, top_k_of_block


def _transitions(matrix: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """Each row divided by its sum (a walk's step probabilities), each probability raised to alpha."""
    counts = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    out = (sp.diags(inverse.astype(np.float32)) @ matrix).tocsr()
    if alpha != 1.0:
        out.data = np.power(out.data, alpha, dtype=np.float32)
    return out


def rp3beta_weights(binary: sp.csr_matrix, alpha: float, beta: float, n_neighbours: int, normalise: bool = False,
                    max_dense_floats: int = SCORE_BLOCK_FLOATS) -> sp.csr_matrix:
    """The items x items RP3beta weights W (row i: from item i to the items it leads to), top `n_neighbours`
    per row, as float32 CSR. `binary`: the user x item 0/1 matrix of the fit data."""
    binary = binary.astype(np.float32).tocsr()
    n_items = binary.shape[1]
    user_to_item = _transitions(binary, alpha).tocsc()
    item_to_user = _transitions(binary.T.tocsr(), alpha)
    popularity = np.asarray(binary.sum(axis=0), dtype=np.float64).ravel()
    penalty = np.divide(1.0, popularity ** beta, out=np.zeros_like(popularity), where=popularity > 0)
    keep = min(n_neighbours, n_items - 1)
    if keep < 1:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    block = max(1, max_dense_floats // max(1, n_items))
    parts = []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        walk = (item_to_user[start:stop] @ user_to_item).toarray()  # 3-step probabilities from these items
        walk *= penalty[None, :].astype(np.float32)
        walk[np.arange(stop - start), np.arange(start, stop)] = 0.0
        parts.append(top_k_of_block(walk, start, keep))
    weights = csr_from_parts(parts, n_items)
    if normalise:
        sums = np.asarray(weights.sum(axis=1), dtype=np.float64).ravel()
        weights = (sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0).astype(np.float32))
                   @ weights).tocsr()
    return weights


class RP3Beta(ItemWeightsRecommender):
    """RP3beta: a three-step random walk on the interaction graph, popular destinations penalised (module
    docstring: the weights).

    A graph baseline that is cheap to fit (one sparse product, no solve, no iterations) and, through `beta`, trades
    some accuracy on popular items for reach into the long tail. The defaults are those of Ferrari Dacrema et
    al.'s reference implementation but for `beta`.

    Parameters
    ----------
    alpha : float, default 1.0
        Each transition probability raised to alpha: 1 is the plain walk, below 1 flattens it towards counting
        co-occurrences. The reference implementation's default.
    beta : float, default 0.3
        The popularity penalty: W_ij divided by pop_j ** beta; 0 is the plain walk (P3alpha), larger values favour
        the long tail. Below the reference default (0.6), in the range their tuned runs on MovieLens chose; it
        ranked clearly better on the shipped sample (docs/benchmarks.md, "The defaults of rp3beta, slim and
        content").
    n_neighbours : int, default 100
        Largest weights kept per item (row of W); the reference default, as for the other item families.
    normalise : bool, default True
        Scale each item's kept weights to sum 1, so that an item with many strong links does not outweigh the
        user's other items; the reference default.
    max_dense_floats : int, default 32_000_000
        The largest dense block of walk probabilities (items x items) built at once: 128 MB of float32. A bound on
        memory only: the weights do not depend on it.
    """

    name = "rp3beta"
    method = "RP3beta random walk"

    def __init__(self, alpha: float = 1.0, beta: float = 0.3, n_neighbours: int = 100, normalise: bool = True,
                 max_dense_floats: int = SCORE_BLOCK_FLOATS) -> None:
        self.alpha = alpha
        self.beta = beta
        self.n_neighbours = n_neighbours
        self.normalise = normalise
        self.max_dense_floats = max_dense_floats

    def _fit(self, train: Interactions) -> None:
        self.user_vectors_ = train.binary()
        self.weights_ = rp3beta_weights(self.user_vectors_, self.alpha, self.beta, self.n_neighbours, self.normalise,
                                        self.max_dense_floats)
