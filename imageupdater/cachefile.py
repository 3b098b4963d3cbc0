"""A cache file in the state directory: plain values, stamped with the code that wrote it.

Warm runs of `plan --state-dir` carry in-memory caches from one process to the next
through such files. Each is only a cache: a file written by other code (any change to the
package's sources), truncated, or in another format reads as "nothing", and the caller
computes afresh. Values are written with `marshal` (bytes, strings, numbers, tuples,
lists, dicts: loading runs no code) to a temporary name and renamed into place, so a
reader never sees half a file and two writers never interleave.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from functools import cache
from pathlib import Path

_FORMAT = 2
_PACKAGE = Path(__file__).resolve().parent


@cache
def code_version(*extra: str) -> str:
    """A hash of every source file of the package (plus `extra`, such as a parser's
    version): a cached result is reused only by the very code that computed it."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{_FORMAT} {sys.byteorder} {sys.version_info[:2]}".encode())
    for part in extra:
        digest.update(part.encode())
    for source in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(source.relative_to(_PACKAGE)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def read(path: Path, version: str) -> object | None:
    """The payload `write` stored under `version`, or None (no file, other code, damage)."""
    try:
        # marshal builds plain values only (module docstring); the file is the user's own
        data = marshal.loads(path.read_bytes())  # noqa: S302
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(data, tuple) and len(data) == 2 and data[0] == version):
        return None
    payload: object = data[1]
    return payload


def write(path: Path, version: str, payload: object) -> bool:
    """Store `payload` atomically; False when it cannot be written (a cache that cannot be
    written only makes the next run slower, so this never raises OSError)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(fd, "wb") as out:
                marshal.dump((version, payload), out)  # type: ignore[arg-type]
            os.replace(name, path)
        except BaseException:
            os.unlink(name)
            raise
    except (OSError, ValueError):
        return False
    return True
