"""Implicit-feedback ALS on Spark (`pyspark.ml.recommendation.ALS`), its factors collected into the float32
arrays of the svd family, so that the model contract, pyfunc, serving and evaluation do not know which engine
fitted them.

The hyper-parameters are those of the `implicit` library (svd `implicit_als`), translated to Spark's form of
the same loss (Hu, Koren, Volinsky 2008):
- confidence: `implicit` weighs an observed pair alpha * x, Spark 1 + alpha' * x: alpha' = alpha - 1 on the
  binarised matrix (at least 0);
- L2: `implicit` adds one `regularization` to every user's and item's normal equations, Spark adds
  regParam * (the user's or item's number of observed pairs), "ALS-WR". No regParam gives the same loss:
  regParam = regularization / sqrt(L_u * L_i), the mean row lengths of users (L_u) and items (L_i), is a
  compromise that gives a user of average length regularization * sqrt(L_u / L_i) and an item of average
  length regularization * sqrt(L_i / L_u), equal to `implicit`'s only where the two means are equal. Tuned
  values carry over approximately, not exactly. With an L2 too small to matter the two losses are one, and the
  two engines rank alike (README "Scaling out" has the measured comparison; tests/test_spark.py holds both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.spark.session import active_session


def spark_regularization(matrix: sp.spmatrix, regularization: float) -> float:
    """Spark's regParam for `implicit`'s constant L2 weight on this matrix (see the module's text)."""
    n_users, n_items = matrix.shape
    observed = max(1, matrix.nnz)
    mean_length = np.sqrt((observed / max(1, n_users)) * (observed / max(1, n_items)))
    return float(regularization / mean_length)


def fit_spark_als(matrix: sp.spmatrix, factors: int, regularization: float, alpha: float, iterations: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors (float32, one row per index of `matrix`; rows Spark never saw are zeros)."""
    from pyspark.ml.recommendation import ALS

    spark = active_session()
    coo = sp.coo_matrix(matrix)
    pairs = pd.DataFrame({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                          "weight": coo.data.astype(np.float32)})
    als = ALS(rank=int(factors), maxIter=int(iterations), regParam=spark_regularization(matrix, regularization),
              alpha=max(0.0, float(alpha) - 1.0), implicitPrefs=True, seed=int(seed), userCol="user", itemCol="item",
              ratingCol="weight", nonnegative=False)
    model = als.fit(spark.createDataFrame(pairs))
    return (collected_factors(model.userFactors, matrix.shape[0], factors),
            collected_factors(model.itemFactors, matrix.shape[1], factors))


def collected_factors(frame, n_rows: int, factors: int) -> np.ndarray:
    """A Spark (id, features) factor table as a dense (n_rows, factors) float32 array."""
    table = frame.toPandas()
    out = np.zeros((n_rows, int(factors)), dtype=np.float32)
    if len(table):
        out[table["id"].to_numpy(dtype=np.int64)] = np.stack(table["features"].to_numpy()).astype(np.float32)
    return out
