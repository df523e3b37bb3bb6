"""The leak gate: the last step of every build, before the new site replaces the old one.

Whatever path personal data might take into the output (a template, the search index, a
data export), it ends up in a file, so the gate scans every written file for personal
numbers, unmasked beneficiary names and image metadata. Any finding fails the build. What
it need not read again: a file linked from the last build, which passed under the same rules
(under rules that differ by private names alone, it is looked at for the names added:
`Rules.added_names`); after an edit, a rewritten file's unchanged part (leakcheck.scan_site's
`previous`); and in a build into an empty folder, a file whose path and bytes it passed
before (`Verdicts`).
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from .errors import BuildError
from .privacy import normalize_phone

PARALLEL_FILES = 2000  # a site this large is scanned in parts while the features' processes work (build._scan_early)
# A batch this large is scanned on every core the caller gives (`Rules.leaks`): a fork and
# its answer cost 10-30 ms, a file 0.2-0.35 ms. After a notice is added, the search index's
# renumbered files (1,600-1,900 at 1,000-10,000 notices) are the gate's last step, read
# while the other cores idle: 0.38 and 0.65 s on one core.
SPLIT_FILES = 800
# Verdicts (below) are looked up and recorded for batches this large: a build into an empty
# folder. An edit's few files, new bytes each time, are read where they changed instead.
VERDICTS_FROM = 1000


def allowed_numbers(content) -> frozenset[str]:
    """Numbers published on purpose: the work teams' phones and the supervision phones."""
    numbers = list(content.config.supervision_phones)
    for village in content.villages.values():
        for member in village.team:
            numbers += [n for n in (member.phone, member.unit_phone) if n]
    return frozenset(digits for n in numbers if (digits := normalize_phone(n)))


def private_names(content) -> set[str]:
    """Beneficiaries' full names, unless the policy publishes them or an official bears the same name."""
    if content.config.privacy.names == "full":
        return set()
    officials = {m.name for v in content.villages.values() for m in v.team}
    names = {b.name for n in content.notices.values() for b in n.beneficiaries}
    return {name for name in names if len(name) >= 2 and name not in officials}


def public_names(content) -> set[str]:
    """Names published on purpose (officials, villages, townships): a private name inside one is no leak."""
    names = {content.config.county, content.config.title}
    for village in content.villages.values():
        names |= {village.name, village.township} | {m.name for m in village.team}
    return names


class Rules:
    """What the gate looks for in one build, made once (before features fork, background.py).
    `key`: files that passed under the same key need no second look."""

    def __init__(self, content, cache_dir: Path | None = None):
        from . import leakcheck  # imported once here, not again in each forked feature's process
        from .output import digest

        self.options = dict(allowed_numbers=allowed_numbers(content), private_names=private_names(content),
                            public_names=public_names(content))
        # Each sorted once (fifteen thousand private names at 10,000 notices).
        numbers, names, public = (sorted(self.options[part]) for part in ("allowed_numbers", "private_names", "public_names"))
        self.key = digest(numbers, names, public)
        # The scanner of these numbers and names, made once (20 ms at 10,000 notices) for every
        # scan of the build, in this process and in the ones it forks.
        self.scanner = leakcheck.Scanner(**self.options)
        # Kept in the manifest: the next build, whose rules differ by private names added and
        # published numbers alone, looks at the files it links from this one only for the
        # names added (`added_names`) and the numbers given up (`unsure`); "names" salts the
        # verdicts (`Verdicts`).
        self.parts = {"numbers": digest(numbers), "public": digest(public),
                      "qr": self.scanner.skip_qr_paths, "private": sorted(self.scanner.names.private),
                      "names": digest(names, public)}
        # What the last build into the folder passed (`follow`): `whole`, whether its files
        # must be read whole again (other rules); `added`, the private names added since, when
        # they need be looked at only for those; `published`, its folder, when it passed
        # under these very rules (a file also there is read only where it changed:
        # leakcheck.scan_site's `previous`).
        self.whole = True
        self.added: frozenset[str] | None = None
        self.published: Path | None = None
        # The numbers each file of the last build met (privacy.find_personal_numbers' `met`),
        # as its manifest keeps them (`records`): ({path: numbers} for the files that met
        # any, the paths whose numbers are not known), None if it kept none. And whether the
        # numbers published on purpose changed since: the files linked from it are then read
        # whole if they met one no longer published, or if that is not known (`unsure`).
        self.before: tuple[dict[str, tuple[str, ...]], frozenset[str]] | None = None
        self.renumbered = False
        # The same of the standby (output.py), for the files kept from it: the build before
        # the last one, whose file at a path may differ from the last build's.
        self.standby_before: tuple[dict[str, tuple[str, ...]], frozenset[str]] | None = None
        self._from_standby: set[str] = set()
        # The processes a large batch is scanned in, as the build's process counts them: a
        # feature's process (background.py), which runs its feature alone (GONGSHI_JOBS=1
        # there), still scans its files on every core. It does so last, while the build's
        # process, done with its own files, waits for it: 1.2 s of one core at 10,000 notices.
        from .parallel import workers

        self.jobs = workers()
        self.verdicts = Verdicts(cache_dir, self.parts["names"]) if cache_dir is not None else None

    def follow(self, output) -> None:
        """Take what the last build into `output`'s folder passed (its manifest: output.py),
        before the features' processes are forked."""
        previous = output.previous
        self.before = _numbers_kept(previous)
        self.standby_before = _numbers_kept(output.standby)
        self._from_standby = output.from_standby  # (filled as the build keeps the standby's files)
        self.whole = previous.get("gate") != self.key
        if self.whole:
            parts = previous.get("gate_parts")
            self.renumbered = not isinstance(parts, dict) or parts.get("numbers") != self.parts["numbers"]
            if not self.renumbered or self.before is not None:
                self.added = self.added_names(parts)
        else:
            self.published = output.out_dir
        _, last_parts = output.last_gate()  # (a CI runner: the folder is gone, the manifest kept)
        last_names = last_parts.get("names") if isinstance(last_parts, dict) else None
        if self.verdicts is not None and last_names not in (None, self.parts["names"]):
            since = self.added_names(last_parts)
            if since is not None:
                self.verdicts.since(last_names, since)

    @property
    def reads_all(self) -> bool:
        """Whether every file is read whole: nothing the last build passed counts."""
        return self.whole and self.added is None

    def check(self, site_dir: Path, written, reused, busy: int = 0) -> tuple[list[str], list, dict]:
        """The files of `written` the gate reads, read now, their leaks, and the numbers
        they met (leakcheck.scan_site's `met`): the files not `reused` from
        the last build whole; the reused ones not at all (the same rules), whole (other
        rules), or, when only the private names added since (`added`) and the numbers
        published on purpose changed, whole if they may hold a number no longer published
        (`unsure`), else only for the names added. `busy`: cores other processes of the
        build are working on meanwhile (the features' processes), left to them."""
        met: dict[str, tuple[str, ...]] = {}
        jobs = max(1, self.jobs - busy)
        if self.reads_all:
            paths = list(written)
            return paths, self.leaks(site_dir, paths, met=met, jobs=jobs), met
        fresh = [path for path in written if path not in reused]
        leaks = self.leaks(site_dir, fresh, met=met, jobs=jobs)
        if self.added is None:
            return fresh, leaks, met
        linked = [path for path in written if path in reused]
        unsure = self.unsure(linked)
        leaks += self.leaks(site_dir, unsure, met=met, jobs=jobs)
        if self.added:
            sure = set(unsure)
            leaks += self.leaks(site_dir, [path for path in linked if path not in sure], mentions=self.added, met=met, jobs=jobs)
        return fresh + linked, leaks, met

    def unsure(self, linked: list[str]) -> list[str]:
        """The files of `linked` (the very bytes the last build published, or the standby
        held) that may hold a number published then but no longer: those whose numbers met
        are not all published now, or not known."""
        if not self.renumbered:
            return []
        allowed = self.options["allowed_numbers"]
        return [path for path in linked if (found := self._kept_record(path)) is None or not allowed.issuperset(found)]

    def _kept_record(self, path: str) -> tuple[str, ...] | None:
        """The numbers a linked file met, as the build it comes from kept them; None: not known."""
        return _record(self.standby_before if path in self._from_standby else self.before, path)

    def _published_record(self, path: str) -> tuple[str, ...] | None:
        """The numbers the last build's file at `path` met (the folder `published`); None: not known."""
        return _record(self.before, path)

    def records(self, files: dict, reused: set[str], met: dict[str, tuple[str, ...]]) -> tuple[dict[str, tuple[str, ...]], list[str]]:
        """What the manifest keeps for the next build's `unsure`: ({path: numbers met} of the
        published files that met any, the paths whose numbers are not known). `met`: the
        numbers this build learnt of the files it read (whole, where they changed, or by
        their verdicts: leakcheck.scan_site); a file linked from the last build (or kept
        from the standby) and not read keeps the record it had there (the same bytes meet
        the same numbers); any other is not known."""
        from_standby = self._from_standby

        def carried(paths, standby: bool):
            """Those of `paths` linked from the last build (kept from the standby: `standby`) and not read now."""
            return (path for path in paths if path in reused and (path in from_standby) is standby and path not in met)

        unknown = {path for path in files.keys() - reused if path not in met}
        numbers = {path: found for path, found in met.items() if found and path in files}
        for kept, standby in ((self.before, False), (self.standby_before, True)):
            if kept is None:  # (a build by an earlier version: nothing known)
                unknown.update(carried(reused, standby))
            else:
                known, unknown_there = kept
                unknown.update(carried(unknown_there, standby))
                numbers.update((path, known[path]) for path in carried(known, standby))
        return numbers, sorted(unknown)

    def added_names(self, previous: dict | None) -> frozenset[str] | None:
        """The private names added since the build whose rules' `parts` are `previous`, when
        the files it published need be looked at only for those (leakcheck.scan_site's
        `mentions`, where the reason is): the same public names, the same choice about QR
        outlines, and no removed name with Latin letters or digits. None when every file
        must be read whole under these rules. (The numbers published on purpose are dealt
        with apart: `unsure`, and the numbers each verdict keeps.)"""
        if not isinstance(previous, dict) or any(previous.get(part) != self.parts[part] for part in ("public", "qr")):
            return None
        before = previous.get("private")
        if not isinstance(before, list):
            return None
        from .leakcheck import _WORD_CHAR  # what a name may share with a word around it (_stands_alone)

        now = set(self.parts["private"])
        if any(_WORD_CHAR.search(name) for name in set(before) - now):
            return None
        return frozenset(now.difference(before))

    def leaks(self, site_dir: Path, files: list[str], mentions: frozenset[str] | None = None, met: dict | None = None,
              jobs: int | None = None) -> list:
        """The leaks in these site paths, sorted; a large batch is scanned on every core
        (`jobs` processes, when given). `mentions`: see `added_names`; `met`: see
        leakcheck.scan_site."""
        from .leakcheck import scan_site
        from .parallel import run_parallel

        if not files:
            return []
        files = sorted(files)
        count = self.jobs if jobs is None else jobs
        slices = [files[start::count] for start in range(count)] if len(files) >= SPLIT_FILES else [files]
        verdicts = self.verdicts if len(files) >= VERDICTS_FROM and mentions is None else None

        def scan(part: list[str]) -> tuple[list, dict]:
            numbers: dict = {}
            return scan_site(site_dir, only=part, previous=self.published, verdicts=verdicts, mentions=mentions,
                             met=numbers, previous_met=self._published_record, scanner=self.scanner), numbers

        found = run_parallel([lambda part=part: scan(part) for part in slices], min_jobs=2, count=count)
        if met is not None:
            for _, numbers in found:
                met.update(numbers)
        return sorted(leak for part, _ in found for leak in part)


def _record(kept, path: str) -> tuple[str, ...] | None:
    """The numbers the file at `path` met, as `kept` (`_numbers_kept`) has them; None: not known."""
    if kept is None:
        return None
    known, unknown = kept
    return None if path in unknown else known.get(path, ())


def _numbers_kept(manifest: dict) -> tuple[dict[str, tuple[str, ...]], frozenset[str]] | None:
    """The numbers a build's files met, as its manifest keeps them (`Rules.records`); None
    when it keeps none (a build of an earlier version) or they are damaged."""
    known, unknown = manifest.get("numbers"), manifest.get("numbers_unknown")
    if not isinstance(known, dict) or not isinstance(unknown, list):
        return None
    if not all(type(found) is tuple for found in known.values()):  # (a number not a string is never published: read again)
        return None
    return known, frozenset(unknown)


class Verdicts:
    """The files the gate found nothing in before, by path and bytes, kept in the build cache
    (`gate.sqlite3`) for the next build into an empty folder: a CI runner restores the cache
    but not the last output, renders every page again and, without these, reads all 40,000
    files of a 10,000-notice county again (about 10 s of CPU) though nearly all are the
    bytes it passed the time before.

    A verdict is a salted hash (SHA-256) of a file's site path and bytes, with the numbers
    its scan met (privacy.find_personal_numbers' `met`). Its salt is made from the names
    the rules look for (the private and the public ones: `Rules.parts["names"]`), the tool's
    own code and the versions of Python and Pillow (which reads the images' metadata), so a
    verdict given under other names or by another version of the scanner is never met: a
    name that became private is looked for again in every file. It counts under the numbers
    published on purpose now when they hold every number it met (the scan then finds
    nothing, whatever numbers were published when it was given): after a work team's phone
    changes, only the files that met the old number are read again.
    Only files without findings are recorded; the scan of a file gives the same findings
    whenever its path, its bytes, the rules and the tool are the same. A database that cannot
    be read or written only costs reading the files (a damaged one is removed); one that
    holds more than `KEPT` verdicts is emptied before it takes more.
    """

    FILE_NAME = "gate.sqlite3"
    VERSION = 2  # 2: salted by the names only, with the numbers each file met
    KEPT = 250_000  # a 10,000-notice county has 40,000 files

    def __init__(self, cache_dir: Path, names_key: str):
        self.file = Path(cache_dir) / self.FILE_NAME
        self.salt = self._salt(names_key)
        # Set by `since`: the salt of the last build's names and the private names added since.
        self.before: bytes | None = None
        self.added: frozenset[str] | None = None

    def _salt(self, names_key: str) -> bytes:
        import sys
        from importlib.metadata import version

        from .inputs import digest, tool_digest

        return bytes.fromhex(digest("gongshi gate verdicts", self.VERSION, names_key, tool_digest(), sys.version, version("pillow")))

    def since(self, names_key: str, added: frozenset[str]) -> None:
        """The last build's names had key `names_key` and differed from these by private names
        alone, `added` being the names added (Rules.added_names): a file with a verdict under
        those needs be read only if an added name occurs in it (leakcheck.scan_site's
        `mentions`, where the reason is), the verdicts' way of doing what a build that links
        the last build's files does. A CI runner after a push that adds a beneficiary."""
        self.before, self.added = self._salt(names_key), added

    def key(self, relpath: str, data: bytes, salt: bytes | None = None) -> bytes:
        # SHA-256 (with the machine's SHA instructions, twice as fast as BLAKE2b here: a cold
        # build hashes 320 MB), the salt first.
        path = relpath.encode("utf-8", "surrogateescape")
        h = hashlib.sha256(salt or self.salt)
        h.update(len(path).to_bytes(8, "little"))
        h.update(path)
        h.update(data)
        return h.digest()[:20]

    def earlier(self, relpath: str, data: bytes, known: dict[bytes, str]) -> str | None:
        """The numbers the file met, when it passed under the last build's names (`since`)
        and no added name occurs in it: it passes under these names. None otherwise."""
        if self.before is None:
            return None
        from .leakcheck import _may_mention

        numbers = known.get(self.key(relpath, data, self.before))
        return numbers if numbers is not None and not _may_mention(relpath, data, self.added) else None

    def known(self) -> dict[bytes, str]:
        """Every verdict kept, with the numbers its file met (space-separated), read by each
        process that scans a large batch."""
        try:
            with self._connection() as db:
                return dict(db.execute("SELECT key, numbers FROM passed"))
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return {}

    def record(self, passed: list[tuple[bytes, str]]) -> None:
        """Keep the verdicts (key, the numbers met) of files found clean, in one transaction."""
        try:
            with self._connection() as db:
                db.execute("BEGIN IMMEDIATE")
                (count,) = db.execute("SELECT count(*) FROM passed").fetchone()
                if count + len(passed) > self.KEPT:
                    db.execute("DELETE FROM passed")
                db.executemany("INSERT OR IGNORE INTO passed (key, numbers) VALUES (?, ?)", passed)
                db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)

    def _connection(self):
        from contextlib import closing

        self.file.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.file, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # the processes of one build read while another writes
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: a crash may lose the last verdicts, nothing else
            db.execute("DROP TABLE IF EXISTS verdicts")  # (version 1's, without the numbers)
            db.execute("CREATE TABLE IF NOT EXISTS passed (key BLOB PRIMARY KEY, numbers TEXT NOT NULL) WITHOUT ROWID")
        except BaseException:
            db.close()
            raise
        return closing(db)

    def _failed(self, exc: BaseException) -> None:
        from .speed import sqlite_damaged

        if sqlite_damaged(exc):
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(f"{self.file}{suffix}")
                except OSError:
                    pass


def gate(content, site_dir: Path, only=None, *, rules: Rules | None = None, checked=frozenset(), found=(), met=None) -> None:
    """Scan the built files (`only` these site paths, when given) and fail on any finding.
    `checked`: paths already scanned (by a feature in its own process), whose leaks are `found`;
    `met`: see leakcheck.scan_site."""
    rules = rules or Rules(content)
    from .leakcheck import site_files

    files = sorted(site_files(site_dir) if only is None else only)
    leaks = sorted([*rules.leaks(site_dir, [f for f in files if f not in checked], met=met), *found])
    if leaks:
        raise BuildError("personal data found in the output; nothing was published:\n" + "\n".join(str(leak) for leak in leaks))
