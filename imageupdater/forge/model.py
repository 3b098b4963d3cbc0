"""The forge-neutral pull request value the adapters return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A PR or merge request. ``number`` is what the forge's URLs use (GitLab: the iid)."""

    number: int
    url: str
    head: str
    base: str
    title: str
    body: str
    state: Literal["open", "closed", "merged"]
