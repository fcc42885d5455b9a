"""The MLflow UI picture in README.md and the docs, taken from this project's store after `make run`: the
experiment's runs table at the address `mindshare ui` prints.

    python docs/screenshots.py          # writes docs/images/mlflow-runs-table.png

Needs Debian's `chromium chromium-driver` and the dev extra (selenium), as the browser test does.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the browser test's helpers: one way to drive the UI

from mlflow_ui import chromium, mlflow_ui, printed_ui, show  # noqa: E402


def main() -> None:
    images = ROOT / "docs" / "images"
    images.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    command, runs_url, port = printed_ui(ROOT, env)
    with mlflow_ui(command, port, env, ROOT / "build" / "mlflow-ui.log"), chromium() as driver:
        show(driver, runs_url, ["Run Name"], images / "mlflow-runs-table.png")
        print(images / "mlflow-runs-table.png")

if __name__ == "__main__":
    if shutil.which("chromium") is None:
        sys.exit("docs/screenshots.py: needs Debian's chromium and chromium-driver")
    main()
