"""Write the CLI reference (docs/cli.md) from the `mindshare` argparse parser: every command and subcommand
with its usage, options and help, so the page cannot drift from the code (tests/test_docs.py regenerates it).

    python docs/gen_cli.py [OUT]      # default: docs/cli.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's code, whichever copy the environment installed

from mindshare.cli.parser import build_parser  # noqa: E402

WIDTH = 100  # fixed, so the page does not depend on the terminal that wrote it

HEADER = """\
# Command reference

Generated from the `mindshare` argument parser by `python docs/gen_cli.py`; do not edit by hand
(`tests/test_docs.py` fails when this page and the parser differ). Every command prints the same text with
`--help`. Exit codes: 0 done, 1 refused by policy (a promotion gate, nothing to roll back), 2 bad input or
config (one line, no traceback).
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=WIDTH, max_help_position=40)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = _formatter(parser.prog)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the order --help lists them."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if name in helps:  # aliases are listed under their command
                    found.append((name, helps[name], sub))
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    formatter = _formatter(parser.prog)
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            names = ", ".join(action.option_strings)
            args = formatter._format_args(action, action.dest.upper()) if action.nargs != 0 else ""
        else:
            names, args = action.dest, formatter._format_args(action, action.dest) if action.choices else ""
        label = f"`{names} {args}`" if args else f"`{names}`"
        rows.append(f"| {_cell(label)} | {_cell(formatter._expand_help(action) if action.help else '')} |")
    if not rows:
        return []
    return ["| option | what it does |", "|---|---|", *rows, ""]


def _section(parser: argparse.ArgumentParser, level: int, summary: str) -> list[str]:
    lines = [f"{'#' * level} {parser.prog}", ""]
    description = parser.description or summary
    if description:
        lines += [" ".join(description.split()), ""]
    lines += ["```text", _usage(parser), "```", ""]
    lines += _options(parser)
    subs = _subcommands(parser)
    if subs and level > 2:
        lines += ["| subcommand | what it does |", "|---|---|"]
        lines += [f"| [`{name}`](#{sub.prog.replace(' ', '-')}) | {_cell(text)} |" for name, text, sub in subs]
        lines.append("")
    for _, text, sub in subs:
        lines += _section(sub, min(level + 1, 4), text)
    return lines


def render() -> str:
    parser = build_parser()
    lines = HEADER.splitlines() + [""]
    lines += ["## Commands", "", "| command | what it does |", "|---|---|"]
    subs = _subcommands(parser)
    lines += [f"| [`{name}`](#{sub.prog.replace(' ', '-')}) | {_cell(text)} |" for name, text, sub in subs]
    lines += ["", "## mindshare", "", " ".join((parser.description or "").split()), ""]
    lines += ["```text", _usage(parser), "```", ""]
    lines += _options(parser)
    if parser.epilog:
        lines += ["```text", parser.epilog.strip(), "```", ""]
    for _, text, sub in subs:
        lines += _section(sub, 3, text)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else ROOT / "docs" / "cli.md"
    out.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
