"""Stateful fake forges (GitHub, Gitea, GitLab) over real HTTP, backed by a bare Git repo.

Each fake keeps PRs in memory, records every request, validates GitHub and Gitea requests
against the official OpenAPI descriptions (GitLab by hand, from testing/forge.md) and
answers a non-conforming request with 422, recording the violation so the test fails.
Branches are never simulated: "does the head exist" is asked of the bare repository the
product pushes to. Helpers play the humans (merge, close unmerged) and the outages
(the next N answers are 429 or 5xx).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.forge.openapi import (
    example_pull_request,
    github_example,
    load,
    problems,
    response_problems,
)

TOKEN = "tok-9f8e7d6c5b4a-SECRET"
REPO = "acme/gitops"

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class PR:
    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    state: str = "open"  # open | closed
    merged: bool = False
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


class FakeForge:
    kind = ""
    root = ""  # API path prefix
    mount = ""  # a prefix the fake strips before routing (GitHub Enterprise's /api/v3)

    def __init__(self, bare: Path, *, page_size: int = 2) -> None:
        self.bare = bare
        self.page_size = page_size
        self.prs: dict[int, PR] = {}
        self.seen: list[Seen] = []
        self.violations: list[str] = []
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.RLock()
        self.url = ""

    # ---------------------------------------------------------------- humans and outages

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.failures.extend([(status, headers or {})] * count)

    def branch_sha(self, branch: str) -> str | None:
        done = subprocess.run(
            [
                "git",
                f"--git-dir={self.bare}",
                "rev-parse",
                "-q",
                "--verify",
                f"refs/heads/{branch}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    def branches(self) -> list[str]:
        done = subprocess.run(
            ["git", f"--git-dir={self.bare}", "for-each-ref", "--format=%(refname:short)"],
            capture_output=True,
            text=True,
            check=True,
        )
        return sorted(done.stdout.split())

    def merge(self, number: int) -> None:
        """Merge like the forge's fast-forward button: the base moves to the PR's head."""
        pr = self.prs[number]
        sha = self.branch_sha(pr.head)
        assert sha is not None
        subprocess.run(
            ["git", f"--git-dir={self.bare}", "update-ref", f"refs/heads/{pr.base}", sha],
            check=True,
        )
        pr.state, pr.merged = "closed", True

    def close_unmerged(self, number: int) -> None:
        self.prs[number].state = "closed"

    def open_prs(self) -> list[PR]:
        return [pr for pr in self.prs.values() if pr.state == "open"]

    def count(self, method: str, pattern: str) -> int:
        rx = re.compile(pattern)
        return sum(1 for s in self.seen if s.method == method and rx.search(s.path))

    # ---------------------------------------------------------------- HTTP

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        if self.mount and target.startswith(self.mount + "/"):
            target = target[len(self.mount) :]  # GitHub Enterprise Server: /api/v3
        split = urlsplit(target)
        query = dict(parse_qsl(split.query))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self.lock:
            self.seen.append(Seen(method, split.path, query, headers, body, raw))
            if self.failures:
                status, extra = self.failures.pop(0)
                return status, extra, {"message": "fake outage"}
        if not self.authorized(headers):
            return 401, {}, {"message": "Bad credentials"}
        wrong = self.validate(method, target, headers, raw, body)
        if wrong:
            with self.lock:
                self.violations.append(f"{method} {split.path}: {wrong}")
            return 422, {}, {"message": "request does not conform", "errors": wrong}
        with self.lock:
            status, extra, payload = self.route(method, split.path, query, body)
        if 200 <= status < 300 and status != 204:
            wrong = self.validate_answer(method, target, status, payload, extra)
            if wrong:
                with self.lock:
                    self.violations.append(f"answer to {method} {split.path}: {wrong[:3]}")
        return status, extra, payload

    def validate_answer(
        self, method: str, target: str, status: int, payload: Any, headers: dict[str, str]
    ) -> list[str] | None:
        """The fake's own answers are checked too, where a description exists."""
        return None

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def validate(
        self, method: str, target: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> list[str] | None:
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        raise NotImplementedError

    def page(self, rows: list[Any], query: dict[str, str], size_key: str, path: str) -> Answer:
        size = min(int(query.get(size_key, 30)), self.page_size)
        number = int(query.get("page", 1))
        chunk = rows[(number - 1) * size : number * size]
        headers = {"X-Total-Count": str(len(rows))}
        if number * size < len(rows):
            rest = {**query, "page": str(number + 1)}
            origin = self.url[: len(self.url) - len(self.root)] if self.root else self.url
            link = origin + path + "?" + "&".join(f"{k}={v}" for k, v in rest.items())
            headers["Link"] = f'<{link}>; rel="next"'
        return 200, headers, chunk

    def new_pr(self, head: str, base: str, title: str, body: str) -> PR:
        sha = self.branch_sha(head) or ""
        pr = PR(len(self.prs) + 1, title, body, head, base, sha)
        self.prs[pr.number] = pr
        return pr

    def duplicate(self, head: str, base: str) -> PR | None:
        return next((p for p in self.open_prs() if p.head == head and p.base == base), None)


# -------------------------------------------------------------------- GitHub


class FakeGitHub(FakeForge):
    kind = "github"
    root = ""
    PULLS = re.compile(rf"^/repos/{REPO}/pulls$")
    PULL = re.compile(rf"^/repos/{REPO}/pulls/(\d+)$")
    COMMENTS = re.compile(rf"^/repos/{REPO}/issues/(\d+)/comments$")
    LABELS = re.compile(rf"^/repos/{REPO}/issues/(\d+)/labels$")
    REVIEWERS = re.compile(rf"^/repos/{REPO}/pulls/(\d+)/requested_reviewers$")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") in (f"Bearer {TOKEN}", f"token {TOKEN}")

    def validate(
        self, method: str, target: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> list[str] | None:
        api = load("github-pulls.json", "http://fake")
        return problems(api, "http://fake", method, "http://fake" + target, headers, raw)

    def validate_answer(
        self, method: str, target: str, status: int, payload: Any, headers: dict[str, str]
    ) -> list[str] | None:
        api = load("github-pulls.json", "http://fake")
        raw = json.dumps(payload).encode()
        url = "http://fake" + target
        return response_problems(api, "http://fake", method, url, status, raw, headers)

    def json(self, pr: PR) -> dict[str, Any]:
        data = copy.deepcopy(example_pull_request())
        data.update(
            number=pr.number,
            title=pr.title,
            body=pr.body,
            state=pr.state,
            merged=pr.merged,
            merged_at="2026-01-01T00:00:00Z" if pr.merged else None,
            html_url=f"https://github.test/{REPO}/pull/{pr.number}",
            url=f"{self.url}/repos/{REPO}/pulls/{pr.number}",
        )
        data["head"]["ref"] = pr.head
        data["head"]["sha"] = pr.head_sha or "0" * 40
        data["head"]["repo"]["full_name"] = REPO
        data["base"]["ref"] = pr.base
        return data

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if self.PULLS.match(path) and method == "GET":
            state = query.get("state", "open")
            rows = [
                p
                for p in self.prs.values()
                if (state == "all" or p.state == state)
                and ("base" not in query or p.base == query["base"])
                and ("head" not in query or f"acme:{p.head}" == query["head"])
            ]
            rows.sort(key=lambda p: -p.number)
            return self.page([self.json(p) for p in rows], query, "per_page", path)
        if self.PULLS.match(path) and method == "POST":
            if self.branch_sha(body["head"]) is None:
                return (
                    422,
                    {},
                    {
                        "message": "Validation Failed",
                        "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                    },
                )
            if self.duplicate(body["head"], body["base"]):
                return (
                    422,
                    {},
                    {
                        "message": "Validation Failed",
                        "errors": [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": "A pull request already exists for "
                                f"acme:{body['head']}.",
                            }
                        ],
                    },
                )
            pr = self.new_pr(
                body["head"], body["base"], body.get("title", ""), body.get("body", "")
            )
            return 201, {"Location": f"{self.url}/repos/{REPO}/pulls/{pr.number}"}, self.json(pr)
        if m := self.PULL.match(path):
            pr = self.prs[int(m[1])]
            if method == "PATCH":
                pr.title = body.get("title", pr.title)
                pr.body = body.get("body", pr.body)
                pr.state = body.get("state", pr.state)
                pr.head_sha = self.branch_sha(pr.head) or pr.head_sha
            return 200, {}, self.json(pr)
        if m := self.COMMENTS.match(path):
            self.prs[int(m[1])].comments.append(body["body"])
            return 201, {}, {**github_example("issue-comment"), "body": body["body"]}
        if m := self.LABELS.match(path):
            self.prs[int(m[1])].labels.extend(body["labels"])
            return (
                200,
                {},
                [
                    {
                        "id": i,
                        "node_id": f"L{i}",
                        "url": f"{self.url}/repos/{REPO}/labels/{name}",
                        "name": name,
                        "description": None,
                        "color": "ffffff",
                        "default": False,
                    }
                    for i, name in enumerate(self.prs[int(m[1])].labels, 1)
                ],
            )
        if m := self.REVIEWERS.match(path):
            self.prs[int(m[1])].reviewers.extend(body.get("reviewers", []))
            return 201, {}, self.json(self.prs[int(m[1])])
        return 404, {}, {"message": "Not Found"}


# -------------------------------------------------------------------- Gitea


class FakeGitea(FakeForge):
    kind = "gitea"
    root = "/api/v1"
    LABEL_IDS: ClassVar[dict[str, int]] = {"images": 7, "automated": 9}
    PULLS = re.compile(rf"^/api/v1/repos/{REPO}/pulls$")
    PULL = re.compile(rf"^/api/v1/repos/{REPO}/pulls/(\d+)$")
    BY_HEAD = re.compile(rf"^/api/v1/repos/{REPO}/pulls/([^/0-9][^/]*)/(.+)$")
    COMMENTS = re.compile(rf"^/api/v1/repos/{REPO}/issues/(\d+)/comments$")
    LABELS = re.compile(rf"^/api/v1/repos/{REPO}/labels$")
    REVIEWERS = re.compile(rf"^/api/v1/repos/{REPO}/pulls/(\d+)/requested_reviewers$")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"token {TOKEN}"

    def validate(
        self, method: str, target: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> list[str] | None:
        api = load("gitea-pulls.json", "http://fake/api/v1")
        return problems(api, "http://fake", method, "http://fake" + target, headers, raw)

    def validate_answer(
        self, method: str, target: str, status: int, payload: Any, headers: dict[str, str]
    ) -> list[str] | None:
        api = load("gitea-pulls.json", "http://fake/api/v1")
        raw = json.dumps(payload).encode()
        url = "http://fake" + target
        return response_problems(api, "http://fake", method, url, status, raw, headers)

    def json(self, pr: PR) -> dict[str, Any]:
        repo = {"id": 1, "full_name": REPO, "name": "gitops"}
        return {
            "id": 100 + pr.number,
            "number": pr.number,
            "title": pr.title,
            "body": pr.body,
            "state": pr.state,
            "merged": pr.merged,
            "html_url": f"https://gitea.test/{REPO}/pulls/{pr.number}",
            "url": f"https://gitea.test/{REPO}/pulls/{pr.number}",
            "labels": [{"id": self.LABEL_IDS.get(n, 0), "name": n} for n in pr.labels],
            "head": {"ref": pr.head, "sha": pr.head_sha, "repo": repo, "repo_id": 1},
            "base": {"ref": pr.base, "sha": "", "repo": repo, "repo_id": 1},
        }

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if self.PULLS.match(path) and method == "GET":
            state = query.get("state", "open")
            rows = [p for p in self.prs.values() if state == "all" or p.state == state]
            rows.sort(key=lambda p: -p.number)
            return self.page([self.json(p) for p in rows], query, "limit", path)
        if self.PULLS.match(path) and method == "POST":
            if self.branch_sha(body["head"]) is None:
                return 404, {}, {"message": "head branch does not exist"}
            if dup := self.duplicate(body["head"], body["base"]):
                message = (
                    f"pull request already exists for these targets [id: {100 + dup.number}, "
                    f"issue_id: {dup.number}, head_repo_id: 1, base_repo_id: 1, "
                    f"head_branch: {dup.head}, base_branch: {dup.base}]"
                )
                return 409, {}, {"message": message, "url": "https://gitea.test/api/swagger"}
            pr = self.new_pr(
                body["head"], body["base"], body.get("title", ""), body.get("body", "")
            )
            names = {v: k for k, v in self.LABEL_IDS.items()}
            pr.labels = [names[i] for i in body.get("labels", [])]
            return 201, {}, self.json(pr)
        if m := self.PULL.match(path):
            pr = self.prs[int(m[1])]
            if method == "PATCH":
                pr.title = body.get("title", pr.title)
                pr.body = body.get("body", pr.body)
                pr.state = body.get("state", pr.state)
                return 201, {}, self.json(pr)
            return 200, {}, self.json(pr)
        if m := self.BY_HEAD.match(path):
            base, head = unquote(m[1]), unquote(m[2])
            found = [p for p in self.prs.values() if p.base == base and p.head == head]
            if not found:
                return 404, {}, {"message": "not found"}
            return 200, {}, self.json(max(found, key=lambda p: (p.state == "open", p.number)))
        if m := self.COMMENTS.match(path):
            self.prs[int(m[1])].comments.append(body["body"])
            return 201, {}, {"id": 1, "body": body["body"]}
        if self.LABELS.match(path):
            rows = [{"id": i, "name": n, "color": "ffffff"} for n, i in self.LABEL_IDS.items()]
            return self.page(rows, query, "limit", path)
        if m := self.REVIEWERS.match(path):
            self.prs[int(m[1])].reviewers.extend(body.get("reviewers", []))
            return 201, {}, []
        return 404, {}, {"message": "Not Found"}


# -------------------------------------------------------------------- GitLab


class FakeGitLab(FakeForge):
    """Checks by hand what testing/forge.md lists from GitLab's openapi_v2.yaml."""

    kind = "gitlab"
    root = "/api/v4"
    MRS = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests$")
    MR = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)$")
    NOTES = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes$")
    USERS = "/api/v4/users"  # GET ?username=: an array of 0 or 1 users (GitLab docs)
    STATES: ClassVar[set[str]] = {"opened", "closed", "locked", "merged", "all"}
    NAMES: ClassVar[dict[str, int]] = {"alice": 7, "bob": 8}

    def authorized(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("private-token") == TOKEN
            or headers.get("authorization") == f"Bearer {TOKEN}"
        )

    def validate(
        self, method: str, target: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> list[str] | None:
        path = urlsplit(target).path
        query = dict(parse_qsl(urlsplit(target).query))
        if path == self.USERS:
            if method != "GET" or not query.get("username"):
                return ["GET /users needs ?username="]
            return None
        match = self.MRS.match(path) or self.MR.match(path) or self.NOTES.match(path)
        if match is None:
            return [f"PathNotFound: {path}"]
        if unquote(match[1]) != REPO or "/" in match[1]:
            return [f"project must be an id or a URL-encoded path, got {match[1]!r}"]
        errors: list[str] = []
        if "state" in query and query["state"] not in self.STATES:
            errors.append(f"state {query['state']!r} is not one of {sorted(self.STATES)}")
        for key in ("page", "per_page"):
            if key in query and not query[key].isdigit():
                errors.append(f"{key} must be an integer")
        if method in ("POST", "PUT") and not isinstance(body, dict):
            errors.append("a JSON object body is required")
            return errors
        if method == "POST" and self.MRS.match(path):
            for key in ("source_branch", "target_branch", "title"):
                if not isinstance(body.get(key), str):
                    errors.append(f"{key!r} is a required string")
            if "labels" in body and not isinstance(body["labels"], str):
                errors.append("labels must be a comma-separated string")
            if "reviewer_ids" in body and not all(isinstance(i, int) for i in body["reviewer_ids"]):
                errors.append("reviewer_ids must be integers")
        if method == "PUT" and body.get("state_event", "close") not in ("close", "reopen"):
            errors.append("state_event must be close or reopen")
        if method == "POST" and self.NOTES.match(path) and not isinstance(body.get("body"), str):
            errors.append("'body' is a required string")
        return errors or None

    def json(self, pr: PR) -> dict[str, Any]:
        state = "merged" if pr.merged else ("opened" if pr.state == "open" else "closed")
        return {
            "id": 1000 + pr.number,
            "iid": pr.number,
            "project_id": 5,
            "source_project_id": 5,
            "target_project_id": 5,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "source_branch": pr.head,
            "target_branch": pr.base,
            "sha": pr.head_sha,
            "labels": pr.labels,
            "web_url": f"https://gitlab.test/{REPO}/-/merge_requests/{pr.number}",
            "changes_count": "1",
        }

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if path == self.USERS:
            name = query["username"]
            found = self.NAMES.get(name)
            users = [] if found is None else [{"id": found, "username": name, "state": "active"}]
            return 200, {}, users
        if self.MRS.match(path) and method == "GET":
            state = query.get("state", "all")
            rows = [
                p
                for p in self.prs.values()
                if (state == "all" or self.json(p)["state"] == state)
                and query.get("source_branch", p.head) == p.head
                and query.get("target_branch", p.base) == p.base
            ]
            rows.sort(key=lambda p: -p.number)
            status, headers, chunk = self.page(
                [self.json(p) for p in rows], query, "per_page", path
            )
            if "Link" in headers:
                headers["x-next-page"] = str(int(query.get("page", 1)) + 1)
                del headers["Link"]  # make the client use GitLab's own header
            return status, headers, chunk
        if self.MRS.match(path) and method == "POST":
            if dup := self.duplicate(body["source_branch"], body["target_branch"]):
                message = (
                    "Another open merge request already exists for this source branch: "
                    f"!{dup.number}"
                )
                return 409, {}, {"message": [message]}
            pr = self.new_pr(
                body["source_branch"], body["target_branch"], body["title"],
                body.get("description", ""),
            )  # fmt: skip
            pr.labels = [x for x in body.get("labels", "").split(",") if x]
            pr.reviewers = [str(i) for i in body.get("reviewer_ids", [])]
            return 201, {}, self.json(pr)
        if m := self.MR.match(path):
            pr = self.prs[int(m[2])]
            if method == "PUT":
                pr.title = body.get("title", pr.title)
                pr.body = body.get("description", pr.body)
                if body.get("state_event") == "close":
                    pr.state = "closed"
            return 200, {}, self.json(pr)
        if m := self.NOTES.match(path):
            self.prs[int(m[2])].comments.append(body["body"])
            return 201, {}, {"id": 1, "body": body["body"]}
        return 404, {}, {"message": "404 Not Found"}


FAKES: dict[str, type[FakeForge]] = {"github": FakeGitHub, "gitea": FakeGitea, "gitlab": FakeGitLab}


@contextmanager
def serve(fake: FakeForge) -> Iterator[FakeForge]:
    """Run ``fake`` on 127.0.0.1 in a thread; ``fake.url`` is its API root."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, raw)
            data = b"" if status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _do

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}{fake.mount}{fake.root}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
