"""Text output prints policies and messages as written: `[a-f0-9]` is not rich markup."""

from __future__ import annotations

import pytest

from imageupdater.cli import render
from imageupdater.report import ErrorEntry, Report, Skip, Update


def test_brackets_survive_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report()
    report.updates.append(
        Update("a.yaml", 3, None, None, "reg/x", "main-1", "main-2", "regex:^main-[a-f0-9]+$")
    )
    report.skipped.append(Skip("b.yaml", "no-candidate", "no tag matches regex:^[abc]$"))
    report.add_error(ErrorEntry("config", "bad [x] thing", file="c.yaml"))
    render.print_report(report, applied=False)
    out = capsys.readouterr().out
    assert "regex:^main-[a-f0-9]+$" in out
    assert "regex:^[abc]$" in out
    assert "bad [x] thing" in out
