"""RP3beta on a matrix small enough to walk by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.rp3beta import RP3Beta, rp3beta_weights


def test_weights_of_a_two_user_graph_by_hand():
    # users x items [[1, 1, 0], [0, 1, 1]]: from item 0 the walk reaches items 0 and 1 with 1/2 each; from item 1,
    # items 0, 1, 2 with 1/4, 1/2, 1/4; beta = 0.5 divides by sqrt(popularity) = (1, sqrt 2, 1); self-loops dropped
    binary = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
    weights = rp3beta_weights(binary, alpha=1.0, beta=0.5, n_neighbours=5).toarray()
    half_over_root2 = 0.5 / np.sqrt(2)
    assert weights == pytest.approx(np.array([[0, half_over_root2, 0], [0.25, 0, 0.25], [0, half_over_root2, 0]]),
                                    abs=1e-6)
    # alpha = 2 squares every step's probability: from item 1, 1/4 x 1/4 + 0 to item 0
    squared = rp3beta_weights(binary, alpha=2.0, beta=0.0, n_neighbours=2).toarray()
    assert squared == pytest.approx(np.array([[0, 0.25, 0], [0.0625, 0, 0.0625], [0, 0.25, 0]]), abs=1e-6)
    normalised = rp3beta_weights(binary, alpha=2.0, beta=0.0, n_neighbours=2, normalise=True).toarray()
    assert normalised == pytest.approx(np.array([[0, 1, 0], [0.5, 0, 0.5], [0, 1, 0]]), abs=1e-6)
    top_one = rp3beta_weights(binary, alpha=1.0, beta=0.5, n_neighbours=1).toarray()
    assert (top_one > 0).sum(axis=1).tolist() == [1, 1, 1]


def test_scores_sum_the_weights_from_a_users_items():
    frame = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "item_id": ["x", "y", "y", "z"]})
    data = Interactions.from_frame(frame)
    model = RP3Beta(alpha=1.0, beta=0.5, n_neighbours=5, normalise=False).fit(data)
    a, z = data.user_index(["a"])[0], data.item_index(["z"])[0]
    assert model.score(np.array([a]), np.array([z]))[0] == pytest.approx(0.25, abs=1e-6)  # from y only
    items, scores = model.recommend(np.array([a]), k=1)
    assert items[0, 0] == z and scores[0, 0] == pytest.approx(0.25, abs=1e-6)
