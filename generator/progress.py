"""Build progress: a bar with per-stage timings on a terminal, plain lines elsewhere (CI, logs)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from tqdm import tqdm


class Progress:
    def __init__(self, t, stream=None, *, enabled: bool = True):
        self.t = t
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.timings: list[tuple[str, float]] = []
        self._pending: dict[str, float] = {}

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
            bar = tqdm(total=total, desc=label, file=self.stream, leave=False, unit="", dynamic_ncols=True)
        advance = (lambda n=1: bar.update(n)) if bar is not None else (lambda n=1: None)
        try:
            yield advance
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - start + self._pending.pop(key, 0.0)
        if not report:
            self._pending[key] = elapsed
            return
        self.timings.append((key, elapsed))
        if total is None:
            self.say(self.t("progress.stage_done", stage=label, seconds=f"{elapsed:.2f}"))
        else:
            self.say(self.t("progress.stage_done_count", stage=label, seconds=f"{elapsed:.2f}", count=total))

    def total_seconds(self) -> float:
        return sum(seconds for _, seconds in self.timings)
