"""Holding workloads still: pin, unpin, freeze, unfreeze; and `status` to see it all.

A bad argument value (`--until` that is not a time, `--tag` that is not a tag, a workload
with several containers and no `--container`) is a usage error, exit 64; a workload that is
not there or is ambiguous, or a repository state that forbids the edit, exits 1. Nothing is
written in either case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from imageupdater import commands
from imageupdater.cli import render
from imageupdater.cli.options import (
    AutomationOpt,
    ConfigOpt,
    DirArg,
    Format,
    FormatOpt,
    InsecureOpt,
    NoProgressOpt,
    NowOpt,
    RegistryConfigOpt,
    StateDirOpt,
    VerboseOpt,
    cli,
    fail,
    make_options,
)
from imageupdater.cli.pr_options import ForgeOpt, ForgeRepoOpt, ForgeUrlOpt, pr_request
from imageupdater.cli.progress import scan_progress
from imageupdater.errors import ImageUpdaterError

if TYPE_CHECKING:  # imported by the verbs (start-up time of the other commands)
    from imageupdater import holdedit

EX_USAGE = 64

WorkloadArg = Annotated[
    str, typer.Argument(help="Kind/namespace/name, Kind/name, namespace/name or name.")
]
DirOpt = Annotated[Path, typer.Option("--dir", "-C", help="Checkout to edit (default: .).")]
CommitOpt = Annotated[
    bool | None,
    typer.Option("--commit/--no-commit", help="Commit (default inside Git); --no-commit stages."),
]
PushOpt = Annotated[bool, typer.Option("--push/--no-push", help="Push the commit.")]
BranchOpt = Annotated[str | None, typer.Option("--branch", help="Branch to push to.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why; shown in plan and status.")]


def _clock(now: str | None) -> datetime:
    return make_options(None, None, None, now, 0).clock() if now else datetime.now(UTC)


def _run(fmt: Format, action: Callable[[], holdedit.HoldResult]) -> None:
    from imageupdater import holdedit

    try:
        result = action()
    except holdedit.UsageError as exc:
        render.stderr.print(f"usage error: {exc}")
        raise typer.Exit(EX_USAGE) from None
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    if fmt is Format.json:
        render.print_json(result.to_json())
        return
    if not result.changed:
        render.stdout.print(f"{result.workload}: nothing to change ({result.file}).")
        return
    parts = [f"{k}={v}" for k, v in result.set.items()] + [f"-{k}" for k in result.removed]
    if result.image:
        digest = f"@{result.image['digest']}" if "digest" in result.image else ""
        parts.append(f"image {result.image['from']} -> {result.image['to']}{digest}")
    render.stdout.print(f"{result.action} {result.workload} in {result.file}: {', '.join(parts)}")
    if result.commit:
        pushed = " and pushed" if result.pushed else ""
        render.stdout.print(f"Committed {result.commit[:12]}{pushed}.")
    elif result.staged:
        render.stdout.print("Staged, not committed.")


def _delivery(commit: bool | None, push: bool, branch: str | None) -> holdedit.Delivery:
    from imageupdater import holdedit

    return holdedit.Delivery(commit=commit, push=push, branch=branch)


@cli.command()
def pin(
    workload: WorkloadArg,
    container: Annotated[str | None, typer.Option("--container", help="Container to pin.")] = None,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Tag to pin (and roll back to); default: current.")
    ] = None,
    reason: ReasonOpt = None,
    directory: DirOpt = Path("."),
    commit: CommitOpt = None,
    push: PushOpt = False,
    branch: BranchOpt = None,
    fmt: FormatOpt = Format.text,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Pin a container to a tag; with --tag also move the image there (rollback). Only a
    digest-pinned image asks the registry, for the digest of the new tag."""
    options = make_options(registry_config, insecure_registry, None, None, verbose)
    _run(
        fmt,
        lambda: commands.pin(
            directory,
            workload,
            _delivery(commit, push, branch),
            container=container,
            tag=tag,
            reason=reason,
            options=options,
        ),
    )


@cli.command()
def unpin(
    workload: WorkloadArg,
    container: Annotated[
        str | None, typer.Option("--container", help="Container to unpin.")
    ] = None,
    clear_declined: Annotated[
        bool,
        typer.Option("--clear-declined", help="Also propose versions rolled back from again."),
    ] = False,
    directory: DirOpt = Path("."),
    commit: CommitOpt = None,
    push: PushOpt = False,
    branch: BranchOpt = None,
    now: NowOpt = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Remove a pin (and with --clear-declined forget rollbacks so far)."""
    clock = _clock(now)
    _run(
        fmt,
        lambda: commands.unpin(
            directory,
            workload,
            _delivery(commit, push, branch),
            clock,
            container=container,
            clear_declined=clear_declined,
        ),
    )


@cli.command()
def freeze(
    workload: WorkloadArg,
    until: Annotated[
        str | None, typer.Option("--until", help="RFC 3339 time or date; thaws by itself then.")
    ] = None,
    reason: ReasonOpt = None,
    directory: DirOpt = Path("."),
    commit: CommitOpt = None,
    push: PushOpt = False,
    branch: BranchOpt = None,
    now: NowOpt = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Stop every change to a workload, for good or until a time."""
    clock = _clock(now)
    _run(
        fmt,
        lambda: commands.freeze(
            directory,
            workload,
            _delivery(commit, push, branch),
            clock,
            until=until,
            reason=reason,
        ),
    )


@cli.command()
def unfreeze(
    workload: WorkloadArg,
    directory: DirOpt = Path("."),
    commit: CommitOpt = None,
    push: PushOpt = False,
    branch: BranchOpt = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Remove a freeze (frozen, frozen-until and frozen-reason)."""
    _run(fmt, lambda: commands.unfreeze(directory, workload, _delivery(commit, push, branch)))


@cli.command()
def status(
    directory: DirArg = Path("."),
    fmt: FormatOpt = Format.text,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    state_dir: StateDirOpt = None,
    now: NowOpt = None,
    forge: ForgeOpt = None,
    forge_url: ForgeUrlOpt = None,
    forge_repo: ForgeRepoOpt = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Base branch of the PRs (default: current).")
    ] = None,
    verbose: VerboseOpt = 0,
    no_progress: NoProgressOpt = False,
    config: ConfigOpt = None,
    automation: AutomationOpt = None,
) -> None:
    """One row per opted-in container: current, policy, newest allowed and state; with
    --forge (or --config whose Automation has update.pr), pending updates that already
    wait in an open PR show as pr-open."""
    options = make_options(registry_config, insecure_registry, state_dir, now, verbose)
    mode = "pr" if forge is not None else "commit"
    pr = pr_request(mode, forge, forge_url, forge_repo, "workload", None, None)
    if pr is None and (config is not None or automation is not None):
        try:
            pr = commands.pr_of(commands.gate_of(config, automation))
        except ImageUpdaterError as exc:
            fail(exc, fmt)
            return
    try:
        with scan_progress(fmt is Format.text and not no_progress) as progress:
            result = commands.status(directory, options, pr, branch, progress)
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    if fmt is Format.json:
        render.print_json(result.to_json())
    else:
        table = Table(title="Status", title_justify="left")
        for column in ("workload", "container", "image", "current", "policy", "newest", "state",
                       "detail"):  # fmt: skip
            table.add_column(column)
        for r in result.rows:
            table.add_row(r.workload, r.container, r.image or "-", r.current or "-",
                          r.policy or "-", r.newest or "-", r.state, r.detail)  # fmt: skip
        render.stdout.print(table)
        for e in result.report.errors:
            render.stdout.print(f"error ({e.kind}) {e.image or e.file or ''}: {e.message}")
    raise typer.Exit(1 if result.report.errors else 0)
