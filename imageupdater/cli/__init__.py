"""The `imageupdater` command line: parse flags, call `commands`, render, set the exit code.

Usage errors exit 64 (EX_USAGE) rather than Click's 2, because 2 means "updates pending"
under `--detailed-exitcode` (SPEC §4). Logs go to stderr, results to stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import click
import typer

from imageupdater import app, commands
from imageupdater.cli import render
from imageupdater.errors import ConfigError, ImageUpdaterError, PolicyError
from imageupdater.holds import parse_time

EX_USAGE = 64

cli = typer.Typer(
    name="imageupdater",
    help="Keep the image tags of GitOps manifests current, editing only the image values.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
policy_cli = typer.Typer(help="Try policies without a repository.", no_args_is_help=True)
cli.add_typer(policy_cli, name="policy")


class Format(StrEnum):
    text = "text"
    json = "json"


DirArg = Annotated[Path, typer.Argument(help="Checkout (or folder inside it) to scan.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="text for people, json for tools.")]
RegistryConfigOpt = Annotated[
    str | None,
    typer.Option("--registry-config", help="docker config.json with registry credentials."),
]
InsecureOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", help="HOST[:PORT] that may fall back to plain HTTP."),
]
StateDirOpt = Annotated[Path | None, typer.Option("--state-dir", help="Cache directory.")]
NowOpt = Annotated[
    str | None, typer.Option("--now", help="RFC 3339 time to use as the clock (freeze windows).")
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More logs on stderr.")
]


def _options(
    registry_config: str | None,
    insecure: list[str] | None,
    state_dir: Path | None,
    now: str | None,
    verbose: int,
) -> app.Options:
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        clock = parse_time(now) if now else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    return app.Options(
        registry_config=registry_config,
        insecure_registries=tuple(insecure or ()),
        state_dir=state_dir,
        now=clock,
    )


def _fail(exc: ImageUpdaterError, fmt: Format) -> None:
    report = commands.error_report(exc)
    if fmt is Format.json:
        render.print_json(report.to_json())
    else:
        render.stderr.print(f"error ({exc.kind}): {exc}")
    raise typer.Exit(1)


@cli.command()
def plan(
    directory: DirArg = Path("."),
    fmt: FormatOpt = Format.text,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff.")] = False,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when updates are pending.")
    ] = False,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    state_dir: StateDirOpt = None,
    now: NowOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Scan, select and print the updates that apply would make; change nothing."""
    options = _options(registry_config, insecure_registry, state_dir, now, verbose)
    try:
        result = commands.plan(directory, options)
    except ImageUpdaterError as exc:
        _fail(exc, fmt)
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
        str, typer.Option("--mode", help="commit (pr mode is not built yet).")
    ] = "commit",
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when updates were made.")
    ] = False,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    state_dir: StateDirOpt = None,
    now: NowOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Make the updates: edit files, commit (inside Git) and optionally push."""
    if mode != "commit":
        raise click.BadParameter("only 'commit' is supported in this version", param_hint="--mode")
    options = _options(registry_config, insecure_registry, state_dir, now, verbose)
    request = commands.ApplyRequest(commit=commit, push=push, branch=branch)
    try:
        report = commands.apply(directory, options, request)
    except ImageUpdaterError as exc:
        _fail(exc, fmt)
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
    options = _options(registry_config, insecure_registry, None, None, verbose)
    try:
        listed = commands.list_tags(image, options)
    except ImageUpdaterError as exc:
        _fail(exc, fmt)
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
    fmt: FormatOpt = Format.text,
) -> None:
    """Print the tag the policy selects; nothing when nothing is newer."""
    listed = _read_tags(tags or [], tags_file)
    try:
        chosen = commands.policy_select(expression, listed, current)
    except PolicyError as exc:
        raise click.BadParameter(str(exc), param_hint="EXPR") from None
    if fmt is Format.json:
        render.print_json(
            {"version": 1, "policy": expression, "current": current, "selected": chosen}
        )
    elif chosen is not None:
        print(chosen)


def main(argv: Sequence[str] | None = None) -> None:
    command = typer.main.get_command(cli)
    try:
        code = command.main(
            args=list(argv) if argv is not None else None,
            prog_name="imageupdater",
            standalone_mode=False,
        )
    except click.UsageError as exc:
        exc.show()
        sys.exit(EX_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except click.Abort:
        render.stderr.print("aborted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
