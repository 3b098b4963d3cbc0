"""`load_documents` and the parse cache behind it.

One cycle looks at the same file several times (locate workloads, read markers, edit,
verify), and a daemon sees mostly unchanged files cycle after cycle, so parse results are
kept in a small LRU keyed by a hash of the content (64 entries, at most 8 M characters of
source, nothing over a quarter of that). What is cached is the immutable event
stream (or the parse error); the Node tree is rebuilt from it on every call, because the
tree is made of plain dicts and lists that a caller could mutate, and a poisoned cache
would corrupt every later edit of that file.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Final, NamedTuple

from imageupdater.errors import YamlParseError

from .compose import compose_documents
from .events import Stream, parse
from .nodes import Node

CACHE_ENTRIES: Final = 64
#: source characters the cached streams may cover; events cost about ten times their text
CACHE_CHARS: Final = 8_000_000


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
        self._entries: OrderedDict[bytes, tuple[int, Stream | _Failure]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, text: str) -> Stream:
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None:
            outcome = entry[1]
        else:
            try:
                outcome = parse(text)
            except YamlParseError as exc:
                outcome = _Failure(str(exc), exc.line)
            self._store(key, len(text), outcome)
        if isinstance(outcome, _Failure):
            raise YamlParseError(outcome.message, outcome.line)
        return outcome

    def _store(self, key: bytes, size: int, outcome: Stream | _Failure) -> None:
        if size > self._max_chars // 4:
            return  # one huge file would push out everything else
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (size, outcome)
            self._chars += size
            while len(self._entries) > self._max_entries or self._chars > self._max_chars:
                _, (evicted, _) = self._entries.popitem(last=False)
                self._chars -= evicted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = 0


_cache = _ParseCache(CACHE_ENTRIES, CACHE_CHARS)


def parse_stream(text: str) -> Stream:
    """The event stream of `text`, memoised by content hash; raises `YamlParseError`."""
    return _cache.parse(text)


def clear_cache() -> None:
    """Forget every memoised parse (tests and benchmarks measure cold parses with it)."""
    _cache.clear()


def load_documents(text: str) -> list[Node | None]:
    """Every document of the stream, `None` for an empty one; unreadable YAML raises
    `YamlParseError(message, line)`."""
    return compose_documents(text, parse_stream(text).events)
