"""Markdown for summaries and notice bodies: CommonMark with tables, raw HTML off.

Clerks' text is data, so raw HTML is escaped, never passed through, and links may only use
http, https, mailto or tel: anything else (javascript:, data:, file:) is shown as text.
"""
from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt

SAFE_SCHEMES = ("http:", "https:", "mailto:", "tel:")


def _validate_link(url: str) -> bool:
    lowered = url.strip().lower()
    if lowered.startswith(SAFE_SCHEMES):
        return True
    # Relative links to the site's own pages (no scheme at all) are fine too.
    return ":" not in lowered.split("/")[0] and not lowered.startswith("//")


def _make() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    md.validateLink = _validate_link
    return md


_MD = _make()


@lru_cache(maxsize=8)
def render_markdown(text: str | None) -> str:
    """HTML for a Markdown text; headings are shifted down so a body never outranks the page's h1.

    The last few are kept: a notice's poster, made right after its page, shows the same body."""
    if not text:
        return ""
    tokens = _MD.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + 2, 6)
            token.tag = f"h{level}"
    return _MD.renderer.render(tokens, _MD.options, {})
