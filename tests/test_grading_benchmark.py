"""``python -m benchmarks.grading --quick`` grades real copies of the solution and writes results."""

from __future__ import annotations

import json

import pytest

from mmcourse.grading import sandbox

pytestmark = pytest.mark.slow


@pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox: {sandbox.available()}")
def test_grading_benchmark_quick_writes_results(tmp_path):
    from benchmarks import grading

    assert grading.main(["--quick", "--out", str(tmp_path), "--engine", "sandboxed"]) == 0
    payload = json.loads((tmp_path / "grading.json").read_text(encoding="utf-8"))
    rows = payload["tables"]["throughput"]["rows"]
    assert [(row["exercise"], row["engine"], row["submissions"]) for row in rows] == [("05", "sandboxed", 2)]
    assert rows[0]["full_marks"] == 2 and rows[0]["per_minute"] > 0
    assert "300 submissions" in (tmp_path / "grading.md").read_text(encoding="utf-8")
