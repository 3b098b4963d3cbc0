"""What GitHub and Gitea/Forgejo share: Gitea's v1 API copies GitHub's shapes for PR
objects, updates, closing with a comment and review requests, so both adapters build on
one base and differ only in how they list, find and open PRs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imageupdater.forge.http import ForgeHttp
from imageupdater.forge.model import PullRequest


def pull_of(data: dict[str, Any]) -> PullRequest:
    merged = bool(data.get("merged_at") or data.get("merged"))
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url") or data.get("url") or ""),
        head=str(data["head"]["ref"]),
        base=str(data["base"]["ref"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        state="merged" if merged else ("open" if data.get("state") == "open" else "closed"),
    )


class GitHubLikeForge:
    def __init__(self, http: ForgeHttp, repo: str) -> None:
        self._http = http
        self._repo = repo
        self._root = f"repos/{repo}"

    def _ours(self, data: dict[str, Any]) -> bool:
        """A PR whose head lives in a fork is never ours, even with a matching branch name."""
        head_repo = data.get("head", {}).get("repo") or {}
        return str(head_repo.get("full_name", "")).lower() == self._repo.lower()

    def _request_reviewers(self, pr: PullRequest, reviewers: Sequence[str]) -> None:
        if reviewers:
            self._http.request(
                "POST",
                f"{self._root}/pulls/{pr.number}/requested_reviewers",
                json={"reviewers": list(reviewers)},
            )

    def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest:
        response = self._http.request(
            "PATCH", f"{self._root}/pulls/{pr.number}", json={"title": title, "body": body}
        )
        return pull_of(response.json())

    def close(self, pr: PullRequest, *, comment: str, body: str) -> None:
        self._http.request(
            "POST", f"{self._root}/issues/{pr.number}/comments", json={"body": comment}
        )
        self._http.request(
            "PATCH", f"{self._root}/pulls/{pr.number}", json={"state": "closed", "body": body}
        )
