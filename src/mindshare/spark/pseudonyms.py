"""User ids pseudonymised on Spark with the local engine's function and key: one definition of a pseudonym,
so a user's pseudonym is the same on both engines. It runs as an Arrow (pandas) UDF on the executors, each
batch hashing its distinct ids once; the key travels inside the task, as it would to any local worker."""

from __future__ import annotations

import pandas as pd

from mindshare.data.pseudonymise import pseudonymise


def pseudonymised(frame, key: bytes, column: str = "user_id"):
    """`frame` with `column` (read as text) replaced by its pseudonyms."""
    from pyspark.sql import functions as F

    @F.pandas_udf("string")
    def hashed(ids: pd.Series) -> pd.Series:
        return pd.Series(pseudonymise(ids, key), index=ids.index, dtype=object)

    return frame.withColumn(column, hashed(F.col(column).cast("string")))
