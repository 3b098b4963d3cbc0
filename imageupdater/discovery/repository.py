"""A whole checkout -> its sources and named policies (pipeline stage 1).

Named policies may live in any file and a workload may refer to any of them
(`@ns/name`), so the book of policies is complete only once every file has been read.
Most files never refer to one: their outcome is final the moment they are parsed (and
remembered as `INDEPENDENT` of the book, so a changed policy elsewhere does not make them
stale). Only the files that hold policies, and those whose workloads refer to one
(`NeedsBook`), wait for the book.

With a warm `memo` nothing is parsed but the policy files: book-independent entries are
replayed as they are met, the others once the book's fingerprint is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from imageupdater.files import walk_yaml_files
from imageupdater.namedpolicies import PolicyBook, holds_policy_documents, load_policies
from imageupdater.policy import TagPolicy
from imageupdater.progress import DISCOVER, READ, Progress, Tally, tally
from imageupdater.report import Report, Skip
from imageupdater.yamledit import Node, screen

from . import parallel
from .memo import (
    ENTRY_FIELDS,
    INDEPENDENT,
    MEMO,
    DiscoveryMemo,
    Entry,
    Stale,
    book_fingerprint,
    file_key,
    record,
    replay,
)
from .targets import (
    Parsed,
    SourceFile,
    Target,
    build_source,
    parse_file,
    read_and_parse,
    read_screened,
)


@dataclass(slots=True)
class Discovered:
    """Everything a scan found: files with targets or markers, and the named policies."""

    sources: list[SourceFile]
    book: PolicyBook


class NeedsBook(Exception):
    """A workload refers to a named policy: its file must wait for the whole book."""


class _ProvisionalBook(PolicyBook):
    """The book while files are still being read: inline expressions only."""

    def parse(self, expression: str) -> TagPolicy:
        if expression.lstrip().startswith("@"):
            raise NeedsBook(expression)
        return super().parse(expression)


@dataclass(slots=True)
class _Pending:
    """A screened file between the passes: its own rows, its memo entry, its outcome."""

    path: Path
    relpath: str
    data: bytes
    key: bytes
    entry: Entry | None
    rows: Report = field(default_factory=Report)
    parsed: Parsed | None = None
    tried: bool = False  # parse attempted (`parsed` stays None for broken YAML)
    done: bool = False  # `source` and `rows` are final
    source: SourceFile | None = None
    holds_policies: bool = False

    def parse(self) -> Parsed | None:
        if not self.tried:
            self.tried = True
            self.parsed = parse_file(self.path, self.relpath, self.data, self.rows)
        return self.parsed


def discover(root: Path, report: Report, now: datetime) -> list[SourceFile]:
    return discover_repository(root, report, now).sources


def discover_repository(
    root: Path,
    report: Report,
    now: datetime,
    memo: DiscoveryMemo = MEMO,
    found: Callable[[Target], None] | None = None,
    progress: Progress | None = None,
) -> Discovered:
    """`found` sees each target once discovery is done, before it returns (the engine
    starts the registry walks then). Starting them earlier, while files are still being
    parsed, was measured slower: the walks' threads and the parse contend for the GIL.

    `progress` hears of each file read and each file settled (stages `read`, `discover`),
    always from this thread: a forked child never calls it."""
    provisional = _ProvisionalBook()
    pending: list[_Pending] = []
    read = 0
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is not None:
            if candidate.skip_reason != "unparseable-file" or _screens(candidate.path):
                report.skipped.append(
                    Skip(candidate.relpath, candidate.skip_reason, candidate.detail)
                )
            continue
        data = read_screened(candidate.path, candidate.relpath, report)
        if data is not None:
            key = file_key(candidate.relpath, data)
            pending.append(_Pending(candidate.path, candidate.relpath, data, key, memo.get(key)))
        if progress is not None:
            read += 1
            progress(READ, read, None)
    if progress is not None:
        progress(READ, read, read)
    _settle_early(pending, provisional, now, memo, tally(progress, DISCOVER))
    policy_files = [item for item in pending if item.holds_policies]
    documents = [
        (item.relpath, document)
        for item in policy_files
        if (parsed := item.parse()) is not None
        for document in parsed.documents
        if document is not None
    ]
    book = load_policies(documents, report)
    fingerprint = book_fingerprint([(item.relpath, item.key) for item in policy_files])
    sources: list[SourceFile] = []
    for item in pending:
        if not item.done:
            _late(item, book, fingerprint, now, memo)
        report.skipped.extend(item.rows.skipped)
        for error in item.rows.errors:
            report.add_error(error)
        if item.source is not None and (item.source.targets or item.source.markers):
            sources.append(item.source)
            if found is not None:
                for target in item.source.targets:
                    found(target)
    return Discovered(sources, book)


def _settle_early(
    pending: list[_Pending],
    provisional: _ProvisionalBook,
    now: datetime,
    memo: DiscoveryMemo,
    counted: Tally | None = None,
) -> None:
    """`_early` for every file; with many new files, half of them in a forked child.
    `counted` (in this process only) hears of each file as it is settled or set aside
    for the book."""
    if counted is not None:
        counted.add(len(pending))
    fresh = [item for item in pending if item.entry is None]
    remote = fresh[len(fresh) // 2 :] if len(fresh) >= parallel.MIN_FILES else []
    child = parallel.fork(lambda: _settle_in_child(remote, now)) if remote else None
    if child is None:
        remote = []
    skip = {id(item) for item in remote}
    for item in pending:
        if id(item) not in skip:
            _early(item, provisional, now, memo)
            if counted is not None:
                counted.finish()
    if child is None:
        return
    settled = child.result()
    entries = dict(settled) if isinstance(settled, list) else {}  # else: read them here
    for item in remote:
        entry = entries.get(item.key)
        if isinstance(entry, tuple) and len(entry) == ENTRY_FIELDS:
            item.entry = entry
            memo.put(item.key, entry)
        _early(item, provisional, now, memo)
        if counted is not None:
            counted.finish()


def _settle_in_child(items: list[_Pending], now: datetime) -> list[tuple[bytes, Entry]]:
    """In the forked child: the memo entries of `items` (those `_early` can settle)."""
    memo = DiscoveryMemo()
    provisional = _ProvisionalBook()
    for item in items:
        _early(item, provisional, now, memo)
    return memo.items()


def _early(
    item: _Pending, provisional: _ProvisionalBook, now: datetime, memo: DiscoveryMemo
) -> None:
    """Settle a file before the book is known, when its outcome cannot depend on it."""
    entry = item.entry
    if entry is not None:
        item.holds_policies = entry[0]
        if entry[1] != INDEPENDENT:
            return
        try:
            item.source = replay(entry, item.path, item.relpath, item.data, provisional,
                                 item.rows)  # fmt: skip
        except Stale:
            memo.forget(item.key)
            item.entry = None
            item.rows = Report()
        else:
            item.done = True
            return
    parsed = item.parse()
    if parsed is not None and holds_policy_documents(parsed.documents):
        item.holds_policies = True
        return  # read again with the book: it may refer to its own policies
    rows = Report(skipped=list(item.rows.skipped), errors=list(item.rows.errors))
    clock = False
    if parsed is not None:
        try:
            item.source, clock = build_source(parsed, rows, now, provisional)
        except NeedsBook:
            return
    item.rows, item.done = rows, True
    if not clock:
        memo.put(item.key, record(False, INDEPENDENT, item.source, rows))


def _late(
    item: _Pending, book: PolicyBook, fingerprint: bytes, now: datetime, memo: DiscoveryMemo
) -> None:
    """Settle a file with the whole book: it holds policies or refers to one."""
    if item.entry is not None and item.entry[1] == fingerprint:
        try:
            item.source = replay(item.entry, item.path, item.relpath, item.data, book, item.rows)
        except Stale:
            memo.forget(item.key)
            item.rows = Report()
        else:
            return
    parsed = item.parse()
    clock = False
    if parsed is not None:
        item.source, clock = build_source(parsed, item.rows, now, book)
    if not clock:
        memo.put(item.key, record(item.holds_policies, fingerprint, item.source, item.rows))


def load_named_policies(root: Path, report: Report) -> PolicyBook:
    """Only the named policies of a checkout (for `policy select @ns/name --dir`)."""
    documents: list[tuple[str, Node]] = []
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is None:
            found = read_and_parse(candidate.path, candidate.relpath, Report())
            if found is not None:
                documents.extend((found.relpath, d) for d in found.documents if d is not None)
    return load_policies(documents, report)


def _screens(path: Path) -> bool:
    """Templates are reported only when they mention us; the rest stay silent."""
    try:
        return screen(path.read_bytes())
    except OSError:
        return False
