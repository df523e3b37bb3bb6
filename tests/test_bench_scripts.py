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


def test_the_build_benchmark_counts_the_cpu_of_what_a_command_leaves_running():
    """A build returns once the site is published and its features' processes save their
    caches after that (generator/buildlock.py): the benchmark still counts their CPU time."""
    script = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
import bench_build
assert bench_build.become_subreaper()
child = '''
import os, time
if os.fork() == 0:  # left running: a second of CPU after the command returned
    end = time.process_time() + 1.0
    while time.process_time() < end:
        pass
    os._exit(0)
'''
code, run = bench_build.run_child([sys.executable, "-c", child])
print(code, round(run.seconds, 2), round(run.cpu_after, 2), round(run.cpu, 2))
"""
    done = subprocess.run([sys.executable, "-c", script, str(REPO / "bench")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code, seconds, after, cpu = done.stdout.split()
    assert code == "0"
    assert float(seconds) < 0.9  # the wall time ends when the command returns
    assert 0.9 <= float(after) <= float(cpu)


def test_the_build_benchmark_measures_the_cost_of_a_new_file_and_leaves_nothing_behind(tmp_path):
    script = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import bench_build
print(bench_build.new_file_cost(Path(sys.argv[2]), files=200))
"""
    done = subprocess.run([sys.executable, "-c", script, str(REPO / "bench"), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 0 < float(done.stdout) < 100_000  # microseconds a file
    assert list(tmp_path.iterdir()) == []
