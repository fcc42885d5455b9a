"""A throw-away project folder for running real stages and the CLI as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_params(folder: Path, **overrides: dict) -> dict:
    """Copy the repo's params.yaml into `folder`, with top-level sections updated by `overrides`."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(params.get(section), dict):
            params[section] = {**params[section], **values}
        else:
            params[section] = values
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def project_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MINDSHARE_PSEUDONYM_KEY"] = "test-key"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_REGISTRY_URI", None)
    return env


def run(folder: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=folder, env=env or project_env(folder), capture_output=True, text=True,
                          timeout=timeout)


def run_stage(folder: Path, stage: str, *args: str) -> subprocess.CompletedProcess:
    return run(folder, sys.executable, "-m", f"mindshare.stages.{stage}", *args)
