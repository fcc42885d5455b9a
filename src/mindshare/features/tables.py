"""Build the user and item feature tables in one call (used by the features stage and the benches)."""

from __future__ import annotations

import pandas as pd

from mindshare.features.categories import top_categories
from mindshare.features.items import build_item_features
from mindshare.features.segments import segment_users
from mindshare.features.users import build_user_features
from mindshare.settings import FeatureSettings


def build_feature_tables(train: pd.DataFrame, items: pd.DataFrame | None,
                         settings: FeatureSettings = FeatureSettings(),
                         demographics: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user profiles with their `segment`, item features indexed by item_id), from `train` only."""
    users, item_table, _ = build_profiles(train, items, settings, demographics)
    return users, item_table


def build_profiles(train: pd.DataFrame, items: pd.DataFrame | None, settings: FeatureSettings = FeatureSettings(),
                   demographics: pd.DataFrame | None = None):
    """(user profiles + `segment` column, item features, the Segmentation): one path for the features
    stage, tuning and the benches, so that the re-rankers see the same columns everywhere. Segments
    come from behaviour only; demographics (ingest's users table) are added afterwards as indicator
    columns `demo_gender_*`, `demo_age_*`."""
    item_counts = train["item_id"].value_counts()
    categories = top_categories(item_counts, items, settings.max_categories)
    users = build_user_features(train, items, categories)
    tags = top_categories(item_counts, items, settings.max_tags, "tags")
    item_table = build_item_features(train, items, categories, settings.recent_days, settings.rating_prior, tags)
    segmentation = segment_users(users, settings.segments)
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
