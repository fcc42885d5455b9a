"""Batch top-k on Spark's executors, for any family (models/block_ranking.py): with `engine: spark` the stages
wrap the model they loaded in `SparkRanking`, and each long list is one Spark job whose tasks are blocks of users,
ranked by Spark's Python workers and collected in the users' order.

The model file reaches the executors through Spark (`ship_file`), not a shared disk; each Python worker opens it
once and keeps it for the next tasks (Spark reuses its workers). Each task ranks one block of users on one core
(BLAS and OpenMP limited to one thread): Spark gives the parallelism, a task per core.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.models.block_ranking import BlockRanking, rank_block, task_bounds
from mindshare.spark.session import active_session, default_parallelism, ship_file

log = logging.getLogger(__name__)

SCHEMA = "task long, items array<long>, scores array<double>, dtype string"


class SparkRanking(BlockRanking):
    """Blocks ranked as one Spark job per long list, a task per block (models/block_ranking.py), on the session
    `engine: spark` started.

    Parameters
    ----------
    model : Recommender
        The fitted model: it answers everything but the long lists, and ranks the short ones itself.
    model_file : Path
        The file `model` was saved to (`Recommender.save`), shipped to the executors through Spark (`ship_file`).
    min_users : int, default 2_000
        Lists for at least this many users go to the executors (`spark.rank_min_users`); as BlockRanking's.
    """

    where = "Spark's executors"

    def _rank_blocks(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        spark = active_session()
        bounds = task_bounds(len(users), default_parallelism(spark))
        n_tasks = len(bounds) - 1
        task = partial(rank_tasks, ship_file(self.model_file), users, bounds, k, exclude_seen)
        try:
            ranked = spark.range(0, n_tasks, 1, n_tasks).mapInPandas(task, SCHEMA).toPandas()
        except Exception as error:  # a worker's traceback, many lines: the last before the JVM's says what went wrong
            log.debug("ranking on Spark failed", exc_info=True)
            said = [line.strip() for line in str(error).split("JVM stacktrace:")[0].splitlines() if line.strip()]
            raise MindshareError(f"{self.model_file}: ranking on Spark's executors failed: "
                                 f"{said[-1] if said else type(error).__name__}") from None
        ranked = ranked.sort_values("task")
        dtype = np.dtype(ranked["dtype"].iloc[0])
        items = np.concatenate([np.asarray(block, dtype=np.int64) for block in ranked["items"]])
        scores = np.concatenate([np.asarray(block, dtype=dtype) for block in ranked["scores"]])
        return items, scores


def rank_tasks(file_name: str, users: np.ndarray, bounds: np.ndarray, k: int, exclude_seen: bool, batches):
    """What each task runs (a module function, so Spark pickles it by name and the worker's opened model persists):
    its blocks of `users` ranked by the model of the shipped file."""
    from pyspark import SparkFiles

    path = SparkFiles.get(file_name)  # its name carries the file's version (ship_file)
    for batch in batches:
        for task in batch["id"].to_numpy():
            items, scores = rank_block(path, "", users[bounds[task]:bounds[task + 1]], k, exclude_seen)
            yield pd.DataFrame({"task": [int(task)], "items": [np.asarray(items, dtype=np.int64).ravel()],
                                "scores": [np.asarray(scores, dtype=np.float64).ravel()],
                                "dtype": [np.asarray(scores).dtype.name]})
