"""Turning the site model into files: Jinja2 templates, filters and relative links.

Every page is rendered with the path it will be written to, so every internal link can be
made relative (`../villages/x.html`): the site then works under any sub-path and straight
from disk. Autoescape is on for everything; Markdown arrives already rendered and safe.
"""
from __future__ import annotations

import datetime as dt
import posixpath
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from . import money
from .i18n import Translator
from .markdown import render_markdown

BUILTIN_THEMES = (
    Path(__file__).parent / "themes",  # inside an installed wheel
    Path(__file__).parent.parent / "themes",  # in a source checkout
)


def theme_dirs(root: Path, name: str) -> list[Path]:
    """The site's own `themes/<name>/` first, then the built-in one of that name (for fallbacks)."""
    candidates = [root / "themes" / name] + [base / name for base in BUILTIN_THEMES]
    if name != "default":
        candidates += [base / "default" for base in BUILTIN_THEMES]
    found = []
    for path in candidates:
        if path.is_dir() and path.resolve() not in [f.resolve() for f in found]:
            found.append(path)
    return found


@lru_cache(maxsize=1 << 16)
def relative(target: str, page_path: str) -> str:
    """A link from the page at `page_path` to the site path `target` (both relative to the root).
    Cached: ten thousand pages in a few folders ask for the same few links again and again."""
    if target.startswith(("http:", "https:", "mailto:", "tel:", "#")):
        return target
    anchor = ""
    if "#" in target:
        target, anchor = target.split("#", 1)
        anchor = "#" + anchor
    start = posixpath.dirname(page_path) or "."
    return relpath(target, start) + anchor


def relpath(path: str, start: str) -> str:
    """posixpath.relpath for plain site paths, without its two abspath() calls (a third of
    the link-making time); anything unusual (., .., //, a leading /) goes to posixpath."""
    parts = path.split("/")
    bases = [] if start == "." else start.split("/")
    if "" in parts or "." in parts or ".." in parts or "" in bases or "." in bases or ".." in bases:
        return posixpath.relpath(path, start)
    common = 0
    for a, b in zip(parts, bases):
        if a != b:
            break
        common += 1
    rest = [".."] * (len(bases) - common) + parts[common:]
    return "/".join(rest) if rest else "."


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Renderer:
    def __init__(self, root: Path, config, today: dt.date, *, extra_globals: dict | None = None, cache_dir: Path | None = None):
        self.config = config
        self.t = Translator(config.language)
        dirs = theme_dirs(root, config.theme)
        if not dirs:
            from .errors import BuildError

            raise BuildError(f"theme '{config.theme}' not found in themes/ or among the built-in themes")
        self.theme_dirs = dirs
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d / "templates") for d in dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Compiled templates, keyed by their source's checksum: compiling the theme took
            # a quarter of a second on every build.
            bytecode_cache=jinja2.FileSystemBytecodeCache(str(_made(cache_dir / "templates"))) if cache_dir is not None else None,
            # A renderer lives for one build, over which the theme does not change: no
            # checking every template's file times again on each of 40,000 renders.
            auto_reload=False,
        )
        self.env.globals.update(
            t=self.t,
            config=config,
            today=today,
            lang=config.language,
            **(extra_globals or {}),
        )
        self.env.filters.update(
            yuan=lambda v: money.format_yuan(Decimal(v)),
            wan=lambda v: money.format_wan(Decimal(v)),
            amount=self.amount,
            percent=lambda part, whole: self.percent(part, whole),
            date=self.date,
            markdown=lambda text: Markup(render_markdown(text)),
            tel=lambda number: "tel:" + "".join(ch for ch in str(number) if ch.isdigit() or ch == "+"),
        )
        self.env.filters["rel"] = jinja2.pass_context(lambda ctx, target: relative(target, ctx["page_path"]))

    def amount(self, value) -> str:
        """元 with separators; large whole sums also in 万元 (`443,665,000 元（44,366.5万元）`)."""
        value = Decimal(value)
        text = self.t("money.yuan", amount=money.format_yuan(value))
        if money.shown_in_wan(value):
            text += self.t("money.wan_suffix", amount=money.format_wan(value))
        return text

    def percent(self, part, whole) -> str:
        share = money.percent(Decimal(part), Decimal(whole))
        return "—" if share is None else f"{share}%"

    def date(self, value: dt.date | None) -> str:
        if value is None:
            return ""
        return self.t("date.format", y=value.year, m=value.month, d=value.day)

    def render(self, template: str, page_path: str, **context) -> str:
        return self.env.get_template(template).render(page_path=page_path, **context)
