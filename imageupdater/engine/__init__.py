"""One reconcile of a checkout: discover -> scan -> select -> plan (SPEC §1, ARCHITECTURE).

`make_plan` (`plan`) is the whole read-only half of every command: `plan` prints it,
`apply` writes and delivers it, the daemon runs it per cycle. Registry work is batched:
one `tags/list` walk per distinct repository (`selector`), and manifest checks run
concurrently and only for the tags that would actually be written (`lookups`). `render`
turns decisions into byte splices; `results` are the values all of them hand on.
"""

from __future__ import annotations

from .plan import Plan, make_plan
from .render import render
from .results import Decision, FileChange, MarkerEdit
from .selector import (
    DEFAULT_WORKERS,
    Selector,
    SelectOutcome,
    select_from_registry,
    tracks_digest,
)

__all__ = [
    "DEFAULT_WORKERS",
    "Decision",
    "FileChange",
    "MarkerEdit",
    "Plan",
    "SelectOutcome",
    "Selector",
    "make_plan",
    "render",
    "select_from_registry",
    "tracks_digest",
]
