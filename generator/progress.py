"""Build progress: a bar with per-stage timings on a terminal, plain lines elsewhere (CI, logs)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager


class Progress:
    def __init__(self, t, stream=None, *, enabled: bool = True):
        self.t = t
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.timings: list[tuple[str, float]] = []
        self._pending: dict[str, float] = {}
        self.started = time.perf_counter()

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def stage(self, key: str, total: int | None = None, *, report: bool = True):
        """Time one stage; yields a function to call once per item done.

        A stage run in two parts (a feature's preparation and its writing) reports once:
        the first part with `report=False`, the second adds the first part's time.
        """
        label = self.t(f"build_stage.{key}")
        start = time.perf_counter()
        bar = None
        if self.interactive and total:
            from tqdm import tqdm  # here: its import (some 50 ms) is paid only where a bar is shown

            bar = tqdm(total=total, desc=label, file=self.stream, leave=False, unit="", dynamic_ncols=True)
        advance = (lambda n=1: bar.update(n)) if bar is not None else (lambda n=1: None)
        try:
            yield advance
        finally:
            if bar is not None:
                bar.close()
        self._done(key, time.perf_counter() - start, total, report)

    def record(self, key: str, seconds: float, total: int | None = None) -> None:
        """A stage timed elsewhere (a feature run in another process, beside the others)."""
        self._done(key, seconds, total, True)

    def _done(self, key: str, seconds: float, total: int | None, report: bool) -> None:
        label = self.t(f"build_stage.{key}")
        elapsed = seconds + self._pending.pop(key, 0.0)
        if not report:
            self._pending[key] = elapsed
            return
        self.timings.append((key, elapsed))
        if total is None:
            self.say(self.t("progress.stage_done", stage=label, seconds=f"{elapsed:.2f}"))
        else:
            self.say(self.t("progress.stage_done_count", stage=label, seconds=f"{elapsed:.2f}", count=total))

    def total_seconds(self) -> float:
        """The stages' times added up (more than the wall time when some ran side by side)."""
        return sum(seconds for _, seconds in self.timings)

    def wall_seconds(self) -> float:
        """Time since this progress began (the build's, from the caller's first step)."""
        return time.perf_counter() - self.started
