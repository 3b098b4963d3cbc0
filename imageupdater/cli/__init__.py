"""The `imageupdater` command line: parse flags, call `commands`, render, set the exit code.

Usage errors exit 64 (EX_USAGE) rather than Click's 2, because 2 means "updates pending"
under `--detailed-exitcode` (SPEC §4). Logs go to stderr, results to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import typer

from imageupdater.cli import core as core  # registers the verbs on `cli`
from imageupdater.cli import drift as drift  # registers `drift`
from imageupdater.cli import holds as holds  # pin, unpin, freeze, unfreeze, status
from imageupdater.cli import migrate as migrate  # registers `migrate`
from imageupdater.cli import render
from imageupdater.cli import run as run  # registers `run`
from imageupdater.cli.options import cli

EX_USAGE = 64


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
