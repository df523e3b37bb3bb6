"""The cross-linked site model: what gets published, where, and what it says.

`Site.from_content(content, today)` decides everything a template needs: which notices are
published (a notice whose `posted` date is after `today` is embargoed and appears nowhere),
each page's output path, the posting status as of `today`, fund totals, and the privacy
step for beneficiaries. Templates only lay this out; they compute nothing.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from .content import Beneficiary, Content, Notice, Village
from .config import NOTICE_KINDS, SiteConfig
from .privacy import mask_name


def page_url(kind: str, record_id: str) -> str:
    """The site path of a village's or a notice's page (`kind`: "villages" or "notices")."""
    return f"{kind}/{record_id}.html"


@dataclass(frozen=True)
class PostingStatus:
    """Where a notice stands on `today`: upcoming, posting (with days left) or ended."""

    state: str  # "upcoming" | "posting" | "ended"
    days_left: int | None  # for "posting": days on the board from today to `until`, today included

    @classmethod
    def of(cls, notice: Notice, today: dt.date) -> "PostingStatus":
        if today < notice.posted:
            return cls("upcoming", None)
        if today <= notice.until:
            return cls("posting", (notice.until - today).days + 1)
        return cls("ended", None)


@dataclass(frozen=True)
class PublishedBeneficiary:
    """What the site shows of a private person: never ID, phone or bank numbers."""

    name: str | None  # masked per policy; None under `names: hide`
    household_size: int | None
    amount: Decimal | None
    note: str | None


@dataclass
class FundTotals:
    """Sums of disclosed funds, exact to the fen."""

    total: Decimal = Decimal(0)
    by_year: dict = field(default_factory=dict)
    by_source: dict = field(default_factory=dict)
    by_kind: dict = field(default_factory=dict)
    notices: int = 0

    def add(self, notice: Notice) -> None:
        if notice.funds is None:
            return
        amount = notice.funds.total
        self.total += amount
        self.notices += 1
        for table, key in ((self.by_year, notice.posted.year), (self.by_source, notice.funds.source or ""), (self.by_kind, notice.kind)):
            table[key] = table.get(key, Decimal(0)) + amount

    def include(self, other: "FundTotals") -> None:
        """Add another's sums (a village's to its township's): the same exact Decimals as adding
        its notices one by one, for a few additions instead of one per notice."""
        self.total += other.total
        self.notices += other.notices
        for table, theirs in ((self.by_year, other.by_year), (self.by_source, other.by_source), (self.by_kind, other.by_kind)):
            for key, amount in theirs.items():
                table[key] = table.get(key, Decimal(0)) + amount

    def sorted_years(self):
        return sorted(self.by_year.items())

    def sorted_sources(self):
        return sorted(self.by_source.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass
class NoticePage:
    notice: Notice
    village: "VillagePage"
    url: str  # site path, e.g. notices/2024-q1-fund.html
    status: PostingStatus
    names: str  # the config's `privacy.names`: how beneficiaries' names are shown
    key: str = ""  # hash of everything the page is made from (set by the build)

    @functools.cached_property
    def beneficiaries(self) -> list[PublishedBeneficiary]:
        """Made when a page or file shows them: after an edit, only the pages made again do."""
        return [publish_beneficiary(b, self.names) for b in self.notice.beneficiaries]

    @property
    def id(self) -> str:
        return self.notice.id

    @property
    def year(self) -> int:
        return self.notice.posted.year


@dataclass
class VillagePage:
    village: Village
    township: "TownshipPage"
    url: str
    notices: list[NoticePage] = field(default_factory=list)  # newest first
    funds: FundTotals = field(default_factory=FundTotals)
    key: str = ""

    @property
    def id(self) -> str:
        return self.village.id

    def notices_by_year_and_kind(self):
        """[(year, [(kind, [notice pages])])], newest year first, kinds in contract order."""
        years: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for page in self.notices:
            years[page.year][page.notice.kind].append(page)
        return [
            (year, [(kind, years[year][kind]) for kind in NOTICE_KINDS if kind in years[year]])
            for year in sorted(years, reverse=True)
        ]


@dataclass
class TownshipPage:
    name: str
    slug: str
    url: str
    villages: list[VillagePage] = field(default_factory=list)
    funds: FundTotals = field(default_factory=FundTotals)
    key: str = ""


@dataclass
class Site:
    config: SiteConfig
    today: dt.date
    townships: list[TownshipPage]
    villages: dict[str, VillagePage]
    notices: dict[str, NoticePage]  # published only
    embargoed: list[Notice]
    funds: FundTotals
    funds_by_township: dict

    @classmethod
    def from_content(cls, content: Content, today: dt.date) -> "Site":
        config = content.config
        townships: dict[str, TownshipPage] = {}
        for name, slug in _township_slugs({v.township for v in content.villages.values()}, content.slug_bases).items():
            townships[name] = TownshipPage(name=name, slug=slug, url=f"townships/{slug}.html")
        villages: dict[str, VillagePage] = {}
        for village in sorted(content.villages.values(), key=lambda v: v.id):
            township = townships[village.township]
            page = VillagePage(village=village, township=township, url=page_url("villages", village.id))
            villages[village.id] = page
            township.villages.append(page)
        notices: dict[str, NoticePage] = {}
        embargoed: list[Notice] = []
        site_funds = FundTotals()
        for notice in sorted(content.notices.values(), key=_newest_first):
            if notice.posted > today:
                embargoed.append(notice)
                continue
            village = villages[notice.village]
            page = NoticePage(
                notice=notice,
                village=village,
                url=page_url("notices", notice.id),
                status=PostingStatus.of(notice, today),
                names=config.privacy.names,
            )
            notices[notice.id] = page
            village.notices.append(page)
            village.funds.add(notice)
        for village in villages.values():
            village.township.funds.include(village.funds)
        ordered = sorted(townships.values(), key=lambda t: t.slug)
        for township in ordered:
            site_funds.include(township.funds)
        by_township = {t.name: t.funds.total for t in ordered}
        return cls(config, today, ordered, villages, notices, embargoed, site_funds, by_township)

    # -- listings for the home page ----------------------------------------------------------
    def notices_posting(self) -> list[NoticePage]:
        return [n for n in self.notices.values() if n.status.state == "posting"]

    def latest_notices(self, count: int = 20) -> list[NoticePage]:
        return list(self.notices.values())[:count]

    def all_pages(self):
        """Every (site path, page object) this model publishes, in a stable order."""
        yield from ((t.url, t) for t in self.townships)
        yield from ((v.url, v) for v in self.villages.values())
        yield from ((n.url, n) for n in self.notices.values())


def _newest_first(notice: Notice):
    # Reverse chronological, ties broken by id so the order never depends on file order.
    return (-notice.posted.toordinal(), notice.id)


def _township_slugs(names: set[str], bases: dict[str, str] | None = None) -> dict[str, str]:
    """Stable ASCII slugs from the townships' pinyin; homophones get -2, -3 in name order.
    `bases` holds `slug_base(name)` of names already known (the parse cache keeps them)."""
    slugs: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(names):
        base = (bases or {}).get(name) or slug_base(name)
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs[name] = slug
    return slugs


def slug_base(name: str) -> str:
    from pypinyin import lazy_pinyin  # slow to import (its dictionaries): only when slugs are made

    return "".join(ch for ch in "".join(lazy_pinyin(name)).lower() if ch.isascii() and ch.isalnum()) or "township"


def publish_beneficiary(person: Beneficiary, names_policy: str) -> PublishedBeneficiary:
    return PublishedBeneficiary(
        name=mask_name(person.name, names_policy),
        household_size=person.household_size,
        amount=person.amount,
        note=person.note,
    )
