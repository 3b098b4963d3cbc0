"""`imageupdater run`: the controller daemon (SPEC §4, §6)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from imageupdater import app
from imageupdater.cli.options import (
    Format,
    InsecureOpt,
    RegistryConfigOpt,
    StateDirOpt,
    VerboseOpt,
    cli,
    fail,
    make_options,
)
from imageupdater.errors import ImageUpdaterError


@cli.command()
def run(
    config: Annotated[
        Path, typer.Option("--config", help="Automation documents (a file or a directory).")
    ],
    listen: Annotated[
        str | None,
        typer.Option("--listen", help="HOST:PORT for /metrics, /healthz, /readyz, /webhooks."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle of every automation and exit.")
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="kubeconfig file (default: the pod's service account)."),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="kubeconfig context (implies a kubeconfig).")
    ] = None,
    shards: Annotated[
        int,
        typer.Option(
            "--shards",
            min=0,
            help="Lease coordination in a cluster: 1 leader election, N shard Leases, "
            "0 standalone.",
        ),
    ] = 1,
    registry_config: RegistryConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    state_dir: StateDirOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """The controller: run every automation on its interval (webhooks trigger them early).

    The webhook secret comes from $IMAGEUPDATER_WEBHOOK_SECRET; without it webhooks are
    refused. SIGTERM/SIGINT finish the cycles under way and exit 0.

    In a pod (service account) or with --kubeconfig/--context the replicas coordinate
    through Leases (--shards), pull secrets are read from the cluster and drift is
    measured; otherwise the daemon runs standalone and never calls Kubernetes.
    """
    # the daemon brings the scheduler, the web server and the metrics: only `run` needs them
    from imageupdater import daemon

    options = make_options(registry_config, insecure_registry, state_dir, None, verbose)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    try:
        code = daemon.run(
            config,
            state_dir or app.default_state_dir(),
            options,
            listen=listen,
            once=once,
            kubeconfig=str(kubeconfig) if kubeconfig else None,
            context=context,
            shards=shards,
        )
    except ImageUpdaterError as exc:
        fail(exc, Format.text)
        return
    raise typer.Exit(code)
