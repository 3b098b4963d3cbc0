"""`imageupdater drift`: images in Git versus the workloads running in the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from imageupdater import commands
from imageupdater.cli import render
from imageupdater.cli.options import DirArg, Format, FormatOpt, cli
from imageupdater.errors import ImageUpdaterError
from imageupdater.report import ErrorEntry

if TYPE_CHECKING:
    from imageupdater.drift import DriftReport


@cli.command()
def drift(
    directory: DirArg = Path("."),
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context (default: current).")
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace", "-n", help="Namespace of manifests without one (default: context's)."
        ),
    ] = None,
    fmt: FormatOpt = Format.text,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there is drift.")
    ] = False,
) -> None:
    """Compare the images in Git with those of the workloads in the cluster."""
    try:
        report = commands.drift(
            directory, kubeconfig=kubeconfig, context=context, namespace=namespace
        )
    except ImageUpdaterError as exc:
        from imageupdater.drift import DriftReport

        report = DriftReport(context=context)
        report.errors.append(ErrorEntry(exc.kind, str(exc)))
    if fmt is Format.json:
        render.print_json(report.to_json())
    else:
        _print(report)
    raise typer.Exit(report.exit_code(detailed=detailed_exitcode))


def _print(report: DriftReport) -> None:
    document = report.to_json()  # sorted
    if report.drift:
        table = Table(title="Drift", title_justify="left")
        for column in ("workload", "container", "git", "cluster", "reason"):
            table.add_column(column)
        columns = ("workload", "container", "git", "cluster", "reason")
        for row in document["drift"]:
            table.add_row(*(Text("-" if row[key] is None else str(row[key])) for key in columns))
        render.stdout.print(table)
    elif not report.errors:
        render.stdout.print(f"No drift ({report.checked} containers compared).")
    for skip in report.skipped:
        where = skip.get("workload") or skip["file"]
        render.stdout.print(Text(f"skipped {where}: {skip['reason']}"))
    for error in report.errors:
        render.stderr.print(Text(f"error ({error.kind}): {error.message}"))
