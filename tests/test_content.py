"""Item documents and the TF-IDF content family on catalogues small enough to weigh by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.features.item_text import item_documents
from mindshare.models.candidates import Candidates, pair_features
from mindshare.models.content import ContentTfidf

# smooth idf, as scikit-learn: 1 + ln((1 + items) / (1 + items with the word)), over 3 items
IDF_SHARED = 1 + np.log(4 / 3)  # 'red': in 2 items
IDF_OWN = 1 + np.log(2)  # a word of one item
COS_XY = IDF_SHARED**2 / (IDF_SHARED**2 + IDF_OWN**2)  # x = 'red apple', y = 'red car': both words once


def _shop() -> Interactions:
    """u1: x;  u2: y, z.  x 'red apple', y 'red car', z 'blue sky'."""
    frame = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": ["x", "y", "z"]})
    catalogue = pd.DataFrame({"item_id": ["z", "y", "x"], "title": ["blue sky", "red car", "red apple"]})
    return Interactions.from_frame(frame).with_item_text(item_documents(catalogue))


def test_documents_join_whatever_text_the_catalogue_has():
    catalogue = pd.DataFrame({
        "item_id": [1, 2, 3],
        "title": ["Toy Story (1995)", None, "Mug"],
        "categories": [["Animation", "Comedy"], np.array(["Drama"]), "Home|Kitchen"],  # parquet arrays, '|' logs
        "tags": [["pixar"], [], None],
        "price": [1.0, 2.0, 3.0],
    })
    documents = item_documents(catalogue)
    assert documents.to_dict() == {"1": "Toy Story (1995) Animation Comedy pixar", "2": "Drama",
                                   "3": "Mug Home Kitchen"}
    assert item_documents(catalogue[["item_id", "price"]]) is None and item_documents(None) is None


def test_item_text_follows_the_item_index_through_copies_and_pickling():
    data = _shop()
    assert list(data.item_text) == ["red apple", "red car", "blue sky"]  # index order x, y, z
    assert list(data.with_features(None, None).with_matrix(data.matrix).item_text) == list(data.item_text)
    assert list(pickle.loads(pickle.dumps(data)).item_text) == list(data.item_text)
    missing = Interactions.from_frame(pd.DataFrame({"user_id": ["u"], "item_id": ["w"]})).with_item_text(
        pd.Series({"x": "red"}))
    assert list(missing.item_text) == [""]


def test_content_ranks_the_item_sharing_words_first_with_the_cosine_as_score():
    data = _shop()
    model = ContentTfidf().fit(data)
    u1 = data.user_index(["u1"])
    items, scores = model.recommend(u1, k=2)  # unseen y (shares 'red' with x) before z (nothing shared)
    assert list(data.item_ids[items[0]]) == ["y", "z"]
    assert scores[0] == pytest.approx([COS_XY, 0.0], abs=1e-6)
    y = data.item_index(["y"])
    assert model.score(u1, y)[0] == pytest.approx(COS_XY, abs=1e-6)


def test_content_without_item_text_is_refused_in_one_line():
    plain = Interactions.from_frame(pd.DataFrame({"user_id": ["u1"], "item_id": ["x"]}))
    with pytest.raises(MindshareError, match="carries no item text") as refusal:
        ContentTfidf().fit(plain)
    assert "\n" not in str(refusal.value)


def test_pair_content_similarity_is_the_cosine_with_the_users_profile():
    data = _shop()
    users, items = data.user_index(["u1", "u1", "u2"]), data.item_index(["y", "z", "x"])
    features, names = pair_features([], data, Candidates(users, items, np.zeros((3, 0), dtype=np.float32)))
    # u2's profile: (y + z) / ||y + z||; its cosine with x: only 'red' is shared
    norm_y = np.sqrt(IDF_SHARED**2 + IDF_OWN**2)
    norm_z = np.sqrt(2) * IDF_OWN
    y_plus_z = np.array([IDF_SHARED / norm_y, IDF_OWN / norm_y, IDF_OWN / norm_z, IDF_OWN / norm_z])  # red car blue sky
    cos_u2_x = (IDF_SHARED / norm_y) * (IDF_SHARED / norm_y) / np.linalg.norm(y_plus_z)
    assert features[:, names.index("pair_content_similarity")] == pytest.approx([COS_XY, 0.0, cos_u2_x], abs=1e-6)
    plain = Interactions.from_frame(pd.DataFrame({"user_id": ["u1"], "item_id": ["x"]}))
    _, plain_names = pair_features([], plain, Candidates(np.array([0]), np.array([0]), np.zeros((1, 0))))
    assert "pair_content_similarity" not in plain_names
