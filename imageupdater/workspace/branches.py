"""Bot-branch plumbing for pull-request mode.

PR mode never checks anything out: it fetches the base and the bot branches into a private
ref namespace, builds commits with plumbing on a scratch index, and force-pushes only
branches under :data:`BOT_BRANCH_PREFIX`, each with a lease.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from imageupdater.errors import GitError
from imageupdater.workspace._core import _Repository
from imageupdater.workspace._git import _network_error, _normalise_message, _redact

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


class _BotBranches(_Repository):
    """PR-mode plumbing of :class:`~imageupdater.workspace.Workspace`."""

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
