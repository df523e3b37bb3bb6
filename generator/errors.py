"""One family of errors and the one shape every content problem is reported in.

A clerk fixes files, so every problem names the file, line, column and field it is about
(`path:line:column: field: message`), and a build reports all of them at once before it
stops. Tracebacks are for developers and only appear with `--debug`.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in the user's content. Sorted by file, then position."""

    path: str  # relative to the site root, with forward slashes
    line: int  # 1-based; 0 when the problem is about the whole file
    column: int  # 1-based
    field: str  # dotted field path such as `funds.items[1].amount`, or "" for the file
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class GongshiError(Exception):
    """Base of every error the CLI reports without a traceback."""


class ContentError(GongshiError):
    """The content (config, villages, notices, media) has problems; nothing was published."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # pickled whole (a build stage run in another process raises it)
        return (ContentError, (self.problems,))


class BuildError(GongshiError):
    """The build itself failed (a theme error, an output collision, a leak in the output)."""


def failure_lines(exc: BaseException, t, debug: bool = False) -> list[str]:
    """What the CLI (and the dev server's page) prints for a failed build, line by line."""
    if isinstance(exc, ContentError):
        return [t("cli.content_problems", count=len(exc.problems))] + [str(p) for p in exc.problems]
    if isinstance(exc, GongshiError):
        lines = [t("cli.build_failed"), str(exc)]
        return lines + (traceback.format_exc().rstrip().splitlines() if debug else [])
    if debug:
        return [t("cli.build_failed")] + traceback.format_exc().rstrip().splitlines()
    return [t("cli.build_failed"), traceback.format_exc(limit=1).strip().splitlines()[-1], t("cli.debug_hint")]
