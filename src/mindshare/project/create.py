"""`mindshare init DIR`: a new project folder from the packaged template, with git, DVC and its data.

The data is checked before anything is written, as `mindshare inspect` checks it (the same loader and cleaning
rules as `ingest`), then copied under data/raw/ and tracked with `dvc add`; params.yaml's `ingest` block is
edited line by line (its comments kept) to name it. Without data: the MovieLens sample, downloaded as
`mindshare download` does. The pseudonymisation key is not made here: `ingest` makes it on its first run.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mindshare.data.download import download_release, release_file
from mindshare.data.inspect import inspect_data, load_any
from mindshare.errors import MindshareError
from mindshare.layout import PARAMS, RAW
from mindshare.project.template_files import template_files
from mindshare.settings import Settings

log = logging.getLogger(__name__)
SAMPLE_RELEASE = "latest-small"


@dataclass
class NewProject:
    folder: Path
    data: Path  # relative to the folder
    ingest: dict[str, Any]  # what was set in params.yaml's ingest block
    inspection: dict | None = None  # `inspect_data`'s report on the user's file
    notes: list[str] = field(default_factory=list)  # what is left for the person to do


def create_project(folder: str | Path, data: str | Path | None = None, columns: dict[str, str] | None = None,
                   timestamp_format: str | None = None, items: str | Path | None = None,
                   item_columns: dict[str, str] | None = None, progress: bool = True) -> NewProject:
    """Make `folder` a mindshare project; nothing is written if the folder or the data is refused."""
    folder = Path(folder)
    files = template_files()
    _check_folder(folder, files)
    if item_columns and not items:
        raise MindshareError("--item-columns describes the file given with --items; give --items")
    if data is None:
        if columns or timestamp_format or items:
            raise MindshareError("--columns, --timestamp-format and --items describe the events file given with "
                                 "--data; give --data")
        target = release_file(SAMPLE_RELEASE, RAW)
        ingest: dict[str, Any] = {"source": "movielens", "path": str(target), "release": SAMPLE_RELEASE}
        report = None
    else:
        source = Path(data)
        loaded = load_any(source, columns, timestamp_format, items_path=items, item_columns=item_columns)  # as
        # `mindshare inspect` checks it (and `bench --items`): one line if bad
        report = inspect_data(loaded)
        if report["rows_kept"] == 0:
            raise MindshareError(f"{source}: no rows left after ingest's cleaning rules; see `mindshare inspect "
                                 f"--data {source}`")
        target = _inside(source, folder) or RAW / source.name
        if source.is_dir() or source.suffix.lower() == ".zip":
            if columns or timestamp_format or items:
                raise MindshareError(f"--columns, --timestamp-format and --items are for an events file; {source} is "
                                     "read as MovieLens (its columns and items are known)")
            ingest = {"source": "movielens", "path": str(target), "release": None}
        else:  # an events log: no rating scale assumed (a 1-10 or 0-100 rating column is the person's own)
            ingest = {"source": "events", "path": str(target), "columns": dict(columns or {}),
                      "timestamp_format": timestamp_format, "rating_scale": None}
            if items is not None:
                ingest.update(items_path=str(_inside(Path(items), folder) or RAW / Path(items).name),
                              item_columns=dict(item_columns or {}))

    files[str(PARAMS)] = set_ingest(files[str(PARAMS)], ingest)
    Settings.checked(yaml.safe_load(files[str(PARAMS)]))  # the edited params.yaml is still valid
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)

    _run(["git", "init", "-q"], folder)
    _run([sys.executable, "-m", "dvc", "init", "-q"], folder)
    _run([sys.executable, "-m", "dvc", "config", "core.autostage", "true"], folder)  # as the repository's: dvc.lock
    project = NewProject(folder, target, ingest, report)
    copies = {} if data is None else {Path(data): target}
    if items is not None:
        copies[Path(items)] = Path(ingest["items_path"])
    for source_path, inside in copies.items():
        if not (folder / inside).exists():
            (folder / inside).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if source_path.is_dir() else shutil.copy2)(source_path, folder / inside)
    if data is None:
        try:
            download_release(SAMPLE_RELEASE, folder / target.parent, progress=progress)
        except MindshareError as error:  # offline: the project is made; the download can come later
            project.notes.append(f"{error}; then run `mindshare download` in {folder}")
            return project
    tracked = [str(path) for path in copies.values()] or [str(target)]
    _run([sys.executable, "-m", "dvc", "add", "-q", *tracked], folder)  # DVC versions the data, git ignores it
    _run(["git", "add", "-A"], folder)
    return project


def _check_folder(folder: Path, files: dict[str, str]) -> None:
    if folder.exists() and not folder.is_dir():
        raise MindshareError(f"{folder}: is a file; give a new or empty folder")
    if (folder / "dvc.yaml").exists():
        raise MindshareError(f"{folder}: already has a dvc.yaml (a project); give a new or empty folder")
    taken = [name for name in [*files, ".dvc"] if (folder / name).exists()]
    if taken:
        raise MindshareError(f"{folder}: already has {', '.join(taken)}; init would overwrite it; give a new or "
                             "empty folder")


def _inside(path: Path, folder: Path) -> Path | None:
    """`path` relative to `folder` if it is already in it (then it is used where it is, not copied)."""
    try:
        return path.resolve().relative_to(folder.resolve())
    except ValueError:
        return None


def _run(command: list[str], folder: Path) -> None:
    shown = " ".join(["dvc", *command[3:]] if command[0] == sys.executable else command)
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    except FileNotFoundError:
        raise MindshareError(f"`{shown}`: {command[0]} is not installed; install it and run mindshare init "
                             "again") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise MindshareError(f"`{shown}` in {folder} failed: {message[-1] if message else result.returncode}")


def flow(value: Any) -> str:
    """`value` as one line of YAML (flow style): {user_id: CustomerID}, null, data/raw/x.csv, '%d/%m/%Y %H:%M'."""
    return yaml.safe_dump([value], default_flow_style=True, sort_keys=False, width=1_000_000).strip()[1:-1]


def set_ingest(text: str, values: dict[str, Any]) -> str:
    """params.yaml's text with keys of its top-level `ingest` block set to `values` (each line's comment kept; a key
    without a line gets one after the key before it in `values`)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("ingest:")), None)
    if start is None:
        raise MindshareError("params.yaml: no top-level 'ingest:' block")
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "#", "\n")), len(lines))
    column = min((line.index("  #") + 2 for line in lines[start + 1:end] if "  #" in line.lstrip()), default=0)
    previous = start
    for key, value in values.items():
        prefix = f"  {key}:"
        at = next((i for i in range(start + 1, end) if lines[i].startswith(prefix + " ")), None)
        if at is None:
            at = previous + 1
            lines.insert(at, "\n")
            end += 1
        previous = at
        _, hash_, comment = lines[at].rstrip("\n").partition("  #")
        line = f"{prefix} {flow(value)}"
        lines[at] = (f"{(line + '  ').ljust(column)}#{comment}" if hash_ else line) + "\n"
    edited = "".join(lines)
    read = yaml.safe_load(edited)["ingest"]
    wrong = [key for key, value in values.items() if read.get(key) != value]
    if wrong:
        raise MindshareError(f"params.yaml: ingest.{wrong[0]} did not read back as written")
    return edited
