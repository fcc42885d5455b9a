"""Batch top-k of many users at once spread over workers, for any family: the lists of evaluation's test users and
of the audience's top-N and campaign pools, ranked block by block elsewhere and put back in the users' order.
Each worker opens the model's file once and ranks its blocks on one core (BLAS and OpenMP one thread each):
the workers give the parallelism. A user's list does not depend on the others ranked with it, so the lists are
the model's own; everything but `recommend` (the cold-start policy, new items, metrics) is the model's, here.

Two kinds of workers: this machine's processes (`ProcessRanking`, `engine: local`, `local.rank_workers`) and
Spark's executors (`SparkRanking` in models/spark_ranking.py, `engine: spark`).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from mindshare.errors import MindshareError
from mindshare.models.base import Recommender

log = logging.getLogger(__name__)

USERS_PER_TASK = 5_000  # at most; there are at least as many tasks as workers
_opened: dict[str, Recommender] = {}  # in each worker: the model it has opened, by file
_pools: dict[int, ProcessPoolExecutor] = {}  # in the stage's process: its ranking processes, by their number


def task_bounds(n_users: int, workers: int) -> np.ndarray:
    """Where each task's block of users starts and ends: at least one task per worker, at most USERS_PER_TASK each."""
    n_tasks = max(1, min(n_users, max(workers, -(-n_users // USERS_PER_TASK))))
    return np.linspace(0, n_users, n_tasks + 1).astype(np.int64)


def opened_model(path: str, version: str = "") -> Recommender:
    """The model of `path` (as of `version`), opened once per worker process; one at a time: another file, or the
    file saved again, replaces it."""
    key = f"{path}@{version}"
    if key not in _opened:
        _opened.clear()
        _opened[key] = Recommender.load(path)
    return _opened[key]


def file_version(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def rank_block(path: str, version: str, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
    """One block of users ranked by the model of `path`, on one core (what a worker runs)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return opened_model(path, version).recommend(users, k=k, exclude_seen=exclude_seen)


class BlockRanking:
    """`model` whose `recommend` for `min_users` users or more ranks blocks of them on workers (for fewer, handing
    the work out costs more than it saves: the model ranks them here); anything else is the model's own.

    The base of the workers' kinds (`ProcessRanking`, `SparkRanking`), which supply `_rank_blocks`.

    Parameters
    ----------
    model : Recommender
        The fitted model: it answers everything but the long lists, and ranks the short ones itself.
    model_file : Path
        The file `model` was saved to (`Recommender.save`), which each worker opens once.
    min_users : int, default 2_000
        Lists for at least this many users go to the workers. For shorter lists, handing the blocks out (a Spark
        job, a model file opened by each process) costs more than it saves; the stages pass
        `local.rank_min_users` or `spark.rank_min_users`.
    """

    where = "workers"

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
        items, scores = self._rank_blocks(users, int(k), bool(exclude_seen))
        log.info("ranked %d users (k=%d) on %s in %.1f s", len(users), k, self.where, time.perf_counter() - started)
        return items.reshape(len(users), int(k)), scores.reshape(len(users), int(k))

    def _rank_blocks(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def process_pool(workers: int) -> ProcessPoolExecutor:
    """This process's pool of `workers` ranking processes, started (spawned: no OpenMP state copied by a fork) at
    the first long list and kept for the next, of any model, until the process ends: evaluate starts it once."""
    if workers not in _pools:
        _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    return _pools[workers]


class ProcessRanking(BlockRanking):
    """Blocks ranked by `workers` processes of this machine (`process_pool`); each opens the model file once.

    Parameters
    ----------
    model : Recommender
        The fitted model: it answers everything but the long lists, and ranks the short ones itself.
    model_file : Path
        The file `model` was saved to (`Recommender.save`), which each process opens once.
    workers : int
        Ranking processes (`local.rank_workers`; the stages pass the cores they may use).
    min_users : int, default 2_000
        Lists for at least this many users go to the processes; as BlockRanking's.
    """

    def __init__(self, model: Recommender, model_file: Path, workers: int, min_users: int = 2_000):
        super().__init__(model, model_file, min_users)
        self.workers = int(workers)
        self.where = f"{self.workers} processes"

    def _rank_blocks(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        bounds = task_bounds(len(users), self.workers)
        path, version = str(self.model_file.resolve()), file_version(self.model_file)
        pool = process_pool(self.workers)
        futures = [pool.submit(rank_block, path, version, users[start:end], k, exclude_seen)
                   for start, end in zip(bounds[:-1], bounds[1:])]
        try:
            parts = [future.result() for future in futures]
        except MindshareError:
            raise
        except BrokenProcessPool:
            _pools.pop(self.workers, None)  # the next list starts new processes
            raise MindshareError(f"{self.model_file}: a ranking process died (out of memory?): set "
                                 f"local.rank_workers in params.yaml below {self.workers}") from None
        except Exception as error:  # a worker's error, re-raised here: its one line
            raise MindshareError(f"{self.model_file}: ranking in worker processes failed: "
                                 f"{type(error).__name__}: {error}") from None
        return np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])
