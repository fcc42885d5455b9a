"""Build the user and item feature tables in one call (used by the features stage and the benches)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mindshare.features.categories import top_categories
from mindshare.features.items import build_item_features
from mindshare.features.users import build_user_features


@dataclass(frozen=True)
class FeatureSettings:
    max_categories: int = 20  # the most frequent categories become columns
    recent_days: int = 30  # "recent popularity" window, counted back from the last training event
    rating_prior: float = 10.0  # pseudo-ratings that shrink an item's mean rating to the global mean
    max_tags: int = 20  # the most frequent tags (MovieLens tags, or the items file's) become columns


def settings_from_params(features: dict | None) -> tuple[FeatureSettings, "SegmentSettings"]:
    """params.yaml `features` -> the table settings and the segment settings (`features.segments`)."""
    from mindshare.errors import MindshareError
    from mindshare.features.segments import SegmentSettings

    features = dict(features or {})
    segments = features.pop("segments", None) or {}
    try:
        return FeatureSettings(**features), SegmentSettings(**segments)
    except TypeError as error:
        raise MindshareError(f"params.yaml: features: {error.args[0].split('got ')[-1]}; see the README's params") from None


def build_feature_tables(train: pd.DataFrame, items: pd.DataFrame | None,
                         settings: FeatureSettings = FeatureSettings(),
                         segments: "SegmentSettings | None" = None,
                         demographics: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user profiles with their `segment`, item features indexed by item_id), from `train` only."""
    users, item_table, _ = build_profiles(train, items, settings, segments, demographics)
    return users, item_table


def build_profiles(train: pd.DataFrame, items: pd.DataFrame | None, settings: FeatureSettings = FeatureSettings(),
                   segments: "SegmentSettings | None" = None, demographics: pd.DataFrame | None = None):
    """(user profiles + `segment` column, item features, the Segmentation): one path for the features
    stage, tuning and the benches, so that the re-rankers see the same columns everywhere. Segments
    come from behaviour only; demographics (ingest's users table) are added afterwards as indicator
    columns `demo_gender_*`, `demo_age_*`."""
    from mindshare.features.segments import SegmentSettings, segment_users

    categories = top_categories(train, items, settings.max_categories)
    users = build_user_features(train, items, categories)
    tags = top_categories(train, items, settings.max_tags, "tags")
    item_table = build_item_features(train, items, categories, settings.recent_days, settings.rating_prior, tags)
    segmentation = segment_users(users, segments or SegmentSettings())
    users = users.assign(segment=segmentation.labels.astype("float32"))
    return users.join(demographic_indicators(demographics, users.index)), item_table, segmentation


def demographic_indicators(demographics: pd.DataFrame | None, user_ids: pd.Index) -> pd.DataFrame:
    """One 0/1 column per gender and age group present (users without demographics: all 0)."""
    columns = {}
    if demographics is not None and len(demographics):
        table = demographics.set_index("user_id").reindex(user_ids)
        for source, prefix in (("gender", "demo_gender_"), ("age_group", "demo_age_")):
            if source in table:
                for value in sorted(table[source].dropna().unique()):
                    columns[f"{prefix}{value}"] = (table[source] == value).to_numpy(dtype="float32")
    return pd.DataFrame(columns, index=user_ids, dtype="float32")
