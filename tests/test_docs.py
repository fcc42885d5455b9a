"""The documentation: a short README whose links resolve, user pages without development history, and a CLI
reference that is exactly what docs/gen_cli.py makes from the parser."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
HISTORY = re.compile(r"\bsessions? \d|\bissues? \d|\bwas \d|(?<![\w/&])#\d+\b", re.IGNORECASE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
USER_PAGES = [README] + sorted(page for page in (ROOT / "docs").glob("*.md") if page.name != "lab-notes.md")


def test_readme_is_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda page: page.name)
def test_user_docs_carry_no_development_history(page: Path):
    found = [
        f"{page.name}:{number}: {line.strip()}"
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
        if HISTORY.search(line)
    ]
    assert not found, "development history belongs in docs/lab-notes.md:\n" + "\n".join(found)


def test_history_pattern_catches_what_it_should():
    for text in ("in session 13", "issue 21's notes", "(was 336 MB)", "see #21"):
        assert HISTORY.search(text), text
    for text in ("docs/benchmarks.md#serving", "was measured", "the session comes from params", "&#39;"):
        assert not HISTORY.search(text), text


def test_every_relative_link_in_the_readme_resolves():
    missing = []
    for target in LINK.findall(README.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor in the README itself
        path = target.split("#", 1)[0]
        if not (ROOT / path).exists():
            missing.append(target)
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_cli_reference_is_generated_from_the_parser(tmp_path: Path):
    out = tmp_path / "cli.md"
    subprocess.run([sys.executable, str(ROOT / "docs" / "gen_cli.py"), str(out)], check=True, cwd=ROOT)
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, "docs/cli.md is stale: run `python docs/gen_cli.py`"
