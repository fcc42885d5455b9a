"""`mindshare completion SHELL`: the shell's completion script for every command and option (shtab, from the
parser itself, so it never falls behind)."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "tcsh")


def add_completion(sub) -> None:
    p = sub.add_parser("completion", help="print the shell completion script (bash, zsh or tcsh)",
                       description="Prints a completion script generated from this parser. bash: `mindshare "
                       "completion bash > ~/.local/share/bash-completion/completions/mindshare`; zsh: write it as "
                       "`_mindshare` into a folder of your fpath.")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> None:
    import shtab

    from mindshare.cli.parser import build_parser

    print(shtab.complete(build_parser(), shell=args.shell))
