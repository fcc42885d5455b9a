"""The pip requirements of a logged model, derived from what it imports.

A registered version must load in an environment built from its own `requirements.txt` alone (what
`mlflow models serve`, `build-docker` and every platform serving MLflow models build). What it needs:
the libraries of every class and function its pickle refers to (found by loading it, see
`models/storage.referenced_modules`), plus those imported at module level by the mindshare code that
loads it (the pyfunc and the model's own modules, followed transitively through the package shipped
with the model as `code_paths`). Each is pinned to the version installed where the model was logged.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from mindshare.models.storage import referenced_modules

PACKAGE = "mindshare"
SERVING_ENTRY = "mindshare.tracking.pyfunc"
ALWAYS = ("mlflow",)  # the pyfunc's loader itself


@cache
def _module_level_imports(module: str) -> frozenset[str]:
    """The modules `module` imports when it is imported (its top-level statements; lazy imports in functions
    run only when those are called, e.g. a family's fit)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not (spec.origin or "").endswith(".py"):
        return frozenset()
    names: set[str] = set()
    for node in ast.parse(Path(spec.origin).read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def third_party_modules(entries: set[str]) -> set[str]:
    """The top-level non-standard-library packages that importing `entries` imports, following mindshare's own
    modules (and their parent packages) transitively."""
    seen: set[str] = set()
    todo = list(entries)
    found: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        top = module.split(".")[0]
        if top != PACKAGE:
            found.add(top)
            continue
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        if _is_module(module):  # `from package import name` names a function as often as a module
            todo.extend(_module_level_imports(module))
    return {name for name in found if name not in sys.stdlib_module_names and name != "__future__"}


def _distributions_of(module: str, index: dict[str, list[str]]) -> list[str]:
    names = index.get(module, [])
    own = [name for name in names if name.lower().replace("_", "-") == module.lower().replace("_", "-")]
    return own or names  # mlflow's namespace is shared by mlflow, mlflow-skinny and mlflow-tracing: mlflow


def model_requirements(model_path: str | Path, entry: str = SERVING_ENTRY) -> list[str]:
    """`name==version` for every distribution the saved model at `model_path` needs to load and answer through
    the pyfunc module `entry`."""
    modules = third_party_modules({entry, *referenced_modules(model_path)})
    index = metadata.packages_distributions()
    distributions = set(ALWAYS)
    for module in modules:
        distributions.update(_distributions_of(module, index))
    pins = []
    for name in sorted(distributions, key=str.lower):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:  # pragma: no cover - an import that no distribution provides
            pins.append(name)
    return pins
