"""Helpers of the tests that start a real server process on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_log(process: subprocess.Popen) -> str:
    """What a server wrote to stderr: its pipe, or the file named by `process.log_path`."""
    if process.stderr is not None:
        return process.stderr.read()
    path = getattr(process, "log_path", None)
    return path.read_text() if path is not None else ""


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    """Until `url` answers below 500; the server's stderr if it exits first."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {server_log(process)}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def stop_group(process: subprocess.Popen) -> None:
    """A server started with start_new_session=True and what it started (its process group), politely, then not."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
