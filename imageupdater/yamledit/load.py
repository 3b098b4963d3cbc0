"""`load_documents` and the parse cache behind it.

One cycle looks at the same file several times (locate workloads, read markers, edit,
verify), and a daemon sees mostly unchanged files cycle after cycle, so parse results are
kept in an LRU keyed by a hash of the content (at most 50,000 entries and 16 M characters
of source, nothing over a quarter of that). What is cached is the event stream (or the
parse error); the Node tree is rebuilt from it on every call, because the tree is made of
plain dicts and lists that a caller could mutate, and a poisoned cache would corrupt every
later edit of that file.

The budget is large enough for a whole repository of 10,000 manifests: `plan` parses every
file at discovery and again when it splices an edit, long after (the registry walks come
in between), so a small LRU only ever missed. To keep that affordable, streams are stored
packed (`_Packed`: offsets in an int array, flags and style in bytes, short values
interned), about 5 bytes per source character instead of 26 for the tuple of `Event`s;
a hit unpacks in a few microseconds per file. Re-parses of texts nobody has read before
(`apply_edits` verifying its own result) look in the cache but do not fill it, so they
cannot push out the files still waiting for their splice.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from itertools import repeat
from typing import Final, NamedTuple

from imageupdater.errors import YamlParseError

from .compose import compose_documents
from .events import Event, Stream, parse
from .nodes import Node

CACHE_ENTRIES: Final = 50_000
#: source characters the cached streams may cover; packed, they cost about 5 bytes each
CACHE_CHARS: Final = 16_000_000

_STYLES: Final = ("", "'", '"', "|", ">")
_STYLE_CODE: Final = {style: code for code, style in enumerate(_STYLES)}


class _Packed(NamedTuple):
    """A `Stream` in a fraction of the memory, stored column by column (module docstring)."""

    kinds: bytes
    starts: array[int]
    ends: array[int]
    lines: array[int]
    values: tuple[str, ...]  # interned: keys and common values repeat across files
    styles: bytes  # index into _STYLES
    anchors: tuple[str | None, ...] | None  # None when no event has one
    tags: tuple[str | None, ...] | None
    flows: bytes
    explicits: bytes
    parser: str


def _pack(stream: Stream) -> _Packed:
    """Transpose the events into columns (C-level loops only: `zip`, `map`, `bytes`)."""
    if not stream.events:
        return _Packed(b"", array("q"), array("q"), array("q"), (), b"", None, None, b"", b"",
                       stream.parser)  # fmt: skip
    kinds, starts, ends, lines, values, styles, anchors, tags, flows, explicits = zip(
        *stream.events, strict=True
    )
    return _Packed(
        bytes(kinds),
        array("q", starts),
        array("q", ends),
        array("q", lines),
        tuple(map(sys.intern, values)),
        bytes(map(_STYLE_CODE.__getitem__, styles)),
        anchors if any(anchor is not None for anchor in anchors) else None,
        tags if any(tag is not None for tag in tags) else None,
        bytes(flows),
        bytes(explicits),
        stream.parser,
    )


def _unpack(packed: _Packed) -> Stream:
    count = len(packed.kinds)
    columns = zip(
        packed.kinds,
        packed.starts,
        packed.ends,
        packed.lines,
        packed.values,
        map(_STYLES.__getitem__, packed.styles),
        packed.anchors or repeat(None, count),
        packed.tags or repeat(None, count),
        map(bool, packed.flows),
        map(bool, packed.explicits),
        strict=True,
    )
    return Stream(tuple(map(tuple.__new__, repeat(Event), columns)), packed.parser)


class _Failure(NamedTuple):
    message: str
    line: int | None


class _ParseCache:
    """A thread-safe LRU of parse outcomes (the daemon runs automations in parallel),
    bounded both in entries and in the amount of text they stand for."""

    def __init__(self, entries: int, chars: int) -> None:
        self._max_entries = entries
        self._max_chars = chars
        self._chars = 0
        self._entries: OrderedDict[bytes, tuple[int, _Packed | _Failure]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stores = 0  # entries ever added: `persist` writes the file only after new ones
        #: rows from disk not imported yet (`defer_import`): read at the first miss only
        self._deferred: Callable[[], object] | None = None
        self._deferred_lock = threading.Lock()

    def parse(self, text: str, *, store: bool = True) -> Stream:
        """`text`'s stream; `store=False` looks the text up but does not keep a miss."""
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        entry = self._lookup(key)
        if entry is None and self._deferred is not None:
            self.import_deferred()
            entry = self._lookup(key)
        if entry is None:
            self.misses += 1
        outcome: Stream | _Packed | _Failure
        if entry is not None:
            outcome = entry[1]
        else:
            try:
                outcome = parse(text)
            except YamlParseError as exc:
                outcome = _Failure(str(exc), exc.line)
            if store:
                packed = outcome if isinstance(outcome, _Failure) else _pack(outcome)
                self._store(key, len(text), packed)
        if isinstance(outcome, _Failure):
            raise YamlParseError(outcome.message, outcome.line)
        if isinstance(outcome, _Packed):
            return _unpack(outcome)
        return outcome

    def _lookup(self, key: bytes) -> tuple[int, _Packed | _Failure] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return entry

    def defer_import(self, loader: Callable[[], object]) -> None:
        """Import `loader()`'s rows (as `import_rows`) only when a parse misses: a warm run
        whose discovery is remembered never parses, so it need not read them at all."""
        with self._deferred_lock:
            self._deferred = loader

    def import_deferred(self) -> None:
        """Import the deferred rows now; rows that are not what `export` wrote are dropped
        from the first bad one on (the entries before it are whole and valid)."""
        with self._deferred_lock:
            loader, self._deferred = self._deferred, None
            if loader is None:
                return
            rows = loader()
            if isinstance(rows, list):
                with suppress(TypeError, ValueError, IndexError):
                    self.import_rows(rows, count=False)

    def _store(
        self, key: bytes, size: int, outcome: _Packed | _Failure, count: bool = True
    ) -> None:
        if size > self._max_chars // 4:
            return  # one huge file would push out everything else
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (size, outcome)
            self.stores += count
            self._chars += size
            while len(self._entries) > self._max_entries or self._chars > self._max_chars:
                _, (evicted, _) = self._entries.popitem(last=False)
                self._chars -= evicted

    def clear(self) -> None:
        with self._deferred_lock:
            self._deferred = None
        with self._lock:
            self._entries.clear()
            self._chars = 0

    def export(self) -> list[tuple[object, ...]]:
        """Every entry as plain values (`persist` writes them with marshal)."""
        self.import_deferred()
        with self._lock:
            entries = list(self._entries.items())
        rows: list[tuple[object, ...]] = []
        for key, (size, outcome) in entries:
            if isinstance(outcome, _Failure):
                rows.append((key, size, outcome.message, outcome.line))
            else:
                columns = (outcome.starts, outcome.ends, outcome.lines)
                raw = tuple(column.tobytes() for column in columns)
                rows.append((key, size, outcome.kinds, *raw, *outcome[4:]))
        return rows

    def import_rows(self, rows: list[tuple[object, ...]], *, count: bool = True) -> None:
        """The inverse of `export` (raises TypeError/ValueError on rows of another shape);
        `count=False`: what comes back from disk is not new (`stores` stays)."""
        for row in rows:
            key, size = row[0], row[1]
            if not isinstance(key, bytes) or not isinstance(size, int):
                raise TypeError("not a parse cache row")
            outcome: _Packed | _Failure
            if len(row) == 4:
                message, line = row[2], row[3]
                if not isinstance(message, str) or not (line is None or isinstance(line, int)):
                    raise TypeError("not a parse failure")
                outcome = _Failure(message, line)
            else:
                kinds, starts, ends, lines, *rest = row[2:]
                columns = [array("q") for _ in range(3)]
                for column, raw in zip(columns, (starts, ends, lines), strict=True):
                    column.frombytes(raw)  # type: ignore[arg-type]
                outcome = _Packed(kinds, *columns, *rest)  # type: ignore[arg-type]
                if len(outcome.kinds) != len(outcome.starts) or len(outcome.values) != len(
                    outcome.kinds
                ):
                    raise ValueError("inconsistent packed stream")
            self._store(key, size, outcome, count)


_cache = _ParseCache(CACHE_ENTRIES, CACHE_CHARS)


def parse_stream(text: str, *, store: bool = True) -> Stream:
    """The event stream of `text`, memoised by content hash; raises `YamlParseError`.
    `store=False` for a text that is unlikely to be parsed again (a verifying re-parse)."""
    return _cache.parse(text, store=store)


def clear_cache() -> None:
    """Forget every memoised parse (tests and benchmarks measure cold parses with it)."""
    _cache.clear()


def export_entries() -> list[tuple[object, ...]]:
    """The memoised parses as plain values (see `persist`)."""
    return _cache.export()


def stores() -> int:
    return _cache.stores


def import_entries(rows: list[tuple[object, ...]]) -> None:
    """Add parses exported by `export_entries` (by this same code: see `persist`)."""
    _cache.import_rows(rows)


def defer_import(loader: Callable[[], object]) -> None:
    """Have the first parse that misses import `loader()`'s rows first (see `persist`)."""
    _cache.defer_import(loader)


def load_documents(text: str, *, remember: bool = True) -> list[Node | None]:
    """Every document of the stream, `None` for an empty one; unreadable YAML raises
    `YamlParseError(message, line)`. `remember=False`: look the text up in the parse cache
    but do not add it (discovery, whose outcomes are remembered whole instead)."""
    return compose_documents(text, parse_stream(text, store=remember).events)
