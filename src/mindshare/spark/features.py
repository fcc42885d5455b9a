"""features on Spark: the per-user and per-item aggregates over the events (the part whose cost grows with them),
the same columns as mindshare.features.users / items compute with pandas, and segments by `pyspark.ml` K-means on
the standardised profile with k by silhouette (Spark's ClusteringEvaluator, on every user).

The aggregates come back to the driver as one row per user and per item, sorted by id (the models read them
there); the catalogue's columns (categories, tags, year, price) are added by the local engine's own code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.features.categories import category_indicators
from mindshare.features.items import DAY, with_catalogue_features
from mindshare.settings import FeatureSettings, SegmentSettings


def read_fit_frame(paths: list) -> object:
    """The splits the final models are fitted on (train, and valid where included), as one Spark frame."""
    from functools import reduce

    from mindshare.spark.session import active_session

    frames = [active_session().read.parquet(str(Path(path).resolve())) for path in paths]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def item_counts(frame) -> pd.Series:
    """Interactions per item (for choosing the categories that become columns)."""
    counts = frame.groupBy("item_id").count().toPandas()
    return counts.set_index("item_id")["count"]


def monetary_column(frame):
    """Each interaction's money, as mindshare.features.users.monetary: value, else quantity x price, else price,
    else the rating, else 1."""
    from pyspark.sql import functions as F

    present = {c for c in ("value", "price") if c in frame.columns
               and frame.where(F.col(c).isNotNull()).limit(1).count()}
    if "value" in present:
        return F.coalesce(F.col("value"), F.lit(0.0))
    if "price" in present:
        quantity = F.coalesce(F.col("quantity"), F.lit(1.0)) if "quantity" in frame.columns else F.lit(1.0)
        return F.coalesce(F.col("price"), F.lit(0.0)) * quantity
    return F.col("rating").cast("double") if "rating" in frame.columns else F.lit(1.0)


def user_features_on_spark(frame, items: pd.DataFrame | None, categories: list[str]) -> pd.DataFrame:
    """The user profile of mindshare.features.users.build_user_features, aggregated by Spark."""
    from pyspark.sql import functions as F

    now = frame.agg(F.max("timestamp")).first()[0]
    # weekday and hour in UTC from the seconds themselves (as pandas' here), whatever the session's time zone:
    # 1970-01-01 was a Thursday (weekday 3, Monday 0)
    weekday = F.pmod(F.floor(F.col("timestamp") / DAY) + 3, F.lit(7))
    hour = F.pmod(F.floor(F.col("timestamp") / 3600), F.lit(24))
    indicators = category_indicators(items, categories)
    events = frame
    if len(indicators.columns):
        table = indicators.reset_index().astype({"item_id": object})
        events = frame.join(F.broadcast(frame.sparkSession.createDataFrame(table)), "item_id", "left")
    aggregates = [
        F.count("*").alias("user_n_interactions"),
        F.countDistinct(F.floor(F.col("timestamp") / DAY)).alias("user_active_days"),
        ((F.lit(now) - F.max("timestamp")) / DAY).alias("user_recency_days"),
        ((F.max("timestamp") - F.min("timestamp")) / DAY).alias("user_tenure_days"),
        F.avg(F.when(weekday >= 5, 1.0).otherwise(0.0)).alias("user_weekend_share"),
        F.avg(F.when(hour >= 18, 1.0).otherwise(0.0)).alias("user_evening_share"),
        F.sum(monetary_column(frame)).alias("user_monetary"),
    ]
    if "rating" in frame.columns:
        aggregates += [F.avg("rating").alias("user_rating_mean"),
                       F.coalesce(F.stddev_samp("rating"), F.lit(0.0)).alias("user_rating_std")]
    aggregates += [(F.sum(F.coalesce(F.col(c), F.lit(0.0))) / F.count("*")).alias(f"user_share_{c}")
                   for c in indicators.columns]
    out = events.groupBy("user_id").agg(*aggregates).toPandas().set_index("user_id").sort_index()  # a fixed order
    return out.astype(np.float32)


def item_features_on_spark(frame, items: pd.DataFrame | None, categories: list[str], settings: FeatureSettings,
                           tags: list[str]) -> pd.DataFrame:
    """The item table of mindshare.features.items.build_item_features: event aggregates by Spark, then the
    catalogue's columns by the local engine's code."""
    from pyspark.sql import functions as F

    facts = frame.agg(F.max("timestamp").alias("now"),
                      *([F.avg("rating").alias("mean")] if "rating" in frame.columns else [])).first()
    now = facts["now"]
    aggregates = [F.countDistinct("user_id").alias("item_popularity"),
                  ((F.lit(now) - F.min("timestamp")) / DAY).alias("item_age_days"),
                  F.sum(F.when(F.col("timestamp") >= now - settings.recent_days * DAY, 1.0).otherwise(0.0))
                  .alias("item_recent_popularity")]
    if "rating" in frame.columns:
        aggregates += [F.sum("rating").alias("rating_sum"), F.count("*").alias("rating_rows")]
    out = frame.groupBy("item_id").agg(*aggregates).toPandas().set_index("item_id").sort_index()
    out[["item_popularity", "item_age_days", "item_recent_popularity"]] = \
        out[["item_popularity", "item_age_days", "item_recent_popularity"]].astype("float32")
    mean = float(facts["mean"]) if "rating" in frame.columns else None
    out = with_catalogue_features(out, mean, items, categories, settings.rating_prior, tags)
    out.index.name = "item_id"
    return out.astype(np.float32)


def clusters_on_spark(x: np.ndarray, settings: SegmentSettings, k_max: int
                      ) -> tuple[dict[int, np.ndarray], list[float]]:
    """K-means (pyspark.ml, seeded) on the standardised profile `x` for each k in the range, and each k's
    silhouette (Spark's ClusteringEvaluator over every user, on squared Euclidean distances where scikit-learn's
    takes Euclidean ones on a sample: the curve, and so the k chosen, can differ): the labels by k and the curve."""
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    from mindshare.spark.session import active_session

    rows = pd.DataFrame({"row": np.arange(len(x)), "values": list(x.astype(np.float64))})
    table = active_session().createDataFrame(rows, "row long, values array<double>")
    points = table.select("row", array_to_vector(F.col("values")).alias("features")).cache()
    labels, curve = {}, []
    for k in range(settings.k_min, k_max + 1):
        clustered = KMeans(k=k, seed=settings.seed, featuresCol="features").fit(points).transform(points)
        found = clustered.select("row", "prediction").toPandas().sort_values("row")["prediction"].to_numpy()
        several = len(np.unique(found)) > 1
        curve.append(float(ClusteringEvaluator(featuresCol="features").evaluate(clustered)) if several else -1.0)
        if several:
            labels[k] = found
    points.unpersist()
    return labels, curve


def profiles_on_spark(frame, items: pd.DataFrame | None, settings: FeatureSettings,
                      demographics: pd.DataFrame | None = None):
    """mindshare.features.tables.build_profiles with the event aggregates and K-means on Spark: (user profiles
    with `segment` and demographic indicators, item features, the Segmentation)."""
    from mindshare.features.categories import top_categories
    from mindshare.features.segments import segment_users
    from mindshare.features.tables import demographic_indicators

    counts = item_counts(frame)
    categories = top_categories(counts, items, settings.max_categories)
    users = user_features_on_spark(frame, items, categories)
    tags = top_categories(counts, items, settings.max_tags, "tags")
    item_table = item_features_on_spark(frame, items, categories, settings, tags)
    segmentation = segment_users(users, settings.segments, clusters=clusters_on_spark)
    users = users.assign(segment=segmentation.labels.astype("float32"))
    return users.join(demographic_indicators(demographics, users.index)), item_table, segmentation
