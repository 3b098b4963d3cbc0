"""What discovery found in each file, remembered by content, so a warm run parses nothing.

Most of a warm `plan` (nothing changed since the last run) and of an idle daemon cycle
went into rebuilding node trees only to find the same targets again. A file's outcome —
its targets, markers, skip rows and config errors — is a function of

* its path and bytes: the key hashes both;
* the repository's named policies, only for a file that refers to one (`@ns/name`):
  its entry records the fingerprint of the policy files it was computed under, and
  another fingerprint is a miss; every other entry is `INDEPENDENT` of them;
* the clock, only through `frozen-until`: such files are never remembered;
* the code: the file on disk is stamped with the package's source hash (`cachefile`).

Entries are plain tuples, so they persist with marshal and a caller can never mutate a
remembered outcome. Policies are not stored: a hit parses the remembered expression
through the same book, which gives the very object a fresh discovery would. The entry
also remembers whether the file holds ImagePolicy/ImageRepository documents, so a warm
run parses exactly those (the book needs them) and nothing else.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import astuple
from datetime import datetime
from pathlib import Path
from typing import Final

from imageupdater import cachefile, yamledit
from imageupdater.errors import ImageUpdaterError
from imageupdater.markers import Marker
from imageupdater.model import ImageRef
from imageupdater.namedpolicies import PolicyBook
from imageupdater.report import ErrorEntry, Report, Skip
from imageupdater.yamledit import Scalar, decode

from .targets import SourceFile, Target

FILE_NAME: Final = "discovery-cache.marshal"
#: files remembered in memory (a daemon watching several repositories shares one memo)
MAX_ENTRIES: Final = 50_000

#: the "fingerprint" of an outcome no named policy can change (no `@ns/name` in the file)
INDEPENDENT: Final = b""

#: (holds policy documents, book fingerprint or INDEPENDENT, targets, markers, skips, errors)
ENTRY_FIELDS: Final = 6
Entry = tuple[bool, bytes, tuple[object, ...], tuple[object, ...], tuple[object, ...],
              tuple[object, ...]]  # fmt: skip


def file_key(relpath: str, data: bytes) -> bytes:
    return hashlib.blake2b(relpath.encode("utf-8", "surrogateescape") + b"\0" + data,
                           digest_size=20).digest()  # fmt: skip


def book_fingerprint(policy_files: list[tuple[str, bytes]]) -> bytes:
    """Which named policies a repository has: the keys of the files that hold them."""
    digest = hashlib.blake2b(digest_size=20)
    for relpath, key in policy_files:
        digest.update(relpath.encode("utf-8", "surrogateescape") + b"\0" + key)
    return digest.digest()


def _scalar_row(scalar: Scalar) -> tuple[object, ...]:
    return (scalar.value, scalar.start, scalar.end, scalar.line, scalar.style, scalar.tag,
            scalar.alias)  # fmt: skip


def _target_row(target: Target) -> tuple[object, ...]:
    cleared = target.declines_cleared.isoformat() if target.declines_cleared else None
    return (
        target.workload,
        target.container,
        _scalar_row(target.scalar),
        astuple(target.ref),
        target.policy is not None,
        target.policy_text,
        target.pin,
        target.update_mode,
        target.pin_reason,
        cleared,
    )


def _marker_row(marker: Marker) -> tuple[object, ...]:
    return (_scalar_row(marker.scalar), marker.namespace, marker.name, marker.field,
            marker.workload, marker.update_mode)  # fmt: skip


def record(holds_policies: bool, book: bytes, source: SourceFile | None, report: Report) -> Entry:
    """The entry for one file's outcome: `source` (None when it yielded nothing) and the
    rows `report` collected for it alone."""
    return (
        holds_policies,
        book,
        tuple(map(_target_row, source.targets)) if source else (),
        tuple(map(_marker_row, source.markers)) if source else (),
        tuple(map(astuple, report.skipped)),
        tuple(map(astuple, report.errors)),
    )


def _target(relpath: str, row: tuple[object, ...], book: PolicyBook) -> Target:
    workload, container, scalar, ref, has_policy, text, pin, mode, reason, cleared = row
    if not isinstance(text, str) or not isinstance(cleared, str | None):
        raise TypeError("not a target row")
    return Target(
        file=relpath,
        workload=workload,  # type: ignore[arg-type]
        container=container,  # type: ignore[arg-type]
        scalar=Scalar(*scalar),  # type: ignore[misc]
        ref=ImageRef(*ref),  # type: ignore[misc]
        policy=book.parse(text) if has_policy else None,
        policy_text=text,
        pin=pin,  # type: ignore[arg-type]
        update_mode=mode,  # type: ignore[arg-type]
        pin_reason=reason,  # type: ignore[arg-type]
        declines_cleared=datetime.fromisoformat(cleared) if cleared else None,
    )


def replay(
    entry: Entry, path: Path, relpath: str, data: bytes, book: PolicyBook, report: Report
) -> SourceFile | None:
    """The remembered outcome as discovery would produce it: its rows go to `report`,
    the `SourceFile` is returned (None when the file yielded no targets and no markers).

    Raises `Stale` when the entry does not rebuild (another shape, a policy that no longer
    parses): the caller then discovers the file afresh.
    """
    _, _, targets, markers, skips, errors = entry
    try:
        rebuilt_targets = [_target(relpath, row, book) for row in targets]  # type: ignore[arg-type]
        rebuilt_markers = [
            Marker(relpath, Scalar(*row[0]), *row[1:])  # type: ignore[index]
            for row in markers
        ]
        skip_rows = [Skip(*row) for row in skips]  # type: ignore[misc]
        error_rows = [ErrorEntry(*row) for row in errors]  # type: ignore[misc]
    except (TypeError, ValueError, ImageUpdaterError) as exc:
        raise Stale from exc
    report.skipped.extend(skip_rows)
    for error in error_rows:
        report.add_error(error)
    if not rebuilt_targets and not rebuilt_markers:
        return None
    source = SourceFile(path, relpath, data, decode(data))
    source.targets.extend(rebuilt_targets)
    source.markers.extend(rebuilt_markers)
    return source


class Stale(Exception):
    """A remembered entry that no longer rebuilds."""


class DiscoveryMemo:
    """A thread-safe LRU of `Entry`s by `file_key`, with its persistence."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._stores = 0
        self._saved = -1
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: bytes, entry: Entry) -> None:
        with self._lock:
            if self._entries.get(key) == entry:
                return
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._stores += 1
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[bytes, Entry]]:
        with self._lock:
            return list(self._entries.items())

    def load(self, directory: Path) -> bool:
        """Add the entries `save` left in `directory`; False when there is no usable file."""
        self._saved = self._stores
        rows = cachefile.read(directory / FILE_NAME, yamledit.code_version())
        if not isinstance(rows, list):
            return False
        with self._lock:
            for row in rows:
                if not (isinstance(row, tuple) and len(row) == 2 and isinstance(row[0], bytes)):
                    continue
                key, entry = row
                if (
                    isinstance(entry, tuple)
                    and len(entry) == ENTRY_FIELDS
                    and key not in self._entries
                ):
                    self._entries[key] = entry
                    self._entries.move_to_end(key, last=False)  # older than this run's
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        self._saved = self._stores
        return True

    def save(self, directory: Path) -> None:
        """Write every entry to `directory` unless nothing was added since `load`/`save`."""
        if self._saved == self._stores:
            return
        with self._lock:
            rows = list(self._entries.items())
            stores = self._stores
        if cachefile.write(directory / FILE_NAME, yamledit.code_version(), rows):
            self._saved = stores


#: the process-wide memo: `plan` fills it from `--state-dir`, the daemon keeps it warm
MEMO: Final = DiscoveryMemo()
