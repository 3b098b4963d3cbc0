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
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageupdater.errors import AuthError, GitError, GitTransportError, ImageUpdaterError

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

_log = logging.getLogger(__name__)

#: identity used when neither the caller nor git's configuration names one
FALLBACK_IDENTITY = ("imageupdater", "imageupdater@localhost")

#: seconds a fetch or push may take before it is killed and reported as transient
DEFAULT_NETWORK_TIMEOUT = 300.0


class PushRejected(GitTransportError):
    """The remote has commits we do not have (non-fast-forward)."""


class RebaseConflict(GitError):
    """A local commit does not apply on top of the remote branch.

    Nothing was changed locally. ``commit`` is the local commit that failed to apply, so the
    caller can tell its own commit from one of the user's before calling
    :meth:`Workspace.undo_last_commit`.
    """

    def __init__(self, message: str, *, commit: str | None, paths: Sequence[str]) -> None:
        super().__init__(message)
        self.commit = commit
        self.paths = tuple(paths)


class WorkTreeConflict(GitError):
    """Moving the branch would overwrite an uncommitted change of the user, so it did not move."""


#: private namespace for fetched PR-mode refs (base head and bot branches)
_PR_REFS = "refs/imageupdater/pr/"

#: the only branches this tool ever force-pushes or deletes
BOT_BRANCH_PREFIX = "imageupdater/"


def _check_bot_prefix(name: str) -> None:
    if not name.startswith(BOT_BRANCH_PREFIX) or ".." in name or name.startswith("-"):
        raise GitError(f"refusing to force-push {name!r}: not an {BOT_BRANCH_PREFIX} branch")


@dataclass(frozen=True, slots=True)
class BranchCommit:
    sha: str
    parents: tuple[str, ...]
    author_email: str
    committer_email: str


@dataclass(frozen=True, slots=True)
class BranchUpdate:
    """Move bot ``branch`` to ``new`` (None: delete it) if it is still at ``expected``
    (None: only if it does not exist)."""

    branch: str
    new: str | None
    expected: str | None


class NothingToCommit(GitError):
    """The files are identical to HEAD.

    Raised rather than returning HEAD, so a caller can never mistake someone else's commit
    for its own and later undo it.
    """


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One commit as history readers need it: who, when, and the trailers of one key."""

    sha: str
    parents: tuple[str, ...]
    author: str
    author_date: str  # strict ISO 8601, as `%aI` prints it
    trailers: tuple[str, ...]


# --------------------------------------------------------------------------------------
# running git

#: variables kept from the caller's environment out of the GIT_* namespace: they configure
#: how git reaches remotes or which config it reads, not which repository it works on
_KEPT_GIT_VARS = frozenset(
    {
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_NAME",
        "GIT_CEILING_DIRECTORIES",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_SYSTEM",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
        "GIT_EXEC_PATH",
        "GIT_HTTP_LOW_SPEED_LIMIT",
        "GIT_HTTP_LOW_SPEED_TIME",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_HTTP_USER_AGENT",
        "GIT_PROXY_COMMAND",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_CERT",
        "GIT_SSL_KEY",
        "GIT_SSL_NO_VERIFY",
    }
)

_FIXED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GCM_INTERACTIVE": "never",
    "GIT_EDITOR": ":",  # git's own "no editor" value
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_LITERAL_PATHSPECS": "1",  # a file named '*.yaml' is that file, not a glob
    "GIT_OPTIONAL_LOCKS": "0",  # a read-only status must not take the index lock
    "LC_ALL": "C",  # messages are parsed (push results, conflicts)
    "LANGUAGE": "C",
}

#: configuration that would make a bot operation prompt, run user code or behave differently
_CONFIG = (
    "core.hooksPath=" + os.devnull,
    "commit.gpgSign=false",
    "push.gpgSign=false",
    "i18n.commitEncoding=UTF-8",
    "rerere.enabled=false",
    "rebase.backend=merge",
    "rebase.autoSquash=false",
    "rebase.autoStash=false",
    "rebase.updateRefs=false",
    "rebase.rebaseMerges=false",
    "submodule.recurse=false",
    "advice.detachedHead=false",
    "color.ui=false",
)
_CONFIG_ARGS = tuple(arg for item in _CONFIG for arg in ("-c", item))


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_")
        or key in _KEPT_GIT_VARS
        or key.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(_FIXED_ENV)
    if extra:
        env.update(extra)
    return env


def _git_executable() -> str:
    """The git GitPython would run; plain ``git`` from PATH when GitPython cannot load.

    Imported here because GitPython raises ImportError when no git is installed, which must
    not take down commands that never touch Git (``plan`` on a bare directory).
    """
    try:
        import git
    except ImportError:
        return "git"
    executable: Any = git.Git.GIT_PYTHON_GIT_EXECUTABLE
    return str(executable) if executable else "git"


_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s'\"]*@")
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*:\s*)[^\r\n]*")


def _redact(text: str) -> str:
    """Remove credentials: ``https://user:token@host`` becomes ``https://host``."""
    text = _URL_USERINFO.sub(r"\g<scheme>", text)
    return _AUTH_HEADER.sub(r"\1<redacted>", text)


@dataclass(frozen=True)
class _Done:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "surrogateescape").rstrip("\n")

    def detail(self, limit: int = 1500) -> str:
        """What git said, redacted and shortened for an error message."""
        said = self.stderr.strip() or self.stdout.decode("utf-8", "replace").strip()
        said = _redact(" ".join(line.strip() for line in said.splitlines() if line.strip()))
        return said if len(said) <= limit else "…" + said[-limit:]

    def failure(self, what: str) -> str:
        command = _redact(" ".join(self.args))
        if len(command) > 200:
            command = command[:200] + "…"
        return f"{what}: `git {command}` failed (exit {self.returncode}): {self.detail()}"


def _run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> _Done:
    """Run git once, without a shell, a terminal or the caller's repository variables.

    The process gets its own session, which both keeps ssh, gpg and credential helpers from
    opening the terminal and lets a timeout kill the whole group (``git-remote-https``,
    ``ssh``) instead of leaving helpers behind.
    """
    command = [_git_executable(), *_CONFIG_ARGS, *args]
    _log.debug("git %s", _redact(" ".join(args)))
    try:
        with subprocess.Popen(
            command,
            cwd=cwd,
            env=_environment(env),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.communicate()
                raise GitTransportError(
                    f"`git {_redact(args[0])}` took longer than {timeout:g}s and was stopped"
                ) from None
            except BaseException:
                _kill_group(proc)
                raise
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    return _Done(tuple(args), proc.returncode, out, err.decode("utf-8", "replace"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# how git describes failures, for telling auth and configuration problems from outages
_AUTH_FAILURE = re.compile(
    r"authentication failed|could not read (?:username|password)|terminal prompts disabled"
    r"|permission denied \(publickey|invalid username or password|access denied"
    r"|returned error: 40[13]\b|host key verification failed",
    re.IGNORECASE,
)
_LOCAL_FAILURE = re.compile(
    r"does not appear to be a git repository|no such remote|couldn't find remote ref"
    r"|invalid refspec|not a valid ref",
    re.IGNORECASE,
)


def _network_error(done: _Done, what: str) -> ImageUpdaterError:
    detail = done.detail()
    message = f"{what}: {detail}"
    if _AUTH_FAILURE.search(detail):
        return AuthError(message)
    if _LOCAL_FAILURE.search(detail):
        return GitError(message)
    return GitTransportError(message)


# --------------------------------------------------------------------------------------


class Workspace:
    """A non-bare Git work tree, addressed by its top directory.

    Paths given to methods may be absolute or relative to :attr:`root`; they must lie inside
    the work tree.
    """

    def __init__(
        self,
        root: Path,
        *,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: extra variables for every git process (credentials: ``GIT_ASKPASS`` and
        the token it reads, or ``GIT_SSH_COMMAND``), so they never reach ``.git/config``."""
        self.root = root
        self.network_timeout = network_timeout
        self.env: dict[str, str] = dict(env or {})

    @classmethod
    def clone(
        cls,
        url: str,
        dest: Path,
        branch: str,
        *,
        env: Mapping[str, str] | None = None,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
    ) -> Workspace:
        """Clone ``branch`` of ``url`` into ``dest`` (a private checkout the daemon owns).

        The clone goes to a temporary sibling first and is renamed at the end, so a process
        killed mid-clone leaves no half-made ``dest`` behind.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        done = _run_git(
            ["clone", "--no-tags", "--branch", branch, "--", url, str(partial)],
            cwd=dest.parent,
            env=env,
            timeout=network_timeout,
        )
        if not done.ok:
            shutil.rmtree(partial, ignore_errors=True)
            raise _network_error(done, f"clone of {_redact(url)}")
        os.replace(partial, dest)
        return cls(dest, network_timeout=network_timeout, env=env)

    def align_with_remote(self, branch: str, remote: str = "origin") -> str:
        """Make a *private* checkout exactly ``remote``'s ``branch``: fetch, check it out,
        and throw away anything local (a commit or edit left by a killed cycle, a stale
        lock). Only for a clone this tool owns; a user's checkout goes through
        :meth:`sync_with_remote`, which never discards anything. Returns the new HEAD."""
        for lock in ("index.lock", "HEAD.lock", f"refs/heads/{branch}.lock"):
            (self.root / ".git" / lock).unlink(missing_ok=True)
        upstream = self._fetch(branch, remote)
        self._ok(["checkout", "-q", "--force", "-B", branch, upstream], "cannot check out")
        self._ok(["clean", "-q", "-d", "-f", "-x"], "cannot clean the checkout")
        return upstream

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @classmethod
    def find(cls, path: Path) -> Workspace | None:
        """The work tree containing ``path``, or None when it is not inside one.

        Git itself answers (``rev-parse --show-toplevel``), so linked worktrees, submodules
        and ``GIT_CEILING_DIRECTORIES`` behave as they do for git. A repository git refuses
        to use (``safe.directory``) is an error, not None: silently not committing would
        be worse.
        """
        start = path if path.is_dir() else path.parent
        if not start.is_dir():
            return None
        done = _run_git(["rev-parse", "--show-toplevel"], cwd=start)
        if done.ok and done.text:
            return cls(Path(done.text))
        said = done.stderr.lower()
        if "not a git repository" in said or "must be run in a work tree" in said:
            return None
        raise GitError(done.failure(f"cannot use the Git repository containing {start}"))

    # ---------------------------------------------------------------- reading

    def head(self) -> str:
        """The commit HEAD points to."""
        sha = self._head_or_none()
        if sha is None:
            raise GitError(f"the repository at {self.root} has no commits yet")
        return sha

    def current_branch(self) -> str | None:
        """The checked-out branch (possibly without commits yet), or None when detached."""
        done = self._git(["symbolic-ref", "-q", "HEAD"])
        if not done.ok or not done.text.startswith("refs/heads/"):
            return None
        return done.text.removeprefix("refs/heads/")

    def dirty_paths(self, paths: Sequence[Path]) -> set[Path]:
        """Which of ``paths`` differ from HEAD, staged or not, or are untracked.

        Returns the given Path objects themselves. Ignored files are not dirty.
        """
        wanted = self._relative(paths)
        if not wanted:
            return set()
        done = self._ok(
            [
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--ignored=no",
                "--no-renames",
                "--",
                *dict.fromkeys(wanted),
            ],
            "cannot read the status of the work tree",
        )
        changed = [os.fsdecode(entry[3:]) for entry in done.stdout.split(b"\0") if len(entry) > 3]
        return {
            original
            for original, rel in zip(paths, wanted, strict=True)
            if any(name == rel or name.startswith(rel + "/") for name in changed)
        }

    def read_head_file(self, path: Path) -> bytes | None:
        """The content of ``path`` at HEAD; None when HEAD has no such file."""
        (rel,) = self._relative([path])
        if self._head_or_none() is None:
            return None
        done = self._ok(["ls-tree", "-z", "HEAD", "--", rel], f"cannot list {rel} at HEAD")
        for entry in done.stdout.split(b"\0"):
            meta, _, name = entry.partition(b"\t")
            fields = meta.split(b" ")
            if os.fsdecode(name) == rel and len(fields) == 3 and fields[1] == b"blob":
                blob = fields[2].decode("ascii")
                return self._ok(["cat-file", "blob", blob], f"cannot read {rel}").stdout
        return None

    def log(
        self, paths: Sequence[Path], *, trailer: str, limit: int | None = None
    ) -> list[LogEntry]:
        """Commits reachable from HEAD that touched ``paths``, newest first (topological),
        each with the values of its ``trailer`` trailers. Empty without commits."""
        if self._head_or_none() is None:
            return []
        top = self.root.resolve()
        rels = [
            "." if (self.root / path).resolve() == top else self._relative([path])[0]
            for path in paths
        ]
        fmt = (
            "%H%x1f%P%x1f%an <%ae>%x1f%aI%x1f"
            f"%(trailers:key={trailer},valueonly=true,separator=%x1d)%x1e"
        )
        args = ["log", "--topo-order", f"--format={fmt}"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        done = self._ok([*args, "HEAD", "--", *(rels or ["."])], "cannot read the history")
        entries = []
        for record in done.stdout.decode("utf-8", "replace").split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) != 5:
                continue
            sha, parents, author, date, values = fields
            entries.append(
                LogEntry(
                    sha,
                    tuple(parents.split()),
                    author,
                    date,
                    tuple(v.strip() for v in values.split("\x1d") if v.strip()),
                )
            )
        return entries

    def read_file_at(self, commit: str, path: Path) -> bytes | None:
        """The content of ``path`` in ``commit``; None when that commit has no such file."""
        (rel,) = self._relative([path])
        done = self._git(["cat-file", "blob", f"{commit}:{rel}"])
        return done.stdout if done.ok else None

    def stage(self, paths: Sequence[Path]) -> None:
        """``git add`` exactly these files (``--no-commit`` leaves an edit staged)."""
        rels = list(dict.fromkeys(self._relative(paths)))
        if rels:
            self._ok(["add", "--", *rels], "cannot stage the edited files")

    # ---------------------------------------------------------------- committing

    def commit_files(
        self, paths: Sequence[Path], message: str, *, author: tuple[str, str] | None = None
    ) -> str:
        """Commit exactly ``paths``, as they are in the work tree, and return the new sha.

        The commit is built on a private index (HEAD plus these files), so other staged and
        unstaged changes stay exactly as they were; for these files, what was staged is
        replaced by what was committed. A new file is added, a deleted one removed. The
        branch moves only if HEAD did not move meanwhile.

        ``author`` is used as author and committer; without it git's configured identity
        is used, or :data:`FALLBACK_IDENTITY` when git has none.
        """
        rels = list(dict.fromkeys(self._relative(paths)))
        if not rels:
            raise ValueError("commit_files needs at least one path")
        if not message.strip():
            raise ValueError("commit_files needs a commit message")
        parent = self._head_or_none()

        with tempfile.TemporaryDirectory(prefix="imageupdater-index-") as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch, "index"))}
            self._ok(["read-tree", parent or "--empty"], "cannot prepare the commit", env=index)
            self._ok(["add", "--all", "--", *rels], "cannot stage the edited files", env=index)
            tree = self._ok(["write-tree"], "cannot write the commit tree", env=index).text

        if parent is not None and tree == self._ok(["rev-parse", f"{parent}^{{tree}}"], "").text:
            raise NothingToCommit(f"nothing to commit: {', '.join(rels)} match HEAD")

        commit_args = ["commit-tree", tree, *(["-p", parent] if parent else [])]
        sha = self._ok(
            commit_args,
            "cannot create the commit",
            stdin=_normalise_message(message).encode("utf-8"),
            env=self._identity_env(author),
        ).text
        subject = message.strip().splitlines()[0]
        self._ok(
            ["update-ref", "-m", f"imageupdater: commit: {subject}", "HEAD", sha, parent or ""],
            "HEAD moved while committing; nothing was committed",
        )
        # Let the real index agree with the new HEAD for these files, and nothing else.
        for args in (["reset", "-q", "--", *rels], ["update-index", "-q", "--refresh"]):
            done = self._git(args)
            if not done.ok:
                _log.warning("%s", done.failure(f"committed {sha[:12]}, but the index is stale"))
        return sha

    def undo_last_commit(self, expected_sha: str) -> None:
        """Drop HEAD, which must be ``expected_sha``, keeping every other local change.

        The files of that commit go back to the parent's content in index and work tree;
        this refuses (:class:`WorkTreeConflict`) if one of them was changed since.
        """
        head = self.head()
        expected = self._ok(
            ["rev-parse", "--verify", "-q", f"{expected_sha}^{{commit}}"],
            f"refusing to undo: {expected_sha!r} is not a commit",
        ).text
        if head != expected:
            raise GitError(f"refusing to undo {expected[:12]}: HEAD is {head[:12]}")
        parents = self._ok(["rev-list", "--parents", "-n", "1", head], "").text.split()[1:]
        if not parents:
            raise GitError(f"refusing to undo {head[:12]}: it is the first commit")
        self._move_head(head, parents[0], f"imageupdater: undo {head[:12]}")

    # ---------------------------------------------------------------- remote

    def push(self, branch: str | None = None, remote: str = "origin") -> None:
        """Push HEAD to ``remote``'s ``branch``, never forced.

        The default branch is the upstream of the current branch when it tracks ``remote``,
        else the current branch's name. The refspec is explicit, so configured push
        refspecs (even forcing ones) and ``push.default`` do not apply; tags are not pushed.
        """
        target = self._target_branch(branch, remote)
        sha = self.head()
        done = self._git(
            [
                "push",
                "--porcelain",
                "--no-follow-tags",
                "--recurse-submodules=no",
                "--",
                remote,
                f"{sha}:refs/heads/{target}",
            ],
            timeout=self.network_timeout,
        )
        what = f"push to {_redact(remote)} {target}"
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            flag, _, rest = line.partition("\t")
            summary = rest.partition("\t")[2]
            if flag != "!":
                continue
            if summary.startswith("[rejected]") and (
                "non-fast-forward" in summary or "fetch first" in summary
            ):
                raise PushRejected(f"{what} rejected: the remote has new commits")
            raise GitTransportError(f"{what} refused: {_redact(summary)}")
        if not done.ok:
            raise _network_error(done, what)
        _log.info("pushed %s to %s %s", sha[:12], _redact(remote), target)

    def sync_with_remote(
        self,
        branch: str | None = None,
        remote: str = "origin",
        *,
        committer: tuple[str, str] | None = None,
    ) -> None:
        """Fetch ``remote``'s ``branch`` and put the local commits on top of it.

        Like ``git pull --rebase``: local commits not on the remote (ours and the user's) are
        replayed without merge commits; those whose change the remote already has are
        dropped. The replay happens in a scratch worktree, so on :class:`RebaseConflict` the
        checkout is untouched. Uncommitted changes are carried over like ``git checkout``
        does, or :class:`WorkTreeConflict` is raised and nothing moves.

        Replayed commits keep their authors; ``committer`` (else git's configured identity,
        else :data:`FALLBACK_IDENTITY`) becomes their committer.
        """
        target = self._target_branch(branch, remote)
        old = self.head()
        upstream = self._fetch(target, remote)
        where = f"{_redact(remote)}/{target}"
        if self._is_ancestor(upstream, old):
            return
        if self._is_ancestor(old, upstream):
            new = upstream
        else:
            new = self._rebase_elsewhere(old, upstream, where, committer)
        self._move_head(old, new, f"imageupdater: sync onto {where}")
        _log.info("synced with %s: HEAD %s -> %s", where, old[:12], new[:12])

    # ---------------------------------------------------------------- bot branches

    def fetch_bot_branches(
        self, base: str, prefix: str, remote: str = "origin"
    ) -> tuple[str, dict[str, str]]:
        """Fetch ``base`` and every branch under ``prefix`` in one round trip.

        Returns the base head and ``{branch: sha}`` of the bot branches. They land in a
        private namespace (``refs/imageupdater/pr/``), pruned to what the remote has, so the
        user's remote-tracking refs and FETCH_HEAD are untouched.
        """
        self._target_branch(base, remote)
        _check_bot_prefix(prefix)
        done = self._git(
            [
                "fetch",
                "--no-tags",
                "--prune",
                "--recurse-submodules=no",
                "--",
                remote,
                f"+refs/heads/{base}:{_PR_REFS}base",
                f"+refs/heads/{prefix}*:{_PR_REFS}bot/{prefix}*",
            ],
            timeout=self.network_timeout,
        )
        if not done.ok:
            raise _network_error(done, f"fetch of {_redact(remote)} {base}")
        listed = self._ok(
            ["for-each-ref", "--format=%(objectname) %(refname)", _PR_REFS], "cannot list refs"
        ).text
        base_sha = ""
        branches: dict[str, str] = {}
        for line in listed.splitlines():
            sha, _, ref = line.partition(" ")
            if ref == f"{_PR_REFS}base":
                base_sha = sha
            elif ref.startswith(f"{_PR_REFS}bot/"):
                branches[ref.removeprefix(f"{_PR_REFS}bot/")] = sha
        if not base_sha:
            raise GitError(f"{_redact(remote)} has no branch {base}")
        return base_sha, branches

    def blobs_at(self, commit: str, rels: Sequence[str]) -> dict[str, str]:
        """``{path: blob sha}`` for the files of ``rels`` that exist in ``commit``."""
        if not rels:
            return {}
        done = self._ok(["ls-tree", "-z", commit, "--", *rels], f"cannot list {commit[:12]}")
        found: dict[str, str] = {}
        for entry in done.stdout.split(b"\0"):
            meta, _, name = entry.partition(b"\t")
            fields = meta.split(b" ")
            if len(fields) == 3 and fields[1] == b"blob":
                found[os.fsdecode(name)] = fields[2].decode("ascii")
        return found

    def branch_commits(self, base: str, tip: str) -> list[BranchCommit]:
        """The commits on ``tip`` that ``base`` does not have, newest first."""
        done = self._ok(
            ["log", "--format=%H%x00%P%x00%ae%x00%ce", f"{base}..{tip}", "--"],
            "cannot read the branch",
        )
        commits = []
        for line in done.text.splitlines():
            sha, parents, author, committer = line.split("\0")
            commits.append(BranchCommit(sha, tuple(parents.split()), author, committer))
        return commits

    def changed_blobs(self, parent: str, commit: str) -> dict[str, str]:
        """``{path: new blob sha}`` for what ``commit`` changed against ``parent``."""
        done = self._ok(
            ["diff-tree", "-r", "-z", "--no-renames", parent, commit, "--"], "cannot diff"
        )
        fields = done.stdout.split(b"\0")
        changed: dict[str, str] = {}
        for meta, name in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.decode("ascii", "replace").split()
            if len(parts) >= 4:
                changed[os.fsdecode(name)] = parts[3]
        return changed

    def commit_on(
        self,
        base: str,
        files: Mapping[str, bytes],
        message: str,
        *,
        author: tuple[str, str],
    ) -> str:
        """A commit whose parent is ``base`` and whose tree is ``base``'s with ``files``
        replaced; nothing is checked out and no ref moves (git plumbing only)."""
        if not files:
            raise ValueError("commit_on needs at least one file")
        with tempfile.TemporaryDirectory(prefix="imageupdater-index-") as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch, "index"))}
            self._ok(["read-tree", base], "cannot prepare the commit", env=index)
            modes = self._ok(
                ["ls-files", "-s", "-z", "--", *files], "cannot read modes", env=index
            ).stdout
            mode_of = {}
            for entry in modes.split(b"\0"):
                meta, _, name = entry.partition(b"\t")
                if meta:
                    mode_of[os.fsdecode(name)] = meta.split(b" ")[0].decode("ascii")
            lines = []
            for rel, data in files.items():
                blob = self._ok(
                    ["hash-object", "-w", "--stdin"], f"cannot store {rel}", stdin=data
                ).text
                lines.append(f"{mode_of.get(rel, '100644')} {blob}\t{rel}")
            self._ok(
                ["update-index", "--index-info"],
                "cannot stage the edited files",
                stdin=("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"),
                env=index,
            )
            tree = self._ok(["write-tree"], "cannot write the commit tree", env=index).text
        return self._ok(
            ["commit-tree", tree, "-p", base],
            "cannot create the commit",
            stdin=_normalise_message(message).encode("utf-8"),
            env=self._identity_env(author),
        ).text

    def push_bot_branches(
        self, updates: Sequence[BranchUpdate], remote: str = "origin"
    ) -> dict[str, str | None]:
        """Force-push (or delete) bot branches in one ``git push``; ``{branch: error}``.

        Only branches under ``imageupdater/`` may be forced. Each ref carries a lease on the
        sha we last saw (or on its absence), so a commit a human pushed meanwhile is never
        overwritten: that ref is rejected and reported, the others go through. The refspecs
        have no ``+``: a ``+`` would force the ref whatever its lease says.
        """
        if not updates:
            return {}
        args = ["push", "--porcelain", "--no-follow-tags", "--recurse-submodules=no"]
        for update in updates:
            _check_bot_prefix(update.branch)
            args.append(f"--force-with-lease=refs/heads/{update.branch}:{update.expected or ''}")
        args.extend(["--", remote])
        for update in updates:
            source = update.new or ""
            args.append(
                f"{source}:refs/heads/{update.branch}" if source else f":refs/heads/{update.branch}"
            )
        done = self._git(args, timeout=self.network_timeout)
        results: dict[str, str | None] = {}
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            flag, _, rest = line.partition("\t")
            refs, _, summary = rest.partition("\t")
            ref = refs.rpartition(":")[2].removeprefix("refs/heads/")
            if flag in ("*", "+", "-", " ", "=") and ref:
                results[ref] = None
            elif flag == "!" and ref:
                results[ref] = _redact(summary) or "rejected"
        if not results and not done.ok:
            raise _network_error(done, f"push to {_redact(remote)}")
        for update in updates:
            results.setdefault(update.branch, "not pushed")
        return results

    # ---------------------------------------------------------------- internals

    def _git(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> _Done:
        merged = {**self.env, **env} if env else self.env
        return _run_git(args, cwd=cwd or self.root, stdin=stdin, env=merged, timeout=timeout)

    def _ok(
        self,
        args: Sequence[str],
        what: str,
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> _Done:
        done = self._git(args, cwd=cwd, stdin=stdin, env=env)
        if not done.ok:
            raise GitError(done.failure(what or "git failed"))
        return done

    def _head_or_none(self) -> str | None:
        done = self._git(["rev-parse", "--verify", "-q", "HEAD^{commit}"])
        return done.text if done.ok else None

    def _relative(self, paths: Sequence[Path]) -> list[str]:
        """Repository-relative POSIX names; symlinked directories are resolved, the file not."""
        root = self.root.resolve()
        names = []
        for path in paths:
            full = Path(os.path.normpath(self.root / path))
            full = full.parent.resolve() / full.name
            try:
                rel = full.relative_to(root)
            except ValueError:
                raise GitError(f"{path} is outside the work tree {self.root}") from None
            if not rel.parts or rel.parts[0] == ".git":
                raise GitError(f"{path} is not a file of the work tree {self.root}")
            names.append(rel.as_posix())
        return names

    def _config(self, key: str) -> str | None:
        done = self._git(["config", "--get", key])
        return done.text if done.ok else None

    def _target_branch(self, branch: str | None, remote: str) -> str:
        if remote.startswith("-") or not remote:
            raise GitError(f"invalid remote name {_redact(remote)!r}")
        if branch is None:
            current = self.current_branch()
            if current is None:
                raise GitError("HEAD is detached: name the branch to push to")
            merge = self._config(f"branch.{current}.merge")
            tracks = self._config(f"branch.{current}.remote") == remote
            branch = merge.removeprefix("refs/heads/") if tracks and merge else current
        if not self._git(["check-ref-format", f"refs/heads/{branch}"]).ok:
            raise GitError(f"invalid branch name {branch!r}")
        return branch

    def _identity_env(
        self, identity: tuple[str, str] | None, roles: Sequence[str] = ("AUTHOR", "COMMITTER")
    ) -> dict[str, str]:
        """Environment naming ``roles`` where given or where git would otherwise not know them."""
        env: dict[str, str] = {}
        for role in roles:
            name, email = identity or FALLBACK_IDENTITY
            if identity is None:
                probe = ["-c", "user.useConfigOnly=true", "var", f"GIT_{role}_IDENT"]
                if self._git(probe).ok:
                    continue
            env[f"GIT_{role}_NAME"] = name
            env[f"GIT_{role}_EMAIL"] = email
        return env

    def _is_ancestor(self, ancestor: str, descendant: str) -> bool:
        done = self._git(["merge-base", "--is-ancestor", ancestor, descendant])
        if done.returncode not in (0, 1):
            raise GitError(done.failure("cannot compare commits"))
        return done.ok

    def _fetch(self, branch: str, remote: str) -> str:
        """Fetch one branch into a private ref (FETCH_HEAD is shared with the user's fetches)."""
        ref = f"refs/imageupdater/sync/{uuid.uuid4().hex}"
        done = self._git(
            [
                "fetch",
                "--no-tags",
                "--recurse-submodules=no",
                "--",
                remote,
                f"+refs/heads/{branch}:{ref}",
            ],
            timeout=self.network_timeout,
        )
        try:
            if not done.ok:
                raise _network_error(done, f"fetch of {_redact(remote)} {branch}")
            return self._ok(["rev-parse", "--verify", f"{ref}^{{commit}}"], "fetch failed").text
        finally:
            self._git(["update-ref", "-d", ref])

    def _rebase_elsewhere(
        self, old: str, upstream: str, where: str, committer: tuple[str, str] | None
    ) -> str:
        """Rebase ``old`` onto ``upstream`` in a scratch worktree; the new tip's sha."""
        holder = Path(tempfile.mkdtemp(prefix="imageupdater-sync-"))
        scratch = holder / "worktree"
        env = {"GIT_LFS_SKIP_SMUDGE": "1", **self._identity_env(committer, ("COMMITTER",))}
        try:
            self._ok(
                ["worktree", "add", "--detach", str(scratch), old],
                "cannot create a scratch worktree",
                env=env,
            )
            done = self._git(["rebase", upstream], cwd=scratch, env=env)
            if done.ok:
                return self._ok(["rev-parse", "HEAD"], "", cwd=scratch).text
            stopped = self._git(["rev-parse", "-q", "--verify", "REBASE_HEAD"], cwd=scratch)
            if not stopped.ok:
                raise GitError(done.failure(f"cannot rebase onto {where}"))
            unmerged = self._git(["diff", "--name-only", "-z", "--diff-filter=U"], cwd=scratch)
            paths = sorted(os.fsdecode(p) for p in unmerged.stdout.split(b"\0") if p)
            self._git(["rebase", "--abort"], cwd=scratch)
            commit = stopped.text
            raise RebaseConflict(
                f"local commit {commit[:12]} does not apply on top of {where}: "
                f"conflict in {', '.join(paths) or 'the work tree'}",
                commit=commit,
                paths=paths,
            )
        finally:
            removed = self._git(["worktree", "remove", "--force", str(scratch)])
            shutil.rmtree(holder, ignore_errors=True)
            if not removed.ok and scratch.exists():
                _log.warning("%s", removed.failure("cannot remove the scratch worktree"))

    def _move_head(self, old: str, new: str, reason: str) -> None:
        """Move HEAD (and its branch) from ``old`` to ``new`` like ``git checkout`` would.

        Index and work tree take ``new``'s content where ``old`` and ``new`` differ and keep
        every local change elsewhere; a local change in the way aborts before anything is
        touched. The ref moves only if it still points at ``old``.
        """
        self._git(["update-index", "-q", "--refresh"])  # stale stat data looks like an edit
        done = self._git(["read-tree", "-m", "-u", old, new])
        if not done.ok:
            raise WorkTreeConflict(
                f"local changes are in the way of moving to {new[:12]}; commit or stash "
                f"them: {done.detail()}"
            )
        moved = self._git(["update-ref", "-m", reason, "HEAD", new, old])
        if not moved.ok:
            self._git(["read-tree", "-m", "-u", new, old])
            raise GitError(moved.failure("HEAD moved meanwhile; it was left where it is"))


def _normalise_message(message: str) -> str:
    """Trailing spaces and surrounding blank lines removed, one final newline (git's style)."""
    lines = [line.rstrip() for line in message.strip("\n").splitlines()]
    return "\n".join(lines).strip("\n") + "\n"
