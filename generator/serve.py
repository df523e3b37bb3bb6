"""The dev server: the same `build()` as `gongshi build`, re-run when files change.

livereload watches content, config and themes; a burst of saves is collapsed into one
rebuild by waiting until the files have been quiet for a moment. Errors are printed
exactly as `gongshi build` prints them, and the last good site keeps being served.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import ContentError, GongshiError


def _rebuild(root: Path, out: Path, today, t) -> bool:
    from .build import build
    from .progress import Progress

    try:
        build(root, out, today, Progress(t))
        return True
    except ContentError as exc:
        print(t("cli.content_problems", count=len(exc.problems)), file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
    except GongshiError as exc:
        print(t("cli.build_failed"), file=sys.stderr)
        print(exc, file=sys.stderr)
    return False


def serve(root: Path, out: Path | None, today, port: int, t) -> int:
    from livereload import Server

    root = Path(root).resolve()
    out = Path(out).resolve() if out else root / "build"
    _rebuild(root, out, today, t)
    server = Server()
    rebuild = lambda: _rebuild(root, out, today, t)  # noqa: E731
    for pattern in ("site_config.yaml", "content/**/*", "themes/**/*"):
        server.watch(str(root / pattern), rebuild, delay=0.5)
    server.serve(root=str(out), host="127.0.0.1", port=port, open_url_delay=None, restart_delay=0)
    return 0
