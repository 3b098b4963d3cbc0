"""The core verbs: plan, apply, tags and policy select."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import click
import typer

from imageupdater import commands
from imageupdater.cli import render
from imageupdater.cli.options import (
    DEFAULT_CACHE_TTL,
    AutomationOpt,
    CacheTtlOpt,
    ConfigOpt,
    DetailedExitOpt,
    DirArg,
    Format,
    FormatOpt,
    InsecureOpt,
    NoProgressOpt,
    NowOpt,
    RefreshOpt,
    RegistryConfigOpt,
    StateDirOpt,
    VerboseOpt,
    cli,
    fail,
    make_options,
    policy_cli,
    registry_cache,
)
from imageupdater.cli.pr_options import (
    ForgeOpt,
    ForgeRepoOpt,
    ForgeUrlOpt,
    GroupingOpt,
    LabelOpt,
    ReviewerOpt,
    pr_request,
)
from imageupdater.cli.progress import scan_progress
from imageupdater.errors import ImageUpdaterError, PolicyError


@cli.command()
def plan(
    directory: DirArg = Path("."),
    fmt: FormatOpt = Format.text,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff.")] = False,
    detailed_exitcode: DetailedExitOpt = False,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    state_dir: StateDirOpt = None,
    cache_ttl: CacheTtlOpt = DEFAULT_CACHE_TTL,
    refresh: RefreshOpt = False,
    now: NowOpt = None,
    config: ConfigOpt = None,
    automation: AutomationOpt = None,
    verbose: VerboseOpt = 0,
    no_progress: NoProgressOpt = False,
) -> None:
    """Scan, select and print the updates that apply would make; change nothing."""
    options = make_options(registry_config, insecure_registry, state_dir, now, verbose)
    try:
        gate = commands.gate_of(config, automation)
        with (
            registry_cache(options, cache_ttl, refresh) as cached,
            scan_progress(fmt is Format.text and not no_progress) as progress,
        ):
            result = commands.plan(directory, cached, progress, automation=gate)
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    if fmt is Format.json:
        document = result.report.to_json()
        if diff:
            document["diff"] = "".join(c.unified_diff() for c in result.changes)
        render.print_json(document)
    else:
        if diff:
            render.print_diffs(result.changes)
        render.print_report(result.report, applied=False)
    raise typer.Exit(result.report.exit_code(detailed=detailed_exitcode))


@cli.command()
def apply(
    directory: DirArg = Path("."),
    fmt: FormatOpt = Format.text,
    commit: Annotated[
        bool | None,
        typer.Option("--commit/--no-commit", help="Commit the edits (default inside Git)."),
    ] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push the commit.")] = False,
    branch: Annotated[str | None, typer.Option("--branch", help="Branch to push to.")] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="commit, or pr: a branch and pull request per workload.")
    ] = "commit",
    forge: ForgeOpt = None,
    forge_url: ForgeUrlOpt = None,
    forge_repo: ForgeRepoOpt = None,
    grouping: GroupingOpt = "workload",
    label: LabelOpt = None,
    reviewer: ReviewerOpt = None,
    detailed_exitcode: DetailedExitOpt = False,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    state_dir: StateDirOpt = None,
    cache_ttl: CacheTtlOpt = DEFAULT_CACHE_TTL,
    refresh: RefreshOpt = False,
    now: NowOpt = None,
    config: ConfigOpt = None,
    automation: AutomationOpt = None,
    verbose: VerboseOpt = 0,
    no_progress: NoProgressOpt = False,
) -> None:
    """Make the updates: edit files, commit (inside Git) and optionally push; or open PRs."""
    pr = pr_request(mode, forge, forge_url, forge_repo, grouping, label, reviewer)
    options = make_options(registry_config, insecure_registry, state_dir, now, verbose)
    try:
        gate = commands.gate_of(config, automation)
        request = commands.ApplyRequest(
            commit=commit, push=push, branch=branch, mode=mode, pr=pr, automation=gate
        )
        with (
            registry_cache(options, cache_ttl, refresh) as cached,
            scan_progress(fmt is Format.text and not no_progress) as progress,
        ):
            report = commands.apply(directory, cached, request, progress)
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    if fmt is Format.json:
        render.print_json(report.to_json())
    else:
        render.print_report(report, applied=True)
    raise typer.Exit(report.exit_code(detailed=detailed_exitcode))


@cli.command()
def tags(
    image: Annotated[str, typer.Argument(help="Image repository, e.g. ghcr.io/acme/web.")],
    fmt: FormatOpt = Format.text,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """List an image's tags as the registry returns them."""
    options = make_options(registry_config, insecure_registry, None, None, verbose)
    try:
        listed = commands.list_tags(image, options)
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    if fmt is Format.json:
        render.print_json({"version": 1, "image": image, "tags": listed})
    else:
        for tag in listed:
            print(tag)


def _read_tags(tags: Sequence[str], tags_file: Path | None) -> list[str]:
    listed = list(tags)
    if tags_file is not None:
        try:
            text = sys.stdin.read() if str(tags_file) == "-" else tags_file.read_text()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read: {exc.strerror}", param_hint="--tags-file"
            ) from None
        listed.extend(line.strip() for line in text.splitlines() if line.strip())
    return listed


@policy_cli.command("select")
def policy_select(
    expression: Annotated[str, typer.Argument(help="Policy, e.g. 'semver:^1.2' or 'minor'.")],
    tags: Annotated[list[str] | None, typer.Argument(help="Candidate tags.")] = None,
    current: Annotated[str | None, typer.Option("--current", help="The tag in use now.")] = None,
    tags_file: Annotated[
        Path | None, typer.Option("--tags-file", help="File with one tag per line ('-': stdin).")
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Ask the registry for the tags of IMAGE (its tag, if any, is the current one).",
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Say why each other tag was not selected.")
    ] = False,
    policies_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Checkout whose named policies '@ns/name' refers to."),
    ] = None,
    fmt: FormatOpt = Format.text,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    now: NowOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Print the tag the policy selects; nothing when nothing is newer."""
    listed = _read_tags(tags or [], tags_file)
    if image is not None and listed:
        raise click.BadParameter("give tags or --image, not both", param_hint="--image")
    try:
        if image is None and not explain and policies_dir is None:
            chosen = commands.policy_select(expression, listed, current)
            selection = commands.Selection(chosen, None, current, listed, {})
        else:
            options = make_options(registry_config, insecure_registry, None, now, verbose)
            selection = commands.policy_explain(
                expression,
                listed,
                current,
                image=image,
                options=options,
                explain=explain,
                policies_dir=policies_dir,
            )
    except PolicyError as exc:
        raise click.BadParameter(str(exc), param_hint="EXPR") from None
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    chosen = selection.selected
    if fmt is Format.json:
        document: dict[str, object] = {
            "version": 1,
            "policy": expression,
            "current": selection.current,
            "selected": chosen,
        }
        if image is not None:
            document["image"] = image
            document["digest"] = selection.digest
        if explain:
            document["tags"] = [
                {"tag": tag, "reason": reason} for tag, reason in selection.reasons.items()
            ]
        render.print_json(document)
        return
    if chosen is not None:
        digest_policy = expression.strip() == "digest"
        print(
            f"{chosen}@{selection.digest}" if digest_policy and selection.digest else chosen,
            flush=True,
        )
    if explain:
        for tag, reason in selection.reasons.items():
            if tag != chosen:
                render.stderr.print(f"  {tag}: {reason}", markup=False)
