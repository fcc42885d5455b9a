"""Shared fixtures: tiny hand-made data with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from mindshare.data.interactions import Interactions

# The files that take minutes, longest first (`pytest --durations`: the end-to-end pipeline and its `dvc exp run`,
# the Spark engine's pipeline, the shop export through the shipped params, the scale-out servers). make test runs
# them first (`--dist loadfile --no-loadscope-reorder` hands files out in collection order): started last, one runs
# alone at the end while the other core idles (xdist's default order, by number of tests, put them last).
LONGEST_FIRST = ("test_end_to_end.py", "test_spark_pipeline.py", "test_init.py",
                 "test_scale_out.py", "test_spark.py", "test_tuning.py", "test_settings.py", "test_faults.py",
                 "test_serving.py", "test_deployment.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the other files keep their order


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """4 users x 5 items.

    u1: a b c    u2: a b    u3: b c d    u4: e
    """
    rows = [("u1", "a"), ("u1", "b"), ("u1", "c"), ("u2", "a"), ("u2", "b"), ("u3", "b"), ("u3", "c"), ("u3", "d"),
            ("u4", "e")]
    return pd.DataFrame(
        {"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows], "timestamp": range(len(rows))}
    )


TINY_TEXT = pd.Series({"a": "space war", "b": "space opera", "c": "love story", "d": "war story", "e": "cooking show"})


@pytest.fixture
def tiny(tiny_frame: pd.DataFrame) -> Interactions:
    """The tiny matrix with a document per item (TINY_TEXT), for the content family."""
    return Interactions.from_frame(tiny_frame).with_item_text(TINY_TEXT)
