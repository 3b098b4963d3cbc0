"""`load_documents` and the parse cache behind it.

One cycle looks at the same file several times (locate workloads, read markers, edit,
verify), and a daemon sees mostly unchanged files cycle after cycle, so parse results are
kept in a small LRU keyed by a hash of the content. What is cached is the immutable event
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

CACHE_SIZE: Final = 64


class _Failure(NamedTuple):
    message: str
    line: int | None


class _ParseCache:
    """A thread-safe LRU of parse outcomes; the daemon runs automations in parallel."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, Stream | _Failure] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, text: str) -> Stream:
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        with self._lock:
            outcome = self._entries.get(key)
            if outcome is not None:
                self._entries.move_to_end(key)
        if outcome is None:
            try:
                outcome = parse(text)
            except YamlParseError as exc:
                outcome = _Failure(str(exc), exc.line)
            with self._lock:
                self._entries[key] = outcome
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        if isinstance(outcome, _Failure):
            raise YamlParseError(outcome.message, outcome.line)
        return outcome

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _ParseCache(CACHE_SIZE)


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
