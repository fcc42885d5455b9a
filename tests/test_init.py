"""`pip install mindshare` then `mindshare init DIR`: the packaged template is the repository's files (derived, never
edited by hand), init checks the data before it writes anything, a missing extra is one line, and the installed
wheel (not src/) runs a new project from `mindshare init` on a shop's export, with the shipped params.yaml and only
ingest changed, through the real `dvc repro` to a recommendation."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mindshare.cli import main
from mindshare.data.shop_example import COLUMNS, EVENT_WEIGHTS, ShopSpec, write_shop_export
from mindshare.errors import MindshareError
from mindshare.project.create import set_ingest
from mindshare.project.template_files import DERIVED, TEMPLATE, derive

from stage_project import REPO

SHOP_COLUMNS = ",".join(f"{k}={v}" for k, v in COLUMNS.items())
ITEM_COLUMNS = "item_id=sku,title=product,categories=category,price=unit_price"


def _deps_without_code(stage: dict) -> dict:
    body = dict(stage.get("do", stage))
    body["deps"] = [d for d in body["deps"] if not str(d).startswith("src/mindshare/")]
    return {**stage, "do": body} if "do" in stage else body


def test_the_packaged_template_is_derived_from_the_repository_files():
    packaged = {name: (TEMPLATE / name).read_text() for name in DERIVED.values()}
    assert packaged == derive(REPO), "run `python -m mindshare.project.template_files` at the repo root and commit"
    for source, name in DERIVED.items():
        if name != "dvc.yaml":
            assert packaged[name] == (REPO / source).read_text(), name
    repo, template = (yaml.safe_load((REPO / "dvc.yaml").read_text()), yaml.safe_load(packaged["dvc.yaml"]))
    code_deps = [line for line in (REPO / "dvc.yaml").read_text().splitlines() if "- src/mindshare/" in line]
    assert len(code_deps) > 50  # the repository's stages re-run when their code changes
    assert "- src/" not in packaged["dvc.yaml"]
    # the same stages, data dependencies, params, outputs and plots: only the code dependencies are gone
    assert template["stages"] == {name: _deps_without_code(stage) for name, stage in repo["stages"].items()}
    assert template["plots"] == repo["plots"]


def test_a_stage_left_with_code_dependencies_only_is_refused():
    text = (REPO / "dvc.yaml").read_text()
    stripped = text.replace("      - reports/evaluation.json\n      - src/mindshare/tracking/registry.py",
                            "      - src/mindshare/tracking/registry.py")
    assert stripped != text
    with pytest.raises(MindshareError, match="stage register has no dependency left but code"):
        from mindshare.project.template_files import derive_dvc_yaml

        derive_dvc_yaml(stripped)


def test_set_ingest_changes_those_lines_only_and_keeps_their_comments():
    text = (REPO / "params.yaml").read_text()
    values = {"source": "events", "path": "data/raw/orders 2024.csv", "timestamp_format": "%d/%m/%Y %H:%M",
              "columns": {"user_id": "Customer ID", "item_id": "StockCode", "timestamp": "InvoiceDate"},
              "rating_scale": None}
    edited = set_ingest(text, values)
    assert yaml.safe_load(edited)["ingest"] == {**yaml.safe_load(text)["ingest"], **values}
    before, after = text.splitlines(), edited.splitlines()
    changed = [(old, new) for old, new in zip(before, after) if old != new]
    assert len(before) == len(after) and len(changed) == len(values)
    for old, new in changed:
        assert new.split("  #", 1)[1] == old.split("  #", 1)[1]  # the comment kept
    assert "  source: events               # movielens | events | synthetic" in after
    assert "  columns: {user_id: Customer ID, item_id: StockCode, timestamp: InvoiceDate}  # events:" in edited


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_refuses_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = tmp_path / "shop.csv"
    write_shop_export(ShopSpec.of_size(600, seed=1), export)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "dvc.yaml").write_text("stages: {}\n")
    cases = [
        (["init", str(taken)], f"{taken}: already has a dvc.yaml (a project); give a new or empty folder"),
        (["init", "new", "--data", str(export), "--columns", "user_id=customer_id,item=sku"],
         "ingest.columns has unknown key 'item'"),
        (["init", "new", "--data", str(export), "--columns", "user_id=nobody,item_id=sku,timestamp=ts"],
         "required column 'user_id'"),
        (["init", "new", "--data", "missing.csv"], "missing.csv: no such file or folder"),
        (["init", "new", "--columns", "user_id=customer_id"], "--columns, --timestamp-format and --items describe the "
                                                              "events file given with --data; give --data"),
        (["init", "new", "--data", str(export), "--columns", SHOP_COLUMNS, "--timestamp-format", "mixed", "--items",
          str(tmp_path / "shop_items.csv"),
          "--item-columns", "item_id=nothing,title=product"], "required column 'item_id'"),
        (["init", "new", "--data", str(export), "--item-columns", "item_id=sku"], "--item-columns describes the file "
                                                                                  "given with --items; give --items"),
    ]
    for argv, message in cases:
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, (argv, err)
        assert err.startswith("mindshare init: error: ") and message in err, (argv, err)
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in taken.iterdir()) == ["dvc.yaml"]


def test_init_without_data_downloads_the_sample_release_and_tracks_it(tmp_path, capsys, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-latest-small.zip", "w") as archive:
        for name in ("ratings.csv", "movies.csv"):
            archive.write(REPO / "data/sample/ml-latest-small" / name, f"ml-latest-small/{name}")
    digest = hashlib.md5((mirror / "ml-latest-small.zip").read_bytes(), usedforsecurity=False).hexdigest()
    (mirror / "ml-latest-small.zip.md5").write_text(f"{digest}  ml-latest-small.zip\n")
    monkeypatch.setenv("MINDSHARE_MOVIELENS_URL", mirror.as_uri())
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(capsys, "init", "movies", "--quiet")
    assert code == 0, err
    project = tmp_path / "movies"
    assert "ingest: movielens from data/raw/ml-latest-small.zip" in out and "  cd movies\n  dvc repro" in out
    ingest = yaml.safe_load((project / "params.yaml").read_text())["ingest"]
    assert (ingest["source"], ingest["path"], ingest["release"]) == ("movielens", "data/raw/ml-latest-small.zip",
                                                                   "latest-small")
    assert (project / "data/raw/ml-latest-small.zip").read_bytes() == (mirror / "ml-latest-small.zip").read_bytes()
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=project, capture_output=True, text=True,
                            check=True).stdout.split()
    assert {"dvc.yaml", "params.yaml", "params.schema.json", ".gitignore", "README.md", "data/feedback/README.md",
            "data/raw/ml-latest-small.zip.dvc", ".dvc/config"} <= set(staged)
    assert "data/raw/ml-latest-small.zip" not in staged  # DVC's, not git's
    assert (project / "dvc.yaml").read_text() == (TEMPLATE / "dvc.yaml").read_text()


@pytest.mark.parametrize("argv, module, line", [
    (["serve"], "fastapi", "mindshare serve: error: mindshare serve needs the serve extra (fastapi not installed): "
                           "pip install 'mindshare[serve]'"),
    (["bench", "serve"], "aiohttp", "mindshare bench: error: mindshare bench serve needs the bench extra (aiohttp not "
                                    "installed): pip install 'mindshare[bench]'"),
    (["bench", "uplift", "--data", "x.csv", "--treatment", "t=1", "--control", "0", "--outcome", "y"], "sklift",
     "mindshare bench: error: mindshare bench uplift needs the bench extra (sklift not installed): pip install "
     "'mindshare[bench]'"),
    (["bench", "rating", "--data", "x", "--compare-surprise"], "surprise",
     "mindshare bench: error: mindshare bench rating --compare-surprise needs the bench extra (surprise not "
     "installed): pip install 'mindshare[bench]'"),
])
def test_a_command_whose_extra_is_missing_says_which_in_one_line(argv, module, line, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else find_spec(name, *a))
    code, out, err = _cli(capsys, *argv)
    assert (code, out, err.strip()) == (2, "", line)


def test_a_postgresql_url_without_the_postgres_extra_is_one_line(monkeypatch):
    import importlib.util

    from mindshare.tracking.store import database_url

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else find_spec(name,
                                                                                                                *a))
    with pytest.raises(MindshareError, match=r"^db.example:5432/mlflow: a PostgreSQL database needs the postgres extra "
                                             r"\(psycopg not installed\): pip install 'mindshare\[postgres\]'$"):
        database_url("postgresql://me:secret@db.example:5432/mlflow")
    assert database_url("sqlite:///mlflow.db") == "sqlite:///mlflow.db"


def _build_wheel(tmp_path: Path) -> Path:
    """The wheel of a copy of the package sources (a build in the repository would leave build/ and egg-info)."""
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    return next(wheels.glob("mindshare-*.whl"))


def _venv_with(wheel: Path, folder: Path) -> Path:
    """A fresh venv holding the wheel; its dependencies are this interpreter's site-packages, added as plain paths
    (a .pth line), so that their own .pth files, the editable install of mindshare among them, are not run."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    own = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip())
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # else pip sees the mindshare of src/ here
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                str(wheel)], env=clean, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    # after the install: pip must not see (nor touch) the mindshare installed here
    (own / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return folder / "bin"


@pytest.mark.e2e
def test_the_installed_wheel_starts_a_project_of_ones_own_and_runs_it_to_a_recommendation(tmp_path):
    bin_ = _venv_with(_build_wheel(tmp_path), tmp_path / "venv")
    runner_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINDSHARE_", "MLFLOW_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(bin_), *(p for p in env.get("PATH", "").split(os.pathsep) if p != runner_bin)])
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def run(*args: str, cwd: Path = tmp_path, timeout: int = 300) -> subprocess.CompletedProcess:
        done = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done

    where = run(str(bin_ / "python"), "-c", "import mindshare; print(mindshare.__file__)").stdout.strip()
    assert Path(where).resolve().is_relative_to((tmp_path / "venv").resolve()), where
    export = tmp_path / "downloads" / "orders.csv"
    export.parent.mkdir()
    frame, items, items_path = write_shop_export(ShopSpec.of_size(6000, seed=5), export)

    init = run("mindshare", "init", "shop", "--data", str(export), "--columns", SHOP_COLUMNS,
               "--timestamp-format", "mixed", "--items", str(items_path), "--item-columns", ITEM_COLUMNS)
    project = tmp_path / "shop"
    assert "ingest: events from data/raw/orders.csv" in init.stdout
    assert init.stdout.rstrip().endswith("git commit -m 'first run'  # records dvc.lock, params and metrics (data "
                                         "and models stay in DVC)")
    assert (project / "data/raw/orders.csv").read_bytes() == export.read_bytes()
    assert (project / "data/raw/orders_items.csv").read_bytes() == items_path.read_bytes()
    assert (project / "data/raw/orders.csv.dvc").exists() and (project / "data/raw/orders_items.csv.dvc").exists()
    assert "src/mindshare" not in repr(yaml.safe_load((project / "dvc.yaml").read_text())["stages"])
    # the shipped params.yaml with only ingest changed (and 1 tuning trial per study, to keep the suite in budget):
    # implicit feedback, the shop's own categories, people who re-buy; rating-only families skip themselves and the
    # sample's campaigns (MovieLens genres) step aside
    params = yaml.safe_load((project / "params.yaml").read_text())
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    assert {k: v for k, v in params.items() if k != "ingest"} == {k: v for k, v in shipped.items() if k != "ingest"}
    assert params["ingest"]["columns"] == COLUMNS and params["ingest"]["timestamp_format"] == "mixed"
    assert params["ingest"]["items_path"] == "data/raw/orders_items.csv"
    params["tune"]["n_trials"] = 1
    for family in params["tune"]["families"].values():
        (family or {}).pop("n_trials", None)
    params["ingest"]["event_weights"] = EVENT_WEIGHTS
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    repro = run(str(bin_ / "python"), "-m", "dvc", "repro", cwd=project, timeout=1200)
    _the_shipped_params_ran_on_a_shop_export(project, shipped, repro.stderr)
    assert "item_knn" in run("mindshare", "leaderboard", cwd=project).stdout
    assert (project / ".mindshare/pseudonym.key").exists()  # made by ingest on its first run
    ignored = run("git", "check-ignore", ".mindshare/pseudonym.key", "mlflow.db", "data/interim", cwd=project).stdout
    assert ignored.split() == [".mindshare/pseudonym.key", "mlflow.db", "data/interim"]
    run("mindshare", "promote", "--reason", "test", cwd=project)
    customer = frame["customer_id"].dropna().astype(str)
    customer = customer[customer.str.fullmatch(r"\d+")].value_counts().index[0]
    answer = json.loads(run("mindshare", "recommend", "--user", customer, "--json", cwd=project).stdout)
    assert answer["user_id"] == customer and not answer["cold_start"] and len(answer["items"]) == 10
    assert answer["model"]["alias"] == "production"
    titles = dict(zip(items["sku"].astype(str), items["product"]))
    assert all(item["title"] == titles[item["item_id"]] for item in answer["items"])  # the items file was ingested


def _the_shipped_params_ran_on_a_shop_export(folder: Path, shipped: dict, said: str) -> None:
    rating_only = {"baseline", "svd_biased"}
    evaluation = json.loads((folder / "reports" / "evaluation.json").read_text())
    assert set(evaluation["skipped"]) == rating_only
    assert set(evaluation["models"]) == set(shipped["models"]) - rating_only
    leaderboard = (folder / "reports" / "leaderboard.md").read_text()
    assert "Not run on this data: baseline (baseline learns from ratings" in leaderboard
    for name in rating_only:
        assert json.loads((folder / "models" / name / "fit.json").read_text())["skipped"]
        assert not (folder / "models" / name / "model.pkl").exists()
        assert "skipped" in json.loads((folder / "tuning" / f"{name}.json").read_text())
    assert "skipped: baseline learns from ratings" in said  # the one logged line
    registry = json.loads((folder / "reports" / "registry.json").read_text())
    assert registry["challenger_family"] not in rating_only
    audience = json.loads((folder / "reports" / "audience.json").read_text())
    assert set(audience["skipped_campaigns"]) == {c["name"] for c in shipped["campaigns"]}
    assert audience["campaigns"] == {}
    # an event log: split by time, and people re-buy here, so the items they had are ranked and count
    prepare = json.loads((folder / "reports" / "prepare.json").read_text())
    assert prepare["protocol"] == "temporal" and prepare["repeat"]["include"], prepare["repeat"]
    assert prepare["windows"]["test"]["users_with_history"] > 0 and prepare["windows"]["test"]["repeat_share"] > 0.2
    assert "repeats included (auto: the fit data's repeat share" in said
    metrics = json.loads((folder / "reports" / "metrics.json").read_text())
    assert metrics["buy_again"]["repeat_hit_share_at_10"] > 0.5 and "new_item_recall_at_10" in metrics["svd"]
    lightgbm = json.loads((folder / "models" / "lightgbm" / "fit.json").read_text())["params"]
    assert lightgbm["holdout"] == "last_days" and lightgbm["repeats"] and lightgbm["base_models"][0] == "buy_again"
    recommendations = pd.read_parquet(folder / "data" / "recommendations.parquet")
    fit = pd.concat([pd.read_parquet(folder / "data" / "processed" / f"{name}.parquet") for name in ("train", "valid")])
    had = recommendations.merge(fit[["user_id", "item_id"]].drop_duplicates(), on=["user_id", "item_id"])
    assert len(had) > 0  # the production answer follows the policy: re-purchases recommended
