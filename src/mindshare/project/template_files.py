"""The files a new project starts from, shipped inside the package (template/), and where they come from.

One source of truth: mindshare's own repository. Its dvc.yaml, params.yaml, params.schema.json, .gitignore and
data/feedback/README.md are what developers edit; the packaged copies are derived from them by `derive` and
written by `python -m mindshare.project.template_files` (run at the repository's root); tests/test_init.py fails when
a copy is stale. What differs is dvc.yaml's code dependencies: the repository's stages depend on the
`src/mindshare/...` files they run, which a user's project does not have (its code is the installed package), so
the template drops them. template/README.md is the template's own (nothing in the repository to derive it from).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from mindshare.errors import MindshareError

TEMPLATE = Path(__file__).parent / "template"
# repository file -> its name in template/ (dot files are shipped without the dot: a `.gitignore` inside the
# package would apply to mindshare's own source tree, and setuptools' globs skip dot files)
DERIVED = {
    "dvc.yaml": "dvc.yaml",
    "params.yaml": "params.yaml",
    "params.schema.json": "params.schema.json",
    ".gitignore": "gitignore",
    "data/feedback/README.md": "data/feedback/README.md",
}
OWN = ("README.md",)  # template-only files
# template/ name -> the name in a new project
PROJECT_NAMES = {"gitignore": ".gitignore"}

CODE_DEPENDENCY = re.compile(r"^\s*- src/mindshare/\S*\n", re.MULTILINE)
REPO_RUN_NOTE = re.compile(r"^# Stages run .*\n", re.MULTILINE)
PROJECT_RUN_NOTE = """\
# Stages run `python -m mindshare.stages.<stage>` of the installed mindshare: activate its environment first.
# No stage lists code dependencies (mindshare's repository has them as src/mindshare/... files; here the code is the
# installed package, not files of this project), so upgrading mindshare re-runs nothing by itself: after
# `pip install -U mindshare`, `dvc repro --force` rebuilds every stage with the new code (`mindshare --version`).
"""


def derive_dvc_yaml(repo_text: str) -> str:
    """The repository's dvc.yaml for a user's project: the src/mindshare/... dependencies dropped, the note on how
    stages run replaced; everything else as written (same stages, data dependencies, params and outputs)."""
    if not REPO_RUN_NOTE.search(repo_text):
        raise MindshareError("dvc.yaml: no '# Stages run ...' header line to replace; update "
                             "mindshare/project/template_files.py")
    text = REPO_RUN_NOTE.sub(lambda _: PROJECT_RUN_NOTE, CODE_DEPENDENCY.sub("", repo_text), count=1)
    for name, stage in yaml.safe_load(text)["stages"].items():
        deps = stage.get("do", stage).get("deps")
        if not deps or any(str(d).startswith("src/") for d in deps):
            raise MindshareError(f"dvc.yaml: stage {name} has no dependency left but code (or a src/ path in "
                                 "another form); give it a data dependency")
    return text


def derive(repo: str | Path) -> dict[str, str]:
    """template/ name -> text, from the repository at `repo`."""
    repo = Path(repo)
    out = {}
    for source, name in DERIVED.items():
        path = repo / source
        if not path.is_file():
            raise MindshareError(f"{path}: not found; run this at the root of mindshare's repository")
        text = path.read_text()
        out[name] = derive_dvc_yaml(text) if name == "dvc.yaml" else text
    return out


def template_files() -> dict[str, str]:
    """The packaged template: name in a new project -> text."""
    names = [*DERIVED.values(), *OWN]
    missing = [n for n in names if not (TEMPLATE / n).is_file()]
    if missing:
        raise MindshareError(f"{TEMPLATE}: {', '.join(missing)} missing from the installed package; reinstall "
                             "mindshare")
    return {PROJECT_NAMES.get(n, n): (TEMPLATE / n).read_text() for n in names}


def write_template(repo: str | Path = ".") -> list[str]:
    """Write the derived files into template/; return the names that changed."""
    changed = []
    for name, text in derive(repo).items():
        target = TEMPLATE / name
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            changed.append(name)
    return changed


if __name__ == "__main__":  # python -m mindshare.project.template_files [REPO]: refresh the packaged copies
    changed = write_template(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(f"{TEMPLATE}: {', '.join(changed) if changed else 'already current'}")
