"""GitHub REST v3 (github.com and Enterprise Server ``https://HOST/api/v3``).

Found by ``head=OWNER:BRANCH``: GitHub ignores an unqualified ``head`` and returns every open
PR. A PR whose head lives in a fork is never ours, even with a matching branch name.
"""

from __future__ import annotations

from collections.abc import Sequence

from imageupdater.errors import ForgeError
from imageupdater.forge.githublike import GitHubLikeForge, pull_of
from imageupdater.forge.http import ForgeHttp, message_of
from imageupdater.forge.model import PullRequest

PER_PAGE = 100


class GitHubForge(GitHubLikeForge):
    def __init__(self, http: ForgeHttp, repo: str) -> None:
        super().__init__(http, repo)
        self._owner = repo.split("/", 1)[0]

    def _list(self, **params: str | int) -> list[PullRequest]:
        rows = self._http.pages(f"{self._root}/pulls", {**params, "per_page": PER_PAGE})
        return [pull_of(row) for row in rows if self._ours(row)]

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
            pr = pull_of(response.json())
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
        self._request_reviewers(pr, reviewers)
        return pr
