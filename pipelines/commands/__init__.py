"""The ``hostedsuite`` commands, one module each: its arguments, its options, and its plan.

Every module has ``NAME``, ``HELP``, ``add_arguments(parser)``, ``options(args)`` (typed, read
and checked once) and ``plan(options)``; ``hostedsuite_pipeline`` executes the plan.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from pipelines.commands import (
    backfill,
    demo,
    erase,
    load,
    privacy_apply,
    reconcile,
    report,
    sql,
    transform,
    verify,
)

COMMANDS: Final[tuple[ModuleType, ...]] = (
    load,
    backfill,
    verify,
    transform,
    demo,
    sql,
    report,
    erase,
    privacy_apply,
    reconcile,
)
# The commands that write the warehouse take the access options (lock, files, serving copy).
WRITERS: Final = frozenset(
    {load, backfill, verify, transform, demo, erase, privacy_apply, reconcile}
)
