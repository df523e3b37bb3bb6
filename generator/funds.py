"""Fund roll-ups: what the public asks first, "how much, when, from where, for whom".

Every published notice with a `funds:` table counts once, with its stated total (the loader
has already checked that the items add up to it). Sums are exact Decimals; each share is a
percent of its own breakdown's total, rounded half up to one decimal and never adjusted to
make a column add up to 100.0.

Roll-ups exist for each village (by year, source and kind of notice), each township (by
year, source, village and kind) and the county (by township, year, source and kind).
`FundsPlugin` hands them, and a chart function, to the templates.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from . import charts, money
from .config import NOTICE_KINDS
from .plugins import Plugin

# The breakdowns each page shows, in the order they appear.
VILLAGE_DIMENSIONS = ("year", "source", "kind")
TOWNSHIP_DIMENSIONS = ("year", "source", "village", "kind")
COUNTY_DIMENSIONS = ("township", "year", "source", "kind")


@dataclass(frozen=True)
class Share:
    """One row of a breakdown: a year, a fund source, a kind, a township or a village."""

    key: object  # the year (int), source text, kind code, township name or village id
    label: str
    amount: Decimal
    percent: Decimal | None  # of the breakdown's total; None when that total is zero
    url: str | None = None  # site path of the township's or village's own page


@dataclass(frozen=True)
class Breakdown:
    dimension: str  # year | source | kind | township | village
    caption: str
    heading: str  # the first column's header in the accessible table
    total: Decimal
    shares: tuple[Share, ...]


@dataclass(frozen=True)
class Rollup:
    """All disclosed funds of one village, one township or the county."""

    scope: str  # village | township | county
    total: Decimal
    notices: int  # published notices with a fund table
    breakdowns: tuple[Breakdown, ...]

    def breakdown(self, dimension: str) -> Breakdown:
        for breakdown in self.breakdowns:
            if breakdown.dimension == dimension:
                return breakdown
        raise KeyError(dimension)


class FundRollups:
    """The roll-ups of a whole site, each made from the model's fund totals when first asked
    for: a rebuild that reuses every village and township page makes only the county's."""

    def __init__(self, site, t):
        self.t = t
        self._site = site
        self._townships_by_slug = {township.slug: township for township in site.townships}
        self._townships: dict[str, Rollup] = {}
        self._villages: dict[str, Rollup] = {}

    @functools.cached_property
    def county(self) -> Rollup:
        return self._rollup("county", self._site.funds, COUNTY_DIMENSIONS, self._site)

    def village(self, village_id: str) -> Rollup:
        rollup = self._villages.get(village_id)
        if rollup is None:
            village = self._site.villages[village_id]
            rollup = self._villages[village_id] = self._rollup("village", village.funds, VILLAGE_DIMENSIONS, village)
        return rollup

    def township(self, slug: str) -> Rollup:
        rollup = self._townships.get(slug)
        if rollup is None:
            township = self._townships_by_slug[slug]
            rollup = self._townships[slug] = self._rollup("township", township.funds, TOWNSHIP_DIMENSIONS, township)
        return rollup

    # -- building ------------------------------------------------------------------------------
    # From the sums the site model made while it sorted the notices (site.FundTotals), not from
    # the notices again: the county's, on the home page, is made on every rebuild, and going
    # over ten thousand notices for it took 0.1 s.
    def _rollup(self, scope: str, totals, dimensions: tuple[str, ...], owner) -> Rollup:
        breakdowns = tuple(self._breakdown(dimension, totals, owner) for dimension in dimensions)
        return Rollup(scope=scope, total=totals.total, notices=totals.notices, breakdowns=breakdowns)

    def _breakdown(self, dimension: str, totals, owner) -> Breakdown:
        # Every village of a township and every township of the county is listed, even with
        # nothing disclosed: a missing row would hide exactly what the public should notice.
        if dimension == "village":
            sums = {village.id: village.funds.total for village in owner.villages}
        elif dimension == "township":
            sums = {township.name: township.funds.total for township in owner.townships}
        else:
            sums = {"year": totals.by_year, "source": totals.by_source, "kind": totals.by_kind}[dimension]
        rows = [self._share(dimension, key, amount, totals.total, owner) for key, amount in sums.items()]
        rows.sort(key=_order(dimension))
        return Breakdown(
            dimension=dimension,
            caption=self.t(f"rollup.by_{dimension}"),
            heading=self.t(f"rollup.column_{dimension}"),
            total=totals.total,
            shares=tuple(rows),
        )

    def _share(self, dimension: str, key, amount: Decimal, total: Decimal, owner) -> Share:
        url = None
        if dimension == "year":
            label = self.t("rollup.year", year=key)
        elif dimension == "source":
            label = key or self.t("funds.source_unknown")
        elif dimension == "kind":
            label = self.t(f"kind.{key}")
        elif dimension == "village":
            village = next(v for v in owner.villages if v.id == key)
            label, url = village.village.name, village.url
        else:
            township = next(t for t in owner.townships if t.name == key)
            label, url = township.name, township.url
        return Share(key=key, label=label, amount=amount, percent=money.percent(amount, total), url=url)

    # -- charts --------------------------------------------------------------------------------
    def chart(self, breakdown: Breakdown, chart_id: str) -> Markup:
        """The breakdown as an inline SVG bar chart; the template puts its table next to it."""
        amounts = [share.amount for share in breakdown.shares]
        # One unit per chart, so bars read alike: 万元 when every figure stays exact in it.
        in_wan = bool(amounts) and max(amounts) >= 100000 and all(a == a.to_integral_value() for a in amounts)
        bars = [charts.Bar(share.label, share.amount, self.chart_amount(share.amount, in_wan)) for share in breakdown.shares]
        if bars:
            largest = max(breakdown.shares, key=lambda s: s.amount)
            desc = self.t("chart.desc", count=len(bars), label=largest.label, amount=self.chart_amount(largest.amount, in_wan))
        else:
            desc = self.t("chart.desc_empty")
        return charts.bar_chart(bars, chart_id=chart_id, title=breakdown.caption, desc=desc)

    def chart_amount(self, amount: Decimal, in_wan: bool) -> str:
        if in_wan:
            return self.t("chart.wan", amount=money.format_wan(amount))
        return self.t("money.yuan", amount=money.format_yuan(amount))


def _order(dimension: str):
    """Years in time order, kinds in the contract's order, everything else largest first."""
    if dimension == "year":
        return lambda share: share.key
    if dimension == "kind":
        return lambda share: NOTICE_KINDS.index(share.key)
    return lambda share: (-share.amount, share.label, str(share.key))


class FundsPlugin(Plugin):
    """Roll-ups and charts for the pages, then the open-data files (see opendata.py)."""

    name = "funds"
    background = True  # needs only the model: written beside the page rendering
    saves_at_once = True  # its rows' cache: 0.1 s at 10,000 notices

    def on_site(self, site, context) -> None:
        from .i18n import Translator
        from .opendata import OpenData

        t = Translator(context.config.language)
        rollups = FundRollups(site, t)
        context.globals["funds_rollups"] = rollups
        context.globals["funds_chart"] = rollups.chart
        # Built here, before any page is rendered: the pages link to the files and count their rows.
        context.globals["open_data"] = OpenData(site, t)

    def on_write(self, site, context, output, advance) -> None:
        from .opendata import write_open_data

        write_open_data(site, context, output, advance)
