"""Content files (villages and notices) read into typed, checked records.

`load_content(root)` reads `site_config.yaml` and every file under `content/`, checks each
one fully and all of them together (references, duplicate ids, media), and either returns
the records or raises one `ContentError` listing every problem found.
"""
from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import pickle
import posixpath
import re
from dataclasses import dataclass, field
from decimal import Decimal
from operator import methodcaller
from pathlib import Path, PurePosixPath

from . import schema
from .config import CONFIG_FILE, NOTICE_KINDS, SiteConfig, read_config
from .errors import ContentError, Problem
from .speed import gc_paused, save_pickle
from .yamlfile import Loc, YamlFile

COMMITMENT_STATUSES = ("planned", "in_progress", "done", "delayed", "cancelled")
STAGES = ("before", "after")


@dataclass(frozen=True)
class TeamMember:
    """A member of the resident work team: a public official, published in full."""

    name: str
    role: str | None
    unit: str | None
    phone: str | None
    unit_phone: str | None
    since: dt.date | None


@dataclass(frozen=True)
class Commitment:
    title: str
    due: dt.date | None
    status: str
    progress: int | None
    note: str | None
    notices: tuple[str, ...]
    loc: Loc = field(compare=False)


@dataclass(frozen=True)
class Plan:
    title: str
    period: str | None
    commitments: tuple[Commitment, ...]


@dataclass(frozen=True)
class Village:
    id: str
    source: str  # path relative to the site root
    name: str
    township: str
    households: int | None
    population: int | None
    status: str | None
    summary: str | None
    team: tuple[TeamMember, ...]
    plan: Plan | None
    extra: dict
    digest: str = ""  # sha256 of the file's bytes: an input hash for caches


@dataclass(frozen=True)
class FundItem:
    name: str
    amount: Decimal


@dataclass(frozen=True)
class Funds:
    source: str | None
    total: Decimal
    items: tuple[FundItem, ...]


@dataclass(frozen=True)
class Project:
    location: str | None = None
    content: str | None = None
    subsidy_standard: str | None = None
    period: str | None = None
    implementer: str | None = None
    responsible: str | None = None
    goals: str | None = None
    benefit_mechanism: str | None = None


PROJECT_FIELDS = tuple(Project.__dataclass_fields__)


@dataclass(frozen=True)
class Beneficiary:
    """A private person. Only the site model's privacy step decides what of this is shown."""

    name: str
    id_number: str | None
    phone: str | None
    bank_account: str | None
    household_size: int | None
    amount: Decimal | None
    note: str | None


@dataclass(frozen=True)
class Posting:
    place: str
    date: dt.date | None
    photo: str | None  # relative to content/
    by: str | None
    caption: str | None


@dataclass(frozen=True)
class Objection:
    received: dt.date | None
    summary: str
    resolution: str | None
    resolved: dt.date | None


@dataclass(frozen=True)
class Notice:
    id: str
    source: str
    village: str
    title: str
    kind: str
    stage: str | None
    posted: dt.date
    until: dt.date
    period_stated: bool  # False when neither `until` nor `days` was given
    published_by: str | None
    reviewed_by: str | None
    body: str | None
    funds: Funds | None
    project: Project | None
    beneficiaries: tuple[Beneficiary, ...]
    postings: tuple[Posting, ...]
    objections: tuple[Objection, ...]
    extra: dict
    digest: str  # sha256 of the file's bytes: an input hash for caches

    @property
    def posting_days(self) -> int:
        return (self.until - self.posted).days + 1


@dataclass
class Content:
    config: SiteConfig
    villages: dict[str, Village]
    notices: dict[str, Notice]
    root: Path
    masked: list[Problem] = field(default_factory=list)  # numbers masked under `on_unmasked_pii: mask`
    slug_bases: dict[str, str] = field(default_factory=dict)  # township name -> site.slug_base(name)
    changed: int | None = None  # parse-cache entries that came or went since the last load (None: no cache)
    # A hash of every file's path and bytes as read (the bytes' hash): two loads of the same
    # root gave the same content exactly when their snapshots are equal (background.Ahead).
    snapshot: str = ""


# Fields that hold personal numbers on purpose: officials' phones are published, and the
# beneficiaries' numbers are never shown at all. Every other text is free text and scanned.
NUMBER_FIELDS = re.compile(r"^(team\[\d+\]\.(phone|unit_phone)|beneficiaries\[\d+\]\.(id_number|phone|bank_account))$")


def deidentify_free_text(source: YamlFile, allowed: frozenset[str], policy: str, runs: list | None = None) -> list[Problem]:
    """Find ID, bank card and private phone numbers in every free-text field of a file.

    With `fail`, each one is a located problem; with `mask`, the text is masked in place
    (before any record is read, so nothing downstream ever sees the number) and the
    returned list says what was masked, for the build log. `runs` receives the fields'
    `privacy.number_runs` as written (which published numbers can matter to the file).
    """
    from .privacy import find_personal_numbers, mask_personal_numbers, number_runs

    masked = []
    for path, value in list(source.walk_text()):
        if NUMBER_FIELDS.match(path):
            continue
        if runs is not None:
            runs += number_runs(value.data)
        findings = find_personal_numbers(value.data, allowed)
        for finding in findings:
            loc = source.position_in(value, finding.start)
            problem = Problem(source.relpath, loc.line, loc.column, path, f"personal number found ({finding.label})")
            if policy == "fail":
                source.problems.append(problem)
            else:
                masked.append(problem)
        if findings and policy != "fail":
            value.data, _ = mask_personal_numbers(value.data, allowed)
    return masked


def _walk_numbers(source: YamlFile):
    """Team phones written without quotes are YAML integers; include them too."""
    team = source.root.data.get("team") if source.root is not None and source.root.is_mapping else None
    for member in team.data if team is not None and team.is_sequence else []:
        if member.is_mapping:
            for key in ("phone", "unit_phone"):
                value = member.data.get(key)
                if value is not None and isinstance(value.data, int) and not isinstance(value.data, bool):
                    yield key, value.data


# -- readers ---------------------------------------------------------------------------------

def _member(f: schema.Fields) -> TeamMember:
    return TeamMember(
        name=f.get("name", schema.text),
        role=f.get("role", schema.text, None),
        unit=f.get("unit", schema.text, None),
        phone=f.get("phone", schema.phone, None),
        unit_phone=f.get("unit_phone", schema.phone, None),
        since=f.get("since", schema.date, None),
    )


def _commitment(f: schema.Fields) -> Commitment:
    return Commitment(
        title=f.get("title", schema.text),
        due=f.get("due", schema.date, None),
        status=f.get("status", schema.choice(*COMMITMENT_STATUSES), "planned"),
        progress=f.get("progress", schema.whole_number(0, 100), None),
        note=f.get("note", schema.text, None),
        notices=tuple(f.get("notices", schema.sequence(schema.identifier), [])),
        loc=f.value.loc,
    )


def _plan(f: schema.Fields) -> Plan:
    return Plan(
        title=f.get("title", schema.text),
        period=f.get("period", schema.text, None),
        commitments=tuple(f.get("commitments", schema.sequence(schema.record(_commitment)), [])),
    )


def read_village(source: YamlFile, village_id: str, digest: str = "") -> Village | None:
    f = schema.Fields(source, source.root)
    village = Village(
        id=village_id,
        source=source.relpath,
        name=f.get("name", schema.text),
        township=f.get("township", schema.text),
        households=f.get("households", schema.whole_number(), None),
        population=f.get("population", schema.whole_number(), None),
        status=f.get("status", schema.text, None),
        summary=f.get("summary", schema.text, None),
        team=tuple(f.get("team", schema.sequence(schema.record(_member)), [])),
        plan=f.get("plan", schema.record(_plan), None),
        extra=f.extra(),
        digest=digest,
    )
    f.finish()
    return village if not source.problems else None


def _fund_item(f: schema.Fields) -> FundItem:
    return FundItem(name=f.get("name", schema.text), amount=f.get("amount", schema.amount))


def _funds(f: schema.Fields) -> Funds | None:
    items = tuple(f.get("items", schema.sequence(schema.record(_fund_item)), []))
    computed = sum((i.amount for i in items if i.amount is not None), Decimal(0))
    total = f.get("total", schema.amount, None)
    if total is None and not items and f.raw("total") is None:
        f.problem(None, "total", "is required (or list the items)")
    if total is not None and items and computed != total:
        from .money import format_yuan

        f.problem(
            f.raw("total"), "total",
            f"the items add up to {format_yuan(computed)} yuan, not {format_yuan(total)}",
        )
    return Funds(source=f.get("source", schema.text, None), total=total if total is not None else computed, items=items)


def _project(f: schema.Fields) -> Project:
    return Project(**{name: f.get(name, schema.text, None) for name in PROJECT_FIELDS})


def _beneficiary(f: schema.Fields) -> Beneficiary:
    return Beneficiary(
        name=f.get("name", schema.text),
        id_number=f.get("id_number", _id_number, None),
        phone=f.get("phone", schema.phone, None),
        bank_account=f.get("bank_account", _digits("bank account", 12, 19), None),
        household_size=f.get("household_size", schema.whole_number(1), None),
        amount=f.get("amount", schema.amount, None),
        note=f.get("note", schema.text, None),
    )


def _id_number(value, where) -> str:
    from .privacy import is_valid_resident_id

    number = str(value.data).strip().upper()
    if not is_valid_resident_id(number):
        raise schema.Invalid("is not a valid resident ID number (check the digits and the last character)")
    return number


def _digits(label: str, shortest: int, longest: int):
    def convert(value, where) -> str:
        number = str(value.data).replace(" ", "").replace("-", "")
        if not number.isdigit() or not shortest <= len(number) <= longest:
            raise schema.Invalid(f"is not a {label} number ({shortest} to {longest} digits, in quotes)")
        return number

    return convert


def _posting(f: schema.Fields) -> Posting:
    return Posting(
        place=f.get("place", schema.text),
        date=f.get("date", schema.date, None),
        photo=f.get("photo", _media_path, None),
        by=f.get("by", schema.text, None),
        caption=f.get("caption", schema.text, None),
    )


def _media_path(value, where) -> str:
    path = schema.text(value, where).replace("\\", "/")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise schema.Invalid(f"'{path}' leaves the content folder (paths are relative to content/)")
    return str(pure)


def _objection(f: schema.Fields) -> Objection:
    received = f.get("received", schema.date, None)
    resolved = f.get("resolved", schema.date, None)
    if received and resolved and resolved < received:
        f.problem(f.raw("resolved"), "resolved", "is before the objection was received")
    return Objection(
        received=received,
        summary=f.get("summary", schema.text),
        resolution=f.get("resolution", schema.text, None),
        resolved=resolved,
    )


def read_notice(source: YamlFile, notice_id: str, config: SiteConfig | None, digest: str, root: Path | None = None) -> Notice | None:
    f = schema.Fields(source, source.root)
    posted = f.get("posted", schema.date)
    until = f.get("until", schema.date, None)
    days = f.get("days", schema.whole_number(1, 366), None)
    kind = f.get("kind", schema.choice(*NOTICE_KINDS))
    period_stated = True
    if until is not None and days is not None:
        f.problem(f.raw("days"), "days", "give either 'until' or 'days', not both")
    elif posted is not None and until is not None and until < posted:
        f.problem(f.raw("until"), "until", f"{until} is before posted ({posted})")
    elif posted is not None and until is None:
        if days is None:
            period_stated = False
            days = (config.min_posting_days if config else {}).get(kind, 10)
        until = posted + dt.timedelta(days=days - 1)
    notice = Notice(
        id=notice_id,
        source=source.relpath,
        village=f.get("village", schema.identifier),
        title=f.get("title", schema.text),
        kind=kind,
        stage=f.get("stage", schema.choice(*STAGES), None),
        posted=posted,
        until=until,
        period_stated=period_stated,
        published_by=f.get("published_by", schema.text, None),
        reviewed_by=f.get("reviewed_by", schema.text, None),
        body=f.get("body", schema.text, None),
        funds=f.get("funds", schema.record(_funds), None),
        project=f.get("project", schema.record(_project), None),
        beneficiaries=tuple(f.get("beneficiaries", schema.sequence(schema.record(_beneficiary)), [])),
        postings=tuple(f.get("postings", schema.sequence(schema.record(_posting)), [])),
        objections=tuple(f.get("objections", schema.sequence(schema.record(_objection)), [])),
        extra=f.extra(),
        digest=digest,
    )
    f.finish()
    if root is not None:
        _check_photos_exist(source, notice.postings, root)
    return notice if not source.problems else None


def _check_photos_exist(source: YamlFile, postings: tuple, root: Path) -> None:
    raw = source.root.data.get("postings") if source.root is not None and source.root.is_mapping else None
    for index, item in enumerate(raw.data if raw is not None and raw.is_sequence else []):
        photo = item.data.get("photo") if item.is_mapping else None
        if photo is None or not isinstance(photo.data, str):
            continue
        try:
            relpath = _media_path(photo, None)
        except schema.Invalid:
            continue  # already reported
        target = root / "content" / relpath
        if not target.is_file():
            source.problem(photo.loc, f"postings[{index}].photo", f"file not found: content/{relpath}")
        elif not target.resolve().is_relative_to((root / "content").resolve()):
            source.problem(photo.loc, f"postings[{index}].photo", f"'{relpath}' links to a file outside the content folder")


# -- loading a whole site ----------------------------------------------------------------------

def _read(root: Path, path: Path) -> tuple[YamlFile, str]:
    relpath = path.relative_to(root).as_posix()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        source = YamlFile(relpath, "")
        source.problems.append(Problem(relpath, 1, 1, "", f"is not UTF-8 text (byte {exc.start})"))
        source.root = None
        return source, ""
    return YamlFile(relpath, text), hashlib.sha256(data).hexdigest()


def content_files(root: Path, kind: str) -> list[str]:
    """The YAML files of `content/<kind>/` (villages: the folder itself; notices: any depth),
    as paths relative to the root, in path order (one scandir walk: ten thousand notices)."""
    from .inputs import files_under

    folder = root / "content" / kind
    names = files_under(folder, (".yaml", ".yml"))
    if kind == "villages":
        names = [name for name in names if "/" not in name]
    return sorted((f"content/{kind}/{name}" for name in names), key=methodcaller("split", "/"))


def stem_of(relpath: str) -> str:
    """A content file's name without its suffix: its record's id, when that is a valid one."""
    return posixpath.splitext(relpath.rpartition("/")[2])[0]  # (the base name, without a second call)


class _File:
    """A content file: its hash now (from the build's hashing of its inputs when it has one),
    its bytes and YAML only when a record must be read."""

    def __init__(self, root: Path, relpath: str, known: dict[str, str] | None = None):
        self.relpath = relpath
        self.stem = stem_of(relpath)
        self._root = root
        self._source: YamlFile | None = None
        self.data: bytes | None = None
        digest = (known or {}).get(relpath)
        if digest is None:
            self._read()
        else:
            self.digest = digest

    def _read(self) -> None:
        with open(os.path.join(self._root, self.relpath), "rb") as f:
            self.data = f.read()
        self.digest = hashlib.sha256(self.data).hexdigest()  # of the bytes read, whatever was known

    @property
    def source(self) -> YamlFile:
        if self._source is None:
            if self.data is None:
                self._read()
            try:
                self._source = YamlFile(self.relpath, self.data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                self._source = YamlFile(self.relpath, "")
                self._source.root = None
                self._source.problems.append(Problem(self.relpath, 1, 1, "", f"is not UTF-8 text (byte {exc.start})"))
        return self._source

    def release(self) -> None:
        """Drop the bytes and the YAML tree once the record is made: a large site has ten
        thousand files, and their located trees would take hundreds of megabytes."""
        self.data = None
        self._source = None


class ParseCache:
    """Records of unchanged files from the last load, so a rebuild parses only what changed.

    An entry is keyed by the file's bytes, its path (the id), the config and the tool's
    version: anything that changes how the file reads, but the numbers published on purpose,
    of which only those in the file's number runs matter: the entry holds them, and is used
    only while they are the same (load_content). Only files without problems are kept; a
    file with problems is read every time.

    Kept in SHARDS files by the key's last hex digits, so that a rebuild after one edit
    writes one small file again, not all ten thousand records.
    """

    VERSION = 3  # 3: keyed by the allowed numbers in the file's number runs
    SHARDS = 256

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.entries: dict = {}
        self.used: dict = {}
        self.replaced: set = set()  # keys whose entry was made again (a file read under other published numbers)
        if folder is not None:
            (folder.parent / "content.pickle").unlink(missing_ok=True)  # the single-file cache of earlier versions
        if folder is not None:
            kept = _kept_shards(folder)
            with gc_paused(keep=True):
                for shard in self._shard_names(folder):
                    self.entries.update(self._read_shard(folder, shard, kept))

    @staticmethod
    def _shard_names(folder: Path) -> list[str]:
        """The shards' file names in `folder`, in order; none when there is no such folder."""
        try:
            return sorted(name for name in os.listdir(folder) if name.endswith(".pickle"))
        except OSError:
            return []

    @classmethod
    def _read_shard(cls, folder: Path, shard: str, kept: dict) -> dict:
        """The entries of one shard's file: those kept by this process while the file is the
        one they were read from, else unpickled (and kept); none from a damaged or old file."""
        signature = _signature(folder / shard)
        known = kept.get(shard)
        if known is not None and signature is not None and known[0] == signature:
            return known[1]
        try:
            with open(folder / shard, "rb") as f:
                stored = pickle.load(f)
            if stored.get("version") != cls.VERSION:
                return {}
        except Exception:  # a damaged or old shard only costs parsing its files again
            return {}
        kept[shard] = (signature, stored["entries"])
        return stored["entries"]

    @classmethod
    def read_ahead(cls, folder: Path, stop) -> int:
        """Unpickle the shards of the cache in `folder` into this process's kept ones, one at
        a time until `stop()` is true, for the build this process runs next: `gongshi build`
        does it while a child hashes the inputs (inputs.Digest), time it would otherwise
        spend waiting (0.1-0.2 s at 10,000 notices), and the processes the build forks before
        loading share what was read. Returns how many shards were read; those read but not
        wanted (a site with nothing new) cost only that wait."""
        kept = _kept_shards(folder)
        done = 0
        with gc_paused():
            for shard in cls._shard_names(folder):
                if stop():
                    break
                cls._read_shard(folder, shard, kept)
                done += 1
        if done:
            gc.freeze()  # (they live until the build ends: the collector need not walk them)
        return done

    def get(self, key: str):
        entry = self.entries.get(key)
        if entry is not None:
            self.used[key] = entry
        return entry

    def put(self, key: str, entry) -> None:
        if key in self.entries:
            self.replaced.add(key)
        self.used[key] = entry

    @staticmethod
    def shard(key: str) -> str:
        return key[-2:]  # hex digits of a hash (some keys start with a word)

    def save(self, apart: bool = False) -> int | None:
        """Write the shards whose entries changed; entries not used by this load are dropped.
        Returns how many keys came, went or had their entry made again since the last load
        (an edited file's old and new versions, an added or removed file's one); None
        without a folder.

        `apart`: when many shards changed (a cold build's 256: half a second of pickling at
        10,000 notices, while the other cores idle), they are written by a forked process and
        this one goes on; `saving()` gives its id, for the caller to wait for it or leave it
        saving (in a build it holds the build lock, as the features' processes do)."""
        if self.folder is None:
            return None
        changes = (self.used.keys() ^ self.entries.keys()) | self.replaced
        # Only the shards holding a key that came, went or changed (after an edit: one or two of 256).
        after: dict[str, dict] = {self.shard(key): {} for key in changes}
        if not after:
            return 0
        for key, entry in self.used.items():
            shard = after.get(self.shard(key))
            if shard is not None:
                shard[key] = entry
        if not apart or len(after) < self.FORK_SHARDS or not _fork_wanted() or not self._write_apart(after):
            self._write(after)
        return len(changes)

    #: From this many shards to write, they are written by a process of their own.
    FORK_SHARDS = 32

    def _write(self, after: dict[str, dict]) -> None:
        kept = _kept_shards(self.folder)
        for shard, entries in sorted(after.items()):
            path = self.folder / f"{shard}.pickle"
            kept.pop(path.name, None)
            if not entries:
                path.unlink(missing_ok=True)
                continue
            save_pickle(path, {"version": self.VERSION, "entries": entries})
            signature = _signature(path)
            if signature is not None:
                kept[path.name] = (signature, entries)

    def _write_apart(self, after: dict[str, dict]) -> bool:
        """`_write(after)` in a forked process; False when none can be had."""
        from .inputs import release_streams

        kept = _kept_shards(self.folder)
        for shard in after:
            kept.pop(f"{shard}.pickle", None)  # (written there: read again next time)
        try:
            pid = os.fork()
        except OSError:
            return False
        if pid == 0:
            status = 1
            try:
                gc.disable()  # (it leaves when done: no collection over the whole heap meanwhile)
                release_streams()
                self._write(after)
                status = 0
            finally:
                os._exit(status)
        _SAVING.append(pid)
        return True


def parse_cache_folder(cache_dir: Path) -> Path:
    """Where the parse cache of a build cache keeps its shards."""
    return cache_dir / "parsed"


# The shards this process last read or wrote, for the next build it runs (`gongshi serve`
# builds again on every change): {shard's file name: (its file's identity, its entries)}, of
# one cache folder. A shard whose file is still that one is taken from here instead of being
# unpickled again (0.17 s at 10,000 notices). Entries are keyed by what they were read
# from, so one kept from an older file of the shard is still right; the file's identity
# (inode, size, modification time: the file is replaced whole, never changed in place) only
# says whether another build has written the shard since.
_KEPT: dict[str, dict[str, tuple[tuple, dict]]] = {}


def _kept_shards(folder: Path) -> dict[str, tuple[tuple, dict]]:
    key = str(folder)
    if key not in _KEPT:
        _KEPT.clear()  # (one cache folder's: a process that builds another site lets go of the last one's)
        _KEPT[key] = {}
    return _KEPT[key]


def _signature(path: Path) -> tuple | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


#: Processes of `ParseCache.save` still writing the cache (`saving`).
_SAVING: list[int] = []


def saving() -> list[int]:
    """The ids of the processes writing the parse cache, which the caller now owns (to wait
    for with `os.waitpid`, or to leave saving); none after this call."""
    pids = list(_SAVING)
    _SAVING.clear()
    return pids


def _fork_wanted() -> bool:
    from .parallel import workers

    return hasattr(os, "fork") and workers() > 1


def _team_numbers(file: _File, cache: ParseCache) -> list:
    """The work team's phones in a village file (published on purpose), cached by the file's hash."""
    numbers = cache.get("phones:" + file.digest)
    if numbers is None:
        source = file.source
        numbers = [v.data for path, v in source.walk_text() if re.match(r"^team\[\d+\]\.(phone|unit_phone)$", path)]
        numbers += [str(value) for _, value in _walk_numbers(source)]
        cache.put("phones:" + file.digest, numbers)  # the digest of the bytes just read
    return numbers


class TooManyChanges(Exception):
    """More files than `load_content`'s `at_most` are not in the parse cache."""


def load_content(root: Path, cache_dir: Path | None = None, *, save: bool | str = True, at_most: int | None = None) -> Content:
    """Read and check every file of a site root; raises ContentError listing every problem.

    `save=False`: leave the parse cache as it was (another process of the build saves it);
    `save="apart"`: a large save may be left to a process of its own (`ParseCache.save`).
    `at_most`: raise TooManyChanges when more files than that must be parsed (a process
    that wants the content only after an edit: background.Ahead)."""
    from .privacy import allowed_in_runs, normalize_phone

    root = Path(root)
    problems: list[Problem] = []
    config_path = root / CONFIG_FILE
    config = None
    config_digest = "-"
    if not config_path.is_file():
        problems.append(Problem(CONFIG_FILE, 1, 1, "", "file not found: is this a site root?"))
    else:
        source, config_digest = _read(root, config_path)
        if source.root is not None:
            config = read_config(source)
        problems += source.problems

    cache = ParseCache(parse_cache_folder(cache_dir) if cache_dir is not None else None)
    known = _known_digests(root)
    village_files = [_File(root, path, known) for path in content_files(root, "villages")]
    notice_files = [_File(root, path, known) for path in content_files(root, "notices")]

    # Personal numbers are dealt with on the raw text, before any record exists.
    numbers = list(config.supervision_phones) if config else []
    with gc_paused():  # (a cold build's thousand village trees, kept until their records are made)
        for file in village_files:
            numbers += _team_numbers(file, cache)
    allowed = frozenset(digits for n in numbers if (digits := normalize_phone(str(n))))
    policy = config.privacy.on_unmasked_pii if config else "fail"
    # How a file reads depends on the allowed numbers only through those that are part of its
    # free text's number runs (privacy.number_runs): its record is kept with its runs and
    # those numbers, and used again while they are the same, so a work team's new phone
    # reads again only the files that write the old or the new one.
    reading = digest_of(config_digest, policy, ParseCache.VERSION, _TOOL_VERSION)
    lengths = frozenset(len(number) for number in allowed if len(number) >= 11)

    def relevant(runs) -> tuple[str, ...]:
        return allowed_in_runs(runs, allowed, lengths)

    masked: list[Problem] = []

    def parse(file: _File, kind: str, record_id: str | None) -> tuple:
        """(entry or None, the file's problems, what was masked in it, the hash of the bytes
        read) of a file the cache does not have; may run in a worker process (parallel.py)."""
        source = file.source
        found_runs: list[str] = []
        file_masked = deidentify_free_text(source, allowed, policy, found_runs) if source.root is not None else []
        runs = tuple(found_runs)
        record = None
        if source.root is not None:
            if kind == "villages":
                record = read_village(source, record_id or "", file.digest)
            else:
                record = read_notice(source, record_id or "", config, file.digest, root)
        file_problems = list(source.problems)
        file.release()
        if record is None or file_problems:
            return None, file_problems, file_masked, file.digest
        village_value = source.root.data.get("village") if kind == "notices" else None
        entry = (record, file_masked, village_value.loc if village_value is not None else None, runs, relevant(runs))
        return entry, [], file_masked, file.digest

    def collect(files: list[_File], kind: str, noun: str) -> dict:
        """{id: (record, masked, village loc, number runs, published numbers in them)} of
        the files read without problems, ids unique.
        Files the cache does not have are parsed on every core when there are many (a cold build)."""
        from .parallel import run_parallel

        ids = [_file_id(file, problems) for file in files]
        found: list = [None] * len(files)  # (entry or None, masked) per file
        todo = []
        for i, file in enumerate(files):
            # (record, masked, village loc, the file's number runs, the allowed numbers in them)
            entry = cache.get(digest_of(kind, file.relpath, file.digest, reading))
            if (entry is not None and relevant(entry[3]) == entry[4]
                    and (kind == "villages" or _photos_exist(entry[0], root))):
                found[i] = (entry, entry[1])
            else:
                todo.append(i)
        if at_most is not None and len(todo) > at_most:
            raise TooManyChanges(f"{len(todo)} {kind} files to read")
        # The records made live until the build ends: the collector's full passes over them,
        # ever more as they pile up, took a cold build at 10,000 notices 0.6 s of the 3.6 s
        # its loading took in this process, and as much in the worker (which inherits the
        # pause). What the parse leaves in reference cycles is frozen with them: this
        # process's largest resident set went from 122 to 124 MB.
        with gc_paused(keep=True):
            parsed = run_parallel([lambda i=i: parse(files[i], kind, ids[i]) for i in todo])
        for i, (entry, file_problems, file_masked, read_digest) in zip(todo, parsed):
            problems.extend(file_problems)
            found[i] = (entry, file_masked)
            if entry is not None and ids[i]:
                cache.put(digest_of(kind, files[i].relpath, read_digest, reading), entry)  # the bytes the parse read
        entries: dict = {}
        for file, record_id, (entry, file_masked) in zip(files, ids, found):
            masked.extend(file_masked)
            if entry is None or not record_id:
                continue
            if record_id in entries:
                problems.append(Problem(file.relpath, 1, 1, "", f"duplicate {noun} id '{record_id}' (also {entries[record_id][0].source})"))
            else:
                entries[record_id] = entry
        return entries

    villages: dict[str, Village] = {i: entry[0] for i, entry in collect(village_files, "villages", "village").items()}
    slugs = _SlugBases({v.township for v in villages.values()}, cache)  # meanwhile, in a process of its own
    try:
        notice_entries = collect(notice_files, "notices", "notice")
        notices: dict[str, Notice] = {i: entry[0] for i, entry in notice_entries.items()}
        village_locs: dict[str, Loc | None] = {i: entry[2] for i, entry in notice_entries.items()}
        problems += _cross_checks(villages, notices, village_locs)
        if problems or config is None:
            raise ContentError(problems or [Problem(CONFIG_FILE, 1, 1, "", "could not be read")])
        slug_bases = slugs.result()
    finally:
        slugs.close()  # (not wanted after all: the content has problems)
    changed = cache.save(apart=save == "apart") if save else None
    snapshot = hashlib.sha256(config_digest.encode())
    for file in (*village_files, *notice_files):
        snapshot.update(f"\0{file.relpath}\0{file.digest}".encode("utf-8", "surrogateescape"))
    return Content(config=config, villages=villages, notices=notices, root=root, masked=sorted(set(masked)),
                   slug_bases=slug_bases, changed=changed, snapshot=snapshot.hexdigest())


class _SlugBases:
    """The townships' slugs come from pinyin, whose dictionaries take half a second to load:
    kept in the parse cache by name and pypinyin's version. Those not there are made in a
    process of its own, started before the notices are read and taken after (a cold build's
    half second, on the other core): pypinyin's dictionaries are some 50 MB that every
    process forked later would hold too."""

    def __init__(self, names: set[str], cache: ParseCache):
        from importlib.metadata import version

        from .parallel import start_apart
        from .site import slug_base

        pinyin = version("pypinyin")
        self.cache = cache
        self.keys = {name: digest_of("slug", name, pinyin, _TOOL_VERSION) for name in sorted(names)}
        self.bases = {name: cache.get(key) for name, key in self.keys.items()}
        self.new = [name for name, base in self.bases.items() if base is None]
        self.pending = start_apart(lambda: [slug_base(name) for name in self.new]) if self.new else None

    def result(self) -> dict[str, str]:
        """{township name: its slug base}."""
        if self.pending is not None:
            for name, base in zip(self.new, self.pending.result()):
                self.cache.put(self.keys[name], base)
                self.bases[name] = base
            self.pending = None
        return self.bases

    def close(self) -> None:
        if self.pending is not None:
            self.pending.close()
            self.pending = None


_TOOL_VERSION = __import__("generator").__version__


def digest_of(*parts) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode("utf-8")).hexdigest()


def _known_digests(root: Path) -> dict[str, str]:
    """{relpath: sha256} of the content files this process has just hashed (inputs.py)."""
    from .inputs import hashed

    return {f"content/{name}": value for name, value in hashed(root / "content").items()}


def _photos_exist(notice: Notice, root: Path) -> bool:
    """A cached notice is only good while its photos are still there (else: read it, report it)."""
    return all((root / "content" / p.photo).is_file() for p in notice.postings if p.photo)


def _file_id(file: "_File", problems: list[Problem]) -> str | None:
    if schema.ID_PATTERN.match(file.stem):
        return file.stem
    problems.append(Problem(file.relpath, 1, 1, "", f"file name '{file.stem}' is not a valid id: use lower-case letters, digits and '-' (it becomes the page's address)"))
    return None


def _cross_checks(villages, notices, village_locs) -> list[Problem]:
    """Checks that need all files: references between villages, notices and commitments."""
    problems = []
    for notice_id, notice in notices.items():
        if notice.village not in villages:
            loc = village_locs[notice_id] or Loc(1, 1)
            problems.append(Problem(notice.source, loc.line, loc.column, "village", f"unknown village '{notice.village}' (no content/villages/{notice.village}.yaml)"))
    for village in villages.values():
        if village.plan is None:
            continue
        for index, commitment in enumerate(village.plan.commitments):
            for ref in commitment.notices:
                if ref not in notices:
                    loc = commitment.loc
                    problems.append(Problem(village.source, loc.line, loc.column, f"plan.commitments[{index}].notices", f"unknown notice '{ref}'"))
    return problems

