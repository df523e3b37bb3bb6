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

    def say(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def stage(self, key: str, total: int | None = None):
        """Time one stage; yields a function to call once per item done."""
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
        elapsed = time.perf_counter() - start
        self.timings.append((key, elapsed))
        self.say(self.t("progress.stage_done", stage=label, seconds=f"{elapsed:.2f}", count=total if total is not None else "-"))

    def total_seconds(self) -> float:
        return sum(seconds for _, seconds in self.timings)
