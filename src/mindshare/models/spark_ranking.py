"""Batch top-k on Spark's executors, for any family: the lists of many users at once (the audience stage's
top-N and campaign pools, evaluation's test users) ranked by Spark's Python workers, then collected in the users'
order. With `engine: spark` the stages wrap the model they loaded in `SparkRanking`; everything but `recommend` is
the model's own, on the driver, so the answers are the model's and the cold-start policy, new items and metrics
run unchanged.

The model file reaches the executors through Spark (`ship_file`), not a shared disk; each Python worker opens it
once and keeps it for the next tasks (Spark reuses its workers). Each task ranks one block of users on one core
(BLAS and OpenMP limited to one thread): Spark gives the parallelism, a task per core.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.models.base import Recommender
from mindshare.spark.session import active_session, default_parallelism, ship_file

log = logging.getLogger(__name__)

USERS_PER_TASK = 5_000  # at most; there are at least as many tasks as Spark has cores
SCHEMA = "task long, items array<long>, scores array<double>, dtype string"
_worker_models: dict[str, Recommender] = {}  # in each Python worker: the model it has opened, by file


class SparkRanking:
    """`model` whose `recommend` for `min_users` users or more runs as one Spark job over blocks of users (for
    fewer, a Spark job's start costs more than it saves: the driver ranks them)."""

    def __init__(self, model: Recommender, model_file: Path, min_users: int = 2_000):
        self.model, self.model_file, self.min_users = model, Path(model_file), int(min_users)

    def __getattr__(self, name: str):
        if name == "model":  # not yet set (a copy being built): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.model, name)

    def recommend(self, users: np.ndarray, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        users = np.asarray(users, dtype=np.int64)
        if len(users) < self.min_users:
            return self.model.recommend(users, k=k, exclude_seen=exclude_seen)
        started = time.perf_counter()
        spark = active_session()
        n_tasks = max(default_parallelism(spark), -(-len(users) // USERS_PER_TASK))
        bounds = np.linspace(0, len(users), n_tasks + 1).astype(np.int64)
        task = partial(rank_tasks, ship_file(self.model_file), users, bounds, int(k), bool(exclude_seen))
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
        log.info("ranked %d users (k=%d) on Spark's executors in %d tasks, %.1f s", len(users), k, n_tasks,
                 time.perf_counter() - started)
        return items.reshape(len(users), int(k)), scores.reshape(len(users), int(k))


def rank_tasks(file_name: str, users: np.ndarray, bounds: np.ndarray, k: int, exclude_seen: bool, batches):
    """What each task runs (a module function, so Spark pickles it by name and the worker's cache persists): its
    blocks of `users` ranked by the model of the shipped file."""
    from pyspark import SparkFiles
    from threadpoolctl import threadpool_limits

    path = SparkFiles.get(file_name)
    if path not in _worker_models:
        _worker_models.clear()  # one model per worker: a new file replaces the last
        _worker_models[path] = Recommender.load(path)
    model = _worker_models[path]
    with threadpool_limits(1):
        for batch in batches:
            for task in batch["id"].to_numpy():
                block = users[bounds[task]:bounds[task + 1]]
                items, scores = model.recommend(block, k=k, exclude_seen=exclude_seen)
                yield pd.DataFrame({"task": [int(task)], "items": [np.asarray(items, dtype=np.int64).ravel()],
                                    "scores": [np.asarray(scores, dtype=np.float64).ravel()],
                                    "dtype": [np.asarray(scores).dtype.name]})
