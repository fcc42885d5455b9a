"""Run a stage's main function: logging on, one clear line and an exit code for people's mistakes."""

from __future__ import annotations

import logging
import sys
from typing import Callable

from mindshare.errors import MindshareError


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Check the tracking store first (so that an unreachable one stops the stage before it writes
    anything), mark runs orphaned by killed stages, then run."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name}: %(message)s", datefmt="%H:%M:%S")
    try:
        from mindshare.tracking.store import configure_tracking, mark_orphaned_runs

        configure_tracking()
        orphaned = mark_orphaned_runs()
        if orphaned:
            logging.getLogger(__name__).warning("marked %d run(s) left running by killed stages as KILLED", orphaned)
        main()
    except MindshareError as error:
        print(f"mindshare {name}: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print(f"mindshare {name}: interrupted", file=sys.stderr)
        sys.exit(130)
