"""The benchmark scripts run and print their figures (`make bench` is not part of `make test`,
so without this a change to the code they measure could break them unnoticed)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_qr_benchmark_runs_and_reports_the_cache_from_what_a_build_stored():
    done = subprocess.run([sys.executable, str(REPO / "bench" / "bench_qr.py")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    figures = dict(line.rsplit(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    # The cache's figures come from what QrCache wrote: a read of the next build's cache and
    # the database's size per code must both be there and plausible.
    assert re.fullmatch(r"\d+\.\d\d ms", figures["QrCache next build (read a row, no encoding) per code, median"])
    size = int(figures["cache database per code, mean"].split()[0])
    assert 1000 < size < 50_000
    assert re.fullmatch(r"0 of [1-9]\d* codes", figures["demo build, warm cache: QR codes encoded"])
