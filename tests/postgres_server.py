"""A real PostgreSQL server for the scale-out tests: Debian's binaries, a throw-away cluster on a free
loopback port, trust authentication, stopped and removed afterwards.

`.ci/run` installs Debian's `postgresql` package when it is absent and sets MINDSHARE_REQUIRE_POSTGRES=1,
so that in CI a missing server is a failure, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "MINDSHARE_REQUIRE_POSTGRES"
SUPERUSER = "mindshare"


def postgres_bin() -> Path | None:
    """The folder of initdb / pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def unavailable(reason: str):
    """Fail where PostgreSQL is required (CI), else skip saying why and how to get it."""
    message = f"PostgreSQL cannot be had here: {reason}; install Debian's `postgresql` package (`.ci/run` does)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    bin: Path
    folder: Path
    port: int
    run_as: list[str]  # ["runuser", "-u", "postgres", "--"] as root (initdb refuses root), else []

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def command(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True, text=True, timeout=120)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    binaries = postgres_bin()
    if binaries is None:
        unavailable("initdb is not on PATH nor under /usr/lib/postgresql/*/bin")
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="mindshare-pg-"))
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root: the package's own user runs them
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no 'postgres' user to run the server")
        if not shutil.which("runuser"):
            unavailable("running as root and runuser is missing")
        os.chown(folder, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(binaries, folder, free_port(), run_as)
    data = folder / "data"
    try:
        server.command(str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                       "--no-sync")
        server.command(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                       "-o", f"-h 127.0.0.1 -p {server.port} -k {folder} -F", "start")
    except subprocess.CalledProcessError as error:
        log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {error.stderr.strip() or error.stdout.strip()} {log[-500:]}")
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    pytest.fail("PostgreSQL started but does not accept connections on its port")
