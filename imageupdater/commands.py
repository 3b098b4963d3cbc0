"""One plain function per verb; the CLI parses flags and renders, these do the work.

Every function returns data (a `Plan`, a `Report`, a list of tags) and raises only
`ImageUpdaterError`s, so the same verbs serve the CLI, the daemon and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imageupdater import app
from imageupdater.delivery import CommitSettings, deliver
from imageupdater.engine import Plan, make_plan
from imageupdater.errors import ConfigError, GitError, ImageUpdaterError
from imageupdater.policy import parse_policy
from imageupdater.prmode import Grouping, PRSettings, deliver_pr
from imageupdater.registry import parse_reference
from imageupdater.report import ErrorEntry, Report
from imageupdater.workspace import Workspace


def _checked_root(root: Path) -> Path:
    if not root.is_dir():
        raise ConfigError(f"not a directory: {root}")
    return root.resolve()


def plan(root: Path, options: app.Options, progress: Callable[[str], None] | None = None) -> Plan:
    root = _checked_root(root)
    with app.registry_client(options) as client:
        return make_plan(root, client, options.clock(), workers=options.workers, progress=progress)


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    commit: bool | None = None  # None: commit when the directory is inside a Git repository
    push: bool = False
    branch: str | None = None
    template: str | None = None
    mode: str = "commit"  # or "pr"
    pr: PullRequestRequest | None = None


@dataclass(frozen=True, slots=True)
class PullRequestRequest:
    forge: str
    repo: str
    url: str | None = None
    grouping: Grouping = "workload"
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    automation: str | None = None


def apply(root: Path, options: app.Options, request: ApplyRequest) -> Report:
    root = _checked_root(root)
    if request.mode == "pr":
        return apply_pr(root, options, request)
    if request.mode != "commit":
        raise ConfigError(f"unknown mode {request.mode!r}; expected commit or pr")
    workspace = Workspace.find(root)
    if request.commit and workspace is None:
        raise ConfigError(f"--commit needs a Git repository; {root} is not in one")
    commit = workspace is not None and request.commit is not False
    settings = CommitSettings(
        commit=commit,
        push=request.push and commit,
        branch=request.branch,
        template=request.template,
    )
    with app.registry_client(options) as client:

        def fresh_plan() -> Plan:
            return make_plan(root, client, options.clock(), workers=options.workers)

        try:
            return deliver(fresh_plan, workspace if commit else None, settings)
        except GitError as exc:
            report = Report()
            report.add_error(ErrorEntry(exc.kind, str(exc)))
            return report


def list_tags(image: str, options: app.Options) -> list[str]:
    ref = parse_reference(image)
    with app.registry_client(options) as client:
        return client.list_tags(ref)


def policy_select(expression: str, tags: Sequence[str], current: str | None) -> str | None:
    """The tag the policy would move to, or None when there is nothing newer."""
    ranking = parse_policy(expression).rank(list(tags), current)
    return ranking.upgrades[0] if ranking.upgrades else None


def error_report(exc: ImageUpdaterError) -> Report:
    report = Report()
    report.add_error(ErrorEntry(exc.kind, str(exc)))
    return report


def apply_pr(root: Path, options: app.Options, request: ApplyRequest) -> Report:
    """PR mode: nothing in the checkout changes; branches and PRs carry the updates."""
    root = _checked_root(root)
    workspace = Workspace.find(root)
    if workspace is None:
        raise ConfigError(f"--mode pr needs a Git repository; {root} is not in one")
    if request.pr is None:
        raise ConfigError("--mode pr needs --forge and --forge-repo")
    settings = PRSettings(
        base=request.branch,
        grouping=request.pr.grouping,
        automation=request.pr.automation,
        labels=request.pr.labels,
        reviewers=request.pr.reviewers,
        commit_template=request.template,
    )
    forge, http = app.forge(request.pr.forge, request.pr.url, request.pr.repo)
    with http, app.registry_client(options) as client:
        plan = make_plan(root, client, options.clock(), workers=options.workers)
        try:
            return deliver_pr(plan, workspace, forge, settings)
        except ImageUpdaterError as exc:
            plan.report.add_error(ErrorEntry(exc.kind, str(exc)))
            return plan.report
