"""The parse and splice caches on disk, for `plan --state-dir` run after run.

A process keeps parsed event streams (`load`) and verified splices (`rewrite`) in memory;
the daemon lives long enough to profit from them, but each `plan` is a new process that
would parse and verify every file again. `load_caches`/`save_caches` carry both caches
through a file in the state directory, so a second `plan` over unchanged files neither
parses nor re-verifies them.

Why this cannot change a decision: entries are keyed by a hash of the exact input (the
text; for a splice the text and every field of every edit), and the results are what the
same code computed from that input. The file also names the code that wrote it (a hash of
this package's sources and ruamel.yaml's version): any other writer's file is ignored,
as is a file that does not read back (truncated, another format). It is written with
`marshal` (plain bytes, strings, ints and tuples: loading it runs no code) to a temporary
name and renamed into place, so a reader never sees half of it.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Final

from . import load, rewrite

FILE_NAME: Final = "yamledit-cache.marshal"
_FORMAT: Final = 1


@cache
def _code_version() -> str:
    from ruamel.yaml import __version__ as ruamel_version

    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{_FORMAT} {ruamel_version} {sys.byteorder}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _stores() -> tuple[int, int]:
    return load.stores(), rewrite.splice_stores()


#: the caches' store counts when the file was last read or written
_saved: list[tuple[int, int]] = []


def load_caches(directory: Path) -> bool:
    """Fill the in-memory caches from `directory`'s file; False when there is none usable."""
    _saved[:] = [_stores()]
    try:
        # marshal builds plain values only (module docstring); the file is the user's own
        data = marshal.loads((directory / FILE_NAME).read_bytes())  # noqa: S302
    except (OSError, EOFError, ValueError, TypeError):
        return False
    if not (isinstance(data, tuple) and len(data) == 3 and data[0] == _code_version()):
        return False
    _, streams, splices = data
    try:
        load.import_entries(streams)
        rewrite.import_splices(splices)
    except (TypeError, ValueError, IndexError):
        load.clear_cache()
        rewrite.clear_splices()
        return False
    _saved[:] = [_stores()]
    return True


def save_caches(directory: Path) -> None:
    """Write the in-memory caches to `directory` (best effort: a cache that cannot be
    written only makes the next run slower). Nothing new since `load_caches`: no write."""
    if _saved and _saved[0] == _stores():
        return
    data = (_code_version(), load.export_entries(), rewrite.export_splices())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".yamledit-cache-")
        try:
            with os.fdopen(fd, "wb") as out:
                marshal.dump(data, out)
            os.replace(name, directory / FILE_NAME)
            _saved[:] = [_stores()]
        except BaseException:
            os.unlink(name)
            raise
    except OSError:
        return
