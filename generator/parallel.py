"""Running a build's many independent jobs on every core.

Rendering ten thousand pages is the longest stage of a large build, and each page depends
only on the model, so the jobs are split between worker processes forked after the model
is built: they inherit it (and the templates) without copying or pickling anything, and
each writes its own files. Small batches, one-core machines and platforms without `fork`
run in this process. `GONGSHI_JOBS` sets the number of processes (1 turns this off).
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Callable

MIN_JOBS = 300  # below this, starting processes costs more than it saves

_jobs: list[Callable[[], object]] = []


def workers() -> int:
    wanted = os.environ.get("GONGSHI_JOBS")
    if wanted:
        return max(1, int(wanted))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run_share(share: tuple[int, int]) -> list:
    start, step = share
    return [_jobs[index]() for index in range(start, len(_jobs), step)]


def run_parallel(jobs: list[Callable[[], object]], min_jobs: int | None = None) -> list:
    """Run every job once and return their results in order; a job's exception is raised here."""
    global _jobs
    count = workers()
    threshold = MIN_JOBS if min_jobs is None else min_jobs
    if count <= 1 or len(jobs) < threshold or "fork" not in multiprocessing.get_all_start_methods():
        return [job() for job in jobs]
    _jobs = jobs  # forked workers see the list; only share numbers and results are pickled
    try:
        with multiprocessing.get_context("fork").Pool(count) as pool:
            shares = pool.map(_run_share, [(start, count) for start in range(count)])
    finally:
        _jobs = []
    results: list = [None] * len(jobs)
    for start, share in enumerate(shares):
        results[start::count] = share
    return results
