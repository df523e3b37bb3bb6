"""A notice's fingerprint: a short hash of what its page publishes, printed on paper and online.

The poster on the village board and the notice page both show the first 8 hex digits of the
SHA-256 of the notice's canonical published content, so a villager or a supervisor can check
that the paper on the board says what the site says, and a silent edit after publication
shows as a changed fingerprint.

The canonical form is a JSON serialization of the published model (`NoticePage`), never the
file's bytes: a YAML comment, a re-ordered key, quoting or `6万元` written as `60000` change
nothing; a changed amount, title, date or beneficiary does. Beneficiaries go in de-identified,
as published (masked name, household size, amount, note): the fingerprint must never carry
more than the page does. The posting status is left out: it depends on the build date, not
on the content. So are the records of postings and objections: they are added after the
paper went up on the board, and must not make the paper disagree with the site.

Changing what goes in changes every fingerprint already on paper: bump `FORMAT` then, and
never for anything else.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

FORMAT = "gongshi-notice/2"
SHORT = 8  # hex digits shown: 32 bits, plenty to catch an edit, short enough to compare by eye

# The sections of a notice that go into the fingerprint, in the page's order.
SECTIONS = (
    "village", "title", "kind", "stage", "posted", "until", "period_stated", "published_by",
    "reviewed_by", "body", "funds", "project", "beneficiaries",
)


def canonical(page) -> str:
    """The notice page's published content as compact JSON: sorted keys, amounts and dates as text."""
    notice = page.notice
    published = {
        "format": FORMAT,
        "village": notice.village,
        "title": notice.title,
        "kind": notice.kind,
        "stage": notice.stage,
        "posted": notice.posted,
        "until": notice.until,
        "period_stated": notice.period_stated,
        "published_by": notice.published_by,
        "reviewed_by": notice.reviewed_by,
        "body": _text(notice.body),
        "funds": _funds(notice.funds),
        "project": _project(notice.project),
        "beneficiaries": [
            {"name": b.name, "household_size": b.household_size, "amount": b.amount, "note": b.note}
            for b in page.beneficiaries
        ],
    }
    return json.dumps(published, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_scalar)


def fingerprint(page) -> str:
    """The full SHA-256 (hex) of the canonical form."""
    return hashlib.sha256(canonical(page).encode("utf-8")).hexdigest()


def short_fingerprint(page) -> str:
    """The first 8 hex digits: what the notice page and the poster print."""
    return fingerprint(page)[:SHORT]


def _funds(funds):
    if funds is None:
        return None
    return {
        "source": funds.source,
        "total": funds.total,
        "items": [{"name": item.name, "amount": item.amount} for item in funds.items],
    }


def _project(project):
    if project is None:
        return None
    from .content import PROJECT_FIELDS

    return {name: getattr(project, name) for name in PROJECT_FIELDS}


def _text(text: str | None) -> str | None:
    """The Markdown source; CRLF line ends and blank lines around it (`|` or `|-`) change nothing.

    The source, not the rendered HTML: a Markdown library upgrade must not change every
    fingerprint on paper. Spaces inside lines stay: two at a line's end are a line break.
    """
    if text is None:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")


def _scalar(value):
    # Amounts to the fen: 60000, 60000.0 and "6万元" are one published amount.
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} into a notice fingerprint")
