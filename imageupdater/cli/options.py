"""The Typer application and the options every command shares.

Command modules (`core`, ...) register their verbs on `cli`; each stays a thin layer that
parses flags, calls `imageupdater.commands`, renders and sets the exit code.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import click
import typer

from imageupdater import app, commands
from imageupdater.cli import render
from imageupdater.config import parse_duration
from imageupdater.errors import ConfigError, ImageUpdaterError
from imageupdater.holds import parse_time
from imageupdater.state import State

#: how long `plan`/`apply --state-dir` reuse a tag list or manifest lookup (README "Caching")
DEFAULT_CACHE_TTL = "5m"

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
CacheTtlOpt = Annotated[
    str,
    typer.Option(
        "--cache-ttl",
        help="With --state-dir: reuse tag lists and manifest lookups younger than this "
        "(e.g. 5m, 1h; 0 never reuses).",
    ),
]
RefreshOpt = Annotated[
    bool,
    typer.Option(
        "--refresh", help="With --state-dir: ask the registries again (and refill the cache)."
    ),
]
NowOpt = Annotated[
    str | None, typer.Option("--now", help="RFC 3339 time to use as the clock (freeze windows).")
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More logs on stderr.")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Automation config (file or directory): honours suspend and change windows.",
    ),
]
AutomationOpt = Annotated[
    str | None,
    typer.Option("--automation", help="Which automation of --config to follow (when several)."),
]
NoProgressOpt = Annotated[
    bool,
    typer.Option(
        "--no-progress",
        envvar="IMAGEUPDATER_NO_PROGRESS",
        help="Never draw the progress bar of a long scan (drawn only in text format, on "
        "a terminal, after a second).",
    ),
]
DetailedExitOpt = Annotated[
    bool, typer.Option("--detailed-exitcode", help="Exit 2 when updates are pending.")
]


def make_options(
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


@contextmanager
def registry_cache(options: app.Options, cache_ttl: str, refresh: bool) -> Iterator[app.Options]:
    """`options` with the state store of ``--state-dir`` open (none without one): tag lists
    and manifest lookups younger than `cache_ttl` are reused, unless `refresh`."""
    if options.state_dir is None:
        yield options
        return
    try:
        ttl = 0.0 if refresh or cache_ttl.strip() in ("0", "0s") else parse_duration(cache_ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cache-ttl") from None
    state = State(options.state_dir)
    try:
        yield dataclasses.replace(options, state=state, tag_ttl=ttl)
    finally:
        state.close()


def fail(exc: ImageUpdaterError, fmt: Format) -> None:
    report = commands.error_report(exc)
    if fmt is Format.json:
        render.print_json(report.to_json())
    else:
        render.stderr.print(f"error ({exc.kind}): {exc}")
    raise typer.Exit(1)
