"""What a flow run prints and logs: the ``ttfs.flow`` logger and :func:`say`."""

from __future__ import annotations

import logging
import sys

__all__ = ["log", "say"]

log = logging.getLogger("ttfs.flow")


def say(run, msg: str, level: int = 1) -> None:
    """Print ``msg`` when the run's verbosity is at least ``level``; always log it."""
    log.info(msg)
    if run.verbosity >= level:
        print(msg, file=sys.stderr, flush=True)
