"""Supervision: what 县纪委, 乡村振兴局 and the 村务监督委员会 check, computed from the model.

A notice must stay on the board for its kind's minimum period (`notice_rules.min_posting_days`),
with evidence that it was posted (a posting entry, with a photo), no posting dated after the
notice says it went up, every objection answered, and nothing edited after posting began
(from `history`, when the site is in git). Commitments of a village plan past their due date
and neither done nor cancelled are overdue. Ordinary village affairs are disclosed at least
once a quarter (村民委员会组织法 art. 30), so each village's quarters of this and last year
are checked too.

The functions here are pure: the model (and the history) in, plain records out; the plugin at
the end puts the report into the templates and writes the page, the CSV files and the feeds.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import os
import pickle
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from markupsafe import Markup

from .content import Commitment, Objection, Posting
from .i18n import Translator
from .plugins import Plugin
from .site import NoticePage, Site, VillagePage
from .speed import gc_paused, save_pickle

PROBLEM_KINDS = ("short_period", "no_posting", "no_photo", "late_posting", "unresolved_objection", "changed_after_posting")
RECENTLY_ENDED_DAYS = 30
# Where on the notice page each problem can be checked.
ANCHORS = {"short_period": "", "no_posting": "#postings-h", "no_photo": "#postings-h", "late_posting": "#postings-h",
           "unresolved_objection": "#objections-h", "changed_after_posting": "#history-h"}
CLOSED_COMMITMENTS = ("done", "cancelled")


@dataclass(frozen=True)
class NoticeProblem:
    kind: str  # one of PROBLEM_KINDS
    page: NoticePage
    min_days: int | None = None  # short_period
    posting: Posting | None = None  # late_posting
    objection: Objection | None = None  # unresolved_objection
    revision: object | None = None  # changed_after_posting: a history.Revision

    @property
    def url(self) -> str:
        return self.page.url + ANCHORS[self.kind]


@dataclass(frozen=True)
class OverdueCommitment:
    village: VillagePage
    commitment: Commitment
    days_overdue: int

    @property
    def url(self) -> str:
        return self.village.url + "#plan-h"


@dataclass(frozen=True)
class Quarter:
    year: int
    quarter: int  # 1-4
    notices: int  # published notices posted in the quarter
    state: str  # disclosed | missing (ended with nothing) | current (not over, nothing yet) | future

    @property
    def flagged(self) -> bool:
        return self.state == "missing"

    @property
    def first_day(self) -> dt.date:
        return quarter_start(self.year, self.quarter)


@dataclass(frozen=True)
class VillageQuarters:
    village: VillagePage
    quarters: tuple[Quarter, ...]

    @property
    def missing(self) -> tuple[Quarter, ...]:
        return tuple(q for q in self.quarters if q.flagged)


# -- the checks ----------------------------------------------------------------------------------

def notice_problems(page: NoticePage, min_posting_days: dict, history=None) -> list[NoticeProblem]:
    """Everything a supervisor would question about one published notice, in PROBLEM_KINDS order."""
    notice = page.notice
    problems = []
    minimum = min_posting_days.get(notice.kind, 0)
    if notice.posting_days < minimum:
        problems.append(NoticeProblem("short_period", page, min_days=minimum))
    if not notice.postings:
        problems.append(NoticeProblem("no_posting", page))
    elif not any(p.photo for p in notice.postings):
        problems.append(NoticeProblem("no_photo", page))
    problems += [NoticeProblem("late_posting", page, posting=p) for p in notice.postings if p.date and p.date > notice.posted]
    problems += [NoticeProblem("unresolved_objection", page, objection=o) for o in notice.objections if not o.resolution]
    if history is not None:
        # Oldest first: the order the edits were made in.
        problems += [NoticeProblem("changed_after_posting", page, revision=r) for r in reversed(history.changed_after_posting)]
    return problems


def overdue_commitments(site: Site, today: dt.date) -> list[OverdueCommitment]:
    """Commitments past `due` and neither done nor cancelled; longest overdue first."""
    overdue = [item for village in site.villages.values() for item in village_overdue(village, today)]
    return sorted(overdue, key=_overdue_order)


def village_overdue(village: VillagePage, today: dt.date) -> list[OverdueCommitment]:
    """One village's overdue commitments, in the order of `overdue_commitments`."""
    if not village.village.plan:
        return []
    overdue = [OverdueCommitment(village, commitment, (today - commitment.due).days)
               for commitment in village.village.plan.commitments
               if commitment.due is not None and commitment.due < today and commitment.status not in CLOSED_COMMITMENTS]
    return sorted(overdue, key=_overdue_order)


def _overdue_order(item: OverdueCommitment):
    return (item.commitment.due, item.village.id, item.commitment.title)


def quarter_start(year: int, quarter: int) -> dt.date:
    return dt.date(year, 3 * quarter - 2, 1)


def quarter_end(year: int, quarter: int) -> dt.date:
    return dt.date(year + 1, 1, 1) - dt.timedelta(days=1) if quarter == 4 else quarter_start(year, quarter + 1) - dt.timedelta(days=1)


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def disclosure_quarters(village: VillagePage, today: dt.date) -> VillageQuarters:
    """The quarters of last year and this year: was anything published in each?

    A quarter that has not begun is not judged, and neither is the quarter under way while
    nothing is published yet: the law asks for a disclosure *within* each quarter.
    """
    counts: dict[tuple[int, int], int] = {}
    for page in village.notices:
        key = quarter_of(page.notice.posted)
        counts[key] = counts.get(key, 0) + 1
    return VillageQuarters(village, tuple(_quarter(year, quarter, counts.get((year, quarter), 0), today)
                                          for year in (today.year - 1, today.year) for quarter in (1, 2, 3, 4)))


@functools.lru_cache(maxsize=4096)
def _quarter(year: int, quarter: int, count: int, today: dt.date) -> Quarter:
    """One quarter's verdict; a value shared by every village with the same count (it is frozen)."""
    if count:
        state = "disclosed"
    elif quarter_start(year, quarter) > today:
        state = "future"
    elif quarter_end(year, quarter) >= today:
        state = "current"
    else:
        state = "missing"
    return Quarter(year, quarter, count, state)


def recently_ended(site: Site, today: dt.date, days: int = RECENTLY_ENDED_DAYS) -> list[NoticePage]:
    """Notices whose posting period ended within the last `days` days; most recent first."""
    since = today - dt.timedelta(days=days)
    return sorted((p for p in site.notices.values() if ended_since(p, since)), key=_ended_order)


def ended_since(page: NoticePage, since: dt.date) -> bool:
    return page.status.state == "ended" and page.notice.until >= since


def _ended_order(page: NoticePage):
    return (-page.notice.until.toordinal(), page.id)


def posting_now(site: Site) -> list[NoticePage]:
    """Notices on the board today; the ones ending soonest first."""
    return sorted(site.notices_posting(), key=_posting_order)


def _posting_order(page: NoticePage):
    return (page.notice.until, page.id)


class SupervisionReport:
    """What supervisors check, each part found when first asked for: a page shows the parts
    of its own notice or village, and the supervision page takes the rows of records that did
    not change from the previous build (`page_rows`), so a rebuild need not check them all."""

    def __init__(self, site: Site, history=None):
        self.site = site
        self.today = site.today
        self.history = history  # history.SiteHistory, when the site is in git
        self._of_notice: dict[str, list[NoticeProblem]] = {}

    @functools.cached_property
    def posting(self) -> list[NoticePage]:
        return posting_now(self.site)

    @functools.cached_property
    def ended(self) -> list[NoticePage]:
        return recently_ended(self.site, self.today)

    @functools.cached_property
    def problems(self) -> list[NoticeProblem]:
        """Every problem: by kind (PROBLEM_KINDS order), then newest notice first (the model's
        order), then in the notice file's order."""
        problems = []
        for notice_id in self.site.notices:
            problems += self.problems_of_notice(notice_id)
        problems.sort(key=_kind_order)  # stable
        return problems

    @functools.cached_property
    def overdue(self) -> list[OverdueCommitment]:
        return overdue_commitments(self.site, self.today)

    @functools.cached_property
    def quarters(self) -> list[VillageQuarters]:
        return [self.quarters_of_village(v.id) for t in self.site.townships for v in t.villages]

    @property
    def recent_days(self) -> int:
        return RECENTLY_ENDED_DAYS

    @property
    def years(self) -> tuple[int, int]:
        return (self.today.year - 1, self.today.year)

    def problems_by_kind(self) -> list[tuple[str, list[NoticeProblem]]]:
        return [(kind, [p for p in self.problems if p.kind == kind]) for kind in PROBLEM_KINDS]

    def problems_of_notice(self, notice_id: str) -> list[NoticeProblem]:
        found = self._of_notice.get(notice_id)
        if found is None:
            page = self.site.notices.get(notice_id)
            found = [] if page is None else sorted(
                notice_problems(page, self.site.config.min_posting_days, self.history_of(notice_id)), key=_kind_order)
            self._of_notice[notice_id] = found
        return found

    def problems_of_village(self, village_id: str) -> list[NoticeProblem]:
        village = self.site.villages.get(village_id)
        if village is None:
            return []
        return sorted((p for page in village.notices for p in self.problems_of_notice(page.id)), key=_kind_order)

    def overdue_of_village(self, village_id: str) -> list[OverdueCommitment]:
        """In the order of `overdue` (by due date, then title)."""
        village = self.site.villages.get(village_id)
        return [] if village is None else village_overdue(village, self.today)

    def quarters_of_village(self, village_id: str) -> VillageQuarters | None:
        village = self.site.villages.get(village_id)
        return None if village is None else disclosure_quarters(village, self.today)

    def history_of(self, notice_id: str):
        return self.history.of(notice_id) if self.history is not None else None

    @property
    def missing_quarters(self) -> int:
        return sum(len(q.missing) for q in self.quarters)


_KIND_ORDER = {kind: i for i, kind in enumerate(PROBLEM_KINDS)}


def _kind_order(problem: NoticeProblem) -> int:
    return _KIND_ORDER[problem.kind]


def supervision_report(site: Site, history=None) -> SupervisionReport:
    return SupervisionReport(site, history)


# -- words: one sentence per fact, the same on the page and in the CSV ---------------------------

class Wording:
    """The report's facts as sentences of the site's language."""

    def __init__(self, language: str):
        self.t = Translator(language)

    def date(self, value: dt.date | None) -> str:
        return "" if value is None else self.t("date.format", y=value.year, m=value.month, d=value.day)

    def problem(self, problem: NoticeProblem) -> str:
        t, notice = self.t, problem.page.notice
        if problem.kind == "short_period":
            return t("supervision.problem.short_period", days=notice.posting_days, min=problem.min_days)
        if problem.kind == "late_posting":
            return t("supervision.problem.late_posting", place=problem.posting.place, date=self.date(problem.posting.date),
                     posted=self.date(notice.posted))
        if problem.kind == "unresolved_objection":
            o = problem.objection
            if o.received and problem.page.status.state == "posting":
                # Still on the board: the answer is pending, not yet late.
                return t("supervision.problem.unresolved_objection_pending", date=self.date(o.received), summary=o.summary)
            if o.received:
                return t("supervision.problem.unresolved_objection", date=self.date(o.received), summary=o.summary)
            return t("supervision.problem.unresolved_objection_undated", summary=o.summary)
        if problem.kind == "changed_after_posting":
            return t("supervision.problem.changed_after_posting", date=self.date(problem.revision.date),
                     commit=problem.revision.short, posted=self.date(notice.posted))
        return t(f"supervision.problem.{problem.kind}")

    def overdue(self, item: OverdueCommitment) -> str:
        return self.t("supervision.overdue_item", due=self.date(item.commitment.due), days=item.days_overdue,
                      status=self.t(f"commitment.{item.commitment.status}"))

    def quarter(self, quarter: Quarter) -> str:
        return self.t("supervision.quarter", year=quarter.year, quarter=quarter.quarter)

    def quarter_state(self, quarter: Quarter) -> str:
        if quarter.state == "disclosed":
            return self.t("supervision.quarter_state.disclosed", count=quarter.notices)
        return self.t(f"supervision.quarter_state.{quarter.state}")

    def kind(self, kind: str) -> str:
        """The heading of a kind of problem."""
        return self.t(f"supervision.kind.{kind}")

    def change(self, code: str) -> str:
        """What a commit did to a notice (history.Revision.changes)."""
        return self.t(f"history.change.{code}")


# -- CSV downloads ---------------------------------------------------------------------------------

CSV_FOLDER = "data/supervision"
CSV_FILES = ("posting", "ended", "problems", "overdue_commitments", "quarters")


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads Chinese), CRLF lines, a header row."""
    line = CsvLines()
    return csv_file(header, [line(row).encode("utf-8") for row in rows])


def csv_file(header: list[str], lines: list[bytes]) -> bytes:
    """A CSV file from its rows' lines (`CsvLines`, in UTF-8)."""
    return ("\ufeff" + CsvLines().header(header)).encode("utf-8") + b"".join(lines)


class CsvLines:
    """`line(row)`: one row as the CSV writer writes it (CRLF included), so a file is its
    header's line and its rows' lines, and a row's line can be kept between builds."""

    def __init__(self):
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self, names: list[str]) -> str:
        return self._write(names)

    def __call__(self, row: list) -> str:
        return self._write([_cell(value) for value in row])

    def _write(self, cells: list) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if type(value) is str:  # most cells, first
        return "'" + value if value[:1] in FORMULA_STARTS else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A cell starting with = + - @ is run as a formula by spreadsheets: keep it text.
    if not isinstance(value, int) and text[:1] in FORMULA_STARTS:
        return "'" + text
    return text


NOTICE_COLUMNS = ["notice_id", "title", "village_id", "village", "township", "kind", "posted", "until"]
CSV_HEADERS = {
    "posting": NOTICE_COLUMNS + ["days_left", "url"],
    "ended": NOTICE_COLUMNS + ["days_since_end", "url"],
    "problems": ["problem", "description"] + NOTICE_COLUMNS + ["posting_days", "min_posting_days", "posting_place", "posting_date",
                                                              "objection_received", "changed_on", "commit", "url"],
    "overdue_commitments": ["village_id", "village", "township", "commitment", "due", "status", "progress", "days_overdue",
                            "description", "url"],
    "quarters": ["village_id", "village", "township", "year", "quarter", "notices", "state", "flagged", "url"],
}


def _notice_columns(page: NoticePage) -> list:
    n = page.notice
    return [n.id, n.title, page.village.id, page.village.village.name, page.village.township.name, n.kind, n.posted, n.until]


def posting_row(page: NoticePage, url) -> list:
    return _notice_columns(page) + [page.status.days_left, url(page.url)]


def ended_row(page: NoticePage, today: dt.date, url) -> list:
    return _notice_columns(page) + [(today - page.notice.until).days, url(page.url)]


def problem_row(p: NoticeProblem, wording: Wording, url) -> list:
    return [p.kind, wording.problem(p)] + _notice_columns(p.page) + [
        p.page.notice.posting_days, p.min_days,
        p.posting.place if p.posting else None, p.posting.date if p.posting else None,
        p.objection.received if p.objection else None,
        p.revision.date if p.revision else None, p.revision.short if p.revision else None,
        url(p.url)]


def overdue_row(o: OverdueCommitment, wording: Wording, url) -> list:
    return [o.village.id, o.village.village.name, o.village.township.name, o.commitment.title, o.commitment.due,
            o.commitment.status, o.commitment.progress, o.days_overdue, wording.overdue(o), url(o.url)]


def quarter_rows(vq: VillageQuarters, url) -> list[list]:
    return [[vq.village.id, vq.village.village.name, vq.village.township.name, q.year, q.quarter, q.notices, q.state,
             q.flagged, url(vq.village.url)] for q in vq.quarters]


def csv_tables(report: SupervisionReport, site: Site, wording: Wording) -> dict[str, bytes]:
    """{file name: CSV bytes} for every list of the supervision page (columns: docs/supervision.md)."""
    url = site.config.absolute_url
    tables = {
        "posting": [posting_row(p, url) for p in report.posting],
        "ended": [ended_row(p, report.today, url) for p in report.ended],
        "problems": [problem_row(p, wording, url) for p in report.problems],
        "overdue_commitments": [overdue_row(o, wording, url) for o in report.overdue],
        "quarters": [row for vq in report.quarters for row in quarter_rows(vq, url)],
    }
    return {f"{CSV_FOLDER}/{name}.csv": csv_bytes(CSV_HEADERS[name], tables[name]) for name in CSV_FILES}


# -- the page's rows, kept between builds ----------------------------------------------------------

PAGE = "supervision.html"
ROWS_TEMPLATE = "_supervision_rows.html"  # one macro per row or list item of the page
ROWS_CACHE = "supervision/rows.pickle"  # under the build cache
ROWS_CACHE_VERSION = 4
SEP = b"\xff"  # between the fields of a record's rows: a byte UTF-8 never has


@dataclass
class PageRows:
    """The supervision page's long lists (UTF-8, each row ends its line), their counts, and the
    CSV files."""

    lists: dict  # posting, ended, overdue, quarters, and problems:<kind> of each kind with problems
    counts: dict  # posting, ended, problems, overdue, missing_quarters
    problems: list  # (kind, count) of each kind with problems, in PROBLEM_KINDS order
    csv: dict  # site path -> bytes

    def view(self, place) -> SimpleNamespace:
        """`supervision_rows` for the template: each list as `place(name)`, and the counts."""
        counts = self.counts
        return SimpleNamespace(
            posting=place("posting"), ended=place("ended"), overdue=place("overdue"), quarters=place("quarters"),
            problems=[(kind, count, place(f"problems:{kind}")) for kind, count in self.problems],
            posting_count=counts["posting"], ended_count=counts["ended"], problem_count=counts["problems"],
            overdue_count=counts["overdue"], missing_quarters=counts["missing_quarters"])


def render_page(renderer, made: PageRows) -> bytes:
    """The page: the template rendered with a placeholder for each long list, and the lists'
    bytes put in their places (they go from the cache to the file without being decoded)."""
    mark = f"\0{os.urandom(16).hex()}:"  # a placeholder no text of the site can hold
    text = renderer.render(PAGE, PAGE, supervision_rows=made.view(lambda name: Markup(f"{mark}{name}\0")))
    pieces = text.encode("utf-8").split(mark.encode("ascii"))
    page = [pieces[0]]
    for piece in pieces[1:]:
        name, _, rest = piece.partition(b"\0")
        page += [made.lists[name.decode("ascii")], rest]
    return b"".join(page)


class RecordTable:
    """Records' rows from the previous build: record id -> (key, UTF-8 fields joined by SEP),
    and the records this build keeps. Stored packed (the ids, the keys, one blob and its
    offsets): a thousand records are read and written as a few large strings."""

    def __init__(self, stored=None):
        self._index: dict[str, int] = {}
        self._keys: list[str] = []
        self._blob, self._offsets = b"", array("Q", [0])
        self.ids: list[str] = []  # kept by this build, with their keys and rows
        self.keys: list[str] = []
        self.rows: list[bytes] = []
        self.made = 0  # records whose rows this build made
        if stored is not None:
            self._unpack(stored)

    def _unpack(self, stored) -> None:
        try:
            ids, keys, blob, offsets_bytes = stored
            offsets = array("Q")
            offsets.frombytes(offsets_bytes)
            ids, keys = _split(ids), _split(keys)
        except (TypeError, ValueError, AttributeError):
            return
        if type(blob) is bytes and len(ids) == len(keys) == len(offsets) - 1 and offsets[-1] == len(blob):
            self._index = {record_id: i for i, record_id in enumerate(ids)}
            self._keys, self._blob, self._offsets = keys, blob, offsets

    def rows_of(self, records, make) -> list[bytes]:
        """The rows of each of `records` ((id, key, item) triples), in order: the previous
        build's under the same key, else made with `make(item)` (a list of str, encoded here).
        A record without a key (outside a build) is not kept."""
        index, keys, blob, offsets = self._index, self._keys, self._blob, self._offsets
        found = []
        for record_id, key, item in records:
            i = index.get(record_id)
            if i is not None and keys[i] == key:
                rows = blob[offsets[i]:offsets[i + 1]]
            else:
                rows = SEP.join([field.encode("utf-8") for field in make(item)])
                self.made += 1
            found.append(rows)
            if key:
                self.ids.append(record_id)
                self.keys.append(key)
                self.rows.append(rows)
        return found

    @property
    def changed(self) -> bool:
        """Whether this build keeps other records than the previous build."""
        return bool(self.made) or len(self.ids) != len(self._index)

    def packed(self) -> tuple:
        offsets = array("Q", [0])
        offsets.extend(itertools.accumulate(len(rows) for rows in self.rows))
        return "\0".join(self.ids), "\0".join(self.keys), b"".join(self.rows), offsets.tobytes()


def _split(joined: str) -> list[str]:
    return joined.split("\0") if joined else []


POSTING, ENDED = 1, 2  # a notice's state: in the list of notices posting now, of those ended lately, or neither (0)


class NoticeRows:
    """Every notice's items in the lists of problems, kept between builds as the lists
    themselves: for each kind, the items of all notices one after the other in the model's
    order (an HTML blob and a CSV blob), with each notice's lengths in both and its count of
    items; and each notice's id, key and state (0, POSTING or ENDED).

    A rebuild takes each run of notices that kept their key and their order from the
    previous build as one slice of each list, and makes the other notices' items: after one
    edit, three slices a list, whatever the number of notices.
    """

    def __init__(self, stored=None):
        self.ids: list[str] = []
        self.keys: list[str] = []
        self.states = b""
        # kind -> (HTML, CSV, HTML lengths, CSV lengths, counts), one length and count a notice
        self.kinds = {kind: (b"", b"", array("I"), array("I"), array("I")) for kind in PROBLEM_KINDS}
        if stored is not None:
            self._unpack(stored)

    def _unpack(self, stored) -> None:
        try:
            ids, keys, states, kinds = stored
            ids, keys = _split(ids), _split(keys)
            unpacked = {}
            for kind in PROBLEM_KINDS:
                html, text, *raw = kinds[kind]
                arrays = [array("I") for _ in raw]
                for numbers, data in zip(arrays, raw, strict=True):
                    numbers.frombytes(data)
                html_lengths, text_lengths, counts = arrays
                if not (type(html) is bytes and type(text) is bytes
                        and len(html_lengths) == len(text_lengths) == len(counts) == len(ids)
                        and sum(html_lengths) == len(html) and sum(text_lengths) == len(text)):
                    return
                unpacked[kind] = (html, text, html_lengths, text_lengths, counts)
        except (TypeError, ValueError, KeyError, AttributeError):
            return
        if type(states) is bytes and len(states) == len(ids) == len(keys) and not states.strip(bytes([0, POSTING, ENDED])):
            self.ids, self.keys, self.states, self.kinds = ids, keys, states, unpacked

    def packed(self) -> tuple:
        kinds = {kind: (html, text, *(numbers.tobytes() for numbers in arrays))
                 for kind, (html, text, *arrays) in self.kinds.items()}
        return "\0".join(self.ids), "\0".join(self.keys), self.states, kinds

    def updated(self, ids: list[str], keys: list[str], pages: list, make) -> tuple["NoticeRows", int]:
        """This build's rows and how many notices' rows were made: `ids`, `keys` and `pages`
        are the notices' in the model's order, `make(page)` gives a notice's state and {kind:
        (HTML, CSV, count)} of the kinds it has items of. A notice without a key is never
        taken from the previous build."""
        index = {record_id: i for i, record_id in enumerate(self.ids)}
        runs: list = []  # [start, end) of the previous build's notices, or one notice's rows made
        last = -2
        for record_id, key, page in zip(ids, keys, pages):
            i = index.get(record_id)
            if i is not None and self.keys[i] == key:
                if i == last + 1:
                    runs[-1][1] = i + 1
                else:
                    runs.append([i, i + 1])
                last = i
            else:
                runs.append(make(page))
                last = -2
        made = sum(1 for run in runs if type(run) is not list)
        points = sorted({point for run in runs if type(run) is list for point in run})

        rows = NoticeRows()
        rows.ids, rows.keys = ids, keys
        rows.states = b"".join(self.states[run[0]:run[1]] if type(run) is list else bytes([run[0]]) for run in runs)
        no_items = (b"", b"", 0)
        for kind, (html, text, html_lengths, text_lengths, counts) in self.kinds.items():
            html_at, text_at = _offsets(html_lengths, points), _offsets(text_lengths, points)
            html_parts, text_parts = [], []
            new_html_lengths, new_text_lengths, new_counts = array("I"), array("I"), array("I")
            for run in runs:
                if type(run) is list:
                    start, end = run
                    html_parts.append(html[html_at[start]:html_at[end]])
                    text_parts.append(text[text_at[start]:text_at[end]])
                    new_html_lengths += html_lengths[start:end]
                    new_text_lengths += text_lengths[start:end]
                    new_counts += counts[start:end]
                else:
                    item_html, item_text, count = run[1].get(kind, no_items)
                    html_parts.append(item_html)
                    text_parts.append(item_text)
                    new_html_lengths.append(len(item_html))
                    new_text_lengths.append(len(item_text))
                    new_counts.append(count)
            rows.kinds[kind] = (b"".join(html_parts), b"".join(text_parts), new_html_lengths, new_text_lengths, new_counts)
        return rows, made

    def positions(self, state: int) -> list[int]:
        """The notices in one state, by their places in the model's order."""
        code = bytes([state])
        found, at = [], self.states.find(code)
        while at != -1:
            found.append(at)
            at = self.states.find(code, at + 1)
        return found


def _offsets(lengths: array, points: list[int]) -> dict[int, int]:
    """{point: the sum of lengths before it} for sorted points: one pass over the lengths."""
    at, total, previous = {}, 0, 0
    for point in points:
        total += sum(lengths[previous:point])
        at[point] = total
        previous = point
    return at


class RowCache:
    """The rows (on the page and in the CSV files) made by the previous build, per notice and
    per village, so that a rebuild after an edit makes only the edited records' rows.

    A notice's rows show nothing its own page does not show (title, village, posting period
    and status, problems, history), so they are kept under the page's key (`page.key`: a hash
    of the notice, its village file, its history, the theme, the config, the date and the
    tool); a village's quarters row and overdue commitments under the village page's key,
    which covers its notices too. `setting` covers the rest (this cache's version, the tool,
    the date, the config, the rows template). A record whose key differs is made again,
    records not kept by this build are dropped on saving, and a missing, damaged or other
    setting's file only costs making every row again.
    """

    TABLES = ("notices", "lists", "villages")

    def __init__(self, path: Path | None, setting: str):
        self.path, self.setting = path, setting
        stored = self._load() if path is not None else {}
        self.loaded = bool(stored)
        self.notices = NoticeRows(stored.get("notices"))  # the previous build's, then this build's
        self.lists = RecordTable(stored.get("lists"))  # rows in the lists of notices posting and ended
        self.villages = RecordTable(stored.get("villages"))
        self.notices_made = 0  # notices whose rows this build made
        self.notices_changed = False
        self.keep = True  # False when a record has no key (outside a build)

    def forget(self) -> None:
        """Start again from nothing kept."""
        self.loaded = False
        self.notices, self.lists, self.villages = NoticeRows(), RecordTable(), RecordTable()

    def _load(self) -> dict:
        try:
            with open(self.path, "rb") as source:
                stored = pickle.load(source)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError,
                IndexError, KeyError, MemoryError):
            return {}
        if (isinstance(stored, dict) and stored.get("version") == ROWS_CACHE_VERSION and stored.get("setting") == self.setting
                and isinstance(stored.get("tables"), dict)):
            return stored["tables"]
        return {}

    def save(self) -> None:
        """Keep the records this build kept, unless they are the previous build's."""
        if self.path is None or not self.keep:
            return
        if not (self.notices_changed or self.lists.changed or self.villages.changed):
            return
        save_pickle(self.path, {"version": ROWS_CACHE_VERSION, "setting": self.setting,
                                "tables": {"notices": self.notices.packed(), "lists": self.lists.packed(),
                                           "villages": self.villages.packed()}})


def page_rows(report: SupervisionReport, site: Site, wording: Wording, cache: RowCache, rows) -> PageRows:
    """The page's lists and the CSV files, each record's rows taken from `cache` or made;
    `rows()` gives the row macros (a module of ROWS_TEMPLATE), asked for only to make a row.

    Notices' problems are kept as the lists themselves (NoticeRows). A record of the other
    tables has its rows as fields joined by SEP: a notice's in the list of notices posting
    or ended, its row and CSV line; a village's, its quarters row, its quarters' CSV lines,
    how many quarters are missing, then (due, title, item, CSV line) for each overdue
    commitment. Nothing but the changed records' rows is made from the model.
    """
    today, url, line = report.today, site.config.absolute_url, CsvLines()
    since = today - dt.timedelta(days=RECENTLY_ENDED_DAYS)

    def notice(page):
        state = POSTING if page.status.state == "posting" else ENDED if ended_since(page, since) else 0
        items: dict[str, tuple[list, list]] = {}
        for p in report.problems_of_notice(page.id):
            html, text = items.setdefault(p.kind, ([], []))
            html.append(rows().problem_item(p).encode("utf-8"))
            text.append(line(problem_row(p, wording, url)).encode("utf-8"))
        return state, {kind: (b"".join(html), b"".join(text), len(html)) for kind, (html, text) in items.items()}

    def listed(page):
        if page.status.state == "posting":
            return rows().posting_row(page), line(posting_row(page, url))
        return rows().ended_row(page), line(ended_row(page, today, url))

    def village(v):
        vq = report.quarters_of_village(v.id)
        fields = [rows().quarter_row(vq), "".join(line(row) for row in quarter_rows(vq, url)), str(len(vq.missing))]
        for o in report.overdue_of_village(v.id):
            fields += [o.commitment.due.isoformat(), o.commitment.title, rows().overdue_item(o),
                       line(overdue_row(o, wording, url))]
        return fields

    # Within a kind of problem: newest notice first (the model's order), then the file's order.
    pages = list(site.notices.values())
    keys = [page.key for page in pages]
    notices, cache.notices_made = cache.notices.updated(list(site.notices), keys, pages, notice)
    cache.notices_changed = bool(cache.notices_made) or notices.ids != cache.notices.ids
    cache.notices = notices
    cache.keep = all(keys)

    lists = {}
    for state, order in ((POSTING, _posting_order), (ENDED, _ended_order)):
        members = [(page.id, page.key, page) for page in (pages[i] for i in notices.positions(state))]
        made = cache.lists.rows_of(members, listed)
        lists[state] = [made.split(SEP) for _, made in sorted(zip(members, made), key=lambda pair: order(pair[0][2]))]

    quarters_html, quarters_csv, overdue, missing = [], [], [], 0
    villages = [(v.id, v.key, v) for township in site.townships for v in township.villages]
    cache.keep = cache.keep and all(key for _, key, _ in villages)
    for (village_id, _, _), made in zip(villages, cache.villages.rows_of(villages, village)):
        fields = made.split(SEP)
        quarters_html.append(fields[0])
        quarters_csv.append(fields[1])
        missing += int(fields[2])
        overdue += [(fields[i], village_id, fields[i + 1], fields[i + 2], fields[i + 3]) for i in range(3, len(fields), 4)]
    # The order of `overdue_commitments`: due, village, title. (UTF-8 sorts as its text does.)
    overdue.sort(key=lambda o: o[:3])

    problems = [(kind, sum(counts), html, text) for kind, (html, text, _, _, counts) in notices.kinds.items()]
    csv_lines = {
        "posting": [text for _, text in lists[POSTING]],
        "ended": [text for _, text in lists[ENDED]],
        "problems": [text for _, _, _, text in problems],
        "overdue_commitments": [o[4] for o in overdue],
        "quarters": quarters_csv,
    }
    return PageRows(
        lists={"posting": b"".join(html for html, _ in lists[POSTING]), "ended": b"".join(html for html, _ in lists[ENDED]),
               "overdue": b"".join(o[3] for o in overdue), "quarters": b"".join(quarters_html),
               **{f"problems:{kind}": html for kind, count, html, _ in problems if count}},
        counts={"posting": len(lists[POSTING]), "ended": len(lists[ENDED]), "problems": sum(count for _, count, _, _ in problems),
                "overdue": len(overdue), "missing_quarters": missing},
        problems=[(kind, count) for kind, count, _, _ in problems if count],
        csv={f"{CSV_FOLDER}/{name}.csv": csv_file(CSV_HEADERS[name], csv_lines[name]) for name in CSV_FILES},
    )


# -- the plugin ------------------------------------------------------------------------------------

class SupervisionPlugin(Plugin):
    """The supervision page and CSV files, each page's own problems and history, and the feeds."""

    name = "supervision"
    background = True  # on_write needs only the model and the report made in on_site
    saves_at_once = True  # its rows' cache: 0.1 s at 10,000 notices

    def __init__(self):
        self.report: SupervisionReport | None = None
        self._history_keys: dict[str, str] = {}

    def on_site(self, site, context) -> None:
        from .history import read_history

        self._history_keys = {}
        history = read_history(context.root, _Notices(site), site.config, context.cache_dir)
        self.report = supervision_report(site, history)
        context.globals["supervision"] = self.report
        context.globals["supervision_words"] = Wording(site.config.language)
        context.globals["supervision_csv"] = {name: f"{CSV_FOLDER}/{name}.csv" for name in CSV_FILES}

    def page_key(self, page) -> str:
        """Notice and village pages show git history, which the model does not hold."""
        history = self.report.history if self.report is not None else None
        if history is None:
            return ""
        notices = [page] if hasattr(page, "notice") else getattr(page, "notices", [])
        return repr(history.shallow) + "".join([self._history_key(history, n.id) for n in notices])

    def _history_key(self, history, notice_id: str) -> str:
        """A notice's history as text (once a build: its village's page shows it too)."""
        key = self._history_keys.get(notice_id)
        if key is None:
            key = self._history_keys[notice_id] = f"\n{notice_id}:{history.of(notice_id)!r}"
        return key

    def on_write(self, site, context, output, advance) -> None:
        from .feeds import write_feeds
        from .inputs import digest, tool_digest

        env = context.renderer.env
        module = None

        def rows():
            nonlocal module
            if module is None:
                module = env.get_template(ROWS_TEMPLATE).make_module({"page_path": PAGE})
            return module

        setting = digest(ROWS_CACHE_VERSION, tool_digest(), site.today.isoformat(), repr(site.config),
                         env.loader.get_source(env, ROWS_TEMPLATE)[0])
        cache = RowCache(Path(context.cache_dir) / ROWS_CACHE if context.cache_dir is not None else None, setting)
        wording = Wording(site.config.language)
        # Tens of thousands of small objects, none of them in a cycle: the collector, run over
        # the whole model again and again meanwhile, would find nothing to free.
        with gc_paused():
            try:
                made = page_rows(self.report, site, wording, cache, rows)
            except Exception:
                if not cache.loaded:
                    raise
                cache.forget()  # rows the previous build kept that cannot be read: make them all
                made = page_rows(self.report, site, wording, cache, rows)
        output.write_bytes(PAGE, render_page(context.renderer, made), "supervision page")
        for path, data in made.csv.items():
            output.write_bytes(path, data, "supervision data")
        context.defer(cache.save)
        advance()
        write_feeds(site, self.report.history, output, Translator(site.config.language))
        advance()


class _Notices(Mapping):
    """{notice id: Notice} of the published notices, read from the model when asked for."""

    def __init__(self, site: Site):
        self._pages = site.notices

    def __getitem__(self, notice_id: str):
        return self._pages[notice_id].notice

    def __iter__(self):
        return iter(self._pages)

    def __len__(self) -> int:
        return len(self._pages)
