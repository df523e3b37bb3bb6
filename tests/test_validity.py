"""Every page of the demo build passes the W3C Nu HTML checker (vnu.jar) with no error.

One run of the checker reads every .html page and every .svg file of the build, a second one
its style sheets (checking CSS in the first run would shift its HTML line numbers by one). Each
run also reads a broken canary, which shows that the checker ran, that its errors are read and
that their line numbers are right. Warnings are reported as Python warnings; errors fail the
test, each as file:line: message.
"""
from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

from checkers import VNU_JAR, java, locked_version, require

# Two mistakes the checker must report: a <div> inside a <p> (so a stray </p>, line 5) and an
# <img> without alt text (line 6).
CANARY_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>canary</title></head>
<body>
<p><div>a block inside a paragraph</div></p>
<img src="photo.jpg">
</body>
</html>
"""
CANARY_CSS = "p { color: black; }\nb { colr: red; }\n"  # no such property, line 2


def nu_check(files: list[Path], *options: str) -> list[tuple[Path, dict]]:
    """The checker's messages for `files` from one run, each with the file it is about."""
    run = subprocess.run(
        [java(), "-jar", str(require(VNU_JAR)), "--format", "json", "--stdout", "--exit-zero-always",
         *options, *map(str, files)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return [(Path(unquote(urlparse(m.get("url", "")).path)), m) for m in json.loads(run.stdout)["messages"]]


def is_error(message: dict) -> bool:
    # "non-document-error" is the checker failing to read a file; a file it did not check is
    # an info message, and an error here too.
    return message["type"] in ("error", "non-document-error") or "was not checked" in message.get("message", "")


def line(message: dict) -> int | None:
    return message.get("lastLine")  # where the checker saw the mistake; firstLine is optional


def test_every_page_passes_the_nu_html_checker(demo_build, tmp_path):
    root = demo_build.resolve()
    pages = sorted(root.rglob("*.html")) + sorted(root.rglob("*.svg"))
    sheets = sorted(root.rglob("*.css"))
    assert len(pages) > 100 and sheets  # the whole demo, not an empty folder
    canary_html, canary_css = tmp_path / "canary.html", tmp_path / "canary.css"
    canary_html.write_text(CANARY_HTML, encoding="utf-8")
    canary_css.write_text(CANARY_CSS, encoding="utf-8")

    messages = nu_check([*pages, canary_html], "--also-check-svg") + nu_check([*sheets, canary_css], "--css")

    canaries = {canary_html: {5, 6}, canary_css: {2}}
    for canary, lines in canaries.items():
        assert {line(m) for path, m in messages if path == canary and is_error(m)} == lines, canary.name
    site = [(path, m) for path, m in messages if path not in canaries]

    def where(path: Path, m: dict) -> str:
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        return f"{name}:{line(m)}" if line(m) else name

    for path, m in site:
        if not is_error(m) and m.get("subType") == "warning":
            warnings.warn(f"Nu HTML checker: {where(path, m)}: {m['message']}", stacklevel=1)
    errors = [f"{where(path, m)}: {m['message']}" for path, m in site if is_error(m)]
    assert not errors, (f"the Nu HTML checker {locked_version('vnu-jar')} found {len(errors)} errors:\n"
                        + "\n".join(errors))
