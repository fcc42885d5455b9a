"""Segments: K-means on the standardised user profile, k chosen by silhouette, each described in words.

The profile is the user feature table (activity, recency, tenure, RFM monetary value, rating
habits, time habits, category shares). Count-like columns are log-scaled before standardising so
that a few heavy users do not make their own segments. k is the best silhouette over a range
(scored on a seeded sample); MiniBatchKMeans replaces KMeans above `minibatch_above` users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from mindshare.settings import SegmentSettings

LOG_SCALED = ("user_n_interactions", "user_active_days", "user_recency_days", "user_tenure_days", "user_monetary")


@dataclass
class Segmentation:
    labels: pd.Series  # segment per user_id
    summary: pd.DataFrame  # segment, users, share, description, profile means
    silhouette: pd.DataFrame  # k, silhouette
    projection: np.ndarray  # (users, 2) PCA of the standardised profile, for the plot
    k: int


def profile_matrix(profiles: pd.DataFrame) -> np.ndarray:
    values = profiles.astype(np.float64).copy()
    for column in LOG_SCALED:
        if column in values:
            values[column] = np.log1p(values[column].clip(lower=0))
    return StandardScaler().fit_transform(values.to_numpy())


def segment_users(profiles: pd.DataFrame, settings: SegmentSettings = SegmentSettings(),
                  clusters: Callable[[np.ndarray, SegmentSettings, int], tuple[dict[int, np.ndarray], list[float]]]
                  | None = None) -> Segmentation:
    """Segments of the users by K-means on the standardised profile, k by silhouette. `clusters(x, settings,
    k_max)` gives the labels by k (where a k found at least two segments) and each k's silhouette: scikit-learn's
    here by default, pyspark.ml's on the Spark engine."""
    x = profile_matrix(profiles)
    n = len(x)
    k_max = min(settings.k_max, n - 1)
    if n < 3 or k_max < settings.k_min:
        labels = np.zeros(n, dtype=int)
        curve = pd.DataFrame({"k": [1], "silhouette": [np.nan]})
        return _result(profiles, x, labels, curve)
    fitted, scores = (clusters or local_clusters)(x, settings, k_max)
    curve = pd.DataFrame({"k": range(settings.k_min, k_max + 1), "silhouette": scores})
    best_k = int(curve.loc[curve["silhouette"].idxmax(), "k"])
    labels = fitted.get(best_k, np.zeros(n, dtype=int))
    # number segments by size, largest first, so that names are stable across runs
    order = pd.Series(labels).value_counts().index
    relabel = {old: new for new, old in enumerate(order)}
    return _result(profiles, x, np.vectorize(relabel.get)(labels), curve)


def local_clusters(x: np.ndarray, settings: SegmentSettings, k_max: int) -> tuple[dict[int, np.ndarray], list[float]]:
    """scikit-learn's K-means for each k, each scored by silhouette on a seeded sample of users."""
    scores, fitted = [], {}
    n = len(x)
    for k in range(settings.k_min, k_max + 1):
        model = _kmeans(k, n, settings)
        labels = model.fit_predict(x)
        if len(np.unique(labels)) < 2:
            scores.append(-1.0)
            continue
        scores.append(float(silhouette_score(x, labels, sample_size=min(settings.sample_size, n),
                                             random_state=settings.seed)))
        fitted[k] = labels
    return fitted, scores


def _kmeans(k: int, n: int, settings: SegmentSettings):
    if n > settings.minibatch_above:
        return MiniBatchKMeans(n_clusters=k, random_state=settings.seed, n_init=3, batch_size=4096)
    return KMeans(n_clusters=k, random_state=settings.seed, n_init=4)


def _result(profiles: pd.DataFrame, x: np.ndarray, labels: np.ndarray, curve: pd.DataFrame) -> Segmentation:
    series = pd.Series(labels.astype(int), index=profiles.index, name="segment")
    projection = PCA(n_components=2, random_state=0).fit_transform(x) if x.shape[1] >= 2 and len(x) >= 2 \
        else np.zeros((len(x), 2))
    means = profiles.groupby(series).mean()
    sizes = series.value_counts().sort_index()
    summary = pd.DataFrame({"segment": sizes.index, "users": sizes.to_numpy(),
                            "share": (sizes / sizes.sum()).round(4).to_numpy(),
                            "description": [describe(means.loc[s], profiles) for s in sizes.index]})
    summary = summary.join(means.reset_index(drop=True).round(4))
    return Segmentation(series, summary, curve, projection, int(sizes.size))


def describe(centre: pd.Series, profiles: pd.DataFrame) -> str:
    """Words for a segment from its mean profile against everyone's: activity, recency, ratings, tastes."""
    overall = profiles.mean()
    spread = profiles.std().replace(0, 1.0)
    z = (centre - overall) / spread
    words = []
    if "user_n_interactions" in z:
        words.append("very frequent" if z["user_n_interactions"] > 1 else "frequent" if z["user_n_interactions"] > 0.25
                     else "occasional" if z["user_n_interactions"] < -0.25 else "regular")
    if "user_recency_days" in z:
        words.append("lapsed" if z["user_recency_days"] > 0.5 else "recent" if z["user_recency_days"] < -0.25
                     else "")
    if "user_rating_mean" in z:
        words.append("generous raters" if z["user_rating_mean"] > 0.5 else "critical raters"
                     if z["user_rating_mean"] < -0.5 else "")
    shares = [c for c in centre.index if c.startswith("user_share_")]
    if shares:
        lift = (centre[shares] / overall[shares].replace(0, np.nan)).dropna().sort_values(ascending=False)
        liked = [c.removeprefix("user_share_").removeprefix("cat_") for c, v in lift.items() if v > 1.15][:2]
        if liked:
            words.append("loves " + " and ".join(liked))
    return ", ".join(w for w in words if w) or "typical users"
