"""`build()`: load everything into a model, then render and write, in timed stages.

Phase one reads and checks all content and stops with every problem at once; phase two
renders into a temporary folder, runs the leak gate over what was written, and only then
swaps the new site into place, so a failed build never touches the published site.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .content import PROJECT_FIELDS, load_content
from .errors import BuildError
from .i18n import Translator, cli_language
from .media_stage import cache_dir, publish_media
from .output import Output
from .plugins import BuildContext, Plugin, default_plugins
from .progress import Progress
from .render import Renderer
from .site import Site


@dataclass
class BuildResult:
    out_dir: Path
    pages: int
    files: int
    site: Site
    timings: list


def build(root: Path, out_dir: Path | None = None, today: dt.date | None = None, progress: Progress | None = None,
          plugins: list[Plugin] | None = None) -> BuildResult:
    root = Path(root).resolve()
    out_dir = Path(out_dir).resolve() if out_dir else root / "build"
    today = today or dt.date.today()
    progress = progress or Progress(Translator(cli_language()), enabled=False)

    # Phase one: everything into a checked model, or every problem at once.
    with progress.stage("load"):
        content = load_content(root)
    for masked in content.masked:
        progress.say(progress.t("progress.masked", where=str(masked)))
    with progress.stage("model"):
        site = Site.from_content(content, today)
    plugins = default_plugins() if plugins is None else plugins
    context = BuildContext(root=root, config=content.config, today=today, cache_dir=cache_dir(root), content=content)
    for plugin in plugins:
        with progress.stage(plugin.name, report=False):
            plugin.on_site(site, context)

    # Phase two: render into a temporary folder, check it, swap it in.
    output = Output(out_dir)
    try:
        renderer = Renderer(root, content.config, today, extra_globals={"site": site, "project_fields": PROJECT_FIELDS, **context.globals})
        context.renderer = renderer
        with progress.stage("media") as advance:
            media = publish_media(site, root, output, advance)
        pages = list(site.all_pages())
        with progress.stage("render", total=len(pages) + len(SINGLE_PAGES)) as advance:
            render_pages(site, renderer, output, media, pages, advance)
        for plugin in plugins:
            with progress.stage(plugin.name) as advance:
                plugin.on_write(site, context, output, advance)
        with progress.stage("assets"):
            copy_static(renderer, output)
            write_sitemap(renderer, output)
        with progress.stage("gate"):
            run_leak_gate(content, site, output)
        output.commit()
    except BaseException:
        output.discard()
        raise
    files = len(output.written)
    progress.say(progress.t("progress.built", pages=len(pages) + len(SINGLE_PAGES), files=files, out=str(out_dir), seconds=f"{progress.total_seconds():.2f}"))
    return BuildResult(out_dir=out_dir, pages=len(pages) + len(SINGLE_PAGES), files=files, site=site, timings=progress.timings)


SINGLE_PAGES = ("index.html", "404.html", "privacy.html")  # one template, one page, at the root
TEMPLATES = {"TownshipPage": ("township.html", "township"), "VillagePage": ("village.html", "village"), "NoticePage": ("notice.html", "notice")}


def render_pages(site: Site, renderer: Renderer, output: Output, media: dict, pages, advance) -> None:
    for path, page in pages:
        template, name = TEMPLATES[type(page).__name__]
        html = renderer.render(template, path, **{name: page, "media": media})
        output.write_text(path, html, made_from=getattr(page, "id", getattr(page, "name", "")))
        advance()
    for path in SINGLE_PAGES:
        output.write_text(path, renderer.render(path, path), path)
        advance()


# Pages for printing or machines are not what a search engine should send people to.
NOT_IN_SITEMAP = ("404.html", "posters/", "cards/")


def write_sitemap(renderer: Renderer, output: Output) -> None:
    """After every feature has written its pages, so the sitemap lists them all."""
    paths = sorted(p for p in output.written if p.endswith(".html") and not p.startswith(NOT_IN_SITEMAP))
    paths.remove("index.html")
    output.write_text("sitemap.xml", renderer.render("sitemap.xml", "sitemap.xml", paths=["index.html"] + paths), "sitemap")
    output.write_text("robots.txt", renderer.render("robots.txt", "robots.txt"), "robots.txt")


def copy_static(renderer: Renderer, output: Output) -> None:
    """Copy theme files under `static/`; a site theme's file wins over the built-in one."""
    seen: set[str] = set()
    for theme in renderer.theme_dirs:
        static = theme / "static"
        if not static.is_dir():
            continue
        for source in sorted(p for p in static.rglob("*") if p.is_file()):
            site_path = source.relative_to(static).as_posix()
            if site_path not in seen:
                seen.add(site_path)
                output.copy(site_path, source, f"theme file {site_path}")


def run_leak_gate(content, site: Site, output: Output) -> None:
    from .leakgate import gate

    gate(content, output.tmp)
