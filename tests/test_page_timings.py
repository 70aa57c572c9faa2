"""benchmarks/page_timings.py on tiny settings: it makes its store, runs every page and prints the table
(the figures for BENCHMARKS.md come from a quiet machine at 20,000 documents and 200 runs)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_page_timings_script_times_every_page(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.page_timings", "--docs", "300", "--runs", "4",
                           "--repeats", "1", "--home", str(tmp_path / "home")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("store: 300 documents, 4 finished runs")
    for page in ("app.py", "app_pages/2_Train.py", "app_pages/6_Documents.py"):
        row = next(line for line in lines if line.startswith(page)).split()
        assert len(row) == 4 and all(float(seconds) >= 0 for seconds in row[1:])
    assert "after its first load" in lines[-1]
