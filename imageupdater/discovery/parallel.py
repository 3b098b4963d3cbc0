"""Run part of discovery in a forked child, on the machine's other core.

Reading YAML is CPU-bound Python (libyaml hands every event to Python as objects), and
one interpreter runs on one core. A cold scan of thousands of files therefore forks: the
child settles half of the new files while the parent settles the rest, and sends back
each outcome as a memo entry (plain tuples through a pipe, `marshal`), which the parent
replays as if it had been remembered.

Only where it is safe and pays off: `os.fork` exists, the process runs a single thread
(a fork copies only the calling thread, so a lock held by another one would stay locked
in the child forever), and there are enough files to amortise the fork. The child never
returns into the caller's code: it leaves through `os._exit`, running no `atexit` hook
and flushing no buffer of the parent's. Anything unexpected (the child crashing, a short
read, data of another shape) yields `None`, and the parent reads those files itself.
"""

from __future__ import annotations

import marshal
import os
import threading
from collections.abc import Callable
from typing import Final

#: below this many new files the fork (a few ms) costs more than it saves
MIN_FILES: Final = 200


def available() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


class Forked:
    """A child computing one marshal-able value; `result()` waits for it."""

    def __init__(self, pid: int, fd: int) -> None:
        self._pid = pid
        self._fd = fd

    def result(self) -> object | None:
        """The child's value, or None when it did not deliver one."""
        try:
            with os.fdopen(self._fd, "rb") as pipe:
                data = pipe.read()
        finally:
            _, status = os.waitpid(self._pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            value: object = marshal.loads(data)  # noqa: S302 (our own child's plain values)
        except (EOFError, ValueError, TypeError):
            return None
        return value


def fork(work: Callable[[], object]) -> Forked | None:
    """Start `work` in a child process; None when forking is not possible here."""
    if not available():
        return None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: compute, write, leave without touching the parent's state
        code = 1
        try:
            os.close(read_end)
            payload = marshal.dumps(work())  # type: ignore[arg-type]
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return Forked(pid, read_end)
