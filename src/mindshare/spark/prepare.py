"""The prepare stage's work on Spark: read the ingested interactions, de-duplicate, k-core filter, split, mark
relevant test rows, and write each split as a Parquet dataset (a folder, which pandas and DVC read as they read
the local engine's single file). Counts, drops and split summaries as the local stage reports them."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from mindshare.settings import PrepareSettings
from mindshare.spark.session import active_session
from mindshare.spark.split import PART, drop_exact_duplicates, k_core, split_parts


def prepare_on_spark(source: Path, prepare: PrepareSettings, outputs: dict[str, Path], protocol: str) -> dict:
    """Split `source` into `outputs` (name -> path); returns rows_in, each split's summary, the drops by reason and
    the relevant test rows (the local engine's `prepare_locally` returns the same)."""
    from pyspark.sql import functions as F

    spark = active_session()
    frame = spark.read.parquet(str(Path(source).resolve()))
    rows_in = frame.count()
    frame, duplicates = drop_exact_duplicates(frame)
    frame, k_core_dropped = k_core(frame, prepare.min_user_interactions, prepare.min_item_interactions)
    parts = split_parts(frame, prepare.split, protocol).localCheckpoint()
    splits, relevant = {}, 0
    for name, path in outputs.items():
        part = parts.where(F.col(PART) == name).drop(PART)
        if name == "test":
            part = part.withColumn("relevant", relevant_column(part, prepare.relevant_min_rating))
        write_dataset(part, path)
        written = spark.read.parquet(str(Path(path).resolve()))
        splits[name] = dataset_summary(written)
        relevant = written.where(F.col("relevant")).count() if name == "test" else relevant
    return {"rows_in": rows_in, "splits": splits, "dropped": {"exact_duplicate": duplicates, "k_core": k_core_dropped},
            "test_rows_relevant": relevant}


def relevant_column(test, min_rating: float | None):
    """As mindshare.data.split.relevant_mask: every row, or those rated at least `min_rating`."""
    from pyspark.sql import functions as F

    if min_rating is None or "rating" not in test.columns:
        return F.lit(True)
    return F.coalesce(F.col("rating") >= F.lit(float(min_rating)), F.lit(False))


def write_dataset(frame, path: Path) -> None:
    """Write a Parquet dataset beside `path`, then swap it in: never half a dataset where `path` was."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    frame.write.parquet(str(staging.resolve()))
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    staging.rename(path)


def dataset_summary(frame) -> dict:
    """A split as lineage records it (as mindshare.data.split.split_summary): rows, distinct users and items,
    columns, and a fingerprint of the rows whatever their order (Spark keeps none)."""
    from pyspark.sql import functions as F

    facts = frame.agg(F.count("*").alias("rows"), F.countDistinct("user_id").alias("users"),
                      F.countDistinct("item_id").alias("items"), rows_hash_sum(frame).alias("hash")).first()
    return {"fingerprint": fingerprint_of(frame.columns, facts["hash"]), "rows": int(facts["rows"]),
            "users": int(facts["users"]),
            "items": int(facts["items"]),
            "columns": {c: str(t) for c, t in frame.limit(0).toPandas().dtypes.items()}}  # pandas' names, as locally


def rows_hash_sum(frame):
    """The sum of every row's 64-bit hash (as a decimal: no overflow): the same whatever the rows' order."""
    from pyspark.sql import functions as F

    return F.sum(F.xxhash64(*[F.col(c) for c in frame.columns]).cast("decimal(38,0)"))


def fingerprint_of(columns: list[str], hash_sum) -> str:
    """A table's fingerprint from its column names and `rows_hash_sum` (16 hex characters, as locally)."""
    digest = hashlib.sha256("\x1f".join(columns).encode())
    digest.update(str(hash_sum).encode())
    return digest.hexdigest()[:16]
