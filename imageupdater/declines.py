"""Rollback respect: versions a human moved away from are not proposed again (SPEC §6).

Git is the truth, so nothing is stored: declines are read from history every time.

* The tool's own commits say what it wrote: `Image-Update: <workload> <container> X -> Y`.
* A **rollback** is a later commit *without* such a trailer for that container that
  changes the container's value from a tag the tool wrote (`Y`) to an older one. Reverts,
  hand edits, `imageupdater pin --tag` (which writes no `Image-Update` trailer) all count.
* Then `Y` **and everything older** is declined for that container; anything newer is
  proposed as usual. Several rollbacks keep the newest declined version.
* `imageupdater unpin --clear-declined` writes `imageupdater.io/declined-cleared[.<c>]` with
  the time; rollbacks authored at or before it no longer count. An annotation, not a marker
  commit, so the clearance survives squash merges and shows in the manifest itself.

Cost: one `git log` over the scan root to find the containers the tool ever wrote; only
for those, the history of their file (newest 200 commits) is read and parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imageupdater.errors import ConfigError, YamlParseError
from imageupdater.policy import compare_tags
from imageupdater.registry import parse_reference
from imageupdater.templates import TRAILER
from imageupdater.workloads import find_workload
from imageupdater.workspace import LogEntry, Workspace
from imageupdater.yamledit import Scalar, decode, load_documents

FILE_HISTORY_LIMIT = 200

#: (file relative to the scan root, workload display name, container)
Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Decline:
    """`version` and every older tag are declined for one container."""

    version: str
    commit: str
    author: str
    date: str

    @property
    def detail(self) -> str:
        return (
            f"{self.version} and older declined: rolled back in {self.commit[:12]} "
            f"by {self.author} on {self.date[:10]}"
        )

    def allows(self, tag: str) -> bool:
        """A tag is allowed again only when it is newer than the declined version."""
        order = compare_tags(tag, self.version)
        if order is None:
            return tag != self.version
        return order > 0


@dataclass(frozen=True, slots=True)
class _Write:
    workload: str
    container: str
    to_tag: str


def _parse_trailer(value: str) -> _Write | None:
    parts = value.split()
    if len(parts) == 5 and parts[3] == "->":
        return _Write(parts[0], parts[1], parts[4])
    return None


def _writes(entry: LogEntry) -> list[_Write]:
    return [w for w in map(_parse_trailer, entry.trailers) if w is not None]


class _FileHistory:
    """Tags of containers in one file, per commit (parsed once per commit)."""

    def __init__(self, workspace: Workspace, path: Path) -> None:
        self._workspace = workspace
        self._path = path
        self._cache: dict[str, dict[tuple[str, str], str]] = {}

    def tags_at(self, commit: str) -> dict[tuple[str, str], str]:
        known = self._cache.get(commit)
        if known is not None:
            return known
        tags: dict[tuple[str, str], str] = {}
        data = self._workspace.read_file_at(commit, self._path)
        if data is not None:
            try:
                documents = load_documents(decode(data))
            except YamlParseError:
                documents = []
            for document in documents:
                workload = find_workload(document)
                if workload is None:
                    continue
                for container in workload.containers:
                    if isinstance(container.image, Scalar):
                        try:
                            ref = parse_reference(container.image.value.strip())
                        except ConfigError:
                            continue
                        tags[(workload.display_name, container.name)] = ref.tag or "latest"
        self._cache[commit] = tags
        return tags


def _is_older(after: str, before: str) -> bool:
    order = compare_tags(after, before)
    return order is not None and order < 0


def find_declines(
    workspace: Workspace,
    root: Path,
    wanted: Iterable[Key],
    cleared: Mapping[Key, datetime] | None = None,
) -> dict[Key, Decline]:
    """The decline in force for each wanted container that has one (module docstring).

    Raises `GitError` when the history cannot be read; the caller reports it."""
    cleared = cleared or {}
    written = {
        (w.workload, w.container)
        for entry in workspace.log([root], trailer=TRAILER)
        for w in _writes(entry)
    }
    by_file: dict[str, list[Key]] = {}
    for key in wanted:
        if (key[1], key[2]) in written:
            by_file.setdefault(key[0], []).append(key)
    found: dict[Key, Decline] = {}
    for relpath, keys in sorted(by_file.items()):
        found.update(_declines_in_file(workspace, root / relpath, keys, cleared))
    return found


def _declines_in_file(
    workspace: Workspace, path: Path, keys: list[Key], cleared: Mapping[Key, datetime]
) -> dict[Key, Decline]:
    history = _FileHistory(workspace, path)
    entries = workspace.log([path], trailer=TRAILER, limit=FILE_HISTORY_LIMIT)
    entries.reverse()  # oldest first
    written: dict[Key, set[str]] = {key: set() for key in keys}
    found: dict[Key, Decline] = {}
    for entry in entries:
        ours = {(w.workload, w.container): w.to_tag for w in _writes(entry)}
        humans = [key for key in keys if (key[1], key[2]) not in ours]
        for key in keys:
            if (key[1], key[2]) in ours:
                written[key].add(ours[(key[1], key[2])])
        if not humans or not entry.parents or not any(written[k] for k in humans):
            continue
        before_tags = history.tags_at(entry.parents[0])
        after_tags = history.tags_at(entry.sha)
        for key in humans:
            before = before_tags.get((key[1], key[2]))
            after = after_tags.get((key[1], key[2]))
            if before is None or after is None or before not in written[key]:
                continue
            if not _is_older(after, before) or _cleared(key, entry, cleared):
                continue
            previous = found.get(key)
            if previous is None or (compare_tags(before, previous.version) or 0) >= 0:
                found[key] = Decline(before, entry.sha, entry.author, entry.author_date)
    return found


def _cleared(key: Key, entry: LogEntry, cleared: Mapping[Key, datetime]) -> bool:
    when = cleared.get(key)
    if when is None:
        return False
    try:
        authored = datetime.fromisoformat(entry.author_date)
    except ValueError:
        return False
    return authored <= when
