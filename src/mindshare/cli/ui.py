"""`mindshare ui`: how to open the MLflow UI on this project's store, at the experiment's runs table."""

from __future__ import annotations

import argparse
import shlex

from mindshare.cli.settings import experiment_name
from mindshare.errors import MindshareError


def add_ui(sub) -> None:
    p = sub.add_parser("ui", help="the command that starts the MLflow UI on this store, and the experiment's URL",
                       description="Prints `mlflow ui` on the tracking store (MLFLOW_TRACKING_URI, else ./mlflow.db) "
                       "and the address of the experiment's runs table (Model-training view).")
    p.add_argument("--port", type=int, default=5000, help="the UI's port (default 5000)")
    p.add_argument("--experiment", help="MLflow experiment (default: the one params.yaml names)")
    p.add_argument("--serve", action="store_true", help="start the UI too (Ctrl-C stops it)")
    p.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> None:
    from mindshare.cli.settings import registry_settings
    from mindshare.tracking.store import configure_tracking, sqlite_file, tracking_client
    from mindshare.tracking.ui import experiment_url, is_server, ui_command

    if not 0 < args.port < 65536:
        raise MindshareError(f"--port is {args.port}; give a port between 1 and 65535")
    experiment = experiment_name(args)
    uri = configure_tracking()
    database = sqlite_file(uri)
    if database is not None and not database.exists():
        raise MindshareError(f"{database}: no tracking store yet; run `make run` (or `dvc repro`) first")
    client = tracking_client()
    base = uri if is_server(uri) else f"http://127.0.0.1:{args.port}"
    url = experiment_url(client, experiment, base)
    if is_server(uri):  # a tracking server is its own UI
        print(f"The runs of {experiment} (Model-training view) on the tracking server:")
        print(f"  {url}")
    else:
        command = ui_command(uri, args.port)
        print("Open the MLflow UI on this store with:")
        print(f"  {shlex.join(command)}")
        print(f"then the runs of {experiment} (Model-training view) at:")
        print(f"  {url}")
    _print_shortcuts(client, experiment, base, registry_settings(args)[0])
    if not is_server(uri) and args.serve:
        _serve(command)


def _print_shortcuts(client, experiment: str, base: str, model_name: str) -> None:
    """The last pipeline's models side by side and the registered model's versions, where they exist."""
    from mindshare.tracking.ui import last_pipeline_compare_url, model_url

    compare = last_pipeline_compare_url(client, experiment, base)
    if compare:
        print(f"the last pipeline's models side by side:\n  {compare}")
    if client.search_registered_models(f"name = '{model_name}'"):
        print(f"the registered model {model_name}, its versions and aliases:\n  {model_url(base, model_name)}")
    print(end="", flush=True)


def _serve(command: list[str]) -> None:
    import subprocess

    try:
        code = subprocess.call(command)
    except KeyboardInterrupt:
        return
    if code != 0:
        raise MindshareError(f"`{shlex.join(command)}` stopped with exit code {code} (see its message above)")
