"""Run a stage's main function: logging on, one clear line and an exit code for people's mistakes."""

from __future__ import annotations

import logging
import resource
import sys
import threading
import time
from typing import Callable

from mindshare.errors import MindshareError

HEARTBEAT_SECONDS = 30.0  # a long stage says it is alive at least this often (`dvc repro` at scale)


def heartbeat(name: str, every: float = HEARTBEAT_SECONDS) -> threading.Event:
    """Log '<stage> still running' with the elapsed time and peak memory every `every` seconds until the
    returned event is set: at scale a stage between its own progress lines is never silent for long."""
    done, started = threading.Event(), time.perf_counter()
    log = logging.getLogger(f"mindshare.stages.{name}")

    def beat() -> None:
        while not done.wait(every):
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            log.info("still running: %.0f s, peak memory %.0f MB", time.perf_counter() - started, peak_mb)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    return done


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Check the tracking store first (so that an unreachable one stops the stage before it writes
    anything), mark runs orphaned by killed stages, then run."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name}: %(message)s", datefmt="%H:%M:%S")
    alive = heartbeat(name)
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
    finally:
        alive.set()
