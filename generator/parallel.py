"""Running a build's many independent jobs on every core.

Rendering ten thousand pages is the longest stage of a large build, and each page depends
only on the model, so the jobs are split between this process and worker processes forked
after the model is built: they inherit it (and the templates) without copying or pickling
anything, and each writes its own files. Small batches, one-core machines and platforms without `fork`
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


def run_parallel(jobs: list[Callable[[], object]], min_jobs: int | None = None, count: int | None = None) -> list:
    """Run every job once and return their results in order; a job's exception is raised here.
    `count`: the number of processes, instead of `workers()`."""
    global _jobs
    count = workers() if count is None else count
    threshold = MIN_JOBS if min_jobs is None else min_jobs
    if count <= 1 or len(jobs) < threshold or "fork" not in multiprocessing.get_all_start_methods():
        return [job() for job in jobs]
    _jobs = jobs  # forked workers see the list; only share numbers and results are pickled
    try:
        # This process does the first share itself rather than wait: one process fewer, each
        # holding its own copy of the part of the model it touches (tens of MB on a large site).
        with multiprocessing.get_context("fork").Pool(count - 1) as pool:
            others = pool.map_async(_run_share, [(start, count) for start in range(1, count)])
            # (from `jobs`, not the module's list, which a job calling run_parallel would replace)
            shares = [[job() for job in jobs[0::count]]] + others.get()
    finally:
        _jobs = []
    results: list = [None] * len(jobs)
    for start, share in enumerate(shares):
        results[start::count] = share
    return results


def run_apart(job: Callable[[], object]) -> object:
    """`job()`, run in a forked process so that what it loads (a large library's data) does
    not stay in this one; here when there are no workers (`GONGSHI_JOBS=1`, no `fork`) or
    no process to be had. `start_apart` starts it and lets this process go on meanwhile."""
    return start_apart(job).result()


def start_apart(job: Callable[[], object]):
    """`job()` started in a forked process (as `run_apart`), its value taken later with the
    handle's `result()`; `close()` if it is not wanted after all."""
    from .inputs import Apart

    return Apart(job, here=workers() <= 1)
