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
from imageupdater.discovery import load_named_policies
from imageupdater.engine import Plan, make_plan, select_from_registry
from imageupdater.errors import ConfigError, GitError, ImageUpdaterError, PolicyError
from imageupdater.migrate import MigrationPlan, plan_migration
from imageupdater.model import ImageMetadata
from imageupdater.policy import metadata_policy, parse_policy
from imageupdater.policy.explain import explain as explain_tags
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


def apply(root: Path, options: app.Options, request: ApplyRequest) -> Report:
    root = _checked_root(root)
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
    if policies_dir is not None:
        book = load_named_policies(_checked_root(policies_dir), Report())
        policy = book.parse(expression)
        if image is None and not tags and expression.strip().startswith("@"):
            namespace, _, name = expression.strip()[1:].partition("/")
            image = book.find(namespace, name).image
    else:
        policy = parse_policy(expression)
    if image is None:
        if metadata_policy(policy) is not None or getattr(policy, "tracks_digest", False):
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
    result = plan_migration(_checked_root(root))
    if write:
        result.write()
    return result


def error_report(exc: ImageUpdaterError) -> Report:
    report = Report()
    report.add_error(ErrorEntry(exc.kind, str(exc)))
    return report
