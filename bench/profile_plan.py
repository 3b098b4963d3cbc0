"""Profile `plan` in-process with cProfile on a generated repository (see bench/run.py).

python bench/profile_plan.py --files 2000 --images 200 --tags 100
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as plan_bench  # noqa: E402

from imageupdater import app, commands  # noqa: E402
from imageupdater.devtools import start_registry  # noqa: E402
from imageupdater.devtools.seed import seed_storage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start_registry(Path(tmp) / "r") as registry:
        names = plan_bench.tag_names(args.tags)
        for i in range(args.images):
            seed_storage(registry.root, f"bench/app-{i}", names)
        repo = Path(tmp) / "repo"
        plan_bench.make_repository(repo, registry.host, args.files, 2 * args.files, args.images)
        options = app.Options(insecure_registries=(registry.host,))
        profile = cProfile.Profile()
        profile.enable()
        commands.plan(repo, options)
        profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
