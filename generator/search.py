"""Search: what is indexed, and the build stage that publishes the browser's index.

Every published village and notice is one search document with three weighted fields:
`title` (the notice's title, the village's name), `tags` (village, township, kind, stage,
year, fund source and item names) and `body` (the notice's text and project details; a
village's summary, status, plan and work team). Beneficiaries are never indexed, and
embargoed notices are not in the model at all, so nothing private or unpublished can be
found. Filters (township, village, kind, year) are exact facets, not words.

Two engines read the same documents through the same analyzer (search_analysis.py):

- the browser: `search_export.py` writes sharded script files under `search/`, and
  `assets/search.js` ranks them with whoosh's BM25F, so results and their order equal
  the command line's;
- `gongshi search`: a whoosh index (search_whoosh.py), updated incrementally by content
  hash in the build cache. Whoosh's own writer needs 20 to 45 s for 10,000 notices on a
  2-core machine (bench/bench_search.py), far over the build's budget for search (10 s),
  so the build never waits for it: the command brings it up to date when it runs.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from .errors import BuildError
from .plugins import BuildContext, Plugin

FIELDS = ("title", "tags", "body")
# Query-time boosts (whoosh multiplies a field's BM25 score by its query's boost).
BOOSTS = {"title": 3.0, "tags": 1.5, "body": 1.0}
VILLAGE_KIND = "village"  # the kind facet of village documents, beside the notice kinds
SEARCH_PAGE = "search.html"
# Up to this many published notices, the search page's no-JavaScript directory lists every
# notice under its village; above it, villages only (each village page lists its notices).
# About 22 bytes gzipped a notice: 500 keep the page within its 14 KB budget (docs/quality.md).
DIRECTORY_NOTICE_LIMIT = 500


@dataclass(frozen=True)
class SearchDoc:
    key: str  # "village:<id>" or "notice:<id>", unique
    url: str  # site path
    kind: str  # a notice kind, or "village"
    title: str
    tags: str
    body: str
    snippet: str  # the text results quote around a match: the body, then the funds
    village: str  # village id (facet)
    village_name: str
    township: str  # township slug (facet)
    township_name: str
    date: str  # ISO date a notice was posted; "" for a village
    year: str  # facet; "" for a village

    def field(self, name: str) -> str:
        return getattr(self, name)

    @property
    def digest(self) -> str:
        """The content hash the whoosh index is updated by."""
        data = [self.key, self.url, self.kind, self.title, self.tags, self.body, self.snippet, self.village, self.village_name,
                self.township, self.township_name, self.date, self.year]
        return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)|[*_`~]{1,3}|^\s*\|?[-:| ]{3,}\|?\s*$|\|", re.M)


def plain_text(markdown: str | None) -> str:
    """Markdown as the reader sees it: link texts kept, markup dropped."""
    if not markdown:
        return ""
    text = _MD_LINK.sub(r"\1", markdown)
    text = _MD_MARKS.sub(" ", text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _join(*parts) -> str:
    return "\n".join(p for p in parts if p)


def documents(site, t, known: dict | None = None, sources: dict | None = None) -> list[SearchDoc]:
    """Every published village and notice. The list's order is the rank among equal scores
    (and the browser's document numbers): by township and village, each village before its
    notices, notices newest first.

    `known` ({key: (source, document)}, from the previous build) gives back the documents
    whose source (a short hash of `_source`: the record's digest and the names and address
    it is shown with) did not change; `sources` receives every document's source."""
    docs = []
    known = known or {}
    sources = {} if sources is None else sources

    def document(key: str, source: str, make) -> SearchDoc:
        source = hashlib.blake2b(source.encode("utf-8"), digest_size=16).digest()  # kept for ten thousand documents
        sources[key] = source
        previous = known.get(key)
        return previous[1] if previous is not None and previous[0] == source else make()

    for township in site.townships:
        for village_page in sorted(township.villages, key=lambda v: v.id):
            village = village_page.village
            docs.append(document(f"village:{village.id}", _source(village, village_page.url, village_page, township, t),
                                 lambda: village_document(village_page, township, t)))
            for page in village_page.notices:  # newest first, ties by id (site.py)
                docs.append(document(f"notice:{page.notice.id}", _source(page.notice, page.url, village_page, township, t),
                                     lambda: notice_document(page, village_page, township, t)))
    return docs


def _source(record, url: str, village_page, township, t) -> str:
    """What a record's document is made from besides the tool: any change, a new document."""
    village = village_page.village
    return "\0".join((record.digest, url, village.id, village.name, township.name, township.slug, t.language))


def village_document(village_page, township, t) -> SearchDoc:
    village = village_page.village
    plan = village.plan
    body = _join(
        plain_text(village.summary), village.status,
        plan.title if plan else "", *(c.title for c in (plan.commitments if plan else ())),
        *(_join(m.name, m.role, m.unit) for m in village.team),
    )
    return SearchDoc(
        key=f"village:{village.id}", url=village_page.url, kind=VILLAGE_KIND, title=village.name,
        tags=_join(township.name, t("search.kind_village"), village.status), body=body, snippet=body,
        village=village.id, village_name=village.name, township=township.slug, township_name=township.name,
        date="", year="",
    )


def notice_document(page, village_page, township, t) -> SearchDoc:
    notice = page.notice
    funds = notice.funds
    funds_text = _join(funds.source, *(item.name for item in funds.items)) if funds else ""
    project = notice.project
    project_text = _join(*(getattr(project, name) for name in project.__dataclass_fields__)) if project else ""
    body = _join(plain_text(notice.body), project_text, notice.published_by)
    year = str(notice.posted.year)
    tags = _join(village_page.village.name, township.name, t(f"kind.{notice.kind}"),
                 t(f"stage.{notice.stage}") if notice.stage else "", year, funds_text)
    return SearchDoc(
        key=f"notice:{notice.id}", url=page.url, kind=notice.kind, title=notice.title, tags=tags, body=body,
        snippet=_join(body, funds_text), village=village_page.village.id, village_name=village_page.village.name,
        township=township.slug, township_name=township.name, date=notice.posted.isoformat(), year=year,
    )


def kind_labels(t) -> list[tuple[str, str]]:
    from .config import NOTICE_KINDS

    return [(VILLAGE_KIND, t("search.kind_village"))] + [(kind, t(f"kind.{kind}")) for kind in NOTICE_KINDS]


def _published(out_dir, site_path: str) -> str | None:
    """The site's file as the last build published it (export_changes checks it), or None."""
    try:
        return (out_dir / site_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _state_file(cache_dir):
    return cache_dir / "search" / "export.pickle"


@dataclass
class _Made:
    """What the search stage made: the export, the state it came from, its documents' count."""

    exported: object
    previous: object
    state_file: object
    count: int

    @property
    def entries(self) -> list[tuple[str, str | None]]:
        """(site path, the last build's checksum when its file is the same, else None), in order."""
        unchanged = self.exported.unchanged
        return [(site_path, unchanged.get(site_path)) for site_path in self.exported.paths()]

    def keep(self, context: BuildContext, sums: dict[str, str]) -> None:
        """Save the state for the next build once the site is published (`sums`: the files'
        checksums), unless it is the one on disk already."""
        exported, previous = self.exported, self.previous
        if self.state_file is None:
            return
        exported.state.sums = sums
        if not (exported.edited == 0 and sums == previous.sums and exported.state.sources == previous.sources):
            context.defer(lambda: exported.state.save(self.state_file))


class SearchPlugin(Plugin):
    """Writes search.html and the browser's sharded index under search/."""

    name = "search"
    background = True  # needs only the model: written beside the page rendering
    needs_page_keys = False  # its files are reused by their checksums (search_export.py)
    needs_renderer = False  # the search page, which a theme may make of any feature's globals, is rendered in on_written

    def on_site(self, site, context: BuildContext) -> None:
        # Imported here, before the process of `on_write` is forked from this one: after an
        # edit that process is the rebuild's longest, and should not spend its start importing.
        from . import search_export  # noqa: F401

    def on_write(self, site, context: BuildContext, output, advance) -> dict:
        from functools import partial

        made = self._export(site, context, partial(_published, output.out_dir))
        sums = {}
        for site_path, checksum in made.entries:
            if checksum is None or not output.reuse_bytes(site_path, checksum, "search index"):
                output.write_text(site_path, made.exported.text(site_path), "search index")
            sums[site_path] = output.sums[site_path]
        advance(made.count)
        made.keep(context, sums)
        return made.exported.summary

    def ahead_possible(self, cache_dir, out_dir) -> bool:
        """The state of the last export is kept, and the last build's index is there."""
        return cache_dir is not None and _state_file(cache_dir).is_file() and (out_dir / "search" / "meta.js").is_file()

    def ahead_files(self, site, context: BuildContext, out_dir) -> tuple:
        """(summary, [(site path, its last build's checksum when that file is the same, else
        None)], {site path: text} of the others, documents) in the `Ahead` process."""
        from functools import partial

        from .output import file_checksum

        made = self._export(site, context, partial(_published, out_dir))
        entries = made.entries
        texts = {site_path: made.exported.text(site_path) for site_path, checksum in entries if checksum is None}
        # (what Output.write_text records for a file it writes)
        made.keep(context, {site_path: checksum or file_checksum(texts[site_path].encode("utf-8"))
                            for site_path, checksum in entries})
        return made.exported.summary, entries, texts, made.count

    def write_ahead(self, made, output, advance) -> dict | None:
        summary, entries, texts, count = made
        if not all(checksum is None or output.reusable(site_path, checksum) for site_path, checksum in entries):
            return None  # (the last build's files are gone: the index is made here)
        for site_path, checksum in entries:
            if checksum is None:
                output.write_text(site_path, texts[site_path], "search index")
            elif not output.reuse_bytes(site_path, checksum, "search index"):
                raise BuildError(f"{output.out_dir / site_path}: removed while the site was being built")
        advance(count)
        return summary

    def _export(self, site, context: BuildContext, read) -> "_Made":
        from .i18n import Translator
        from .search_export import ExportState, export_all, export_changes, export_moved, state_version

        t = Translator(context.config.language)  # the renderer's (there may be none yet)
        kinds = kind_labels(t)
        # After an edit, the previous export's state (in the build cache) is brought up to
        # date instead of indexing every document again: the same files (search_export.py).
        state_file = _state_file(context.cache_dir) if context.cache_dir is not None else None
        version = state_version()
        previous = ExportState.load(state_file, version) if state_file is not None else None
        sources: dict[str, bytes] = {}
        docs = documents(site, t, previous.known_documents() if previous is not None else None, sources)
        exported = None
        if previous is not None:
            # Documents edited, or else added or removed (every later number moves).
            exported = export_changes(docs, kinds, site, previous, read=read) or export_moved(docs, kinds, site, previous, read=read)
        if exported is None:
            exported = export_all(docs, kinds, site, version)
        exported.state.sources = sources
        return _Made(exported, previous, state_file, len(docs))

    def on_written(self, site, context: BuildContext, output, value: dict) -> None:
        html = context.renderer.render(
            "search.html", SEARCH_PAGE, search=value, directory_notices=len(site.notices) <= DIRECTORY_NOTICE_LIMIT,
        )
        output.write_text(SEARCH_PAGE, html, "search page")
