"""The command line's own surface: its version, `python -m mindshare`, and one parser per bench protocol."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mindshare
from mindshare.cli.parser import main


def test_version_and_python_dash_m_answer_as_the_installed_command():
    for command in ([sys.executable, "-m", "mindshare", "--version"], ["mindshare", "--version"]):
        answer = subprocess.run(command, capture_output=True, text=True)
        assert answer.returncode == 0 and answer.stdout.strip() == f"mindshare {mindshare.__version__}", answer


@pytest.mark.parametrize("args, needle", [
    (["bench", "ranking", "--data", "x", "--rows", "10"], "unrecognized arguments: --rows 10"),
    (["bench", "scale", "--data", "x"], "unrecognized arguments: --data x"),
    (["bench", "serve", "--models", "svd"], "unrecognized arguments: --models svd"),
    (["bench", "uplift", "--data", "x", "--outcome", "y", "--control", "0"], "required: --treatment"),
    (["bench", "ranking", "--data", "x", "--test-days", "7"], "--test-days belong to --protocol temporal"),
    (["bench", "ranking", "--data", "x", "--protocol", "temporal", "--seeds", "1"], "--seeds is for --protocol ms"),
])
def test_an_option_of_another_bench_protocol_is_refused_not_ignored(args, needle, capsys):
    with pytest.raises(SystemExit) as stopped:
        code = main(args)
        raise SystemExit(code)
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert needle in said and len(said.strip().splitlines()) == 1, said


def test_every_bench_protocol_has_its_own_help(capsys):
    from mindshare.cli.bench import PROTOCOLS

    for protocol in PROTOCOLS:
        with pytest.raises(SystemExit):
            main(["bench", protocol, "--help"])
        assert f"usage: mindshare bench {protocol}" in capsys.readouterr().out


def _made(folder, target: str, answer: str) -> subprocess.CompletedProcess:
    from stage_project import REPO

    return subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), target], cwd=folder, input=answer,
                          capture_output=True, text=True)


def test_make_clean_removes_caches_only_and_reset_asks_first(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    made = ["mlflow.db", "models/svd/model.pkl", "reports/leaderboard.md", "data/processed/train.parquet",
            "src/pkg/__pycache__/m.pyc", ".pytest_cache/x"]
    kept = ["data/feedback/forget.parquet", "reports/metrics.json", ".mindshare/key"]
    for name in made + kept:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".gitignore").write_text("/reports/*\n!/reports/metrics.json\n")
    assert _made(tmp_path, "clean", "").returncode == 0
    assert not (tmp_path / "src/pkg/__pycache__").exists() and not (tmp_path / ".pytest_cache").exists()
    assert all((tmp_path / name).exists() for name in made[:4] + kept)
    refused = _made(tmp_path, "reset", "yes\n")
    assert refused.returncode != 0 and "nothing deleted" in refused.stdout
    assert all((tmp_path / name).exists() for name in made[:4] + kept)
    assert _made(tmp_path, "reset", "reset\n").returncode == 0
    assert not any((tmp_path / name).exists() for name in made) and all((tmp_path / n).exists() for n in kept)


def test_the_completion_script_knows_every_command_and_a_bench_protocols_own_options(capsys):
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "complete" in script and all(command in script for command in ("promote", "recommend", "init", "bench"))
    assert "--treatment" in script and "--test-days" in script
