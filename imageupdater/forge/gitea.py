"""Gitea and Forgejo API v1.

Gitea's list endpoint has no head filter, so closed PRs are walked once per run and
cached; the open PR for a branch has its own endpoint (``pulls/{base}/{head}``). Labels are
sent as IDs, looked up once by name.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from imageupdater.errors import ForgeError
from imageupdater.forge.githublike import GitHubLikeForge, pull_of
from imageupdater.forge.http import ForgeHttp, message_of
from imageupdater.forge.model import PullRequest

LIMIT = 50  # Gitea's maximum page size


class GiteaForge(GitHubLikeForge):
    def __init__(self, http: ForgeHttp, repo: str) -> None:
        super().__init__(http, repo)
        self._lock = threading.Lock()
        self._closed: list[PullRequest] | None = None
        self._labels: dict[str, int] | None = None

    def _list(self, state: str) -> list[PullRequest]:
        rows = self._http.pages(f"{self._root}/pulls", {"state": state, "limit": LIMIT})
        return [pull_of(row) for row in rows if self._ours(row)]

    def list_open(self, *, base: str, prefix: str) -> list[PullRequest]:
        return [pr for pr in self._list("open") if pr.base == base and pr.head.startswith(prefix)]

    def list_closed(self, *, head: str, base: str) -> list[PullRequest]:
        with self._lock:
            if self._closed is None:
                self._closed = self._list("closed")
            closed = self._closed
        found = [pr for pr in closed if pr.head == head and pr.base == base]
        return sorted(found, key=lambda pr: -pr.number)

    def find_open(self, *, head: str, base: str) -> PullRequest | None:
        response = self._http.status("GET", f"{self._root}/pulls/{base}/{head}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ForgeError(f"Gitea: {self._http.scrub(message_of(response))}")
        pr = pull_of(response.json())
        return pr if pr.state == "open" else None

    def _label_ids(self, names: Sequence[str]) -> list[int]:
        with self._lock:
            if self._labels is None:
                rows = self._http.pages(f"{self._root}/labels", {"limit": LIMIT})
                self._labels = {str(row["name"]): int(row["id"]) for row in rows}
            known = self._labels
        missing = [name for name in names if name not in known]
        if missing:
            raise ForgeError(f"Gitea repository {self._repo} has no label {', '.join(missing)}")
        return [known[name] for name in names]

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
        payload: dict[str, Any] = {"head": head, "base": base, "title": title, "body": body}
        if labels:
            payload["labels"] = self._label_ids(labels)
        response = self._http.status("POST", f"{self._root}/pulls", json=payload)
        if response.status_code == 409:
            existing = self.find_open(head=head, base=base)
            if existing is None:
                raise ForgeError(f"Gitea says a PR for {head} exists, but none is open")
            return existing
        if response.status_code != 201:
            detail = self._http.scrub(message_of(response))
            raise ForgeError(f"Gitea refused to open a PR for {head}: {detail}")
        pr = pull_of(response.json())
        self._request_reviewers(pr, reviewers)
        return pr
