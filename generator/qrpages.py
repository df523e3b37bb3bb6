"""QR codes on the site and on paper: the village and notice pages, the work team's contact
cards, the household card sheets and the notice-board posters.

Villagers reach the site by scanning a code on the village board or on the 干群连心服务卡 in
their home, often with WeChat's scanner, which follows URLs only. So every page code holds the
page's plain absolute address (from `base_url`); a contact code (vCard 3.0) is offered only in
addition, for a phone camera to save a cadre's number.

`QrPlugin` (stage "qr") encodes every code once, in `on_site`, through one `QrCache` in the
build's cache folder, so an unchanged code is never encoded again, in this build or the next.
Templates get a `qr` global (`QrCodes`) that only looks codes up. `on_write` writes, per
village, a vCard per team member (`vcards/<village>-<n>.vcf`), a page of contact codes
(`contacts/<village>.html`) and the printable card sheet (`cards/<village>.html`); per
published notice, the printable poster (`posters/<notice>.html`) is made with its page
(`page_files`).

On paper the size that matters is the symbol's (the dark modules' extent, without the quiet
zone): posters print it at least 40 mm wide, household cards 25 mm (shared/DOMAIN.md asks
35-40 mm on an A4 board poster, read from 1-2 m; a card is read from a hand's length).
"""
from __future__ import annotations

import os
import signal
from contextlib import suppress
from decimal import ROUND_UP, Decimal

from markupsafe import Markup

from .fingerprint import short_fingerprint
from .i18n import Translator
from .parallel import MIN_JOBS, run_parallel
from .plugins import Plugin
from .qr import QUIET_ZONE, QrCache
from .site import NoticePage
from .vcard import vcard

# 2 mm over the minimums (40 mm poster, 25 mm card): rasterizing and printers' small scaling
# errors must not take a code under them.
POSTER_SYMBOL_MM = Decimal(42)
CARD_SYMBOL_MM = Decimal(27)
# Whole CSS pixels per module: no module straddles a pixel edge at the default zoom.
VILLAGE_MODULE_PX = 4
NOTICE_MODULE_PX = 3
CONTACT_MODULE_PX = 3


def vcard_path(village_id: str, number: int) -> str:
    """`number` counts the team members from 1, in the village file's order."""
    return f"vcards/{village_id}-{number}.vcf"


def card_sheet_path(village_id: str) -> str:
    return f"cards/{village_id}.html"


def contacts_path(village_id: str) -> str:
    return f"contacts/{village_id}.html"


def poster_path(notice_id: str) -> str:
    return f"posters/{notice_id}.html"


def symbol_size(modules: int, symbol_mm: Decimal) -> str:
    """The SVG's CSS width for a symbol (quiet zone excluded) `symbol_mm` wide, rounded up to 0.1 mm."""
    total = symbol_mm * modules / (modules - 2 * QUIET_ZONE)
    return f"{total.quantize(Decimal('0.1'), rounding=ROUND_UP)}mm"


def member_vcard(village, member, t) -> str:
    """The contact a phone saves: the cadre's name, post in this village, unit and phones."""
    role = t("qr.vcard_title", village=village.name, role=member.role) if member.role else village.name
    phones = [(kind, number) for kind, number in (("cell", member.phone), ("work", member.unit_phone)) if number]
    return vcard(name=member.name, role=role, org=member.unit, phones=phones)


class QrCodes:
    """What templates ask for: codes, fingerprints and the paths of this feature's files."""

    def __init__(self, site, config, t: Translator, cache: QrCache):
        self.config = config
        self.t = t
        self.cache = cache
        self._pages = [*site.villages.values(), *site.notices.values()]
        self._fingerprints: dict[str, str] = {}  # made when a page that prints one is rendered
        self._villages = site.villages
        self._vcards: dict[tuple[str, int], str] = {}  # made when first asked for

    def payloads(self) -> list[str]:
        """Every code of the site, in a stable order: page addresses, then contacts."""
        pages = [self.url(page) for page in self._pages]
        members = sorted((village.id, number) for village in self._villages.values() for number in range(1, len(village.village.team) + 1))
        return pages + [self._vcard(self._villages[village_id], number) for village_id, number in members]

    def _vcard(self, village, number: int) -> str:
        key = (village.id, number)
        text = self._vcards.get(key)
        if text is None:
            text = self._vcards[key] = member_vcard(village.village, village.village.team[number - 1], self.t)
        return text

    # -- what templates call -------------------------------------------------------------------
    def url(self, page) -> str:
        """The page's absolute address: what its code holds."""
        return self.config.absolute_url(page.url)

    def screen(self, page) -> Markup:
        """The page's code for the screen, in whole pixels per module."""
        module_px = NOTICE_MODULE_PX if isinstance(page, NoticePage) else VILLAGE_MODULE_PX
        url = self.url(page)
        return Markup(self.cache.svg(url, self.t("qr.label_page", url=url), module_px=module_px))

    def poster(self, page) -> Markup:
        url = self.url(page)
        return self._print(url, self.t("qr.label_page", url=url), POSTER_SYMBOL_MM)

    def card(self, page) -> Markup:
        url = self.url(page)
        return self._print(url, self.t("qr.label_page", url=url), CARD_SYMBOL_MM)

    def vcard_text(self, village, number: int) -> str:
        return self._vcard(village, number)

    def contact(self, village, number: int, *, on_card: bool = False) -> Markup:
        """Team member `number`'s vCard as a code: on screen, or card-sized on a household card."""
        member = village.village.team[number - 1]
        payload = self._vcard(village, number)
        label = self.t("qr.label_contact", name=member.name)
        if on_card:
            return self._print(payload, label, CARD_SYMBOL_MM)
        return Markup(self.cache.svg(payload, label, module_px=CONTACT_MODULE_PX))

    def fingerprint(self, notice_page) -> str:
        value = self._fingerprints.get(notice_page.id)
        if value is None:
            value = self._fingerprints[notice_page.id] = short_fingerprint(notice_page)
        return value

    def vcard_path(self, village, number: int) -> str:
        return vcard_path(village.id, number)

    def card_sheet_path(self, village) -> str:
        return card_sheet_path(village.id)

    def contacts_path(self, village) -> str:
        return contacts_path(village.id)

    def poster_path(self, notice) -> str:
        return poster_path(notice.id)

    def _print(self, payload: str, label: str, symbol_mm: Decimal) -> Markup:
        size = symbol_size(self.cache.modules(payload), symbol_mm)
        return Markup(self.cache.svg(payload, label, size=size))


PREPARE_BATCH = 64  # codes a worker encodes and stores at once: one transaction, and a share of the work


class EncodeAhead:
    """A cold build's page codes, encoded in a process of its own while the build loads the
    content (`QrPlugin.before_load`).

    Loading a large site leaves a core idle for about a second in all (it reads the
    villages' files on one core before the notices' on every core, and builds the model and
    prepares the features on one core after), and every page code must be encoded in a cold
    build (1 ms each: 13,000 at 10,000 notices). The addresses follow from the content
    files' names and `base_url` alone, so this process encodes them meanwhile, at the lowest
    priority: it takes the idle core without slowing the loading. `stop()` (`on_site`) ends
    it after the batch it is storing; the QR stage encodes what it left, and the work team's
    contact codes, which need the villages read. A file that turns out not to be published
    (an embargoed notice, a duplicate id) only leaves a code in the cache."""

    BATCH = 16  # codes stored at once: what `stop()` may wait for

    def __init__(self, root, cache_dir):
        from .inputs import fork_with_pipe

        pid, read, write = fork_with_pipe()
        if pid == 0:
            os.close(write)
            _encode_ahead(root, cache_dir, read, self.BATCH)  # (never returns)
        os.close(read)
        self.pid, self._stop = pid, write

    def stop(self) -> None:
        """Let it finish the batch it is storing, and wait for it."""
        if self.pid is not None:
            os.close(self._stop)
            os.waitpid(self.pid, 0)
            self.pid = None

    def cancel(self) -> None:
        """Stop it at once (the build failed, or did not want it): SQLite drops a batch it was
        storing."""
        if self.pid is not None:
            with suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            self.stop()


def _encode_ahead(root, cache_dir, stop: int, batch: int) -> None:
    """In an `EncodeAhead` child: encode and store the page codes the content's file names
    promise, `batch` at a time, until done or until `stop` says so (its write end closed)."""
    import select

    from .inputs import release_streams

    status = 1
    try:
        release_streams()
        os.nice(19)  # (only what the build's processes leave)
        os.environ["GONGSHI_JOBS"] = "1"
        cache = QrCache(cache_dir)
        payloads = cache.missing(page_payloads(root))
        for start in range(0, len(payloads), batch):
            if select.select([stop], [], [], 0)[0]:
                break
            cache.prepare_many(payloads[start:start + batch])
        cache.close()
        status = 0
    finally:
        os._exit(status)


def page_payloads(root) -> list[str]:
    """What the codes of the village and notice pages hold, from the content files' names and
    the config's `base_url` (as the site model makes them: `Site.from_content`); none when the
    config cannot be read."""
    from .config import load_config
    from .content import content_files, stem_of
    from .errors import ContentError
    from .schema import ID_PATTERN
    from .site import page_url

    try:
        config = load_config(root)
    except (ContentError, OSError, UnicodeDecodeError):  # (the build says what is wrong)
        return []
    payloads = []
    for kind in ("villages", "notices"):
        for relpath in content_files(root, kind):
            stem = stem_of(relpath)
            if ID_PATTERN.match(stem):
                payloads.append(config.absolute_url(page_url(kind, stem)))
    return payloads


class QrPlugin(Plugin):
    name = "qr"

    def __init__(self):
        self.cache: QrCache | None = None  # kept after the build: its stats say what was encoded

    def before_load(self, root, cache_dir):
        """`EncodeAhead`, in a cold build of a large site: the build cache holds no codes yet."""
        from .background import wanted
        from .inputs import hashed

        if cache_dir is None or (cache_dir / QrCache.FILE_NAME).exists() or not wanted(len(hashed(root / "content"))):
            return None
        try:
            return EncodeAhead(root, cache_dir)
        except OSError:  # no process to be had: the stage encodes them all
            return None

    def on_site(self, site, context) -> None:
        started = context.before_load.pop(self.name, None)
        if started is not None:
            started.stop()  # what it encoded is in the disk cache
        self.cache = QrCache(context.cache_dir)
        codes = QrCodes(site, context.config, Translator(context.config.language), self.cache)
        context.globals["qr"] = codes
        if context.edit:
            # The few pages made again make their new codes as they are rendered: listing
            # every code of the site (its vCards made) and the cache's keys is 0.1 s.
            return
        # Encode every new code now, so this stage's time is the QR cost; a large batch is
        # encoded on every core, each worker storing its codes in the disk cache a batch at
        # a time (one transaction each). Codes already cached are read only by pages that are
        # rendered again, not by reused ones.
        missing = self.cache.missing(codes.payloads())
        if len(missing) < MIN_JOBS:
            self.cache.prepare_many(missing)
        else:
            batches = [missing[start:start + PREPARE_BATCH] for start in range(0, len(missing), PREPARE_BATCH)]
            run_parallel([lambda batch=batch: self.cache.prepare_many(batch) for batch in batches], min_jobs=2)

    def close(self) -> None:
        # The database's last connection, closed: its write-ahead log goes into the file and
        # the -wal and -shm files beside it are removed.
        if self.cache is not None:
            self.cache.close()

    def on_write(self, site, context, output, advance) -> None:
        render, codes = context.renderer.render, context.globals["qr"]
        # Each file is made from its page alone: an unchanged page's files are reused. Their
        # key is the page's own (the manifest keeps one per path, so the path need not be in it).
        files = []  # (site path, key, made from, how to make it, village)
        for village in site.villages.values():
            for number in range(1, len(village.village.team) + 1):
                files.append((vcard_path(village.id, number), village.key, f"{village.id} team member {number}",
                              lambda village=village, number=number: codes.vcard_text(village, number), village.id))
            if village.village.team:
                path = contacts_path(village.id)
                files.append((path, village.key, f"{village.id} contact codes",
                              lambda path=path, village=village: render("contacts.html", path, village=village), village.id))
            path = card_sheet_path(village.id)
            files.append((path, village.key, f"{village.id} household cards",
                          lambda path=path, village=village: render("card_sheet.html", path, village=village), village.id))
        missed = output.reuse_many(files)
        advance(len(site.villages) - len({file[4] for file in missed}))
        for number, (path, key, made_from, make, village_id) in enumerate(missed):
            output.write_text(path, make(), made_from, key=key)
            if number + 1 == len(missed) or missed[number + 1][4] != village_id:
                advance()  # that village's last file

    def page_files(self, page, context) -> list[tuple]:
        """A notice's poster, made just after its page: the page has just rendered the same
        Markdown body and looked up the same code, which the caches still hold."""
        if not isinstance(page, NoticePage):
            return []
        path = poster_path(page.id)
        return [(path, page.key, f"{page.id} poster",
                 lambda: context.renderer.render("poster.html", path, notice=page))]
