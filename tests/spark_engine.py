"""Whether the Spark tests can run here: pyspark (the `.[spark]` extra, in `make install`) and Java. With
MINDSHARE_REQUIRE_SPARK=1 (set by .ci/run, which installs Java where it is absent) a missing one fails the
Spark tests instead of skipping them."""

from __future__ import annotations

import os
import shutil

import pytest


def spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        return "no Java"
    return None


def require_spark() -> None:
    """Skip the calling test or fixture where Spark cannot run, or fail it where CI requires Spark."""
    missing = spark_missing()
    if missing:
        if os.environ.get("MINDSHARE_REQUIRE_SPARK") == "1":
            pytest.fail(f"Spark tests required (MINDSHARE_REQUIRE_SPARK=1) but {missing}")
        pytest.skip(missing)
