"""`mindshare bench serve`: start `mindshare serve` on loopback in this project and drive it.

- closed loop: `clients` concurrent clients (one keep-alive connection each), each sending its next
  request when the last answered, for `seconds` or `max_requests`;
- open loop: requests started at a fixed `rate` per second, whatever the server's pace; latency is
  counted from each request's scheduled start, so a server falling behind shows it (no coordinated
  omission);
- optionally a promote (to another version) and a rollback during the closed loop, to show that a
  switch of the served version causes no error.

Users: raw ids from the project's source (as people know them), 10% of them unknown (cold start).
Prints and returns requests, seconds, throughput, p50/p95/p99 latency (ms) and errors per mode.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from mindshare.errors import MindshareError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_user_ids(n: int, seed: int = 0) -> list[str]:
    """Up to `n` raw ids from the project's source, plus 10% ids nobody has."""
    from mindshare.data.sources import read_source
    from mindshare.project.params import load_settings

    raw, _ = read_source(load_settings().ingest)
    ids = raw.frame["user_id"].dropna().astype(str).str.strip().unique()
    rng = np.random.default_rng(seed)
    chosen = list(rng.choice(ids, size=min(n, len(ids)), replace=False))
    return chosen + [f"bench-unknown-{i}" for i in range(max(1, len(chosen) // 10))]


BENCH_KEY = secrets.token_urlsafe(24)  # the bench's own key (scope recommend), given to the server it starts
BENCH_HEADERS = {"X-API-Key": BENCH_KEY}


async def _get(session, path: str) -> bool:
    """One request, its body read; True if it answered 200."""
    import aiohttp

    try:
        async with session.get(path) as response:
            await response.read()
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def _closed_loop(base: str, paths: list[str], clients: int, seconds: float, max_requests: int) -> dict:
    import aiohttp

    latencies, errors, count = [], 0, 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector, headers=BENCH_HEADERS) as session:
        async def client(offset: int) -> None:
            nonlocal errors, count
            i = offset
            while time.perf_counter() < deadline and count < max_requests:
                count += 1
                started = time.perf_counter()
                errors += not await _get(session, paths[i % len(paths)])
                latencies.append(time.perf_counter() - started)
                i += clients

        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        elapsed = time.perf_counter() - started
    return _summary("closed", latencies, errors, elapsed, clients=clients)


async def _open_loop(base: str, paths: list[str], rate: float, seconds: float) -> dict:
    """Requests started at their scheduled times (each a task made when due, so that the generator's own
    work does not delay the schedule); latency from the scheduled start."""
    import aiohttp

    latencies, errors = [], 0
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=0), headers=BENCH_HEADERS) as session:
        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            errors += not await _get(session, paths[i % len(paths)])
            latencies.append(time.perf_counter() - scheduled)

        start, tasks = time.perf_counter(), []
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return _summary("open", latencies, errors, elapsed, rate=rate)


def _summary(mode: str, latencies: list[float], errors: int, elapsed: float, **extra) -> dict:
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return {"mode": mode, **extra, "requests": len(latencies), "seconds": round(elapsed, 3),
            "throughput": len(latencies) / elapsed if elapsed else 0.0,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "errors": errors}


def _promote_and_back(other_version: str, delay: float) -> dict:
    """Promote another version after `delay` s, roll back after twice that: both through the CLI."""
    time.sleep(delay)
    cli = [sys.executable, "-m", "mindshare.cli"]
    promoted = subprocess.run([*cli, "promote", "--version", other_version, "--force", "--reason",
                               "bench serve: switch under load"], capture_output=True, text=True)
    time.sleep(delay)
    rolled = subprocess.run([*cli, "rollback", "--reason", "bench serve: switch back"], capture_output=True, text=True)
    return {"promote_exit": promoted.returncode, "rollback_exit": rolled.returncode}


def run_serve_bench(clients: int = 200, seconds: float = 10.0, max_requests: int = 200_000, rate: float = 300.0,
                    open_seconds: float = 10.0, k: int = 10, workers: int = 1, switch: bool = True) -> dict:
    from mlflow.tracking import MlflowClient

    from mindshare.project.params import load_settings
    from mindshare.tracking.store import configure_tracking

    configure_tracking()
    name = load_settings().register.model_name
    client = MlflowClient()
    try:
        production = str(client.get_model_version_by_alias(name, "production").version)
    except Exception:
        raise MindshareError(f"'{name}' has no production version; promote one before `bench serve`") from None
    versions = sorted((str(v.version) for v in client.search_model_versions(f"name = '{name}'")), key=int)
    other = next((v for v in reversed(versions) if v != production), None)
    paths = [f"/recommend/{u}?k={k}" for u in raw_user_ids(2000)]
    port = _free_port()
    server_log = tempfile.TemporaryFile()  # read only if it fails to start; a pipe nobody reads would fill and block it
    server = subprocess.Popen([sys.executable, "-m", "mindshare.cli", "serve", "--port", str(port), "--workers",
                               str(workers), "--poll-seconds", "1"], stdout=subprocess.DEVNULL, stderr=server_log,
                              text=True, env={**os.environ, "MINDSHARE_API_KEYS": f"{BENCH_KEY} recommend"})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, server, server_log)
        asyncio.run(_closed_loop(base, paths[:200], min(clients, 20), 1.0, 2000))  # warm up
        results = {"server": {"workers": workers, "cpus": os.cpu_count(), "k": k, "version": production}}
        switcher = None
        if switch and other is not None:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(1)
            switcher = pool.submit(_promote_and_back, other, seconds / 3)
        results["closed"] = asyncio.run(_closed_loop(base, paths, clients, seconds, max_requests))
        if switcher is not None:
            results["closed"]["switch"] = {**switcher.result(), "to_version": other}
        _wait_for_version(base, production)  # the rollback's version is loaded before the next mode
        results["open"] = asyncio.run(_open_loop(base, paths, rate, open_seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    return results


def _wait(base: str, server: subprocess.Popen, log, seconds: float = 120) -> None:
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            log.seek(0)
            said = log.read().decode(errors="replace").strip().splitlines()[-1:]
            raise MindshareError(f"mindshare serve exited: {said}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise MindshareError(f"mindshare serve did not answer on {base} within {seconds:.0f} s")


def _wait_for_version(base: str, version: str, seconds: float = 120) -> None:
    import json
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        with urllib.request.urlopen(f"{base}/version", timeout=5) as response:
            if json.loads(response.read())["version"] == version:
                return
        time.sleep(0.2)
    raise MindshareError(f"the server did not return to version {version} within {seconds:.0f} s")


def format_serve(results: dict) -> str:
    header = f"{'mode':<8}{'requests':>10}{'seconds':>9}{'req/s':>9}"
    lines = [header + f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"]
    for mode in ("closed", "open"):
        r = results[mode]
        lines.append(
            f"{mode:<8}{r['requests']:>10}{r['seconds']:>9.1f}{r['throughput']:>9.0f}{r['p50_ms']:>9.1f}"
            f"{r['p95_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['errors']:>8}"
        )
    switch = results["closed"].get("switch")
    if switch:
        lines.append(
            f"during the closed loop: promote to version {switch['to_version']} (exit {switch['promote_exit']}) "
            f"and rollback (exit {switch['rollback_exit']})"
        )
    return "\n".join(lines)
