"""Content similarity: items as TF-IDF vectors of their documents (title, categories, tags, description;
`Interactions.with_item_text`), users as the normalised sum of their items' vectors.

With x_i item i's L2-normalised TF-IDF vector and w_uj user u's weight on item j (1, or the stored
value where `user_weighting='value'`), p_u = sum_j w_uj x_j / ||sum_j w_uj x_j|| and
score(u, i) = p_u . x_i, the cosine of the item with the user's profile. It sees words, not
co-occurrences: what the other families lack, and what ranks an item nobody has touched yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import SCORE_BLOCK_FLOATS, Recommender

WEIGHTINGS = ("binary", "value")


@dataclass
class ContentSpace:
    """A fitted vocabulary, the training items' vectors and the users' unit profiles over it."""

    vectorizer: object  # a fitted sklearn TfidfVectorizer (its stop_words_ dropped: only needed to inspect it)
    items: sp.csr_matrix  # (items, terms) float32, rows L2-normalised (0 for an item without words)
    profiles: sp.csr_matrix  # (users, terms) float32, rows L2-normalised (0 for a user without words)

    def vectors(self, documents) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows of other documents (new items) in this vocabulary."""
        return self.vectorizer.transform(list(documents)).astype(np.float32).tocsr()


def unit_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its L2 norm (zero rows stay zero), float32 CSR."""
    from sklearn.preprocessing import normalize  # scikit-learn loads when a fit needs it

    return normalize(matrix.tocsr(), norm="l2").astype(np.float32).tocsr()


def fit_content_space(train: Interactions, sublinear_tf: bool = True, min_df: int = 1, max_df: float = 1.0,
                      max_features: int | None = 50_000, ngram_max: int = 1, user_weighting: str = "binary"
                      ) -> ContentSpace:
    """TF-IDF over `train.item_text` and the user profiles from `train.matrix`; MindshareError without text."""
    if train.item_text is None:
        raise MindshareError("content: the training data carries no item text; attach the item catalogue "
                             "(Interactions.with_item_text) with a title, categories, tags or description")
    if user_weighting not in WEIGHTINGS:
        raise MindshareError(f"content: user_weighting '{user_weighting}' is not one of {', '.join(WEIGHTINGS)}")
    from sklearn.feature_extraction.text import TfidfVectorizer  # scikit-learn loads when a fit needs it

    documents = [str(d) for d in train.item_text]
    vectorizer = TfidfVectorizer(sublinear_tf=sublinear_tf, min_df=min(min_df, max(len(documents), 1)),
                                 max_df=max_df, max_features=max_features, ngram_range=(1, ngram_max),
                                 strip_accents="unicode", dtype=np.float32)
    try:
        items = vectorizer.fit_transform(documents).astype(np.float32).tocsr()
    except ValueError as error:  # an empty vocabulary: no item has a word that survives min_df / max_df
        raise MindshareError(f"content: no usable words in the item text ({error})") from None
    vectorizer.stop_words_ = None
    weights = train.binary() if user_weighting == "binary" else train.matrix.astype(np.float32)
    return ContentSpace(vectorizer, items, unit_rows((weights @ items).tocsr()))


def content_space(train: Interactions) -> ContentSpace | None:
    """The default ContentSpace of `train`, once per Interactions object; None where it has no item text
    (or no usable words). What the re-ranker feature and cold start measure against."""
    if train.item_text is None:
        return None

    def build() -> ContentSpace | None:
        try:
            return fit_content_space(train)
        except MindshareError:
            return None

    return train.memo(("content_space",), build)


def cosine_of_pairs(space: ContentSpace, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """p_u . x_i for (user, item) index pairs, float32: only the items' few words are looked up."""
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    words = space.items[items].tocoo()  # row p: the words of pair p's item
    if words.nnz == 0:
        return np.zeros(len(users), dtype=np.float32)
    profile = np.asarray(space.profiles[users[words.row], words.col], dtype=np.float64).ravel()
    return np.bincount(words.row, words.data * profile, minlength=len(users)).astype(np.float32)


class ContentTfidf(Recommender):
    """TF-IDF content similarity: the cosine of an item's words with the user's profile (module docstring).

    It sees words, not co-occurrences: weak alone, but what the other families lack, and what ranks an item nobody
    has touched yet (new items, the re-rankers' `content` signal). It refuses data without item text
    (`Interactions.with_item_text`).

    Parameters
    ----------
    sublinear_tf : bool, default True
        Term frequency as 1 + log(tf), so that a word repeated throughout one long description does not drown the
        item's other words.
    min_df : int, default 1
        Items a word must appear in to be kept. 1 keeps every word: a word of one training item still links a new
        item to it, and it ranked better than 2 on the shipped sample (docs/benchmarks.md, "The defaults of
        rp3beta, slim and content").
    max_df : float, default 1.0
        Share of items above which a word is dropped; 1.0 drops none, inverse document frequency already weighs
        common words down.
    max_features : int or None, default 50_000
        The vocabulary's size at most (the most frequent words); None: every word. A bound on the width of the
        item x term matrix and the users' profiles, whatever the catalogue's texts.
    ngram_max : int, default 1
        The longest word sequence taken as a term: 1, single words; 2 adds word pairs (a larger vocabulary, for
        catalogues whose names are phrases).
    user_weighting : str, default 'binary'
        'binary' counts each of a user's items once; 'value' weighs it by its stored value (rating or count).
        Binary by default, so that one item taken many times does not make the whole profile.
    """

    name = "content"
    method = "TF-IDF content similarity"

    def __init__(self, sublinear_tf: bool = True, min_df: int = 1, max_df: float = 1.0,
                 max_features: int | None = 50_000, ngram_max: int = 1, user_weighting: str = "binary") -> None:
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.ngram_max = ngram_max
        self.user_weighting = user_weighting

    def _fit(self, train: Interactions) -> None:
        self.space_ = fit_content_space(train, self.sublinear_tf, self.min_df, self.max_df, self.max_features,
                                        self.ngram_max, self.user_weighting)

    def _block_size(self) -> int:
        # a block's profiles are dense (users x terms) as well as its scores (users x items)
        return max(1, SCORE_BLOCK_FLOATS // max(1, self.train_.n_items, self.space_.items.shape[1]))

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        profiles = self.space_.profiles[users].toarray()
        return np.asarray(self.space_.items @ profiles.T, dtype=np.float32).T

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return cosine_of_pairs(self.space_, users, items)
