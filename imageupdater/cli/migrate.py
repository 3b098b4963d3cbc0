"""`imageupdater migrate`: rewrite Flux v1 / Keel annotations and Flux v2 policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from imageupdater import commands
from imageupdater.cli import render
from imageupdater.cli.options import DirArg, Format, FormatOpt, cli, fail
from imageupdater.errors import ImageUpdaterError


@cli.command()
def migrate(
    directory: DirArg = Path("."),
    fmt: FormatOpt = Format.text,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; write nothing.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff.")] = False,
) -> None:
    """Convert Flux v1 / Keel annotations and Flux v2 policies to native ones (minimal diff)."""
    try:
        result = commands.migrate(directory, write=not dry_run)
    except ImageUpdaterError as exc:
        fail(exc, fmt)
        return
    report = result.report
    if fmt is Format.json:
        document = {
            "version": 1,
            "changes": [change.to_json() for change in result.changes],
            "files": [{"file": f.relpath, "created": f.created} for f in result.files],
            "notes": result.notes,
            "errors": [error.to_json() for error in report.errors],
            "written": not dry_run,
        }
        if diff:
            document["diff"] = "".join(f.unified_diff() for f in result.files)
        render.print_json(document)
    else:
        if diff:
            for migrated in result.files:
                render.stdout.out(migrated.unified_diff(), end="")
        for change in result.changes:
            where = f"{change.file}:{change.line}" if change.line else change.file
            render.stdout.print(f"{where}  {change.before}  ->  {change.after}", markup=False)
        for note in result.notes:
            render.stderr.print(f"note: {note}", markup=False)
        for error in report.errors:
            where = f"{error.file}:{error.line}: " if error.line else f"{error.file}: "
            render.stderr.print(f"error ({error.kind}): {where}{error.message}", markup=False)
        if not result.changes:
            render.stderr.print("nothing to migrate")
        elif dry_run:
            render.stderr.print("dry run: nothing written")
    raise typer.Exit(1 if report.errors else 0)
