"""The exception types for people's mistakes and for refusals by policy.

`MindshareError` is bad input or config (exit code 2); `PolicyRefusal` is a deliberate
"no", such as a promotion gate or nothing to roll back to (exit code 1). Both carry one
line that names the file, column or row and the fix; the CLI and stages print just that.
"""

from __future__ import annotations


class MindshareError(Exception):
    """Bad data, config or command-line input. Exit code 2."""

    exit_code = 2


class PolicyRefusal(MindshareError):
    """A refusal by policy (quality gate, nothing to roll back to). Exit code 1."""

    exit_code = 1


def suggestion(word: str, known: list[str]) -> str:
    """'; did you mean X?' for the closest known name, else '; known: ...' (the tail of a one-line error)."""
    import difflib

    close = difflib.get_close_matches(str(word), known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; known: {', '.join(known)}" if known else ""
