"""Deliver a plan as pull requests: one deterministic branch and PR per grouping key (SPEC §6).

Git and the forge are the whole state, so a run can be repeated, interrupted or lost:

1. **Fetch** the base branch and every ``imageupdater/…`` branch in one round trip.
2. **Build** each group's commit with plumbing (the base tree with the edited blobs, one
   commit on top of the base), without checking anything out. A branch whose single bot
   commit already holds exactly these blobs is left as it is, so a re-run pushes nothing.
3. **Ask the forge** (threads) for the open bot PRs once, and for the closed PRs of a branch
   only when it has no open one: a PR a human closed (or merged, then reverted) with the
   same target versions is a "no", so that version is not proposed again.
4. **Push** every changed branch in one ``git push``, each ref leased on the sha fetched in
   step 1, so a human's commit pushed meanwhile is never overwritten. A bot branch that
   already carries a human's commit is left alone and reported.
5. **Open or update** the PRs (threads). A branch pushed by a run that then failed to open
   its PR is simply picked up here next time: the branch is unchanged, the PR is missing.
6. **Close** open bot PRs nobody needs any more (the base has the version, the workload is
   pinned, frozen or no longer annotated, the line marker is gone) with a comment, then
   delete their branches in one push. Never on doubt: a registry error, an invalid policy or
   an unreadable file for the PR's workloads or files keeps it open, because an outage is
   not "nothing to update".

Line-marker edits (SPEC §2.2) are grouped like container updates: a marker inside a
Kubernetes object has that object's key (so it shares the PR of the object's containers),
one outside any object (Helm values, a kustomization) has its file's path as key.

Each PR body ends with an HTML comment carrying the key, files and target versions, so the
next run can read what a PR proposes (and whether imageupdater itself closed it) from the
forge alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from imageupdater.engine import Decision, FileChange, MarkerEdit, Plan
from imageupdater.errors import GitError, ImageUpdaterError
from imageupdater.forge import Forge, PullRequest
from imageupdater.model import Grouping
from imageupdater.report import ErrorEntry, Report, Skip, Update
from imageupdater.templates import (
    DEFAULT_PR_BODY_TEMPLATE,
    DEFAULT_PR_TITLE_TEMPLATE,
    commit_message,
    pr_text,
)
from imageupdater.workspace import (
    BOT_BRANCH_PREFIX,
    FALLBACK_IDENTITY,
    BranchUpdate,
    Workspace,
)

MARKER = re.compile(r"<!-- imageupdater: (\{.*?\}) -->", re.DOTALL)

#: skip reasons that say nothing about whether an update is still wanted
_DOUBT = frozenset({"registry-error", "invalid-policy", "unsupported-value"})
_FILE_DOUBT = frozenset({"unparseable-file", "ignored-file"})

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PRSettings:
    base: str | None = None  # default: the checkout's current branch
    grouping: Grouping = "workload"
    automation: str | None = None  # adds a level to branch names: imageupdater/<automation>/
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    title_template: str | None = None
    body_template: str | None = None
    commit_template: str | None = None
    author: tuple[str, str] = FALLBACK_IDENTITY
    remote: str = "origin"
    workers: int = 8


@dataclass(slots=True)
class Group:
    key: str
    branch: str
    decisions: list[Decision]
    marker_edits: list[MarkerEdit] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    # filled in while deciding
    open_pr: PullRequest | None = None
    commit: str | None = None  # the sha to push, or None when the branch is already right
    verdict: str = "deliver"  # deliver | declined | human | error
    detail: str = ""
    error: ImageUpdaterError | None = None


def git_blob_sha(data: bytes) -> str:
    """The object id git gives ``data`` as a blob, without asking git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def slug(key: str) -> str:
    """A branch-name component for a key: readable, one level, no characters git refuses."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", key).strip("-.").lower()
    text = re.sub(r"\.{2,}", ".", text).removesuffix(".lock")
    return text or "all"


def branch_prefix(settings: PRSettings) -> str:
    if settings.automation:
        return f"{BOT_BRANCH_PREFIX}{slug(settings.automation)}/"
    return BOT_BRANCH_PREFIX


def group_key(item: Decision | MarkerEdit, grouping: Grouping) -> str:
    """The PR a container update or a line-marker edit belongs to.

    ``workload``: the enclosing Kubernetes object (``Kind/namespace/name``), so a marker
    inside a Deployment shares the Deployment's PR; without one (Helm values, a
    kustomization), the file's path. ``image``: the repository. ``all``: one PR.
    """
    if grouping == "all":
        return "all"
    if isinstance(item, MarkerEdit):
        if grouping == "image":
            return item.update.image
        return item.marker.workload or item.marker.file
    if grouping == "image":
        return item.target.ref.name
    return item.target.workload or item.target.file


def marker(group: Group, *, closed: bool = False) -> str:
    data: dict[str, Any] = {
        "key": group.key,
        "files": sorted(group.files),
        "updates": sorted(_targets(group.updates)),
    }
    if closed:
        data["closed"] = True
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).replace(">", "\\u003e")
    return f"<!-- imageupdater: {text} -->"


def read_marker(body: str) -> dict[str, Any] | None:
    found = MARKER.search(body or "")
    if found is None:
        return None
    try:
        data = json.loads(found.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _targets(updates: Iterable[Update]) -> list[list[str]]:
    return [[u.workload or u.file, u.container or "-", u.to_tag] for u in updates]


def _parallel(items: Sequence[T], work: Callable[[T], R], workers: int) -> list[R]:
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(work, items))


class PullRequestDelivery:
    """One PR-mode run against one checkout and one forge."""

    def __init__(
        self, plan: Plan, workspace: Workspace, forge: Forge, settings: PRSettings
    ) -> None:
        self.plan = plan
        self.report = plan.report
        self.workspace = workspace
        self.forge = forge
        self.settings = settings
        self.prefix = branch_prefix(settings)
        self.base = ""
        self.base_sha = ""
        self.remote_branches: dict[str, str] = {}

    # ------------------------------------------------------------------ the run

    def run(self) -> Report:
        base = self.settings.base or self.workspace.current_branch()
        if base is None:
            raise GitError("HEAD is detached: name the base branch with --branch")
        self.base = base
        self.base_sha, self.remote_branches = self.workspace.fetch_bot_branches(
            base, self.prefix, self.settings.remote
        )
        groups = self._groups()
        open_prs = self.forge.list_open(base=base, prefix=self.prefix)
        by_head: dict[str, PullRequest] = {}
        for pr in sorted(open_prs, key=lambda pr: pr.number):
            by_head.setdefault(pr.head, pr)
        for group in groups:
            group.open_pr = by_head.get(group.branch)
        _parallel(groups, self._decide, self.settings.workers)
        self._push(groups)
        results = _parallel(
            [g for g in groups if g.verdict == "deliver"], self._publish, self.settings.workers
        )
        self.report.pull_requests.extend(r for r in results if r is not None)
        wanted = {g.branch for g in groups}
        self._close_obsolete([pr for head, pr in by_head.items() if head not in wanted])
        self._account(groups)
        self.report.pull_requests.sort(key=lambda row: (row.get("branch", ""), row["number"]))
        return self.report

    # ------------------------------------------------------------------ groups

    def _groups(self) -> list[Group]:
        by_key: dict[str, Group] = {}

        def group_of(key: str) -> Group:
            if key not in by_key:
                by_key[key] = Group(key, self.prefix + slug(key), [])
            return by_key[key]

        for decision in self.plan.decisions:
            group_of(group_key(decision, self.settings.grouping)).decisions.append(decision)
        for edit in self.plan.marker_edits:
            group_of(group_key(edit, self.settings.grouping)).marker_edits.append(edit)
        _disambiguate(list(by_key.values()))
        groups = sorted(by_key.values(), key=lambda g: g.branch)
        changes = {c.relpath: c for c in self.plan.changes}
        base_blobs = self.workspace.blobs_at(self.base_sha, sorted(changes))
        stale = {
            rel
            for rel, change in changes.items()
            if base_blobs.get(rel) != git_blob_sha(change.before)
        }
        for rel in sorted(stale):
            message = f"{rel} differs from {self.base} on the remote; pull, then run again"
            self.report.add_error(ErrorEntry("git", message, file=rel))
        for group in groups:
            rendered: list[FileChange] = self.plan.render_subset(
                group.decisions, group.marker_edits
            )
            group.files = {c.relpath: c.after for c in rendered}
            files = set(group.files)
            group.updates = [u for u in self.report.updates if self._in_group(u, group)]
            if not group.files or not group.updates:
                group.verdict = "skip"  # the file could not be edited; already reported
            elif files & stale:
                group.verdict, group.detail = "error", "the checkout is not at the remote base"
        return groups

    def _in_group(self, update: Update, group: Group) -> bool:
        if update.container is None:  # a line marker's row
            return any(edit.update == update for edit in group.marker_edits)
        return any(
            d.target.file == update.file
            and d.target.scalar.line == update.line
            and d.target.container == update.container
            for d in group.decisions
        )

    # ------------------------------------------------------------------ deciding

    def _decide(self, group: Group) -> None:
        if group.verdict != "deliver":
            return
        try:
            self._decide_one(group)
        except ImageUpdaterError as exc:
            group.verdict, group.error = "error", exc

    def _decide_one(self, group: Group) -> None:
        existing = self.remote_branches.get(group.branch)
        if existing is not None:
            commits = self.workspace.branch_commits(self.base_sha, existing)
            email = self.settings.author[1]
            foreign = [c for c in commits if c.author_email != email or c.committer_email != email]
            if foreign or len(commits) > 1:
                group.verdict = "human"
                group.detail = (
                    f"branch {group.branch} has a commit by someone else "
                    f"({(foreign or commits)[0].sha[:12]}); left alone"
                )
                return
            if commits and len(commits[0].parents) == 1:
                have = self.workspace.changed_blobs(commits[0].parents[0], existing)
                want = {rel: git_blob_sha(data) for rel, data in group.files.items()}
                if have == want:
                    group.commit = None
                    self._check_declined(group)
                    return
        self._check_declined(group)
        if group.verdict != "deliver":
            return
        message = commit_message(group.updates, self.settings.commit_template)
        group.commit = self.workspace.commit_on(
            self.base_sha, group.files, message, author=self.settings.author
        )

    def _check_declined(self, group: Group) -> None:
        """A closed PR (not closed by us) for exactly these versions is a human's "no"."""
        if group.open_pr is not None:
            return
        wanted = sorted(_targets(group.updates))
        for pr in self.forge.list_closed(head=group.branch, base=self.base):
            data = read_marker(pr.body)
            if data is None or data.get("closed"):
                continue
            if data.get("updates") == wanted:
                how = "merged and later reverted" if pr.state == "merged" else "closed unmerged"
                group.verdict = "declined"
                group.detail = f"PR #{pr.number} with these versions was {how}"
                return

    # ------------------------------------------------------------------ pushing

    def _push(self, groups: Sequence[Group]) -> None:
        pushing = [g for g in groups if g.verdict == "deliver" and g.commit is not None]
        updates = [
            BranchUpdate(g.branch, g.commit, self.remote_branches.get(g.branch)) for g in pushing
        ]
        try:
            results = self.workspace.push_bot_branches(updates, self.settings.remote)
        except ImageUpdaterError as exc:
            for group in pushing:
                group.verdict, group.error = "error", exc
            return
        for group in pushing:
            problem = results.get(group.branch)
            if problem is not None:
                group.verdict = "error"
                group.error = GitError(f"push of {group.branch} failed: {problem}")
            else:
                self.report.pushed = True

    # ------------------------------------------------------------------ publishing

    def _title_body(self, group: Group) -> tuple[str, str]:
        title = pr_text(
            group.updates, self.settings.title_template, DEFAULT_PR_TITLE_TEMPLATE, "title"
        )
        title = " ".join(title.split())[:250] or f"Update {group.key}"
        body = pr_text(group.updates, self.settings.body_template, DEFAULT_PR_BODY_TEMPLATE, "body")
        return title, f"{body}\n\n{marker(group)}\n"

    def _publish(self, group: Group) -> dict[str, Any] | None:
        try:
            title, body = self._title_body(group)
            pr = group.open_pr
            if pr is None:
                pr = self.forge.open(
                    head=group.branch,
                    base=self.base,
                    title=title,
                    body=body,
                    labels=self.settings.labels,
                    reviewers=self.settings.reviewers,
                )
                action = "opened"
                if pr.title != title or pr.body.strip() != body.strip():
                    # the forge answered "duplicate" and handed back an older PR: reuse it
                    pr = self.forge.update(pr, title=title, body=body)
                    action = "updated"
            elif pr.title != title or pr.body.strip() != body.strip():
                pr = self.forge.update(pr, title=title, body=body)
                action = "updated"
            else:
                action = "updated" if group.commit is not None else "unchanged"
        except ImageUpdaterError as exc:
            group.verdict, group.error = "error", exc
            return None
        return {"number": pr.number, "url": pr.url, "action": action, "branch": group.branch}

    # ------------------------------------------------------------------ closing

    def _close_obsolete(self, prs: Sequence[PullRequest]) -> None:
        closing: list[tuple[PullRequest, str]] = []
        for pr in sorted(prs, key=lambda pr: pr.number):
            data = read_marker(pr.body)
            if data is None:
                continue  # a PR on a bot branch we did not write: not ours to close
            reason = self._obsolete_reason(data)
            if reason is None:
                continue
            branch_sha = self.remote_branches.get(pr.head)
            if branch_sha is not None and self._human_touched(branch_sha):
                message = f"PR #{pr.number} is no longer needed, but {pr.head} has a human's commit"
                self.report.add_error(ErrorEntry("git", message + "; left open"))
                continue
            closing.append((pr, reason))

        def close(item: tuple[PullRequest, str]) -> dict[str, Any] | ImageUpdaterError:
            pr, reason = item
            comment = f"imageupdater closes this pull request: {reason}."
            data = read_marker(pr.body) or {}
            body = MARKER.sub("", pr.body).rstrip() + "\n\n" + _closed_marker(data) + "\n"
            try:
                self.forge.close(pr, comment=comment, body=body)
            except ImageUpdaterError as exc:
                return exc
            return {"number": pr.number, "url": pr.url, "action": "closed", "branch": pr.head}

        deletions: list[BranchUpdate] = []
        for (pr, _), outcome in zip(
            closing, _parallel(closing, close, self.settings.workers), strict=True
        ):
            if isinstance(outcome, ImageUpdaterError):
                self.report.add_error(ErrorEntry(outcome.kind, str(outcome)))
                continue
            self.report.pull_requests.append(outcome)
            if pr.head in self.remote_branches:
                deletions.append(BranchUpdate(pr.head, None, self.remote_branches[pr.head]))
        try:
            results = self.workspace.push_bot_branches(deletions, self.settings.remote)
        except ImageUpdaterError as exc:
            self.report.add_error(ErrorEntry(exc.kind, f"branches not deleted: {exc}"))
            return
        for branch, problem in sorted(results.items()):
            if problem is not None:
                self.report.add_error(ErrorEntry("git", f"cannot delete {branch}: {problem}"))

    def _human_touched(self, sha: str) -> bool:
        commits = self.workspace.branch_commits(self.base_sha, sha)
        email = self.settings.author[1]
        return len(commits) > 1 or any(
            c.author_email != email or c.committer_email != email for c in commits
        )

    def _obsolete_reason(self, data: dict[str, Any]) -> str | None:
        """Why the PR described by ``data`` is no longer needed; None when in doubt."""
        files = {str(f) for f in data.get("files", [])}
        # what the PR updates: workloads, and the files of line markers outside any workload
        subjects = {str(u[0]) for u in data.get("updates", []) if u}
        for error in self.report.errors:
            if error.file in files:
                return None
        rows: list[Skip] = []
        for skip in self.report.skipped:
            if skip.file in files and skip.workload is None and skip.reason in _FILE_DOUBT:
                return None
            if (skip.workload or skip.file) in subjects:
                if skip.reason in _DOUBT:
                    return None
                rows.append(skip)
        if any((u.workload or u.file) in subjects for u in self.report.updates):
            # the workload is updated through another key (grouping changed): superseded
            return "superseded by another pull request"
        if not rows:
            return "its workloads and files are no longer annotated or marked for updates"
        reasons = sorted({_explain(skip) for skip in rows})
        return "; ".join(reasons)

    # ------------------------------------------------------------------ reporting

    def _account(self, groups: Sequence[Group]) -> None:
        """Declined updates become ``declined`` skips; failed ones stay pending with their
        error (the next run completes them); unproposable ones were reported already."""
        dropped: set[Update] = set()
        for group in groups:
            if group.verdict == "deliver":
                continue
            if group.verdict in ("declined", "human"):
                for decision in group.decisions:
                    self.report.skipped.append(decision.target.skip("declined", group.detail))
                for edit in group.marker_edits:
                    if edit.update in group.updates:
                        self.report.skipped.append(edit.skip("declined", group.detail))
                dropped.update(group.updates)
            elif group.error is not None:
                # still pending: the error (exit 1) says why, the next run completes it
                self.report.add_error(ErrorEntry(group.error.kind, str(group.error)))
            else:
                dropped.update(group.updates)
        self.report.updates[:] = [u for u in self.report.updates if u not in dropped]
        self.report.sort()


def _disambiguate(groups: Sequence[Group]) -> None:
    """Keys that slug to the same branch (``a/b`` and ``a.b``) get a short hash each, so two
    groups can never share, and overwrite, one branch."""
    seen: dict[str, list[Group]] = {}
    for group in groups:
        seen.setdefault(group.branch, []).append(group)
    for clashing in seen.values():
        if len(clashing) > 1:
            for group in clashing:
                digest = hashlib.sha256(group.key.encode()).hexdigest()[:8]
                group.branch = f"{group.branch}-{digest}"


def _closed_marker(data: dict[str, Any]) -> str:
    text = json.dumps({**data, "closed": True}, sort_keys=True, separators=(",", ":"))
    return "<!-- imageupdater: " + text.replace(">", "\\u003e") + " -->"


def _explain(skip: Skip) -> str:
    if skip.container:
        who = f"{skip.workload} {skip.container}"
    elif skip.line is not None:  # a line marker
        where = f"the marker at {skip.file}:{skip.line}"
        who = f"{where} in {skip.workload}" if skip.workload else where
    else:
        who = str(skip.workload or skip.file)
    if skip.reason == "up-to-date":
        return f"{who} is already up to date on the base branch"
    if skip.reason == "pinned":
        return f"{who} is pinned ({skip.detail})"
    if skip.reason == "frozen":
        return f"{who} is frozen ({skip.detail})"
    return f"{who}: {skip.reason} ({skip.detail})" if skip.detail else f"{who}: {skip.reason}"


def deliver_pr(plan: Plan, workspace: Workspace, forge: Forge, settings: PRSettings) -> Report:
    """Open, update and close PRs so the forge matches ``plan``; see the module docstring."""
    return PullRequestDelivery(plan, workspace, forge, settings).run()
