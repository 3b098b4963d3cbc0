"""A whole checkout -> its sources and named policies (pipeline stage 1).

Two passes over the screened files: named policies first (a workload may refer to a policy
in any file), then targets and markers. With a warm `memo` the first pass parses only the
files it has not seen in this form and the files that hold policies; the second replays
the remembered outcome of every other file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imageupdater.files import walk_yaml_files
from imageupdater.namedpolicies import PolicyBook, holds_policy_documents, load_policies
from imageupdater.report import Report, Skip
from imageupdater.yamledit import Node, screen

from .memo import MEMO, DiscoveryMemo, Entry, Stale, book_fingerprint, file_key, record, replay
from .targets import Parsed, SourceFile, Target, build_source, parse_file, read_screened


@dataclass(slots=True)
class Discovered:
    """Everything a scan found: files with targets or markers, and the named policies."""

    sources: list[SourceFile]
    book: PolicyBook


@dataclass(slots=True)
class _Pending:
    """A screened file between the passes: its own rows, its memo entry, its parse."""

    path: Path
    relpath: str
    data: bytes
    key: bytes
    rows: Report
    entry: Entry | None
    parsed: Parsed | None = None
    tried: bool = False  # parse attempted (`parsed` stays None for broken YAML)

    def parse(self) -> Parsed | None:
        if not self.tried:
            self.tried = True
            self.parsed = parse_file(self.path, self.relpath, self.data, self.rows)
        return self.parsed

    def holds_policies(self) -> bool:
        if self.entry is not None and not self.tried:
            return self.entry[0]
        parsed = self.parse()
        return parsed is not None and holds_policy_documents(parsed.documents)


def discover(root: Path, report: Report, now: datetime) -> list[SourceFile]:
    return discover_repository(root, report, now).sources


def discover_repository(
    root: Path,
    report: Report,
    now: datetime,
    memo: DiscoveryMemo = MEMO,
    found: Callable[[Target], None] | None = None,
) -> Discovered:
    """`found` sees each target as soon as its file is done (the engine starts the
    registry walks then, while the remaining files are still being read)."""
    pending: list[_Pending] = []
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
            item = _Pending(candidate.path, candidate.relpath, data, key, Report(), memo.get(key))
            pending.append(item)
    policy_files = [item for item in pending if item.holds_policies()]
    documents = [
        (item.relpath, document)
        for item in policy_files
        for document in (item.parse() or Parsed(item.path, item.relpath, b"", "", [])).documents
        if document is not None
    ]
    book = load_policies(documents, report)
    fingerprint = book_fingerprint([(item.relpath, item.key) for item in policy_files])
    sources: list[SourceFile] = []
    for item in pending:
        source = _discover(item, book, fingerprint, report, now, memo)
        if source is not None:
            sources.append(source)
            if found is not None:
                for target in source.targets:
                    found(target)
    return Discovered(sources, book)


def _discover(
    item: _Pending,
    book: PolicyBook,
    fingerprint: bytes,
    report: Report,
    now: datetime,
    memo: DiscoveryMemo,
) -> SourceFile | None:
    if item.entry is not None and item.entry[1] == fingerprint:
        try:
            return replay(item.entry, item.path, item.relpath, item.data, book, report)
        except Stale:
            memo.forget(item.key)
    parsed = item.parse()
    source: SourceFile | None = None
    clock = False
    if parsed is not None:
        source, clock = build_source(parsed, item.rows, now, book)
    if not clock:
        holds = parsed is not None and holds_policy_documents(parsed.documents)
        memo.put(item.key, record(holds, fingerprint, source, item.rows))
    report.skipped.extend(item.rows.skipped)
    for error in item.rows.errors:
        report.add_error(error)
    return source if source is not None and (source.targets or source.markers) else None


def load_named_policies(root: Path, report: Report) -> PolicyBook:
    """Only the named policies of a checkout (for `policy select @ns/name --dir`)."""
    documents: list[tuple[str, Node]] = []
    for candidate in walk_yaml_files(root):
        if candidate.skip_reason is None:
            rows = Report()
            data = read_screened(candidate.path, candidate.relpath, rows)
            found = None if data is None else parse_file(candidate.path, candidate.relpath,
                                                          data, rows)  # fmt: skip
            if found is not None:
                documents.extend((found.relpath, d) for d in found.documents if d is not None)
    return load_policies(documents, report)


def _screens(path: Path) -> bool:
    """Templates are reported only when they mention us; the rest stay silent."""
    try:
        return screen(path.read_bytes())
    except OSError:
        return False
