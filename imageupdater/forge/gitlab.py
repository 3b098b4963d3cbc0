"""GitLab API v4 merge requests.

A project is addressed by its URL-encoded path (``acme%2Fgitops``) and a merge request by
its per-project ``iid``. Labels travel as a comma-separated string. Reviewers travel as
numeric user IDs (``reviewer_ids``): a reviewer given by username is looked up once with
``GET /users?username=`` (an unknown name is a config error naming it).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from imageupdater.errors import ConfigError, ForgeError
from imageupdater.forge.http import ForgeHttp, message_of
from imageupdater.forge.model import PullRequest

PER_PAGE = 100


def _pull(data: dict[str, Any]) -> PullRequest:
    state = str(data.get("state"))
    return PullRequest(
        number=int(data["iid"]),
        url=str(data.get("web_url") or ""),
        head=str(data["source_branch"]),
        base=str(data["target_branch"]),
        title=str(data.get("title") or ""),
        body=str(data.get("description") or ""),
        state="merged" if state == "merged" else ("closed" if state == "closed" else "open"),
    )


class GitLabForge:
    def __init__(self, http: ForgeHttp, repo: str) -> None:
        self._http = http
        self._root = f"projects/{quote(repo, safe='')}/merge_requests"
        self._user_ids: dict[str, int] = {}
        self._users_lock = threading.Lock()  # PRs open on several threads: one lookup each

    def _reviewer_ids(self, reviewers: Sequence[str]) -> list[int]:
        ids: list[int] = []
        for reviewer in reviewers:
            name = reviewer.strip().removeprefix("@")
            if name.isdigit():
                ids.append(int(name))
                continue
            with self._users_lock:
                if name not in self._user_ids:
                    self._user_ids[name] = self._user_id(name)
            ids.append(self._user_ids[name])
        return ids

    def _user_id(self, name: str) -> int:
        rows = self._http.request("GET", "users", params={"username": name}).json()
        found = [row for row in rows if isinstance(row, dict) and "id" in row]
        if not isinstance(rows, list) or not found:
            raise ConfigError(f"GitLab has no user {name!r} to request a review from")
        return int(found[0]["id"])

    def _list(self, **params: str | int) -> list[PullRequest]:
        rows = self._http.pages(self._root, {**params, "per_page": PER_PAGE})
        return [
            _pull(row)
            for row in rows
            if row.get("source_project_id", 0) == row.get("target_project_id", 0)
        ]

    def list_open(self, *, base: str, prefix: str) -> list[PullRequest]:
        found = self._list(state="opened", target_branch=base)
        return [pr for pr in found if pr.head.startswith(prefix)]

    def list_closed(self, *, head: str, base: str) -> list[PullRequest]:
        found = self._list(state="all", source_branch=head, target_branch=base)
        return [pr for pr in found if pr.state != "open"]

    def find_open(self, *, head: str, base: str) -> PullRequest | None:
        found = self._list(state="opened", source_branch=head, target_branch=base)
        return found[0] if found else None

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
        payload: dict[str, Any] = {
            "source_branch": head,
            "target_branch": base,
            "title": title,
            "description": body,
        }
        if labels:
            payload["labels"] = ",".join(labels)
        if reviewers:
            payload["reviewer_ids"] = self._reviewer_ids(reviewers)
        response = self._http.status("POST", self._root, json=payload)
        if response.status_code == 409:
            existing = self.find_open(head=head, base=base)
            if existing is None:
                raise ForgeError(f"GitLab says a merge request for {head} exists, none is open")
            return existing
        if response.status_code != 201:
            detail = self._http.scrub(message_of(response))
            raise ForgeError(f"GitLab refused to open a merge request for {head}: {detail}")
        return _pull(response.json())

    def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest:
        response = self._http.request(
            "PUT", f"{self._root}/{pr.number}", json={"title": title, "description": body}
        )
        return _pull(response.json())

    def close(self, pr: PullRequest, *, comment: str, body: str) -> None:
        self._http.request("POST", f"{self._root}/{pr.number}/notes", json={"body": comment})
        self._http.request(
            "PUT",
            f"{self._root}/{pr.number}",
            json={"state_event": "close", "description": body},
        )
