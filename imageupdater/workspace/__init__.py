"""A Git work tree: commit exactly the files we edited, push, and catch up with a remote.

This is the only module that knows about Git. What it promises the layers above:

* **The user's work is never lost.** ``commit_files`` builds the commit on a private index,
  so whatever else the user staged stays staged and unstaged edits stay unstaged. Moving a
  branch (after a rebase, or undoing our commit) is a two-way merge of the index and work
  tree, exactly like ``git checkout``: it refuses instead of overwriting a local change, and
  the ref itself moves with a compare-and-swap, so a commit made meanwhile is never dropped.
  Nothing here runs ``reset --hard``, ``stash`` or a forced push.
* **Catching up is ``git pull --rebase`` without touching the work tree.** The local commits
  are rebased in a scratch worktree (a temporary ``git worktree``), so a conflict never
  leaves rebase state or conflict markers in the user's checkout; the branch then moves to
  the result as above. A conflict is reported as :class:`RebaseConflict`; the caller can
  drop its own commit with :meth:`Workspace.undo_last_commit` and try again.
* **Git never asks anything and nothing user-defined runs.** Each git process starts in its
  own session (no controlling terminal) with ``GIT_TERMINAL_PROMPT=0``, so credentials come
  from helpers, agents or askpass programs, never from a prompt that would hang a daemon.
  Hooks and commit signing are switched off: a bot commit is a verified byte-level edit, and
  a formatter in a ``pre-commit`` hook or a pinentry dialog would break or block it.
* **No secret in a message.** Credentials embedded in remote URLs (``user:token@``) and
  ``Authorization`` headers are removed from every error message and log line.

GitPython locates the ``git`` executable (honouring ``GIT_PYTHON_GIT_EXECUTABLE``); the
commands themselves run through :mod:`subprocess`, because ``Git.execute`` always inherits
``os.environ`` and cannot drop ``GIT_DIR`` / ``GIT_INDEX_FILE`` (exported by git to hooks, so
present when imageupdater runs inside one) or ``GIT_TRACE_CURL`` (which prints credentials).

The package splits that work by job: ``_git`` runs git (environment, redaction, the result
type), ``errors`` holds the exceptions, ``_core`` the state and helpers every part shares,
``commits``, ``history``, ``remote`` and ``branches`` the operations (as mixins), and
``repository`` the :class:`Workspace` class that combines them. Import from here only.
"""

from imageupdater.workspace._git import DEFAULT_NETWORK_TIMEOUT as DEFAULT_NETWORK_TIMEOUT
from imageupdater.workspace._git import FALLBACK_IDENTITY
from imageupdater.workspace._git import _git_executable as _git_executable  # for the tests
from imageupdater.workspace._git import _redact as _redact  # for the tests
from imageupdater.workspace.branches import BOT_BRANCH_PREFIX, BranchCommit, BranchUpdate
from imageupdater.workspace.errors import (
    NothingToCommit,
    PushRejected,
    RebaseConflict,
    WorkTreeConflict,
)
from imageupdater.workspace.history import LogEntry
from imageupdater.workspace.repository import Workspace

__all__ = [
    "BOT_BRANCH_PREFIX",
    "FALLBACK_IDENTITY",
    "BranchCommit",
    "BranchUpdate",
    "LogEntry",
    "NothingToCommit",
    "PushRejected",
    "RebaseConflict",
    "WorkTreeConflict",
    "Workspace",
]
