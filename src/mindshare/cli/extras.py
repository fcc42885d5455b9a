"""Commands that need an optional extra (`pip install 'mindshare[serve]'`): one line, exit 2, when it is missing."""

from __future__ import annotations

import importlib.util

from mindshare.errors import MindshareError


def require_extra(command: str, extra: str, *modules: str) -> None:
    """Refuse `command` in one line if a module of `extra` is not installed (checked without importing it)."""
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise MindshareError(f"mindshare {command} needs the {extra} extra ({', '.join(missing)} not installed): "
                             f"pip install 'mindshare[{extra}]'")
