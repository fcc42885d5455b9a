"""A throw-away project folder for running real stages and the CLI as subprocesses."""

from __future__ import annotations

import os
import shutil
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


def copy_repo(target: Path) -> None:
    """The repo's tracked and untracked-but-not-ignored files, committed in a fresh git repository."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(command, cwd=target, check=True, capture_output=True)


def project_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MINDSHARE_PSEUDONYM_KEY"] = "stage-project-test-key"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # pytest-xdist already keeps every core busy: one thread per stage, as two processes each spinning two OpenMP or
    # BLAS threads on two cores ran tune@lightgbm 4.6 times slower (14 s alone, 65 s beside another project's repro)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("MLFLOW_REGISTRY_URI", None)
    return env


def run(folder: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=folder, env=env or project_env(folder), capture_output=True, text=True,
                          timeout=timeout)


def run_stage(folder: Path, stage: str, *args: str) -> subprocess.CompletedProcess:
    return run(folder, sys.executable, "-m", f"mindshare.stages.{stage}", *args)
