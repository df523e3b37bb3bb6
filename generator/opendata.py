"""Open data: the published figures as CSV tables, a Frictionless Data Package and JSON.

Under `data/` a build writes `villages.csv`, `notices.csv`, `fund_items.csv` and
`commitments.csv` (described by `datapackage.json`), one `fund_items.csv` per village
(the same columns, only that village's rows), one JSON file per notice with everything its
page shows, and `data/index.html`, which documents every column.

One declaration, `TABLES`, is the single source of the columns: the CSV headers, the table
schemas in `datapackage.json` and the column documentation all come from it, so they cannot
disagree. Everything is taken from the site model after its privacy step: only published
notices, beneficiaries as `site.publish_beneficiary` made them (masked name, household
size, amount, note).

Format choices (documented on data/index.html): UTF-8 with a byte-order mark, because
Excel and WPS, where most readers will open the files, otherwise show Chinese as garbage
(Frictionless, pandas and R skip the mark); comma-separated; RFC 4180 line ends (CRLF);
amounts as exact decimal strings in yuan with two decimals (`60000.00`), never floats;
dates as YYYY-MM-DD; an empty cell means "not stated". Rows are sorted, so the same
content gives the same bytes.

A rebuild after a small edit makes only the edited notices' and villages' rows: the CSV
lines of each are kept in the build cache under their page keys (`RowCache`), each table is
its header and those lines joined, and a file whose bytes did not change is linked from the
previous build; each notice's JSON file is reused under its page key.
"""
from __future__ import annotations

import csv
import io
import json
import pickle
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter

from . import money
from .config import NOTICE_KINDS
from .content import COMMITMENT_STATUSES, PROJECT_FIELDS, STAGES
from .output import digest
from .speed import save_pickle

BOM = "\ufeff"
LINE_END = "\r\n"
ID_PATTERN = "^[a-z0-9][a-z0-9-]*$"
NOTICE_STATES = ("posting", "ended")  # a published notice has started its posting period


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | number | date | boolean (Table Schema types)
    required: bool = False
    enum: tuple[str, ...] = ()
    enum_labels: str = ""  # catalog prefix of the codes' meanings, e.g. "kind."
    minimum: int | None = None
    pattern: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()  # (fields, table, its fields)

    @property
    def path(self) -> str:
        return f"{self.name}.csv"


def _id(name: str, required: bool = True) -> Column:
    return Column(name, "string", required=required, pattern=ID_PATTERN)


def _amount(name: str, required: bool = True) -> Column:
    return Column(name, "number", required=required, minimum=0)


def _count(name: str) -> Column:
    return Column(name, "integer", required=True, minimum=0)


_KIND = Column("kind", "string", required=True, enum=NOTICE_KINDS, enum_labels="kind.")
_STAGE = Column("stage", "string", enum=STAGES, enum_labels="stage.")

TABLES = (
    Table("villages", (
        _id("village_id"), Column("village", "string", required=True), _id("township_id"), Column("township", "string", required=True),
        Column("households", "integer", minimum=0), Column("population", "integer", minimum=0), Column("status", "string"),
        Column("plan_title", "string"), Column("plan_period", "string"),
        _count("notices"), _count("fund_notices"), _amount("fund_total"), Column("url", "string", required=True, format="uri"),
    ), primary_key=("village_id",)),
    Table("notices", (
        _id("notice_id"), _id("village_id"), Column("title", "string", required=True), _KIND, _STAGE,
        Column("posted", "date", required=True), Column("until", "date", required=True), Column("posting_days", "integer", required=True, minimum=1),
        Column("period_stated", "boolean", required=True),
        Column("status", "string", required=True, enum=NOTICE_STATES, enum_labels="opendata.state."),
        Column("published_by", "string"), Column("reviewed_by", "string"),
        Column("fund_source", "string"), _amount("fund_total", required=False), _count("fund_items"),
        _count("beneficiaries"), _count("postings"), _count("objections"), _count("objections_unresolved"),
        Column("url", "string", required=True, format="uri"), Column("data_url", "string", required=True, format="uri"),
    ), primary_key=("notice_id",), foreign_keys=((("village_id",), "villages", ("village_id",)),)),
    Table("fund_items", (
        _id("notice_id"), Column("item_no", "integer", required=True, minimum=1), Column("item", "string"), _amount("amount"),
        Column("source", "string"), Column("year", "integer", required=True), Column("posted", "date", required=True), _KIND, _STAGE,
        _id("village_id"), Column("village", "string", required=True), Column("township", "string", required=True),
    ), primary_key=("notice_id", "item_no"),
        foreign_keys=((("notice_id",), "notices", ("notice_id",)), (("village_id",), "villages", ("village_id",)))),
    Table("commitments", (
        _id("village_id"), Column("commitment_no", "integer", required=True, minimum=1), Column("plan_title", "string", required=True),
        Column("title", "string", required=True), Column("due", "date"),
        Column("status", "string", required=True, enum=COMMITMENT_STATUSES, enum_labels="commitment."),
        Column("progress", "integer", minimum=0), Column("note", "string"), Column("notices", "string"),
    ), primary_key=("village_id", "commitment_no"), foreign_keys=((("village_id",), "villages", ("village_id",)),)),
)
TABLE = {table.name: table for table in TABLES}


# -- values ----------------------------------------------------------------------------------

def yuan(amount: Decimal | None) -> str | None:
    """An amount as an exact decimal string in yuan, always to the fen: `60000.00`."""
    return None if amount is None else f"{amount.quantize(money.FEN):f}"


def share(part: Decimal, whole: Decimal) -> str | None:
    value = money.percent(part, whole)
    return None if value is None else f"{value:f}"


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return yuan(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def csv_lines(table: Table, rows: list[dict]) -> str:
    """The CSV lines of `rows`, without header: a writer keeps no state from row to row, so
    a table's text is its header followed by the lines of its rows made at any time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_END)
    for row in rows:
        writer.writerow([cell(row[column.name]) for column in table.columns])
    return buffer.getvalue()


def csv_header(table: Table) -> str:
    return BOM + csv_lines(table, [{column.name: column.name for column in table.columns}])


def csv_text(table: Table, rows: list[dict]) -> str:
    return csv_header(table) + csv_lines(table, rows)


def item_count(funds) -> int:
    """Rows a notice has in `fund_items.csv` (see `OpenData._fund_item_rows`)."""
    return 0 if funds is None else len(funds.items) or 1


class RowCache:
    """The CSV lines of each notice and village, kept in the build cache between builds.

    Entries are keyed by the page's key (a hash of everything the page shows, which includes
    all its rows show: its file, its village's, the config, the date, the tool) and its id:
    the same key, the same lines. The file keeps only the entries the last build used; a
    missing, damaged or other version's file only costs making every line again.
    """

    VERSION = 2
    KINDS = {"notices": 3, "villages": 2}  # kind -> the number of texts of an entry

    def __init__(self, path=None):
        self.path = path
        self.old: dict[str, dict] = {kind: {} for kind in self.KINDS}
        self.new: dict[str, dict] = {kind: {} for kind in self.KINDS}
        self.made = 0
        if path is not None:
            try:
                with open(path, "rb") as source:
                    state = pickle.load(source)
                if state.get("version") == self.VERSION and all(isinstance(state.get(kind), dict) for kind in self.KINDS):
                    self.old = {kind: state[kind] for kind in self.KINDS}
            except Exception:  # missing or damaged: every line is made again
                pass

    def entry(self, kind: str, page_key: str, page_id: str, make) -> tuple[str, ...]:
        """The texts kept for a notice's or village's page of this key and id, else `make()`'s."""
        if not page_key:  # a page without a key (a build without keys): nothing to go by
            self.made += 1
            return make()
        key = f"{page_key} {page_id}"
        found = self.old[kind].get(key)
        if not (isinstance(found, tuple) and len(found) == self.KINDS[kind]):
            found = make()
            self.made += 1
        self.new[kind][key] = found
        return found

    def save(self) -> None:
        if self.path is None:
            return
        if not self.made and all(len(self.new[kind]) == len(self.old[kind]) for kind in self.KINDS):
            return  # every entry was used and none made: the file already holds exactly these
        save_pickle(self.path, {"version": self.VERSION, **self.new})


# -- the open data of one site ---------------------------------------------------------------

class OpenData:
    """The tables, per-notice records and package descriptor of one built site."""

    def __init__(self, site, t):
        self.site = site
        self.config = site.config
        self.t = t
        # Before any page is rendered the pages need only how many rows there are; the
        # tables themselves are made when written (see `make_files`).
        self.village_items = {village_id: 0 for village_id in site.villages}
        for page in site.notices.values():
            self.village_items[page.village.village.id] += item_count(page.notice.funds)
        self.row_counts = {
            "villages": len(site.villages),
            "notices": len(site.notices),
            "fund_items": sum(self.village_items.values()),
            "commitments": sum(len(v.village.plan.commitments) for v in site.villages.values() if v.village.plan),
        }
        self._files: dict[str, bytes] | None = None
        self._village_files: dict[str, str] = {}
        self._sorted: list | None = None
        self._record_keys: dict[str, str] = {}  # notice id -> key of its JSON file

    # Where things go: templates link to these site paths.
    index_path = "data/index.html"
    package_path = "data/datapackage.json"

    @staticmethod
    def table_path(name: str) -> str:
        return f"data/{TABLE[name].path}"

    @staticmethod
    def village_items_path(village_id: str) -> str:
        return f"data/villages/{village_id}/fund_items.csv"

    @staticmethod
    def notice_path(notice_id: str) -> str:
        return f"data/notices/{notice_id}.json"

    def village_item_count(self, village_id: str) -> int:
        return self.village_items[village_id]

    def tables(self) -> list[dict]:
        """For the download lists: each table's path, title and number of rows."""
        return [
            {"name": table.name, "path": self.table_path(table.name), "title": self.t(f"opendata.table.{table.name}.title"),
             "rows": self.row_counts[table.name]}
            for table in TABLES
        ]

    # -- the tables ------------------------------------------------------------------------------
    @property
    def files(self) -> dict[str, bytes]:
        """Each table's CSV file, encoded."""
        if self._files is None:
            self.make_files(RowCache())
        return self._files

    def make_files(self, cache: RowCache) -> None:
        """The four tables and each village's fund items, joined from each notice's and
        village's lines (from `cache` when made from the same things before)."""
        tables: dict[str, list[str]] = {table.name: [] for table in TABLES}
        for page in self.site.villages.values():
            village_line, commitment_lines = cache.entry("villages", page.key, page.village.id, lambda page=page: (
                csv_lines(TABLE["villages"], [self._village_row(page)]),
                csv_lines(TABLE["commitments"], self._commitment_rows(page))))
            tables["villages"].append(village_line)
            tables["commitments"].append(commitment_lines)
        village_items: dict[str, list[str]] = {village_id: [] for village_id in self.site.villages}
        self._record_keys = {}
        for page in self._notices():
            notice_id = page.notice.id
            notice_line, item_lines, record_key = cache.entry("notices", page.key, notice_id, lambda page=page: (
                csv_lines(TABLE["notices"], [self._notice_row(page)]),
                csv_lines(TABLE["fund_items"], self._fund_item_rows(page)),
                digest(page.key, self.notice_path(page.id))))
            tables["notices"].append(notice_line)
            tables["fund_items"].append(item_lines)
            village_items[page.village.village.id].append(item_lines)
            self._record_keys[notice_id] = record_key
        self._files = {name: (csv_header(TABLE[name]) + "".join(lines)).encode("utf-8") for name, lines in tables.items()}
        header = csv_header(TABLE["fund_items"])
        self._village_files = {village_id: header + "".join(lines) for village_id, lines in village_items.items()}

    # -- rows ------------------------------------------------------------------------------------
    def _notices(self) -> list:
        if self._sorted is None:
            self._sorted = sorted(self.site.notices.values(), key=attrgetter("village.village.id", "notice.posted", "notice.id"))
        return self._sorted

    def _village_row(self, page) -> dict:
        village = page.village
        fund_pages = [n for n in page.notices if n.notice.funds]
        return {
            "village_id": village.id, "village": village.name, "township_id": page.township.slug, "township": village.township,
            "households": village.households, "population": village.population, "status": village.status,
            "plan_title": village.plan.title if village.plan else None, "plan_period": village.plan.period if village.plan else None,
            "notices": len(page.notices), "fund_notices": len(fund_pages),
            "fund_total": sum((n.notice.funds.total for n in fund_pages), Decimal(0)),
            "url": self.config.absolute_url(page.url),
        }

    def _notice_row(self, page) -> dict:
        notice, funds = page.notice, page.notice.funds
        return {
            "notice_id": notice.id, "village_id": notice.village, "title": notice.title, "kind": notice.kind, "stage": notice.stage,
            "posted": notice.posted, "until": notice.until, "posting_days": notice.posting_days, "period_stated": notice.period_stated,
            "status": page.status.state, "published_by": notice.published_by, "reviewed_by": notice.reviewed_by,
            "fund_source": funds.source if funds else None, "fund_total": funds.total if funds else None,
            "fund_items": len(funds.items) if funds else 0, "beneficiaries": len(page.beneficiaries),
            "postings": len(notice.postings), "objections": len(notice.objections),
            "objections_unresolved": sum(1 for o in notice.objections if not o.resolution),
            "url": self.config.absolute_url(page.url), "data_url": self.config.absolute_url(self.notice_path(notice.id)),
        }

    def _fund_item_rows(self, page) -> list[dict]:
        notice, funds = page.notice, page.notice.funds
        if funds is None:
            return []
        # A notice that states only a total still gets one row (with no item name), so the
        # amount column always adds up to every notice's disclosed total.
        items = [(item.name, item.amount) for item in funds.items] or [(None, funds.total)]
        common = {
            "notice_id": notice.id, "source": funds.source, "year": notice.posted.year, "posted": notice.posted,
            "kind": notice.kind, "stage": notice.stage, "village_id": page.village.id, "village": page.village.village.name,
            "township": page.village.township.name,
        }
        return [dict(common, item_no=number, item=name, amount=amount) for number, (name, amount) in enumerate(items, 1)]

    def _commitment_rows(self, page) -> list[dict]:
        plan = page.village.plan
        if plan is None:
            return []
        return [
            {
                "village_id": page.id, "commitment_no": number, "plan_title": plan.title, "title": c.title, "due": c.due,
                "status": c.status, "progress": c.progress, "note": c.note,
                # Embargoed notices appear nowhere, not even as an id.
                "notices": " ".join(ref for ref in c.notices if ref in self.site.notices) or None,
            }
            for number, c in enumerate(plan.commitments, 1)
        ]

    # -- the package descriptor ------------------------------------------------------------------
    def package(self) -> dict:
        """`datapackage.json` (Frictionless Data Package v1), from `TABLES` and the catalogs."""
        return {
            "profile": "tabular-data-package",
            "name": "gongshi-open-data",
            "title": self.t("opendata.package_title", title=self.config.title),
            "description": self.t("opendata.package_description", county=self.config.county, date=self.site.today.isoformat()),
            "homepage": self.config.absolute_url(self.index_path),
            "resources": [self._resource(table) for table in TABLES],
        }

    def _resource(self, table: Table) -> dict:
        data = self.files[table.name]
        schema: dict = {"fields": [self._field(table, column) for column in table.columns],
                        "primaryKey": list(table.primary_key), "missingValues": [""]}
        if table.foreign_keys:
            schema["foreignKeys"] = [
                {"fields": list(fields), "reference": {"resource": other, "fields": list(other_fields)}}
                for fields, other, other_fields in table.foreign_keys
            ]
        return {
            "profile": "tabular-data-resource",
            "name": table.name,
            "path": table.path,
            "title": self.t(f"opendata.table.{table.name}.title"),
            "description": self.t(f"opendata.table.{table.name}.description"),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            # No "hash": runs of digits in a hex digest can look like a phone or bank card
            # number to the leak gate. The size still catches a truncated download.
            "bytes": len(data),
            "dialect": {"delimiter": ",", "lineTerminator": LINE_END, "quoteChar": '"', "doubleQuote": True, "header": True},
            "schema": schema,
        }

    def _field(self, table: Table, column: Column) -> dict:
        key = f"opendata.column.{table.name}.{column.name}"
        description = self.t(key)
        if column.enum:
            meanings = self.t("opendata.list_separator").join(
                self.t("opendata.code_meaning", code=code, meaning=self.t(column.enum_labels + code)) for code in column.enum)
            description += self.t("opendata.codes", codes=meanings)
        field: dict = {"name": column.name, "type": column.type, "title": self.t(key + "_title"), "description": description}
        if column.type == "number":
            field.update(decimalChar=".", bareNumber=True)
        if column.type == "date":
            field["format"] = "default"  # YYYY-MM-DD
        if column.type == "boolean":
            field.update(trueValues=["true"], falseValues=["false"])
        if column.format:
            field["format"] = column.format
        constraints: dict = {}
        if column.required:
            constraints["required"] = True
        if column.enum:
            constraints["enum"] = list(column.enum)
        if column.minimum is not None:
            constraints["minimum"] = column.minimum
        if column.pattern:
            constraints["pattern"] = column.pattern
        if constraints:
            field["constraints"] = constraints
        return field

    # -- one JSON record per notice --------------------------------------------------------------
    def notice_record(self, page, photos: dict[str, str]) -> dict:
        """Everything the notice page shows, de-identified exactly as the page is."""
        notice, funds = page.notice, page.notice.funds
        return {
            "id": notice.id,
            "url": self.config.absolute_url(page.url),
            "title": notice.title,
            "village": {"id": page.village.id, "name": page.village.village.name, "township": page.village.township.name,
                        "url": self.config.absolute_url(page.village.url)},
            "kind": notice.kind,
            "stage": notice.stage,
            "posted": notice.posted.isoformat(),
            "until": notice.until.isoformat(),
            "posting_days": notice.posting_days,
            "period_stated": notice.period_stated,
            "status": {"as_of": self.site.today.isoformat(), "state": page.status.state, "days_left": page.status.days_left},
            "published_by": notice.published_by,
            "reviewed_by": notice.reviewed_by,
            "body_markdown": notice.body,
            "project": {name: getattr(notice.project, name) for name in PROJECT_FIELDS} if notice.project else None,
            "funds": None if funds is None else {
                "source": funds.source,
                "total": yuan(funds.total),
                "items": [{"no": number, "name": item.name, "amount": yuan(item.amount), "percent": share(item.amount, funds.total)}
                          for number, item in enumerate(funds.items, 1)],
            },
            "beneficiaries": [
                {"name": person.name, "household_size": person.household_size, "amount": yuan(person.amount), "note": person.note}
                for person in page.beneficiaries
            ],
            "postings": [
                {"place": p.place, "date": p.date.isoformat() if p.date else None, "by": p.by, "caption": p.caption,
                 "photo": self.config.absolute_url(photos[p.photo]) if p.photo in photos else None}
                for p in notice.postings
            ],
            "objections": [
                {"received": o.received.isoformat() if o.received else None, "summary": o.summary, "resolution": o.resolution,
                 "resolved": o.resolved.isoformat() if o.resolved else None}
                for o in notice.objections
            ],
        }

    # -- writing ---------------------------------------------------------------------------------
    def write(self, output, renderer, advance, cache: RowCache | None = None, defer=None) -> None:
        """Write every open-data file; `defer(job)` runs the cache's saving (now, by default)."""
        self.make_files(cache or RowCache())
        for table in TABLES:
            output.write_bytes(self.table_path(table.name), self.files[table.name], f"open data: {table.name}")
        package = self.package()
        output.write_text(self.package_path, dumps(package), "open data: package descriptor")
        # A village's fund items are made from what its page is (its notices, its names):
        # after an edit the other villages' files are reused under their pages' keys at once.
        villages = []
        for village_id, text in self._village_files.items():
            path, page_key = self.village_items_path(village_id), self.site.villages[village_id].key
            villages.append((path, digest(page_key, path) if page_key else "", f"open data: village {village_id}", text))
        for path, key, made_from, text in output.reuse_many([file for file in villages if file[1]]) + [file for file in villages if not file[1]]:
            output.write_text(path, text, made_from, key=key or None)
        photos = None  # made when a record is first made: most builds reuse every record
        records = [(self.notice_path(page.notice.id), self._record_keys[page.notice.id], f"open data: notice {page.notice.id}", page)
                   for page in self._notices()]
        missed = output.reuse_many(records)  # (after an edit, all but one, at once)
        advance(len(records) - len(missed))
        for path, key, made_from, page in missed:
            if photos is None:
                photos = published_photos(output)
            output.write_text(path, dumps(self.notice_record(page, photos)), made_from, key=key)
            advance()
        output.write_text(self.index_path, renderer.render("data_index.html", self.index_path, package=package), "open data: column guide")
        if cache is not None:
            (defer or (lambda job: job()))(cache.save)


def dumps(record: dict) -> str:
    # Key order is the order written above (never sorted alphabetically): it reads like the page.
    return json.dumps(record, ensure_ascii=False, indent=1) + "\n"


def published_photos(output) -> dict[str, str]:
    """content photo path -> site path of its published full-size image (set by the media stage)."""
    photos: dict[str, str] = {}
    media = sorted((site_path, made_from) for site_path, made_from in output.written.items() if site_path.startswith("media/"))
    for site_path, made_from in media:
        if made_from.startswith("content/") and not site_path.endswith(".thumb.jpg"):
            photos[made_from[len("content/"):]] = site_path
    return photos


def write_open_data(site, context, output, advance) -> None:
    cache_file = context.cache_dir / "opendata" / "rows.pickle" if context.cache_dir is not None else None
    context.globals["open_data"].write(output, context.renderer, advance, RowCache(cache_file), defer=context.defer)
