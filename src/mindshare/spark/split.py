"""prepare on Spark: de-duplication, the k-core filter and the split protocols of mindshare.data.split, with
the same number of each user's rows in train, valid and test as the local engine gives. Which rows is drawn by a
seeded hash of each row's content (rows are unique after de-duplication), not by numpy's generator: a user's
counts match the local engine's, the rows drawn need not; and the draw does not depend on how Spark partitions or
orders the rows, so the same data and seed give the same split on any cluster. Timestamp ties (leave_last_n) are
broken by the same hash, where the local engine takes the later row.

Rounding is numpy's (half to even: Spark's `bround`) on the same float products, so that the counts agree at
the halves too. The protocols that draw whole users or items (holdout_users, holdout_items) depend on numpy's
generator over the local engine's order of users and are refused on Spark.
"""

from __future__ import annotations

from pathlib import Path

from mindshare.data.split import DAY, check_ratios, temporal_cuts
from mindshare.errors import MindshareError
from mindshare.settings import SplitSettings
from mindshare.spark.session import active_session

SPARK_PROTOCOLS = ("random_per_user", "leave_last_n", "global_time", "temporal")
PART = "_part"  # the column naming each row's split while the frame is one


def drop_exact_duplicates(frame):
    """The frame without repeated rows, and how many were dropped."""
    kept = frame.dropDuplicates().localCheckpoint()  # kept once: the k-core filter and the split read it again
    return kept, frame.count() - kept.count()


def k_core(frame, min_user: int, min_item: int):
    """Repeatedly drop users with < min_user and items with < min_item rows; the kept frame and rows dropped."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if min_user <= 1 and min_item <= 1:
        return frame, 0
    rows_in, kept = frame.count(), frame
    rows = rows_in
    while True:
        counted = (kept.withColumn("_users", F.count("*").over(Window.partitionBy("item_id")))
                   .withColumn("_user_rows", F.count("*").over(Window.partitionBy("user_id"))))
        kept = counted.where((F.col("_user_rows") >= min_user) & (F.col("_users") >= min_item)) \
            .drop("_users", "_user_rows").localCheckpoint()
        now = kept.count()
        if now == rows:
            return kept, rows_in - now
        rows = now


def split_parts(frame, settings: SplitSettings, protocol: str | None = None):
    """`frame` with the column PART ('train', 'valid' or 'test') by the protocol `settings` names (`protocol`: its
    `auto` resolved, see Settings.split_protocol)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    protocol = protocol or settings.protocol
    if protocol not in SPARK_PROTOCOLS:
        raise MindshareError(f"params.yaml: prepare.split.protocol '{protocol}' does not run on Spark; use "
                             f"one of {', '.join(SPARK_PROTOCOLS)}, or engine: local")
    user = Window.partitionBy("user_id")
    if protocol == "temporal":
        latest, earliest = frame.agg(F.max("timestamp"), F.min("timestamp")).first()
        test_cut, valid_cut = temporal_cuts(int(latest), settings.test_days, settings.valid_days)
        if int(earliest) > valid_cut:
            raise MindshareError(
                f"params.yaml: prepare.split.test_days + valid_days ({settings.test_days} + {settings.valid_days}) "
                f"cover the whole log ({(int(latest) - int(earliest)) / DAY:.1f} days of events): nothing is left to "
                f"fit on; shorten the windows")
        ts = F.col("timestamp")
        return frame.withColumn(PART, F.when(ts <= valid_cut, "train").when(ts <= test_cut, "valid")
                                .otherwise("test"))
    if protocol == "global_time":
        check_ratios(settings.test_ratio, settings.valid_ratio)
        test_cut = higher_quantile(frame, 1 - settings.test_ratio)
        valid_cut = higher_quantile(frame, 1 - settings.test_ratio - settings.valid_ratio) \
            if settings.valid_ratio > 0 else test_cut
        ts = F.col("timestamp")
        return frame.withColumn(PART, F.when(ts < valid_cut, "train").when(ts < test_cut, "valid").otherwise("test"))
    counted = frame.withColumn("_n", F.count("*").over(user))
    if protocol == "random_per_user":
        check_ratios(settings.test_ratio, settings.valid_ratio)
        drawn = counted.withColumn("_noise", row_hash(frame, settings.seed))
        ranked = drawn.withColumn("_rank", F.row_number().over(user.orderBy("_noise")) - 1)
        n = F.col("_n").cast("double")
        train_end = F.greatest(F.bround(n * F.lit(1 - settings.test_ratio - settings.valid_ratio), 0), F.lit(1.0))
        valid_end = F.greatest(F.bround(n * F.lit(1 - settings.test_ratio), 0), train_end)
        rank = F.col("_rank")
        part = F.when(rank < train_end, "train").when(rank < valid_end, "valid").otherwise("test")
        return ranked.withColumn(PART, part).drop("_n", "_noise", "_rank")
    n_test, n_valid = settings.leave_last_n, settings.valid_last_n
    ordered = counted.withColumn("_row", row_hash(frame, settings.seed))  # ties: by the hash (see above)
    from_end = ordered.withColumn(
        "_from_end", F.row_number().over(user.orderBy(F.col("timestamp").desc(), F.col("_row").desc())) - 1)
    eligible = F.col("_n") > n_test + n_valid
    rank = F.col("_from_end")
    part = F.when(eligible & (rank < n_test), "test").when(eligible & (rank < n_test + n_valid), "valid") \
        .otherwise("train")
    return from_end.withColumn(PART, part).drop("_n", "_row", "_from_end")


def row_hash(frame, seed: int):
    """A seeded 64-bit hash of each row's content: the same for the same row wherever Spark puts it."""
    from pyspark.sql import functions as F

    return F.xxhash64(F.lit(int(seed)), *[F.col(c) for c in frame.columns])


def higher_quantile(frame, q: float) -> int:
    """numpy's quantile(timestamps, q, method='higher'): the value at sorted position ceil((n - 1) q)."""
    import math

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    n = frame.count()
    position = math.ceil((n - 1) * q)
    counts = frame.groupBy("timestamp").count()
    cumulative = counts.withColumn("_through", F.sum("count").over(Window.orderBy("timestamp")))
    return cumulative.where(F.col("_through") > position).agg(F.min("timestamp")).first()[0]


def sampled_users(paths: list[Path], n_users: int, seed: int) -> list[str]:
    """A seeded sample of `n_users` of the users in the datasets at `paths` (all where there are no more): the
    users with the smallest seeded hash of their id, so the sample depends on the seed and the ids alone, not on
    how Spark partitions the rows, and a larger sample holds a smaller one."""
    from functools import reduce

    from pyspark.sql import functions as F

    spark = active_session()
    users = reduce(lambda a, b: a.unionByName(b), [spark.read.parquet(str(Path(p).resolve())).select("user_id")
                                                   for p in paths]).distinct()
    drawn = users.withColumn("draw", F.xxhash64(F.lit(int(seed)), F.col("user_id")))
    return [row.user_id for row in drawn.orderBy("draw", "user_id").limit(int(n_users)).select("user_id").collect()]
