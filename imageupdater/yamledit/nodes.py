"""The values the YAML editor hands out: scalars with their source span, and edits of them.

A `Scalar` remembers exactly where its text sits in the decoded file, so an edit can be a
splice of that span and nothing else; the surrounding comments, quotes and line endings are
never re-serialised. The tree above the scalars is plain `dict`/`list`, which is all the
engine needs to walk Kubernetes objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Scalar:
    """One scalar occurrence in a YAML document.

    `start`/`end` cover the scalar's own source text (quotes and block header included,
    anchor and tag excluded), as `str` offsets into the decoded text. `alias` is true when
    the occurrence was reached through `*ref` or a merge key `<<`: the text belongs to the
    anchor, so editing it would change every other use of the anchor too.
    """

    value: str
    start: int
    end: int
    line: int
    style: str
    tag: str | None
    alias: bool


Node: TypeAlias = Scalar | dict[str, "Node"] | list["Node"]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the value of `scalar` (as returned by `load_documents`) with `new_value`."""

    scalar: Scalar
    new_value: str
