"""SPEC §6 PR mode against stateful fake GitHub, GitLab and Gitea (issue 6's flows)."""

from __future__ import annotations

from imageupdater.engine import make_plan
from imageupdater.prmode import PRSettings, deliver_pr
from imageupdater.workspace import Workspace
from tests.forge.conftest import NOW, Env, deployment
from tests.gitenv import git


def test_open_one_pr_per_workload_then_rerun_changes_nothing(env: Env) -> None:
    report = env.run(labels=("images",))
    assert [(r["action"], r["branch"]) for r in report.pull_requests] == [
        ("opened", "imageupdater/deployment-shop-api"),
        ("opened", "imageupdater/deployment-shop-web"),
    ]
    assert not report.errors
    prs = sorted(env.fake.open_prs(), key=lambda p: p.head)
    assert [p.title for p in prs] == [
        "Update Deployment/shop/api api to 1.0.1",
        "Update Deployment/shop/web web to 1.1.0",
    ]
    assert "| Deployment/shop/web | web |" in prs[1].body
    assert prs[1].labels == ["images"]
    # the branch is one commit on top of main, touching only the image value
    branch = "imageupdater/deployment-shop-web"
    assert git(env.remote, "rev-parse", f"{branch}~1") == git(env.remote, "rev-parse", "main")
    diff = git(env.remote, "diff", "main", branch)
    assert "-          image: reg.test/acme/web:1.0.0" in diff
    assert "+          image: reg.test/acme/web:1.1.0" in diff
    assert "Image-Update: Deployment/shop/web web 1.0.0 -> 1.1.0" in git(
        env.remote, "log", "-1", "--format=%B", branch
    )
    # the checkout is untouched
    assert git(env.work, "status", "--porcelain") == ""

    posts, heads = env.fake.count("POST", r"(pulls|merge_requests)$"), env.fake.branches()
    again = env.run(labels=("images",))
    assert [r["action"] for r in again.pull_requests] == ["unchanged", "unchanged"]
    assert env.fake.count("POST", r"(pulls|merge_requests)$") == posts
    assert env.fake.count("PATCH", "") + env.fake.count("PUT", "") == 0
    assert env.fake.branches() == heads
    assert len(env.fake.open_prs()) == 2


def test_newer_tag_updates_the_same_pr_in_place(env: Env) -> None:
    env.run()
    sha = env.fake.branch_sha("imageupdater/deployment-shop-web")
    env.registry.tags["acme/web"].append("1.2.0")
    report = env.run()
    web = [r for r in report.pull_requests if r["branch"].endswith("web")]
    assert [r["action"] for r in web] == ["updated"]
    open_prs = env.fake.open_prs()
    assert len(open_prs) == 2
    pr = next(p for p in open_prs if p.head.endswith("web"))
    assert pr.title == "Update Deployment/shop/web web to 1.2.0"
    assert "**1.2.0**" in pr.body
    assert env.fake.branch_sha("imageupdater/deployment-shop-web") != sha
    assert env.fake.count("POST", r"(pulls|merge_requests)$") == 2


def test_pin_closes_the_pr_with_a_comment_and_deletes_the_branch(env: Env) -> None:
    env.run()
    pinned = deployment("web", "1.0.0", '    imageupdater.io/pin: "1.0.0"\n')
    env.push_main("apps/web.yaml", pinned)
    report = env.run()
    closed = [r for r in report.pull_requests if r["action"] == "closed"]
    assert [r["branch"] for r in closed] == ["imageupdater/deployment-shop-web"]
    pr = env.fake.prs[closed[0]["number"]]
    assert pr.state == "closed"
    assert "pinned" in pr.comments[-1]
    assert "imageupdater/deployment-shop-web" not in env.fake.branches()
    assert "imageupdater/deployment-shop-api" in env.fake.branches()
    # and it stays closed: nothing to do on the next run
    assert [r["action"] for r in env.run().pull_requests] == ["unchanged"]


def test_base_already_has_the_version_closes_the_pr(env: Env) -> None:
    env.run()
    env.push_main("apps/web.yaml", deployment("web", "1.1.0"))
    report = env.run()
    closed = [r for r in report.pull_requests if r["action"] == "closed"]
    assert len(closed) == 1
    assert "already up to date" in env.fake.prs[closed[0]["number"]].comments[-1]


def test_merged_pr_is_not_proposed_again(env: Env) -> None:
    env.run()
    web = next(p for p in env.fake.open_prs() if p.head.endswith("web"))
    env.fake.merge(web.number)
    report = env.run()
    assert [r["action"] for r in report.pull_requests] == ["unchanged"]
    assert all(u.workload != "Deployment/shop/web" for u in report.updates)


def test_human_closed_pr_is_not_reopened_but_a_newer_version_is_proposed(env: Env) -> None:
    env.run()
    web = next(p for p in env.fake.open_prs() if p.head.endswith("web"))
    env.fake.close_unmerged(web.number)
    report = env.run()
    assert [r["branch"] for r in report.pull_requests] == ["imageupdater/deployment-shop-api"]
    declined = [s for s in report.skipped if s.reason == "declined"]
    assert [s.workload for s in declined] == ["Deployment/shop/web"]
    assert f"#{web.number}" in declined[0].detail
    assert env.fake.prs[web.number].state == "closed"
    env.registry.tags["acme/web"].append("1.2.0")
    report = env.run()
    opened = [r for r in report.pull_requests if r["action"] == "opened"]
    assert len(opened) == 1
    assert env.fake.prs[opened[0]["number"]].title.endswith("to 1.2.0")


def test_a_human_commit_on_a_bot_branch_is_left_alone(env: Env) -> None:
    env.run()
    branch = "imageupdater/deployment-shop-web"
    git(env.work, "fetch", "-q", "origin", branch)
    git(env.work, "checkout", "-q", "FETCH_HEAD")
    (env.work / "NOTES.md").write_text("reviewed\n")
    git(env.work, "add", "NOTES.md")
    git(env.work, "commit", "-q", "-m", "human note")
    human = git(env.work, "rev-parse", "HEAD")
    git(env.work, "push", "-q", "origin", f"HEAD:{branch}")
    git(env.work, "checkout", "-q", "main")
    env.registry.tags["acme/web"].append("1.2.0")
    report = env.run()
    assert env.fake.branch_sha(branch) == human
    declined = [s for s in report.skipped if s.reason == "declined"]
    assert "someone else" in declined[0].detail
    pr = next(p for p in env.fake.open_prs() if p.head == branch)
    assert pr.title.endswith("1.1.0")


def test_outages_are_retried_and_a_branch_without_pr_is_picked_up(env: Env) -> None:
    env.fake.fail_next(2, 502)
    env.fake.fail_next(1, 429, {"Retry-After": "0"})
    report = env.run()
    assert not report.errors
    assert len(env.fake.open_prs()) == 2
    assert env.sleeps[-1] == 0  # Retry-After honoured

    env.registry.tags["acme/web"].append("1.2.0")
    env.registry.tags["acme/db"].append("1.0.5")
    env.fake.fail_next(1, 200)  # placeholder removed below
    env.fake.failures.clear()
    # every forge call fails after the listing: the db branch is pushed, its PR is not opened
    original = env.fake.route

    def broken(method: str, path: str, query: dict[str, str], body: object) -> object:
        if method in ("POST", "PATCH", "PUT"):
            return 503, {}, {"message": "down"}
        return original(method, path, query, body)

    env.fake.route = broken  # type: ignore[assignment,method-assign]
    failed = env.run()
    assert {e.kind for e in failed.errors} == {"forge"}
    assert env.fake.branch_sha("imageupdater/deployment-shop-db") is not None
    assert len(env.fake.open_prs()) == 2

    env.fake.route = original  # type: ignore[method-assign]
    healed = env.run()
    assert not healed.errors
    actions = {r["branch"].rsplit("-", 1)[1]: r["action"] for r in healed.pull_requests}
    assert actions == {"api": "unchanged", "db": "opened", "web": "updated"}
    assert len(env.fake.open_prs()) == 3
    assert len({p.head for p in env.fake.open_prs()}) == 3


def test_removed_annotation_closes_the_pr(env: Env) -> None:
    env.run()
    env.push_main("apps/api.yaml", deployment("api", "1.0.0").replace("imageupdater.io/", "x/"))
    report = env.run()
    closed = [r for r in report.pull_requests if r["action"] == "closed"]
    assert [r["branch"] for r in closed] == ["imageupdater/deployment-shop-api"]
    assert "no longer annotated" in env.fake.prs[closed[0]["number"]].comments[-1]
    assert "imageupdater/deployment-shop-api" not in env.fake.branches()


def test_a_registry_outage_never_closes_a_pr(env: Env) -> None:
    env.run()
    env.registry.failing["acme/web"] = 503
    report = env.run()
    assert [e.kind for e in report.errors] == ["registry"]
    assert [r["action"] for r in report.pull_requests] == ["unchanged"]
    assert len(env.fake.open_prs()) == 2
    assert "imageupdater/deployment-shop-web" in env.fake.branches()


def test_grouping_all_gives_one_pr_and_regrouping_supersedes(env: Env) -> None:
    env.run()
    report = env.run(grouping="all")
    actions = sorted((r["action"], r["branch"]) for r in report.pull_requests)
    assert actions == [
        ("closed", "imageupdater/deployment-shop-api"),
        ("closed", "imageupdater/deployment-shop-web"),
        ("opened", "imageupdater/all"),
    ]
    (pr,) = env.fake.open_prs()
    assert pr.title == "Update 2 images"
    assert "superseded" in env.fake.prs[1].comments[-1]
    changed = git(env.remote, "diff", "--name-only", "main", "imageupdater/all").split()
    assert changed == ["apps/api.yaml", "apps/web.yaml"]


def test_a_checkout_ahead_of_the_remote_never_leaks_into_a_pr(env: Env) -> None:
    (env.work / "apps/web.yaml").write_text("# local note\n" + deployment("web", "1.0.0"))
    git(env.work, "commit", "-q", "-am", "unpushed local commit")
    forge, http = env.forge()
    with http, env.registry.client() as client:
        plan = make_plan(env.work, client, NOW)
        report = deliver_pr(plan, Workspace(env.work), forge, PRSettings())
    assert [e.file for e in report.errors] == ["apps/web.yaml"]
    assert "pull, then run again" in report.errors[0].message
    assert [r["branch"] for r in report.pull_requests] == ["imageupdater/deployment-shop-api"]
    assert "imageupdater/deployment-shop-web" not in env.fake.branches()


def test_a_failed_close_keeps_pr_and_branch_and_the_next_run_finishes(env: Env) -> None:
    env.run()
    env.push_main("apps/web.yaml", deployment("web", "1.0.0", '    imageupdater.io/pin: "1.0.0"\n'))
    original = env.fake.route

    def broken(method: str, path: str, query: dict[str, str], body: object) -> object:
        if method != "GET":
            return 500, {}, {"message": "down"}
        return original(method, path, query, body)

    env.fake.route = broken  # type: ignore[assignment,method-assign]
    failed = env.run()
    assert [e.kind for e in failed.errors] == ["forge"]
    assert len(env.fake.open_prs()) == 2
    assert "imageupdater/deployment-shop-web" in env.fake.branches()

    env.fake.route = original  # type: ignore[method-assign]
    healed = env.run()
    assert not healed.errors
    assert [r["action"] for r in healed.pull_requests] == ["unchanged", "closed"]
    assert "imageupdater/deployment-shop-web" not in env.fake.branches()
