"""Pull requests on a forge, behind one narrow seam (SPEC §6, ARCHITECTURE "Seams").

PR delivery needs six things from a forge: list the open PRs of its own branches, find the
closed ones for one branch (to respect a human's "no"), open, update, close with a comment,
and find the PR a duplicate-create answer refers to. Everything else (auth headers,
pagination, rate limits, label IDs, merge-request iids) stays inside the adapters, which
are plain ``httpx`` and the only modules besides the registry client that talk HTTP.

The token is handed to the adapter and lives only in request headers: error messages are
built from status codes and the forge's ``message`` field and are scrubbed of the token
(:func:`imageupdater.forge.http.scrub`), so it cannot reach logs, reports or PR bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import httpx

from imageupdater.errors import ConfigError
from imageupdater.forge.gitea import GiteaForge
from imageupdater.forge.github import GitHubForge
from imageupdater.forge.gitlab import GitLabForge
from imageupdater.forge.http import ForgeHttp, RetryPolicy
from imageupdater.forge.model import PullRequest

__all__ = [
    "FORGES",
    "Forge",
    "ForgeFactory",
    "ForgeHttp",
    "PullRequest",
    "PullRequestState",
    "RetryPolicy",
    "connect",
]

PullRequestState = Literal["open", "closed", "merged"]


class Forge(Protocol):
    """What PR mode needs from GitHub, GitLab or Gitea; every method may raise
    ``AuthError`` (401/403) or ``ForgeUnavailable`` (5xx, 429, timeouts after retries)."""

    def list_open(self, *, base: str, prefix: str) -> list[PullRequest]:
        """Open PRs into ``base`` whose head branch starts with ``prefix`` (all pages)."""
        ...

    def list_closed(self, *, head: str, base: str) -> list[PullRequest]:
        """Closed or merged PRs from ``head`` into ``base``, newest first."""
        ...

    def find_open(self, *, head: str, base: str) -> PullRequest | None:
        """The open PR from ``head`` into ``base``, if any."""
        ...

    def open(
        self,
        *,
        head: str,
        base: str,
        title: str,
        body: str,
        labels: Sequence[str] = (),
        reviewers: Sequence[str] = (),
    ) -> PullRequest:
        """Open a PR; a duplicate answer (422/409) returns the existing open PR instead."""
        ...

    def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest:
        """Replace title and body of an open PR."""
        ...

    def close(self, pr: PullRequest, *, comment: str, body: str) -> None:
        """Comment on the PR, then close it (with ``body`` as its final description)."""
        ...


ForgeFactory = Callable[[ForgeHttp, str], Forge]

#: forge name -> adapter class (constructed with a ``ForgeHttp`` and the ``OWNER/NAME``)
FORGES: dict[str, ForgeFactory] = {
    "github": GitHubForge,
    "gitlab": GitLabForge,
    "gitea": GiteaForge,
}

#: forge name -> the header its API reads the token from
_AUTH: dict[str, Callable[[str], dict[str, str]]] = {
    "github": lambda token: {"Authorization": f"Bearer {token}"},
    "gitlab": lambda token: {"PRIVATE-TOKEN": token},
    "gitea": lambda token: {"Authorization": f"token {token}"},
}

#: the public API root of each forge; self-hosted ones need ``--forge-url``
DEFAULT_URLS = {"github": "https://api.github.com"}


def connect(
    kind: str,
    url: str | None,
    repo: str,
    token: str | None,
    *,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> tuple[Forge, ForgeHttp]:
    """The adapter for ``kind`` and the HTTP pool it uses (close it when done)."""
    if kind not in FORGES:
        raise ConfigError(f"unknown forge {kind!r}; expected one of {', '.join(sorted(FORGES))}")
    root = url or DEFAULT_URLS.get(kind)
    if not root:
        raise ConfigError(f"--forge-url is required for {kind}")
    if repo.count("/") < 1 or repo.startswith("/") or repo.endswith("/"):
        raise ConfigError(f"--forge-repo must be OWNER/NAME, not {repo!r}")
    http = ForgeHttp(
        root,
        auth_headers=_AUTH[kind](token) if token else {},
        secret=token,
        retry=retry,
        transport=transport,
    )
    return FORGES[kind](http, repo), http
