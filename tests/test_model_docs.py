"""Every model documents its constructor in numpydoc style, as `implicit` and Surprise do: each `__init__` parameter
under "Parameters" in the class docstring, as `name : type, default VALUE` (VALUE a Python literal equal to the
signature's default) followed by what it means; no documented name that the signature lacks. Model docstrings carry
no measured figures (they go stale: docs/benchmarks.md and docs/results/ hold them) and no development history."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys

import pytest

import mindshare.models
from mindshare.models import MODEL_FAMILIES
from mindshare.models.base import Recommender
from mindshare.models.block_ranking import BlockRanking, ProcessRanking
from mindshare.models.spark_ranking import SparkRanking  # pyspark itself loads only when it ranks

WRAPPERS = [BlockRanking, ProcessRanking, SparkRanking]  # rank any family's long lists on workers


def public_recommenders() -> list[type]:
    """Every public Recommender subclass of mindshare.models with a constructor of its own (the abstract bases,
    Recommender, ItemWeightsRecommender and CandidateReranker, take no hyper-parameters)."""
    for module in pkgutil.iter_modules(mindshare.models.__path__):
        importlib.import_module(f"mindshare.models.{module.name}")
    found = set()
    for cls in _subclasses(Recommender):
        ours = cls.__module__.startswith("mindshare.models")
        if ours and not cls.__name__.startswith("_") and "__init__" in vars(cls):
            found.add(cls)
    return sorted(found, key=lambda c: c.__name__)


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


MODELS = sorted(set(MODEL_FAMILIES.values()) | set(public_recommenders()) | set(WRAPPERS), key=lambda c: c.__name__)
ENTRY = re.compile(r"^(?P<names>\w+(?:\s*,\s*\w+)*)\s*:\s*(?P<spec>.+)$")
UNDERLINE = re.compile(r"^-{3,}$")


def documented_parameters(doc: str | None) -> dict[str, tuple[str, str]]:
    """name -> (the text after ' : ' on its line, its indented description) for each entry of the numpydoc
    "Parameters" section of `doc`."""
    lines = inspect.cleandoc(doc or "").splitlines()
    for start in range(len(lines) - 1):
        if lines[start].strip() == "Parameters" and UNDERLINE.match(lines[start + 1].strip()):
            break
    else:
        return {}
    entries: dict[str, tuple[str, str]] = {}
    names: list[str] = []
    for number in range(start + 2, len(lines)):
        line = lines[number]
        if number + 1 < len(lines) and UNDERLINE.match(lines[number + 1].strip()):  # the next section's heading
            break
        match = ENTRY.match(line) if line and not line[0].isspace() else None
        if match:
            names = re.split(r"\s*,\s*", match["names"])
            for name in names:
                entries[name] = (match["spec"], "")
        elif line.strip():
            for name in names:
                entries[name] = (entries[name][0], f"{entries[name][1]} {line.strip()}".strip())
    return entries


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(cls.__init__)
    return {name: p for name, p in signature.parameters.items() if name != "self"
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_constructor_parameter_is_documented(cls):
    documented = documented_parameters(cls.__doc__)
    parameters = constructor_parameters(cls)
    missing = [name for name in parameters if name not in documented]
    unknown = [name for name in documented if name not in parameters]
    assert not missing, f"{cls.__name__}: __init__ parameters not under 'Parameters' in its docstring: {missing}"
    assert not unknown, f"{cls.__name__}: documented parameters that __init__ does not take: {unknown}"
    for name, parameter in parameters.items():
        spec, description = documented[name]
        assert description, f"{cls.__name__}.{name}: no description under its entry"
        if parameter.default is inspect.Parameter.empty:
            assert "default" not in spec, f"{cls.__name__}.{name} has no default, its entry says '{spec}'"
            continue
        kind, said, value = spec.rpartition(", default ")
        assert said and kind, f"{cls.__name__}.{name}: give 'type, default VALUE' after the colon, not '{spec}'"
        try:
            documented_default = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            pytest.fail(f"{cls.__name__}.{name}: its documented default '{value}' is not a Python literal")
        assert documented_default == parameter.default, (
            f"{cls.__name__}.{name}: documented default {documented_default!r}, __init__'s {parameter.default!r}")


# A measured figure: a decimal with three or more places (0.3403), a percentage (+4%), a duration (26.5 s).
FIGURE = re.compile(r"\d\.\d{3,}|\d\s?%|\b\d+(?:\.\d+)?\s?(?:s|ms|min)\b")
HISTORY = re.compile(r"\bsession \d|\bissue \d|\bissue-\d|\bwas measured\b", re.IGNORECASE)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_model_docstrings_carry_no_measured_figures_or_history(cls):
    ours = [c for c in cls.__mro__ if c.__module__.startswith("mindshare.models")]  # its bases' docs are its too
    docs = {where: doc for c in ours for where, doc in ((c.__name__, c.__doc__),
                                                         (c.__module__, sys.modules[c.__module__].__doc__))}
    for where, doc in docs.items():
        assert not FIGURE.findall(doc or ""), (
            f"{where}: measured figures {FIGURE.findall(doc)} in its docstring; say why in words and refer to "
            f"docs/benchmarks.md")
        assert not HISTORY.findall(doc or ""), f"{where}: development history {HISTORY.findall(doc)} in its docstring"


def test_the_parser_reads_numpydoc_parameters():
    doc = """What.

    Parameters
    ----------
    k : int, default 50
        Neighbours kept.
    a, b : float, default 1.0
        Two weights.

    Notes
    -----
    c : not a parameter
        Another section.
    """
    assert documented_parameters(doc) == {"k": ("int, default 50", "Neighbours kept."),
                                          "a": ("float, default 1.0", "Two weights."),
                                          "b": ("float, default 1.0", "Two weights.")}
    assert documented_parameters("No sections.") == {}
    assert FIGURE.search("nDCG@10 0.3403") and FIGURE.search("+4% over") and FIGURE.search("fit 26.5 s")
    assert not FIGURE.search("0.5 ** (age / half_life_days)") and not FIGURE.search("1e-6 * popularity")
