"""Turning the site model into files: Jinja2 templates, filters and relative links.

Every page is rendered with the path it will be written to, so every internal link can be
made relative (`../villages/x.html`): the site then works under any sub-path and straight
from disk. Autoescape is on for everything; Markdown arrives already rendered and safe.
"""
from __future__ import annotations

import datetime as dt
import posixpath
import shutil
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.lexer import Token
from markupsafe import Markup

from . import money
from .i18n import Translator
from .inputs import digest
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


def relative(target: str, page_path: str) -> str:
    """A link from the page at `page_path` to the site path `target` (both relative to the root)."""
    if target.startswith(("http:", "https:", "mailto:", "tel:", "#")):
        return target
    anchor = ""
    if "#" in target:
        target, anchor = target.split("#", 1)
        anchor = "#" + anchor
    start = posixpath.dirname(page_path) or "."
    folder, slash, name = target.rpartition("/")
    link = _folder_link(folder, start) if name not in _ODD_PARTS and (folder or not slash) else None
    if link is None or start == target or start.startswith(target + "/"):  # (a link to a folder holding the page)
        return relpath(target, start) + anchor
    return link + name + anchor


_ODD_PARTS = frozenset(("", ".", ".."))


@lru_cache(maxsize=4096)
def _folder_link(folder: str, start: str) -> str | None:
    """What a link from the folder `start` to a file in `folder` ("": the root) puts before
    the file's name: "" or a path ending with "/"; None when a path has an empty, "." or ".."
    part (posixpath.relpath then makes the whole link). Cached by folder, not by page: ten
    thousand pages lie in a few folders and link into a few, while a cache by page and target
    (each page links to its own poster and data file) held 65,536 entries, some 20 MB in
    each rendering process."""
    if (start != "." and not _ODD_PARTS.isdisjoint(start.split("/"))) or (folder and not _ODD_PARTS.isdisjoint(folder.split("/"))):
        return None
    link = relpath(folder or ".", start)
    return "" if link == "." else link + "/"


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


def only_calls_t(tokens: list) -> bool:
    """Whether a template's tokens use the name `t` only to call it (`t(`): no `set t`,
    `for t in`, `macro t(`, `import … as t`, nor `t` as a value. Attributes (`x.t`) are others."""
    for i, token in enumerate(tokens):
        if token.type != "name" or token.value != "t" or (i and tokens[i - 1].type == "dot"):
            continue
        if i + 1 == len(tokens) or tokens[i + 1].type != "lparen":
            return False
        if i and tokens[i - 1].type == "name" and tokens[i - 1].value == "macro":
            return False
    return True


class FoldedMessages(jinja2.ext.Extension):
    """`t("key")` with a literal key and nothing else is compiled as that message's text.

    The templates call `t` sixty times a notice page, nearly all for fixed texts: each call
    went through Jinja's call machinery and the catalog, and its text was escaped again on
    every page; a constant is escaped once, when the template is compiled. Same output. Left
    as calls: keys made at render time (`t("kind." ~ n.kind)`), messages with values, keys
    the catalog lacks (the call fails as before), and every call of a template that uses the
    name `t` otherwise (`only_calls_t`); the Renderer turns folding off altogether when a
    template of the site's own theme does, or a feature gives another `t`.
    """

    def filter_stream(self, stream):
        messages = getattr(self.environment, "folded_messages", None)
        tokens = list(stream)
        if messages is None or not only_calls_t(tokens):
            return iter(tokens)
        return _folded(tokens, messages)


def _folded(tokens: list, messages: dict[str, str]):
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if (token.type == "name" and token.value == "t" and i + 3 < len(tokens) and not (i and tokens[i - 1].type == "dot")
                and tokens[i + 1].type == "lparen" and tokens[i + 2].type == "string" and tokens[i + 3].type == "rparen"
                and tokens[i + 2].value in messages):
            yield Token(token.lineno, "string", messages[tokens[i + 2].value])
            i += 4
            continue
        yield token
        i += 1


def _only_calls_t_in(env: jinja2.Environment, path: Path) -> bool:
    """`only_calls_t` of a template file; False for one Jinja cannot read (its error is
    reported when it is rendered, as without folding)."""
    try:
        return only_calls_t(list(env.lexer.tokenize(path.read_text(encoding="utf-8"))))
    except (jinja2.TemplateSyntaxError, UnicodeDecodeError):
        return False


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
        fold = "t" not in (extra_globals or {})
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d / "templates") for d in dirs]),
            extensions=[FoldedMessages],
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Compiled templates, keyed by their source's checksum (and, by folder, by the
            # messages folded into them): compiling the theme took a quarter of a second on
            # every build.
            bytecode_cache=None,
            # A renderer lives for one build, over which the theme does not change: no
            # checking every template's file times again on each of 40,000 renders.
            auto_reload=False,
        )
        # The built-in themes call `t` only (a test checks); a site's own templates are read
        # once here, a few at most.
        builtin = {base.resolve() for base in BUILTIN_THEMES if base.is_dir()}
        for folder in dirs:
            if fold and folder.parent.resolve() not in builtin:
                fold = all(_only_calls_t_in(self.env, path) for path in sorted((folder / "templates").rglob("*")) if path.is_file())
        self.env.folded_messages = self.t.messages if fold else None
        if cache_dir is not None:
            folded = digest(self.t.language, sorted(self.t.messages.items()))[:16] if fold else "calls"
            compiled = _made(cache_dir / "templates" / folded)
            for other in compiled.parent.iterdir():  # another catalog's, or an older version's
                if other != compiled:
                    shutil.rmtree(other, ignore_errors=True) if other.is_dir() else other.unlink(missing_ok=True)
            self.env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(compiled))
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
