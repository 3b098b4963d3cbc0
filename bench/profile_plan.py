"""Profile `plan` in-process with cProfile on a generated repository (see bench/run.py).

python bench/profile_plan.py --files 2000 --images 200 --tags 100
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as plan_bench  # noqa: E402

from imageupdater import app, commands, discovery  # noqa: E402
from imageupdater.devtools import start_registry  # noqa: E402
from imageupdater.devtools.seed import seed_storage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--warm", action="store_true", help="profile a second plan over one --state-dir"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start_registry(Path(tmp) / "r") as registry:
        names = plan_bench.tag_names(args.tags)
        for i in range(args.images):
            seed_storage(registry.root, f"bench/app-{i}", names)
        repo = Path(tmp) / "repo"
        plan_bench.make_repository(repo, registry.host, args.files, 2 * args.files, args.images)
        options = app.Options(insecure_registries=(registry.host,))
        if args.warm:
            from imageupdater.cli.options import registry_cache
            from imageupdater.yamledit import clear_cache

            options = app.Options(insecure_registries=(registry.host,), state_dir=Path(tmp) / "s")
            with registry_cache(options, "5m", False) as cached:
                commands.plan(repo, cached)
            clear_cache()  # as in a new process: only what the state directory holds
            discovery.forget()
        with registry_cache(options, "5m", False) if args.warm else nullcontext(options) as options:
            run(repo, options, args.top)


def run(repo: Path, options: app.Options, top: int) -> None:
    if True:
        profile = cProfile.Profile()
        profile.enable()
        commands.plan(repo, options)
        profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    main()
