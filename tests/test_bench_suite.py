"""The benchmark suite's own logic (the benchmarks themselves are not part of the tests)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_suite", BENCH / "suite.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_suite"] = module  # dataclasses look their module up there
    saved = list(sys.path)  # the suite puts bench/ on the path for `import run`
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def test_request_counts_prove_one_walk_per_image() -> None:
    suite = load_suite()
    log = (
        '127.0.0.1 - - [x] "GET /v2/ HTTP/1.1" 200 2 "" "ua"\n'
        '127.0.0.1 - - [x] "GET /v2/bench/app-0/tags/list?n=1000 HTTP/1.1" 200 9 "" "ua"\n'
        '127.0.0.1 - - [x] "GET /v2/bench/app-0/tags/list?n=1000&last=9 HTTP/1.1" 200 9 "" "ua"\n'
        '127.0.0.1 - - [x] "GET /v2/bench/app-1/tags/list HTTP/1.1" 200 9 "" "ua"\n'
        '127.0.0.1 - - [x] "HEAD /v2/bench/app-1/manifests/1.0.1 HTTP/1.1" 200 0 "" "ua"\n'
    )
    requests = [(m.group(1), m.group(2)) for m in suite.REQUEST.finditer(log)]
    cell, note = suite.describe_requests(requests, 2)
    assert cell == "5 (3 tags/list, 1 manifests)"
    assert "2 images walked (of 2), walks per image [1], 3 pages" in note


def test_table_and_seconds() -> None:
    suite = load_suite()
    assert suite.seconds("1.25 s") == 1.25
    assert suite.seconds("n/a (daemon not built)") is None
