"""The daemon's SQLite store under ``--state-dir`` (SPEC §6): a cache and a diary, never a truth.

What it holds, and why deleting it cannot change a decision:

* **tag lists** per repository with the time they were fetched; a list younger than the
  automation's interval is reused instead of walking ``tags/list`` again. A list is at most
  one interval old, the same staleness a daemon without a cache has between two cycles, and
  a webhook for an image drops its entry so the pushed tag is seen at once.
* **manifest lookups** (``HEAD`` of ``image:tag``: digest and media type, or "absent"),
  reused under the same age limit as the tag lists and dropped with them by a webhook:
  a tag that moved is seen at most one interval late, as with the tag list itself.
* **image metadata by digest** (build time, platforms): a digest names immutable content,
  so the answer can never become wrong.
* **PR records** and **last outcomes** per automation: shown by metrics and logs, never
  read back into a plan. Git and the forge are the truth; PR mode re-reads them each cycle.

One connection, serialised by a lock: the daemon's writes are a few rows per cycle, far
below what would make SQLite's single writer a bottleneck. ``journal_mode=WAL`` and
``synchronous=NORMAL`` keep a kill -9 from corrupting the file (at worst the last
transaction is lost, which for a cache is harmless).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from imageupdater.model import ImageMetadata

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tags (
    image TEXT PRIMARY KEY, tags TEXT NOT NULL, fetched REAL NOT NULL);
CREATE TABLE IF NOT EXISTS manifests (
    image TEXT NOT NULL, reference TEXT NOT NULL, digest TEXT, media_type TEXT,
    fetched REAL NOT NULL, PRIMARY KEY (image, reference));
CREATE TABLE IF NOT EXISTS metadata (
    digest TEXT PRIMARY KEY, created TEXT, platforms TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pull_requests (
    automation TEXT NOT NULL, branch TEXT NOT NULL, number INTEGER NOT NULL,
    url TEXT NOT NULL, action TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (automation, branch));
CREATE TABLE IF NOT EXISTS outcomes (
    automation TEXT PRIMARY KEY, finished REAL NOT NULL, ok INTEGER NOT NULL,
    commit_sha TEXT, updates INTEGER NOT NULL, errors TEXT NOT NULL, images TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    automation: str
    finished: float
    ok: bool
    commit: str | None
    updates: int
    errors: tuple[str, ...]
    images: tuple[str, ...]


class State:
    """Thread-safe access to ``<state-dir>/state.sqlite``."""

    def __init__(self, directory: Path, *, clock: Any = time.time) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.sqlite"
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                # a cache from another version: drop it rather than misread it
                for table in ("tags", "manifests", "metadata", "pull_requests", "outcomes"):
                    self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- tag lists ------------------------------------------------------------------------

    def cached_tags(self, image: str, ttl: float) -> list[str] | None:
        """The tags of `image` (canonical name) if fetched less than `ttl` seconds ago."""
        with self._lock:
            row = self._db.execute(
                "SELECT tags, fetched FROM tags WHERE image = ?", (image,)
            ).fetchone()
        if row is None or self._clock() - row[1] >= ttl:
            return None
        tags: list[str] = json.loads(row[0])
        return tags

    def store_tags(self, image: str, tags: Sequence[str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tags (image, tags, fetched) VALUES (?, ?, ?)",
                (image, json.dumps(list(tags)), self._clock()),
            )

    def forget_tags(self, image: str) -> None:
        """A push event for `image`: the next scan must ask the registry."""
        with self._lock:
            self._db.execute("DELETE FROM tags WHERE image = ?", (image,))
            self._db.execute("DELETE FROM manifests WHERE image = ?", (image,))

    # -- manifest lookups -----------------------------------------------------------------

    def cached_manifest(
        self, image: str, reference: str, ttl: float
    ) -> tuple[bool, tuple[str, str] | None]:
        """(found, (digest, media type) or None when the registry said it does not exist),
        for a lookup of `image` (canonical name) at `reference` younger than `ttl` seconds."""
        with self._lock:
            row = self._db.execute(
                "SELECT digest, media_type, fetched FROM manifests "
                "WHERE image = ? AND reference = ?",
                (image, reference),
            ).fetchone()
        if row is None or self._clock() - row[2] >= ttl:
            return False, None
        if row[0] is None:
            return True, None
        return True, (row[0], row[1])

    def store_manifest(self, image: str, reference: str, found: tuple[str, str] | None) -> None:
        digest, media_type = found if found is not None else (None, None)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO manifests VALUES (?, ?, ?, ?, ?)",
                (image, reference, digest, media_type, self._clock()),
            )

    # -- metadata by digest ---------------------------------------------------------------

    def cached_metadata(self, digest: str) -> ImageMetadata | None:
        with self._lock:
            row = self._db.execute(
                "SELECT created, platforms FROM metadata WHERE digest = ?", (digest,)
            ).fetchone()
        if row is None:
            return None
        created = datetime.fromisoformat(row[0]) if row[0] else None
        return ImageMetadata(digest, created, tuple(json.loads(row[1])))

    def store_metadata(self, metadata: ImageMetadata) -> None:
        created = metadata.created.isoformat() if metadata.created else None
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO metadata (digest, created, platforms) VALUES (?, ?, ?)",
                (metadata.digest, created, json.dumps(list(metadata.platforms))),
            )

    # -- PR records and outcomes ----------------------------------------------------------

    def record_pull_requests(self, automation: str, rows: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                self._db.execute(
                    "INSERT OR REPLACE INTO pull_requests VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        automation,
                        str(row.get("branch", row.get("number"))),
                        int(row.get("number", 0)),
                        str(row.get("url", "")),
                        str(row.get("action", "")),
                        self._clock(),
                    ),
                )

    def open_pull_requests(self) -> int:
        """PRs whose last known action left them open (metrics)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM pull_requests "
                "WHERE action IN ('opened', 'updated', 'unchanged')"
            ).fetchone()
        return int(row[0])

    def record_outcome(self, outcome: Outcome) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    outcome.automation,
                    outcome.finished,
                    int(outcome.ok),
                    outcome.commit,
                    outcome.updates,
                    json.dumps(list(outcome.errors)),
                    json.dumps(list(outcome.images)),
                ),
            )

    def outcome(self, automation: str) -> Outcome | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM outcomes WHERE automation = ?", (automation,)
            ).fetchone()
        if row is None:
            return None
        return Outcome(
            row[0], row[1], bool(row[2]), row[3], row[4], tuple(json.loads(row[5])),
            tuple(json.loads(row[6])),
        )  # fmt: skip
