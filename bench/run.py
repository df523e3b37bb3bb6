"""Every benchmark, one after another: `make bench` runs this.

    python bench/run.py [--large] [--only NAME ...]

Runs bench/bench_qr.py, bench/bench_search.py and bench/bench_build.py with this Python, each
under a header, and prints their output as it comes. `--large` is passed on to
bench_build.py (it adds the 50,000-notice county). Exit code 1 when any of them failed;
a benchmark that missed a target still exits 0: its figures say so.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("bench_qr.py", "bench_search.py", "bench_build.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="pass --large to bench_build.py")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these")
    args = parser.parse_args(argv)

    results = []
    for script in args.only or SCRIPTS:
        extra = ["--large"] if args.large and script == "bench_build.py" else []
        print(f"\n{'=' * 78}\n{script} {' '.join(extra)}\n{'=' * 78}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(BENCH / script), *extra], cwd=BENCH.parent)
        results.append((script, code, time.perf_counter() - started))

    print(f"\n{'=' * 78}\nsummary\n{'=' * 78}")
    for script, code, seconds in results:
        print(f"  {script:<20} {'ok' if code == 0 else f'FAILED (exit code {code})':<24} {seconds:8.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
