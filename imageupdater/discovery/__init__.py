"""Discover: files -> opted-in containers, with every skip reported (pipeline stage 1).

Each file is read once as bytes, screened cheaply, parsed once (`targets`), and turned
into `Target`s and `Marker`s. What a file yielded is remembered by content (`memo`), so
a run over unchanged files replays it instead of parsing; `plan --state-dir` carries the
memo from one process to the next (`load_memo`/`save_memo`).
"""

from __future__ import annotations

from pathlib import Path

from .memo import MEMO
from .repository import Discovered, discover, discover_repository, load_named_policies
from .targets import SourceFile, Target


def load_memo(directory: Path) -> bool:
    """Add what earlier runs remembered under a state directory."""
    return MEMO.load(directory)


def save_memo(directory: Path) -> None:
    MEMO.save(directory)


def forget() -> None:
    """Forget every remembered file (cold measurements, tests)."""
    MEMO.clear()


__all__ = [
    "Discovered",
    "SourceFile",
    "Target",
    "discover",
    "discover_repository",
    "forget",
    "load_memo",
    "load_named_policies",
    "save_memo",
]
