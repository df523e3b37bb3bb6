"""Atom 1.0 feeds of new and changed notices: the whole site (feed.xml) and each village
(feeds/<village-id>.xml), so journalists and supervisors can follow them in any feed reader.

One entry per published notice, identified by its permanent absolute address. `updated` is
the day posting began or, when the site is in git, the commit that last changed what the page
shows, whichever is later: never the clock, so the same content gives the same feed.
"""
from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET


ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50  # a feed carries the latest changes; the site itself keeps everything
# Notice dates are the dates on a Chinese village board: Beijing time.
CHINA_TIME = dt.timezone(dt.timedelta(hours=8))
SITE_FEED = "feed.xml"


def village_feed_path(village_id: str) -> str:
    return f"feeds/{village_id}.xml"


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=CHINA_TIME)


def entry_updated(page, history) -> dt.datetime:
    updated = _start_of(page.notice.posted)
    last = history.of(page.id).last_change if history is not None and history.of(page.id) else None
    if last is not None and last.committed > updated:
        updated = last.committed
    return updated


def _stamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _date(t, day: dt.date) -> str:
    return t("date.format", y=day.year, m=day.month, d=day.day)


def feed_entries(pages, history) -> list[tuple[dt.datetime, object]]:
    """(updated, page) for the newest ENTRIES notices: latest change first, then by id."""
    dated = [(entry_updated(page, history), page) for page in pages]
    dated.sort(key=lambda item: (-item[0].timestamp(), item[1].id))
    return dated[:ENTRIES]


def newest_candidates(pages, history) -> list:
    """A few of `pages` (newest first by the day posting began, then by id: the model's
    order) among which are the newest ENTRIES by `feed_entries`' order: the first ENTRIES,
    and every page changed later than the day it began posting.

    Any other page is dated by the day it began posting. The first ENTRIES pages began
    posting that day or later (those of the same day come first by id) and none is dated
    before the day it began: all of them come before that page, which is therefore never
    among the newest. So a large site's feed need not date every notice.
    """
    found = {page.id: page for page in itertools.islice(pages, ENTRIES)}
    if history is not None:
        for page in pages:
            record = history.of(page.id)
            last = record.last_change if record is not None else None
            if last is not None and last.committed > _start_of(page.notice.posted):  # entry_updated's test
                found.setdefault(page.id, page)
    return list(found.values())


def atom_feed(config, t, *, path: str, title: str, home_path: str, pages, history, today: dt.date) -> str:
    url = config.absolute_url
    entries = feed_entries(pages, history)
    # Plain names with the namespace declared on the root: no global namespace registry.
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": t("meta.html_lang")})
    _add(feed, "id", url(path))
    _add(feed, "title", title)
    # An empty feed has no change to date it by; the build date keeps it deterministic.
    _add(feed, "updated", _stamp(entries[0][0] if entries else _start_of(today)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=url(path))
    _add(feed, "link", rel="alternate", type="text/html", href=url(home_path))
    author = _add(feed, "author")
    _add(author, "name", config.title)
    for updated, page in entries:
        notice = page.notice
        entry = _add(feed, "entry")
        _add(entry, "id", url(page.url))
        _add(entry, "title", notice.title)
        _add(entry, "link", rel="alternate", type="text/html", href=url(page.url))
        _add(entry, "published", _stamp(_start_of(notice.posted)))
        _add(entry, "updated", _stamp(updated))
        _add(entry, "category", term=notice.kind, label=t("kind." + notice.kind))
        summary = t("feed.summary", village=page.village.village.name, kind=t("kind." + notice.kind),
                    posted=_date(t, notice.posted), until=_date(t, notice.until))
        record = history.of(page.id) if history is not None else None
        if record is not None and record.last_change is not None:
            summary += t("feed.changed", date=_date(t, record.last_change.date))
        if record is not None and record.changed_after_posting:
            summary += t("feed.changed_after_posting")
        _add(entry, "summary", summary)
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def _add(parent, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def write_feeds(site, history, output, t) -> None:
    config = site.config
    pages = list(site.notices.values())  # newest first, as newest_candidates needs them
    output.write_text(SITE_FEED, atom_feed(config, t, path=SITE_FEED, title=t("feed.site_title", title=config.title),
                                           home_path="index.html", pages=newest_candidates(pages, history), history=history,
                                           today=site.today), "site feed")
    for village in site.villages.values():
        path = village_feed_path(village.id)
        key = village.key  # a village's feed is made from what its page shows
        if output.reuse(path, key, f"feed of {village.id}"):
            continue
        title = t("feed.village_title", village=village.village.name, title=config.title)
        output.write_text(path, atom_feed(config, t, path=path, title=title, home_path=village.url,
                                          pages=village.notices, history=history, today=site.today), f"feed of {village.id}", key=key)
