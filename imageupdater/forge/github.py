"""GitHub REST v3 (github.com and Enterprise Server ``https://HOST/api/v3``).

Found by ``head=OWNER:BRANCH``: GitHub ignores an unqualified ``head`` and returns every open
PR. A PR whose head lives in a fork is never ours, even with a matching branch name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imageupdater.errors import ForgeError
from imageupdater.forge.http import ForgeHttp, message_of
from imageupdater.forge.model import PullRequest

PER_PAGE = 100


def _pull(data: dict[str, Any]) -> PullRequest:
    state = "merged" if data.get("merged_at") or data.get("merged") else data["state"]
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url") or data.get("url") or ""),
        head=str(data["head"]["ref"]),
        base=str(data["base"]["ref"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        state="open" if state == "open" else ("merged" if state == "merged" else "closed"),
    )


class GitHubForge:
    def __init__(self, http: ForgeHttp, repo: str) -> None:
        self._http = http
        self._repo = repo
        self._owner = repo.split("/", 1)[0]
        self._root = f"repos/{repo}"

    def _ours(self, data: dict[str, Any]) -> bool:
        head_repo = data.get("head", {}).get("repo") or {}
        return str(head_repo.get("full_name", "")).lower() == self._repo.lower()

    def _list(self, **params: str | int) -> list[PullRequest]:
        rows = self._http.pages(f"{self._root}/pulls", {**params, "per_page": PER_PAGE})
        return [_pull(row) for row in rows if self._ours(row)]

    def list_open(self, *, base: str, prefix: str) -> list[PullRequest]:
        return [pr for pr in self._list(state="open", base=base) if pr.head.startswith(prefix)]

    def list_closed(self, *, head: str, base: str) -> list[PullRequest]:
        found = self._list(state="closed", head=f"{self._owner}:{head}", base=base)
        return [pr for pr in found if pr.head == head]

    def find_open(self, *, head: str, base: str) -> PullRequest | None:
        found = self._list(state="open", head=f"{self._owner}:{head}", base=base)
        return next((pr for pr in found if pr.head == head), None)

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
        payload = {"title": title, "head": head, "base": base, "body": body}
        response = self._http.status("POST", f"{self._root}/pulls", json=payload)
        if response.status_code == 201:
            pr = _pull(response.json())
        elif response.status_code == 422 and "already exists" in response.text:
            existing = self.find_open(head=head, base=base)
            if existing is None:
                raise ForgeError(f"GitHub says a PR for {head} exists, but none is open")
            return existing
        else:
            detail = self._http.scrub(message_of(response))
            raise ForgeError(f"GitHub refused to open a PR for {head}: {detail}")
        if labels:
            self._http.request(
                "POST", f"{self._root}/issues/{pr.number}/labels", json={"labels": list(labels)}
            )
        if reviewers:
            self._http.request(
                "POST",
                f"{self._root}/pulls/{pr.number}/requested_reviewers",
                json={"reviewers": list(reviewers)},
            )
        return pr

    def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest:
        response = self._http.request(
            "PATCH", f"{self._root}/pulls/{pr.number}", json={"title": title, "body": body}
        )
        return _pull(response.json())

    def close(self, pr: PullRequest, *, comment: str, body: str) -> None:
        self._http.request(
            "POST", f"{self._root}/issues/{pr.number}/comments", json={"body": comment}
        )
        self._http.request(
            "PATCH", f"{self._root}/pulls/{pr.number}", json={"state": "closed", "body": body}
        )
