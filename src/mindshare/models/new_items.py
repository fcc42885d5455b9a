"""New items (in the catalogue, no training interactions): how much each known user would like each.

Both measures are a user vector . item vector over some description of items, the richer one where
the data allows it:
- `words`, where the training data carries item text (content.py) and new items have words that the
  training vocabulary knows: the cosine of the new item's TF-IDF vector with the user's profile;
  unpersonalised, with the popularity-weighted profile of all training items.
- `categories`: the mean, over the item's categories, of the user's share of interactions in that
  category; unpersonalised, the categories' share of all interactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.features.item_text import item_documents
from mindshare.models.content import content_space, unit_rows

WORDS, CATEGORIES = "words", "categories"


@dataclass
class NewItems:
    ids: np.ndarray  # object array of the new items' ids
    item_vectors: sp.csr_matrix  # (new items, dimensions)
    user_vectors: sp.csr_matrix  # (training users, dimensions)
    overall: np.ndarray  # (dimensions,): what an unknown user would be
    basis: str  # WORDS or CATEGORIES

    def affinity(self, users: np.ndarray) -> np.ndarray:
        """(len(users), new items) affinity of known users (indices) to the new items."""
        return np.asarray((self.user_vectors[users] @ self.item_vectors.T).todense())

    def unpersonalised(self) -> np.ndarray:
        """The new items' scores for no one in particular: the baseline their metric is read against."""
        return np.asarray(self.item_vectors @ self.overall).ravel()


def new_items_of(train: Interactions, catalogue: pd.DataFrame | None,
                 bases: tuple[str, ...] = (WORDS, CATEGORIES)) -> NewItems | None:
    """The catalogue's new items with a description to match on, by the first of `bases` the data allows;
    None where there are none."""
    if catalogue is None or not len(catalogue):
        return None
    new = catalogue[train.item_index(catalogue["item_id"].astype(str)) < 0]
    if not len(new):
        return None
    for basis in bases:
        found = {WORDS: _by_words, CATEGORIES: _by_categories}[basis](train, new)
        if found is not None:
            return found
    return None


def _by_words(train: Interactions, new: pd.DataFrame) -> NewItems | None:
    space, documents = content_space(train), item_documents(new)
    if space is None or documents is None:
        return None
    vectors = space.vectors(documents.to_numpy())
    has = np.diff(vectors.indptr) > 0
    if not has.any():
        return None
    popularity = train.item_popularity().astype(np.float32)
    overall = unit_rows(sp.csr_matrix(popularity[None, :] @ space.items)).toarray().ravel()
    return NewItems(documents.index.to_numpy(dtype=object)[has], vectors[has], space.profiles, overall, WORDS)


def _by_categories(train: Interactions, new: pd.DataFrame) -> NewItems | None:
    categories = [c for c in (train.item_features.columns if train.item_features is not None else [])
                  if c.startswith("cat_")]
    if not categories or "categories" not in new:
        return None
    names = {c.removeprefix("cat_"): j for j, c in enumerate(categories)}
    rows, cols = [], []
    for r, cats in enumerate(new["categories"]):
        for cat in cats:
            if cat in names:
                rows.append(r)
                cols.append(names[cat])
    flags = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(new), len(names)))
    flags.sum_duplicates()
    flags.data[:] = 1.0  # a category listed twice counts once
    has = np.diff(flags.indptr) > 0
    if not has.any():
        return None
    binary = train.binary()
    counts = np.diff(binary.indptr)
    item_categories = train.item_features[categories].to_numpy(dtype=np.float32)
    user_share = (binary @ item_categories) / np.maximum(counts, 1)[:, None]
    popularity = train.item_popularity() / max(train.n_users, 1)
    overall = item_categories.T @ popularity / max(popularity.sum(), 1e-12)
    item_vectors = sp.csr_matrix(flags[has].multiply(1.0 / np.diff(flags[has].indptr)[:, None]))
    return NewItems(new["item_id"].astype(str).to_numpy(dtype=object)[has], item_vectors,
                    sp.csr_matrix(user_share.astype(np.float32)), overall, CATEGORIES)
