"""Whether the Spark tests can run here: pyspark (the `.[spark]` extra, in `make install`) and Java. With
MINDSHARE_REQUIRE_SPARK=1 (set by .ci/run, which installs Java where it is absent) a missing one fails the
Spark tests instead of skipping them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

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


CONNECT_SERVER = """
import sys, time
from pyspark.sql import SparkSession
port, memory, partitions = sys.argv[1], sys.argv[2], sys.argv[3]
SparkSession.builder.remote("local[2]").config("spark.connect.grpc.binding.port", port) \\
    .config("spark.driver.memory", memory).config("spark.sql.shuffle.partitions", partitions) \\
    .config("spark.ui.enabled", "false").getOrCreate()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def start_connect_server(port: int, env: dict, memory: str = "1g", partitions: int = 4,
                         seconds: float = 180.0) -> subprocess.Popen:
    """A Spark Connect server (local[2]) on `port` that outlives the stages connecting to it, as a cluster's
    does: each stage then connects in a second instead of starting its own JVM. Stop it with `stop_group`."""
    process = subprocess.Popen([sys.executable, "-c", CONNECT_SERVER, str(port), memory, str(partitions)],
                               env={**env, "PYSPARK_PYTHON": sys.executable}, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited with {process.returncode}")
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"no Spark Connect server on port {port} after {seconds:.0f} s")
