"""The parse and splice caches on disk, for `plan --state-dir` run after run.

A process keeps parsed event streams (`load`) and verified splices (`rewrite`) in memory;
the daemon lives long enough to profit from them, but each `plan` is a new process that
would parse and verify every file again. `load_caches`/`save_caches` carry both caches
through a file in the state directory, so a second `plan` over unchanged files neither
parses nor re-verifies them.

Why this cannot change a decision: entries are keyed by a hash of the exact input (the
text; for a splice the text and every field of every edit), and the results are what the
same code computed from that input. The file names the code that wrote it
(`code_version`: the package's sources and ruamel.yaml's version) and is read and written
through `cachefile`, which ignores another writer's file or a damaged one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from imageupdater import cachefile

from . import load, rewrite

PARSES_FILE: Final = "yamledit-parses.marshal"
SPLICES_FILE: Final = "yamledit-splices.marshal"


def code_version() -> str:
    """What every cache derived from parses is stamped with (the parser is part of it)."""
    from ruamel.yaml import __version__ as ruamel_version

    return cachefile.code_version(f"ruamel.yaml {ruamel_version}")


#: each cache's store count when its file was last read or written
_saved: dict[str, int] = {}


def load_caches(directory: Path) -> bool:
    """Fill the splice cache from `directory` now, and have the parse cache read its file
    at its first miss (a warm run whose discovery is remembered parses nothing, and the
    parses are the larger file). False when the splice file is missing or unusable."""
    version = code_version()
    _saved[PARSES_FILE] = load.stores()
    load.defer_import(lambda: cachefile.read(directory / PARSES_FILE, version))
    _saved[SPLICES_FILE] = rewrite.splice_stores()
    splices = cachefile.read(directory / SPLICES_FILE, version)
    if not isinstance(splices, list):
        return False
    try:
        rewrite.import_splices(splices)
    except (TypeError, ValueError, IndexError):
        rewrite.clear_splices()
        return False
    _saved[SPLICES_FILE] = rewrite.splice_stores()
    return True


def save_caches(directory: Path) -> None:
    """Write each in-memory cache that gained entries since `load_caches` to `directory`
    (best effort: a cache that cannot be written only makes the next run slower)."""
    version = code_version()
    stores = {PARSES_FILE: load.stores(), SPLICES_FILE: rewrite.splice_stores()}
    exports = {PARSES_FILE: load.export_entries, SPLICES_FILE: rewrite.export_splices}
    for name, count in stores.items():
        if _saved.get(name) == count:
            continue
        if cachefile.write(directory / name, version, exports[name]()):
            _saved[name] = count
