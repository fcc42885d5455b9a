"""The `mindshare` command: parses, calls the library, prints. Exit 0 done, 1 refused, 2 bad input.

parser.py holds the parser and the dispatch; each other module one group of subcommands, their
arguments and handlers. Handlers import the library when they run, so start-up stays quick.
"""

from mindshare.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
