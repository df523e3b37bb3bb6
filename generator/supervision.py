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
import io
from dataclasses import dataclass, field

from .content import Commitment, Objection, Posting
from .i18n import Translator
from .plugins import Plugin
from .site import NoticePage, Site, VillagePage

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
    overdue = [
        OverdueCommitment(village, commitment, (today - commitment.due).days)
        for village in site.villages.values() if village.village.plan
        for commitment in village.village.plan.commitments
        if commitment.due is not None and commitment.due < today and commitment.status not in CLOSED_COMMITMENTS
    ]
    return sorted(overdue, key=lambda o: (o.commitment.due, o.village.id, o.commitment.title))


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
    quarters = []
    for year in (today.year - 1, today.year):
        for quarter in (1, 2, 3, 4):
            count = counts.get((year, quarter), 0)
            if count:
                state = "disclosed"
            elif quarter_start(year, quarter) > today:
                state = "future"
            elif quarter_end(year, quarter) >= today:
                state = "current"
            else:
                state = "missing"
            quarters.append(Quarter(year, quarter, count, state))
    return VillageQuarters(village, tuple(quarters))


def recently_ended(site: Site, today: dt.date, days: int = RECENTLY_ENDED_DAYS) -> list[NoticePage]:
    """Notices whose posting period ended within the last `days` days; most recent first."""
    since = today - dt.timedelta(days=days)
    pages = [p for p in site.notices.values() if p.status.state == "ended" and p.notice.until >= since]
    return sorted(pages, key=lambda p: (-p.notice.until.toordinal(), p.id))


def posting_now(site: Site) -> list[NoticePage]:
    """Notices on the board today; the ones ending soonest first."""
    return sorted(site.notices_posting(), key=lambda p: (p.notice.until, p.id))


@dataclass
class SupervisionReport:
    today: dt.date
    posting: list[NoticePage]
    ended: list[NoticePage]
    problems: list[NoticeProblem]
    overdue: list[OverdueCommitment]
    quarters: list[VillageQuarters]
    history: object | None = None  # history.SiteHistory, when the site is in git
    _by_notice: dict = field(default_factory=dict, repr=False)
    _by_village: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        for problem in self.problems:
            self._by_notice.setdefault(problem.page.id, []).append(problem)
            self._by_village.setdefault(problem.page.village.id, []).append(problem)

    @property
    def recent_days(self) -> int:
        return RECENTLY_ENDED_DAYS

    @property
    def years(self) -> tuple[int, int]:
        return (self.today.year - 1, self.today.year)

    def problems_by_kind(self) -> list[tuple[str, list[NoticeProblem]]]:
        return [(kind, [p for p in self.problems if p.kind == kind]) for kind in PROBLEM_KINDS]

    def problems_of_notice(self, notice_id: str) -> list[NoticeProblem]:
        return self._by_notice.get(notice_id, [])

    def problems_of_village(self, village_id: str) -> list[NoticeProblem]:
        return self._by_village.get(village_id, [])

    def overdue_of_village(self, village_id: str) -> list[OverdueCommitment]:
        return [o for o in self.overdue if o.village.id == village_id]

    def quarters_of_village(self, village_id: str) -> VillageQuarters | None:
        return next((q for q in self.quarters if q.village.id == village_id), None)

    def history_of(self, notice_id: str):
        return self.history.of(notice_id) if self.history is not None else None

    @property
    def missing_quarters(self) -> int:
        return sum(len(q.missing) for q in self.quarters)


def supervision_report(site: Site, history=None) -> SupervisionReport:
    today = site.today
    problems = []
    for page in site.notices.values():
        problems += notice_problems(page, site.config.min_posting_days, history.of(page.id) if history else None)
    order = {kind: i for i, kind in enumerate(PROBLEM_KINDS)}
    # Stable: within a kind, newest notice first (the model's order), then the file's order.
    problems.sort(key=lambda p: order[p.kind])
    villages = [v for township in site.townships for v in township.villages]
    return SupervisionReport(
        today=today,
        posting=posting_now(site),
        ended=recently_ended(site, today),
        problems=problems,
        overdue=overdue_commitments(site, today),
        quarters=[disclosure_quarters(v, today) for v in villages],
        history=history,
    )


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
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A cell starting with = + - @ is run as a formula by spreadsheets: keep it text.
    if not isinstance(value, int) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_tables(report: SupervisionReport, site: Site, wording: Wording) -> dict[str, bytes]:
    """{file name: CSV bytes} for every list of the supervision page (columns: docs/supervision.md)."""
    url = site.config.absolute_url

    def notice_columns(page: NoticePage) -> list:
        n = page.notice
        return [n.id, n.title, page.village.id, page.village.village.name, page.village.township.name, n.kind, n.posted, n.until]

    notice_header = ["notice_id", "title", "village_id", "village", "township", "kind", "posted", "until"]
    tables = {
        "posting": csv_bytes(notice_header + ["days_left", "url"],
                             [notice_columns(p) + [p.status.days_left, url(p.url)] for p in report.posting]),
        "ended": csv_bytes(notice_header + ["days_since_end", "url"],
                           [notice_columns(p) + [(report.today - p.notice.until).days, url(p.url)] for p in report.ended]),
        "problems": csv_bytes(
            ["problem", "description"] + notice_header + ["posting_days", "min_posting_days", "posting_place", "posting_date",
                                                          "objection_received", "changed_on", "commit", "url"],
            [[p.kind, wording.problem(p)] + notice_columns(p.page) + [
                p.page.notice.posting_days, p.min_days,
                p.posting.place if p.posting else None, p.posting.date if p.posting else None,
                p.objection.received if p.objection else None,
                p.revision.date if p.revision else None, p.revision.short if p.revision else None,
                url(p.url)] for p in report.problems]),
        "overdue_commitments": csv_bytes(
            ["village_id", "village", "township", "commitment", "due", "status", "progress", "days_overdue", "description", "url"],
            [[o.village.id, o.village.village.name, o.village.township.name, o.commitment.title, o.commitment.due,
              o.commitment.status, o.commitment.progress, o.days_overdue, wording.overdue(o), url(o.url)] for o in report.overdue]),
        "quarters": csv_bytes(
            ["village_id", "village", "township", "year", "quarter", "notices", "state", "flagged", "url"],
            [[vq.village.id, vq.village.village.name, vq.village.township.name, q.year, q.quarter, q.notices, q.state,
              q.flagged, url(vq.village.url)] for vq in report.quarters for q in vq.quarters]),
    }
    return {f"{CSV_FOLDER}/{name}.csv": tables[name] for name in CSV_FILES}


# -- the plugin ------------------------------------------------------------------------------------

class SupervisionPlugin(Plugin):
    """The supervision page and CSV files, each page's own problems and history, and the feeds."""

    name = "supervision"

    def __init__(self):
        self.report: SupervisionReport | None = None

    def on_site(self, site, context) -> None:
        from .history import read_history

        notices = {notice_id: page.notice for notice_id, page in site.notices.items()}
        history = read_history(context.root, notices, site.config, context.cache_dir)
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
        return repr((history.shallow, [history.of(n.id) for n in notices]))

    def on_write(self, site, context, output, advance) -> None:
        from .feeds import write_feeds

        html = context.renderer.render("supervision.html", "supervision.html")
        output.write_text("supervision.html", html, "supervision page")
        for path, data in csv_tables(self.report, site, Wording(site.config.language)).items():
            output.write_bytes(path, data, "supervision data")
        advance()
        write_feeds(site, self.report.history, output, Translator(site.config.language))
        advance()
