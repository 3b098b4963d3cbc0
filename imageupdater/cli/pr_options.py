"""Flags of `apply --mode pr` (SPEC §4), kept apart so the core verbs stay small."""

from __future__ import annotations

from typing import Annotated

import click
import typer

from imageupdater import commands
from imageupdater.model import GROUPINGS

ForgeOpt = Annotated[str | None, typer.Option("--forge", help="github, gitlab or gitea (PR mode).")]
ForgeUrlOpt = Annotated[
    str | None,
    typer.Option("--forge-url", help="API root, e.g. https://ghe.example.com/api/v3."),
]
ForgeRepoOpt = Annotated[
    str | None, typer.Option("--forge-repo", help="OWNER/NAME (GitLab: the project path).")
]
GroupingOpt = Annotated[
    str, typer.Option("--grouping", help="One PR per workload (default), image, or all.")
]
LabelOpt = Annotated[
    list[str] | None, typer.Option("--label", help="Label for new PRs (repeatable).")
]
ReviewerOpt = Annotated[
    list[str] | None,
    typer.Option("--reviewer", help="Reviewer for new PRs (repeatable; GitLab: user ID)."),
]


def pr_request(
    mode: str,
    forge: str | None,
    url: str | None,
    repo: str | None,
    grouping: str,
    labels: list[str] | None,
    reviewers: list[str] | None,
) -> commands.PullRequestRequest | None:
    """The PR settings for ``--mode pr``; usage errors (exit 64) for what is missing."""
    if mode not in ("commit", "pr"):
        raise click.BadParameter("expected commit or pr", param_hint="--mode")
    if mode == "commit":
        return None
    if forge not in ("github", "gitlab", "gitea"):
        raise click.BadParameter("expected github, gitlab or gitea", param_hint="--forge")
    if not repo:
        raise click.BadParameter("a forge needs OWNER/NAME", param_hint="--forge-repo")
    if grouping not in GROUPINGS:
        raise click.BadParameter("expected workload, image or all", param_hint="--grouping")
    return commands.PullRequestRequest(
        forge=forge,
        repo=repo,
        url=url,
        grouping=grouping,
        labels=tuple(labels or ()),
        reviewers=tuple(reviewers or ()),
    )
