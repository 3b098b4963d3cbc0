"""One plain function per verb; the CLI parses flags and renders, these do the work.

Every function returns data (a `Plan`, a `Report`, a list of tags) and raises only
`ImageUpdaterError`s, so the same verbs serve the CLI, the daemon and the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imageupdater import app, discovery, yamledit
from imageupdater.config import Automation, choose, load_automations
from imageupdater.discovery import load_named_policies
from imageupdater.engine import (
    Decision,
    MarkerEdit,
    Plan,
    make_plan,
    select_from_registry,
    tracks_digest,
)
from imageupdater.errors import ConfigError, GitError, ImageUpdaterError, PolicyError
from imageupdater.model import ImageMetadata, ImageRef
from imageupdater.policy import metadata_policy, parse_policy
from imageupdater.progress import Progress
from imageupdater.registry import parse_reference
from imageupdater.report import ErrorEntry, Report
from imageupdater.workspace import BOT_BRANCH_PREFIX, FALLBACK_IDENTITY, Workspace

# Delivery, PR mode, holds, drift and migration are imported by the verbs that use them:
# `plan` starts in about a third less time without them (jinja2, the forges, kubernetes).
if TYPE_CHECKING:
    from imageupdater import holdedit
    from imageupdater.drift import DriftReport
    from imageupdater.forge import PullRequest
    from imageupdater.migrate import MigrationPlan
    from imageupdater.model import Grouping


def _checked_root(root: Path) -> Path:
    if not root.is_dir():
        raise ConfigError(f"not a directory: {root}")
    return root.resolve()


def plan(
    root: Path,
    options: app.Options,
    progress: Progress | None = None,
    automation: Automation | None = None,
) -> Plan:
    """What `apply` would do now: with an automation that is suspended or outside its
    change window, nothing (every update becomes a `frozen` row saying why). `progress`
    hears how far the scan has got (`imageupdater.progress`)."""
    root = _checked_root(root)
    history = _history(root)
    now = options.clock()
    if options.state_dir is not None:  # what earlier runs found, parsed and spliced
        discovery.load_memo(options.state_dir)
        yamledit.load_caches(options.state_dir)
    with app.registry_client(options) as client:
        result = make_plan(
            root, client, now, workers=options.workers, progress=progress, history=history
        )
    if options.state_dir is not None:
        discovery.save_memo(options.state_dir)
        yamledit.save_caches(options.state_dir)
    _gate(result, automation, now)
    return result


def _gate(result: Plan, automation: Automation | None, now: datetime) -> None:
    reason = automation.gate(now) if automation is not None else None
    if reason is not None:
        result.hold_back(reason)


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    commit: bool | None = None  # None: commit when the directory is inside a Git repository
    push: bool = False
    branch: str | None = None
    template: str | None = None
    mode: str = "commit"  # or "pr"
    pr: PullRequestRequest | None = None
    automation: Automation | None = None
    author: tuple[str, str] | None = None  # (name, email); None: git's configured identity
    #: extra environment for git (the daemon's credentials; never written to .git/config)
    git_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PullRequestRequest:
    forge: str
    repo: str
    url: str | None = None
    grouping: Grouping = "workload"
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    automation: str | None = None
    token_env: str | None = None  # None: $IMAGEUPDATER_FORGE_TOKEN


def delivery_mode(item: Decision | MarkerEdit, default: str) -> str:
    """The workload's ``imageupdater.io/update`` (``commit`` or ``pr``) wins over the run's;
    a line marker outside any workload goes with the run."""
    wanted = item.marker.update_mode if isinstance(item, MarkerEdit) else item.target.update_mode
    return wanted if wanted in ("commit", "pr") else default


def _modes(plan: Plan, default: str) -> set[str]:
    """The delivery modes the plan's updates ask for."""
    items: list[Decision | MarkerEdit] = [*plan.decisions, *plan.marker_edits]
    return {delivery_mode(item, default) for item in items}


def apply(
    root: Path, options: app.Options, request: ApplyRequest, progress: Progress | None = None
) -> Report:
    """Deliver in the requested mode; workloads that ask for the other mode get it.

    Commit-mode workloads go first: their commit lands on the base branch, so the PR
    branches built afterwards are on top of it and never carry those changes. `progress`
    hears of every scan (a rejected push re-plans: its stages count again from zero).
    """
    from imageupdater.delivery import CommitSettings, deliver

    root = _checked_root(root)
    if request.mode not in ("commit", "pr"):
        raise ConfigError(f"unknown mode {request.mode!r}; expected commit or pr")
    workspace = Workspace.find(root)
    if workspace is not None:
        workspace.env.update(request.git_env)
    if request.commit and workspace is None:
        raise ConfigError(f"--commit needs a Git repository; {root} is not in one")
    commit = workspace is not None and request.commit is not False
    if request.mode == "pr" and (workspace is None or request.pr is None):
        raise ConfigError("--mode pr needs a Git repository, --forge and --forge-repo")
    settings = CommitSettings(
        commit=commit,
        push=(request.push or request.mode == "pr") and commit,
        branch=request.branch,
        template=request.template,
        author=request.author,
    )
    with app.registry_client(options) as client:

        def fresh_plan() -> Plan:
            now = options.clock()
            result = make_plan(
                root, client, now, workers=options.workers, progress=progress, history=workspace
            )
            _gate(result, request.automation, now)
            return result

        gate = request.automation.gate(options.clock()) if request.automation else None
        if gate is not None:
            # Suspended or outside every change window: nothing is committed, and no PR is
            # opened, updated or closed (a held-back plan must not read as "not needed").
            return fresh_plan().report

        latest: list[Plan] = []

        def only(plan: Plan, mode: str) -> Plan:
            if _modes(plan, request.mode) <= {mode}:
                return plan

            def keep(item: Decision | MarkerEdit) -> bool:
                return delivery_mode(item, request.mode) == mode

            return plan.subset(keep, markers=keep)

        def commit_part() -> Plan:
            latest[:] = [fresh_plan()]
            return only(latest[0], "commit")

        report: Report | None = None
        modes: set[str] = set()
        if request.mode == "pr":
            latest.append(fresh_plan())
            modes = _modes(latest[0], "pr")
        if request.mode == "commit" or "commit" in modes:
            try:
                report = deliver(commit_part, workspace if commit else None, settings)
            except GitError as exc:
                report = Report()
                report.add_error(ErrorEntry(exc.kind, str(exc)))
        modes = _modes(latest[0], request.mode) if latest else set()
        if "pr" not in modes and request.mode == "commit":
            assert report is not None
            return report
        pr_plan = fresh_plan() if report is not None else latest[0]
        pr_plan = only(pr_plan, "pr")
        if request.pr is None or workspace is None:
            assert report is not None
            message = "asks for imageupdater.io/update: pr, but no --forge is configured"
            for file in [d.target.file for d in pr_plan.decisions] + [
                m.marker.file for m in pr_plan.marker_edits
            ]:
                report.add_error(ErrorEntry("config", message, file=file))
            return report
        pr_report = _apply_pr(pr_plan, workspace, request)
        return pr_report if report is None else _merge(report, pr_report)


def _apply_pr(plan: Plan, workspace: Workspace, request: ApplyRequest) -> Report:
    """PR mode: nothing in the checkout changes; branches and PRs carry the updates."""
    from imageupdater.prmode import PRSettings, deliver_pr

    assert request.pr is not None
    settings = PRSettings(
        base=request.branch,
        grouping=request.pr.grouping,
        automation=request.pr.automation,
        labels=request.pr.labels,
        reviewers=request.pr.reviewers,
        commit_template=request.template,
        author=request.author or FALLBACK_IDENTITY,
    )
    forge, http = app.forge(
        request.pr.forge, request.pr.url, request.pr.repo, token_env=request.pr.token_env
    )
    with http:
        try:
            return deliver_pr(plan, workspace, forge, settings)
        except ImageUpdaterError as exc:
            plan.report.add_error(ErrorEntry(exc.kind, str(exc)))
            return plan.report


def _merge(first: Report, second: Report) -> Report:
    """One report for a run that delivered some workloads by commit and some by PR."""
    first.updates.extend(second.updates)
    first.skipped.extend(s for s in second.skipped if s not in first.skipped)
    for error in second.errors:
        first.add_error(error)
    first.pushed = first.pushed or second.pushed
    first.pull_requests.extend(second.pull_requests)
    first.sort()
    return first


def list_tags(image: str, options: app.Options) -> list[str]:
    ref = parse_reference(image)
    with app.registry_client(options) as client:
        return client.list_tags(ref)


def policy_select(expression: str, tags: Sequence[str], current: str | None) -> str | None:
    """The tag the policy would move to, or None when there is nothing newer."""
    ranking = parse_policy(expression).rank(list(tags), current)
    return ranking.upgrades[0] if ranking.upgrades else None


@dataclass(frozen=True, slots=True)
class Selection:
    """`policy select` with `--image` and/or `--explain`."""

    selected: str | None
    digest: str | None  # with --image: the selected tag's digest
    current: str | None
    tags: list[str]
    reasons: dict[str, str]  # tag -> why (empty unless explain)


def policy_explain(
    expression: str,
    tags: Sequence[str],
    current: str | None,
    *,
    image: str | None = None,
    options: app.Options | None = None,
    explain: bool = False,
    policies_dir: Path | None = None,
) -> Selection:
    """Select like `policy_select`, from `tags` or from the registry, with reasons.

    `policies_dir`: a checkout whose named policies `@ns/name` may refer to; a named policy
    with `spec.image` (or a Flux ImageRepository) supplies the image when no tags are given.
    """
    from imageupdater.policy.explain import explain as explain_tags

    if policies_dir is not None:
        book = load_named_policies(_checked_root(policies_dir), Report())
        policy = book.parse(expression)
        if image is None and not tags and expression.strip().startswith("@"):
            namespace, _, name = expression.strip()[1:].partition("/")
            image = book.find(namespace, name).image
    else:
        policy = parse_policy(expression)
    if image is None:
        if metadata_policy(policy) is not None or tracks_digest(policy):
            raise PolicyError(f"policy {expression!r} needs the registry: use --image")
        listed = list(tags)
        ranking = policy.rank(listed, current)
        selected = ranking.upgrades[0] if ranking.upgrades else None
        digest = None
        metadata: dict[str, ImageMetadata | None] = {}
    else:
        ref = parse_reference(image)
        current = current if current is not None else ref.tag
        settings = options or app.Options()
        with app.registry_client(settings) as client:
            outcome = select_from_registry(client, ref, policy, current, settings.clock())
        listed, ranking = outcome.tags, outcome.ranking
        selected, digest, metadata = outcome.tag, outcome.digest, outcome.metadata
    reasons = explain_tags(policy, listed, current, ranking, selected, metadata) if explain else {}
    return Selection(selected, digest, current, listed, reasons)


def migrate(root: Path, *, write: bool) -> MigrationPlan:
    """Convert Flux v1 / Keel annotations and Flux v2 policies to native ones (SPEC §2.3)."""
    from imageupdater.migrate import plan_migration

    result = plan_migration(_checked_root(root))
    if write:
        result.write()
    return result


def error_report(exc: ImageUpdaterError) -> Report:
    report = Report()
    report.add_error(ErrorEntry(exc.kind, str(exc)))
    return report


# ------------------------------------------------------------------------- holds, status


def _history(root: Path) -> Workspace | None:
    """The Git work tree for rollback detection; a directory outside Git has no history."""
    try:
        return Workspace.find(root)
    except GitError:
        return None


def pr_of(automation: Automation | None) -> PullRequestRequest | None:
    """The forge settings of an Automation's `update.pr`: what the daemon delivers PRs
    with and `status --config` reads them with."""
    settings = automation.update.pr if automation is not None else None
    if automation is None or settings is None:
        return None
    grouping: Grouping = settings.grouping  # type: ignore[assignment]  # validated on load
    return PullRequestRequest(
        forge=settings.forge,
        repo=settings.repo,
        url=settings.url,
        grouping=grouping,
        labels=settings.labels,
        reviewers=settings.reviewers,
        automation=automation.name,
        token_env=settings.token_env,
    )


def gate_of(config: Path | None, automation: str | None) -> Automation | None:
    if config is None:
        if automation is not None:
            raise ConfigError("--automation needs --config")
        return None
    return choose(load_automations(config), automation, config)


def pin(
    root: Path,
    workload: str,
    delivery: holdedit.Delivery,
    *,
    container: str | None = None,
    tag: str | None = None,
    reason: str | None = None,
    options: app.Options | None = None,
) -> holdedit.HoldResult:
    """Pin (and with `tag` roll back); a registry is asked, with `options`, only for the
    digest of `tag` when the image value pins a digest."""
    from imageupdater import holdedit

    def lookup_digest(ref: ImageRef, wanted: str) -> str | None:
        with app.registry_client(options or app.Options()) as client:
            found = client.manifest(ref, wanted)
        return found.digest if found is not None else None

    return holdedit.run(
        _checked_root(root),
        workload,
        lambda located: holdedit.plan_pin(located, container, tag, reason, lookup_digest),
        delivery,
    )


def unpin(
    root: Path,
    workload: str,
    delivery: holdedit.Delivery,
    now: datetime,
    *,
    container: str | None = None,
    clear_declined: bool = False,
) -> holdedit.HoldResult:
    from imageupdater import holdedit

    return holdedit.run(
        _checked_root(root),
        workload,
        lambda located: holdedit.plan_unpin(located, container, clear_declined, now),
        delivery,
    )


def freeze(
    root: Path,
    workload: str,
    delivery: holdedit.Delivery,
    now: datetime,
    *,
    until: str | None = None,
    reason: str | None = None,
) -> holdedit.HoldResult:
    from imageupdater import holdedit

    return holdedit.run(
        _checked_root(root),
        workload,
        lambda located: holdedit.plan_freeze(located, until, reason, now),
        delivery,
    )


def unfreeze(root: Path, workload: str, delivery: holdedit.Delivery) -> holdedit.HoldResult:
    from imageupdater import holdedit

    return holdedit.run(_checked_root(root), workload, holdedit.plan_unfreeze, delivery)


_STATES = {
    "up-to-date": "up-to-date",
    "frozen": "frozen",
    "pinned": "pinned",
    "declined": "declined",
    "never": "never",
    "no-candidate": "no-candidate",
}


@dataclass(frozen=True, slots=True)
class StatusRow:
    workload: str
    container: str
    image: str | None
    current: str | None
    policy: str | None
    newest: str | None
    state: str
    detail: str
    file: str

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "container": self.container,
            "image": self.image,
            "current": self.current,
            "policy": self.policy,
            "newest": self.newest,
            "state": self.state,
            "detail": self.detail,
        }


@dataclass(slots=True)
class Status:
    rows: list[StatusRow]
    report: Report

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"version": 1, "rows": [r.to_json() for r in self.rows]}
        if self.report.errors:
            document["errors"] = [e.to_json() for e in self.report.errors]
        if self.report.notes:
            document["notes"] = list(self.report.notes)
        return document


def status(
    root: Path,
    options: app.Options,
    pr: PullRequestRequest | None = None,
    base: str | None = None,
    progress: Progress | None = None,
) -> Status:
    """One row per opted-in container: what runs, what the policy allows, and why; with a
    forge, a pending container whose update already waits in an open PR is `pr-open`."""
    result = plan(root, options, progress)
    rows = status_rows(result.report)
    if pr is not None:
        workspace = Workspace.find(_checked_root(root))
        branch = base or (workspace.current_branch() if workspace else None)
        if branch is None:
            raise ConfigError("--forge needs the base branch: use --branch or a Git checkout")
        forge, http = app.forge(pr.forge, pr.url, pr.repo, token_env=pr.token_env)
        with http:
            try:
                rows = mark_open_pull_requests(
                    rows, forge.list_open(base=branch, prefix=BOT_BRANCH_PREFIX)
                )
            except ImageUpdaterError as exc:
                result.report.add_error(ErrorEntry(exc.kind, str(exc)))
    return Status(rows, result.report)


def status_rows(report: Report) -> list[StatusRow]:
    rows = [
        StatusRow(u.workload or "-", u.container or "-", u.image, u.from_tag, u.policy,
                  u.to_tag, "pending", f"{u.from_tag} -> {u.to_tag}", u.file)
        for u in report.updates
    ]  # fmt: skip
    for s in report.skipped:
        if s.workload is None or s.container is None:
            continue
        state = _STATES.get(s.reason, "error")
        newest: str | None = None
        if state == "up-to-date" or (state == "pinned" and s.detail.startswith("pinned to ")):
            newest = s.current
        rows.append(
            StatusRow(s.workload, s.container, s.image, s.current, s.policy, newest, state,
                      s.detail, s.file)
        )  # fmt: skip
    rows.sort(key=lambda r: (r.workload, r.container, r.file))
    return rows


def mark_open_pull_requests(
    rows: Sequence[StatusRow], pulls: Sequence[PullRequest]
) -> list[StatusRow]:
    """Pending rows whose update an open PR of ours already proposes become `pr-open`.

    The PR body's machine-readable marker (written by PR mode) names the workload,
    container and target tag of every update it carries, so no local state is needed.
    A line marker's update is named by its workload (or, outside one, its file) and
    container ``-``; several markers there are told apart by their target.
    """
    from imageupdater.prmode import read_marker

    waiting: dict[tuple[str, str], list[tuple[str, PullRequest]]] = {}
    for pull in pulls:
        data = read_marker(pull.body)
        for item in (data or {}).get("updates", []):
            if isinstance(item, list) and len(item) == 3:
                key = (str(item[0]), str(item[1]))
                waiting.setdefault(key, []).append((str(item[2]), pull))
    marked: list[StatusRow] = []
    for row in rows:
        subject = row.file if row.workload == "-" else row.workload
        proposals = waiting.get((subject, row.container), [])
        if row.state == "pending" and proposals:
            exact = [p for p in proposals if p[0] == row.newest]
            to_tag, pull = (exact or proposals)[-1]
            detail = f"PR #{pull.number} open: {row.current} -> {to_tag} ({pull.url})"
            row = replace(row, state="pr-open", detail=detail)
        marked.append(row)
    return marked


# ------------------------------------------------------------------------------- drift


def drift(
    root: Path,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
) -> DriftReport:
    """Images in the manifests under `root` versus the workloads of the cluster."""
    from imageupdater.drift import compare as compare_drift
    from imageupdater.kube import Cluster

    root = _checked_root(root)
    cluster = Cluster.connect(kubeconfig=kubeconfig, context=context)
    try:
        return compare_drift(cluster, root, namespace)
    finally:
        cluster.close()
