"""Revision history of notices, read from git: who can see that nothing was edited silently.

When the site root is (inside) a git repository, every published notice gets the list of
commits that touched its file, newest first, following renames, and each commit is marked
with what it changed in what the page publishes. A change to the notice's own content on or
after the first day of posting is a change *after posting began*: supervisors must see it.

"Published content" is what the notice page shows as the notice itself: village, title,
kind, stage, posting period, publisher, reviewer, body, funds, project and the beneficiaries
*as published* (masked names, household size, amount, note). Postings (evidence of posting)
and objections are the record kept *about* the posting: they are expected to grow during and
after it, so a change there is listed ("record updated") but is not a change after posting
began. `extra:` is not shown by the default theme and is not compared. Values are compared as
read (`6万元` and `60000` are the same amount), so whitespace, comment, quoting and key-order
edits change nothing.

Everything comes from two git calls however many notices there are: one
`git log --name-status -M` over `content/notices` (renames are followed here, the way
`git log --follow` does for one file), and `git cat-file --batch` for the versions. Dates are
the commits' own dates. The parsed log is cached by HEAD commit id, and each version's
comparison digests by its blob id, in the build cache, so an unchanged repository is not
read again; the histories made last are kept too, and taken as they are while HEAD and each
notice's path and first day of posting stay the same (an edit not yet committed, say).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .errors import BuildError
from .inputs import tool_digest
from .speed import gc_paused
from .yamlfile import YamlFile

CACHE_VERSION = 1
HISTORIES_VERSION = 1  # of the pickled histories (Revision, NoticeHistory)
NOTICES_FOLDER = "content/notices"
# Variables a git hook sets for its own repository: a build run from a hook must find the
# repository from the site root, like any other build.
_GIT_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR",
                           "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


class HistoryError(BuildError):
    """git is there but did not answer as expected."""

    def __init__(self, detail: str):
        super().__init__(f"could not read the notices' revision history from git: {detail}")


@dataclass(frozen=True)
class Revision:
    """One commit that touched a notice's file."""

    commit: str  # full id
    committed: dt.datetime  # the commit's own date and offset, from git
    path: str  # the file's path (relative to the site root) in this commit
    created: bool  # the oldest commit of the file's history
    moved_from: str | None  # previous path when the commit renamed the file
    content_changed: bool  # the published content differs from the previous version
    record_changed: bool  # postings or objections differ from the previous version
    after_posting: bool  # content changed on or after the first day of posting

    @property
    def short(self) -> str:
        return self.commit[:7]

    @property
    def date(self) -> dt.date:
        """The commit's date where it was made (clerks commit in local time)."""
        return self.committed.date()

    @property
    def changes(self) -> tuple[str, ...]:
        """What the commit did, as catalog codes: created, content, record, moved, format."""
        if self.created:
            return ("created",)
        codes = tuple(code for code, flag in (("content", self.content_changed), ("record", self.record_changed),
                                              ("moved", self.moved_from is not None)) if flag)
        return codes or ("format",)


@dataclass(frozen=True)
class NoticeHistory:
    revisions: tuple[Revision, ...]  # newest first
    posting_began: dt.date  # the earliest `posted` any version gave

    @property
    def changed_after_posting(self) -> tuple[Revision, ...]:
        return tuple(r for r in self.revisions if r.after_posting)

    @property
    def last_change(self) -> Revision | None:
        """The newest commit that changed anything the page shows (not the creation)."""
        return next((r for r in self.revisions if not r.created and (r.content_changed or r.record_changed)), None)


@dataclass(frozen=True)
class SiteHistory:
    head: str
    shallow: bool  # a shallow clone: older commits are missing, so the history is incomplete
    notices: dict  # notice id -> NoticeHistory (only notices with at least one commit)

    def of(self, notice_id: str) -> NoticeHistory | None:
        return self.notices.get(notice_id)


# -- git ------------------------------------------------------------------------------------

def _git(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARIABLES}
    command = ["git", "-c", "core.quotePath=false", "-c", "log.showSignature=false", *args]
    return subprocess.run(command, cwd=root, input=stdin, capture_output=True, env=env)


def repository_state(root: Path) -> tuple[str, str, bool] | None:
    """(HEAD commit id, the root's path inside the repository, shallow?), or None outside git."""
    try:
        done = _git(root, "rev-parse", "--show-prefix", "--is-shallow-repository", "--verify", "HEAD^{commit}")
    except OSError:  # git is not installed: a site outside git
        return None
    if done.returncode != 0:
        return None  # not a repository, or one without commits yet
    lines = done.stdout.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 3:
        return None
    prefix, shallow, head = lines[0], lines[1], lines[2]
    return head.strip(), prefix.strip(), shallow.strip() == "true"


@dataclass(frozen=True)
class Change:
    status: str  # A, M, D, R, T, C
    path: str
    old_path: str | None  # for renames


@dataclass(frozen=True)
class Commit:
    id: str
    committed: dt.datetime
    changes: tuple[Change, ...]


def read_log(root: Path) -> list[Commit]:
    """Every commit touching content/notices, newest first, with renames detected."""
    done = _git(root, "log", "--name-status", "-M", "-z", "--relative", "--no-color", "--no-ext-diff",
                "--format=%x1e%H %cI", "--", NOTICES_FOLDER)
    if done.returncode != 0:
        raise HistoryError(done.stderr.decode("utf-8", "replace").strip())
    return parse_log(done.stdout)


def parse_log(data: bytes) -> list[Commit]:
    commits = []
    for chunk in data.split(b"\x1e")[1:]:
        header, _, rest = chunk.partition(b"\0")
        commit_id, _, date = header.decode("ascii").strip().partition(" ")
        tokens = [t.decode("utf-8", "surrogateescape") for t in rest.lstrip(b"\n").split(b"\0")]
        changes, i = [], 0
        while i < len(tokens) and tokens[i]:
            status = tokens[i][0]
            if status in "RC":
                changes.append(Change(status, tokens[i + 2], tokens[i + 1]))
                i += 3
            else:
                changes.append(Change(status, tokens[i + 1], None))
                i += 2
        commits.append(Commit(commit_id, dt.datetime.fromisoformat(date), tuple(changes)))
    return commits


def blob_ids(root: Path, prefix: str, requests: list[tuple[str, str]]) -> dict[str, str | None]:
    """{"commit:path": blob id} for (commit, path-relative-to-root) pairs, in one process."""
    if not requests:
        return {}
    names = [f"{commit}:{prefix}{path}" for commit, path in requests]
    done = _git(root, "cat-file", "--batch-check", stdin=("\n".join(names) + "\n").encode("utf-8", "surrogateescape"))
    if done.returncode != 0:
        raise HistoryError(done.stderr.decode("utf-8", "replace").strip())
    answers = done.stdout.decode("utf-8", "surrogateescape").split("\n")
    found = {}
    for (commit, path), answer in zip(requests, answers):
        parts = answer.split(" ")
        found[f"{commit}:{path}"] = parts[0] if len(parts) == 3 and parts[1] == "blob" else None
    return found


def blob_texts(root: Path, ids: list[str]) -> dict[str, bytes]:
    """The contents of blobs, in one process."""
    if not ids:
        return {}
    done = _git(root, "cat-file", "--batch", stdin=("\n".join(ids) + "\n").encode("ascii"))
    if done.returncode != 0:
        raise HistoryError(done.stderr.decode("utf-8", "replace").strip())
    out, pos, texts = done.stdout, 0, {}
    for blob_id in ids:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode("ascii", "replace").split(" ")
        pos = end + 1
        if len(header) == 3 and header[1] == "blob":
            size = int(header[2])
            texts[blob_id] = out[pos:pos + size]
            pos += size + 1  # the content is followed by a newline
    return texts


# -- what a version publishes -----------------------------------------------------------------

@dataclass(frozen=True)
class VersionDigest:
    content: str  # digest of the published content
    record: str  # digest of postings and objections
    posted: str | None  # ISO date, when readable


def version_digest(text: bytes, notice_id: str, config) -> VersionDigest:
    """Digests of one version of a notice file, comparing values, never bytes."""
    try:
        source = YamlFile("history", text.decode("utf-8"))
    except UnicodeDecodeError:
        source = None
    notice = None
    if source is not None and source.root is not None and not source.problems:
        from .content import read_notice

        notice = read_notice(source, notice_id, config, digest="", root=None)
    if notice is not None:
        content, record = published_parts(notice, config.privacy.names)
        posted = notice.posted.isoformat()
    elif source is not None and source.root is not None and source.root.is_mapping:
        # Not a valid notice at that commit: compare the plain data, still ignoring formatting.
        data = source.root.plain()
        record = {key: data.pop(key, None) for key in ("postings", "objections")}
        data.pop("extra", None)
        content, posted = data, None
    else:
        content, record, posted = {"unreadable": " ".join(text.decode("utf-8", "replace").split())}, {}, None
    return VersionDigest(_digest(content), _digest(record), posted)


def published_parts(notice, names_policy: str) -> tuple[dict, dict]:
    """(the notice's published content, its posting record), as plain data."""
    from .site import publish_beneficiary

    funds = notice.funds
    content = {
        "village": notice.village, "title": notice.title, "kind": notice.kind, "stage": notice.stage,
        "posted": notice.posted, "until": notice.until, "period_stated": notice.period_stated,
        "published_by": notice.published_by, "reviewed_by": notice.reviewed_by, "body": notice.body,
        "funds": None if funds is None else {
            "source": funds.source, "total": funds.total, "items": [[i.name, i.amount] for i in funds.items]},
        "project": None if notice.project is None else vars(notice.project),
        "beneficiaries": [list(vars(publish_beneficiary(b, names_policy)).values()) for b in notice.beneficiaries],
    }
    record = {
        "postings": [[p.place, p.date, p.photo, p.by, p.caption] for p in notice.postings],
        "objections": [[o.received, o.summary, o.resolution, o.resolved] for o in notice.objections],
    }
    return content, record


def _digest(data) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 60000, 6万元 and 60000.00 are one amount
    return str(value)


# -- following each notice's file back through the log -------------------------------------------

@dataclass(frozen=True)
class Touch:
    """A commit touching the file of a notice, found by following its path backwards."""

    commit: Commit
    path: str
    status: str
    old_path: str | None


def follow(commits: list[Commit], current_paths: dict[str, str]) -> dict[str, list[Touch]]:
    """{notice id: its commits, newest first}, following renames back from each current path."""
    tracked = dict(current_paths)  # path at this point of history -> notice id
    touches: dict[str, list[Touch]] = {}
    for commit in commits:
        moves = []
        for change in commit.changes:
            notice_id = tracked.get(change.path)
            if notice_id is None or change.status == "D":
                continue
            touches.setdefault(notice_id, []).append(Touch(commit, change.path, change.status, change.old_path))
            if change.status in "RAC":
                moves.append((change.path, change.old_path if change.status == "R" else None, notice_id))
        # Apply after the whole commit, so that swapped names in one commit follow correctly.
        for path, _, _ in moves:
            tracked.pop(path, None)
        for _, old_path, notice_id in moves:
            if old_path is not None:
                tracked[old_path] = notice_id
    return touches


def notice_history(touches: list[Touch], digests: dict[str, VersionDigest | None], blob_of: dict[str, str | None],
                   posted: dt.date) -> NoticeHistory:
    began = posted
    for touch in touches:
        digest = digests.get(blob_of.get(f"{touch.commit.id}:{touch.path}") or "")
        if digest is not None and digest.posted:
            began = min(began, dt.date.fromisoformat(digest.posted))
    revisions, previous = [], None
    for index, touch in enumerate(reversed(touches)):  # oldest first
        digest = digests.get(blob_of.get(f"{touch.commit.id}:{touch.path}") or "")
        created = index == 0
        content_changed = created or digest is None or previous is None or digest.content != previous.content
        record_changed = not created and (digest is None or previous is None or digest.record != previous.record)
        revisions.append(Revision(
            commit=touch.commit.id,
            committed=touch.commit.committed,
            path=touch.path,
            created=created,
            moved_from=touch.old_path if touch.status == "R" else None,
            content_changed=content_changed,
            record_changed=record_changed,
            after_posting=not created and content_changed and touch.commit.committed.date() >= began,
        ))
        previous = digest
    return NoticeHistory(revisions=tuple(reversed(revisions)), posting_began=began)


# -- the whole site, with the cache ------------------------------------------------------------

def read_history(root: Path, notices: dict, config, cache_dir: Path | None) -> SiteHistory | None:
    """The history of every notice in `notices` ({id: Notice}), or None outside git."""
    state = repository_state(root)
    if state is None:
        return None
    head, prefix, shallow = state
    cache = _Cache(cache_dir, head, prefix, config) if cache_dir is not None else None
    # Each notice's history depends on the repository at HEAD and on its file's path and its
    # posting day: after an edit that is not committed yet, nothing needs following again.
    inputs = _inputs_digest(notices, shallow) if cache else None
    kept = cache.histories() if cache else None
    if kept is not None and kept.head == head and kept.inputs == inputs:
        return SiteHistory(head=head, shallow=shallow, notices=kept.notices)

    commits = cache.commits() if cache else None
    if commits is None:
        commits = read_log(root)
        if cache:
            cache.save_commits(commits)

    touches = follow(commits, {notice.source: notice_id for notice_id, notice in sorted(notices.items())})
    wanted = sorted({(t.commit.id, t.path) for ts in touches.values() for t in ts})
    blob_of = cache.blob_ids() if cache else {}
    missing = [pair for pair in wanted if f"{pair[0]}:{pair[1]}" not in blob_of]
    if missing:
        blob_of.update(blob_ids(root, prefix, missing))
        if cache:
            cache.save_blob_ids(blob_of, commits)

    notice_of_blob = {}
    for notice_id, ts in touches.items():
        for t in ts:
            blob = blob_of.get(f"{t.commit.id}:{t.path}")
            if blob:
                notice_of_blob.setdefault(blob, notice_id)
    digests = cache.digests() if cache else {}
    unread = sorted(blob for blob in notice_of_blob if blob not in digests)
    if unread:
        for blob, text in blob_texts(root, unread).items():
            digests[blob] = version_digest(text, notice_of_blob[blob], config)
        if cache:
            cache.save_digests(digests)

    # A notice whose commits (and posting day) are those of the last histories made keeps its
    # history: after a commit, only the notices it touched are made again.
    kept_notices, kept_from = (kept.notices, kept.made_from()) if kept is not None else ({}, {})
    histories, made_from = {}, {}
    for notice_id, ts in sorted(touches.items()):
        posted = notices[notice_id].posted
        # Fields joined by NUL, which no path holds: four a commit.
        made_from[notice_id] = source = "\0".join([posted.isoformat(),
                                                    *(f"{t.commit.id}\0{t.status}\0{t.path}\0{t.old_path!r}" for t in ts)])
        history = kept_notices.get(notice_id) if kept_from.get(notice_id) == source else None
        histories[notice_id] = history if history is not None else notice_history(ts, digests, blob_of, posted)
    if cache:
        cache.save_histories(head, inputs, histories, made_from)
    return SiteHistory(head=head, shallow=shallow, notices=histories)


def _inputs_digest(notices: dict, shallow: bool) -> str:
    """What the histories are made from besides the repository: each notice's path and day."""
    text = "\n".join(f"{notice_id}\0{notice.source}\0{notice.posted.isoformat()}"
                     for notice_id, notice in notices.items())
    return hashlib.sha256(f"{shallow}\n{text}".encode("utf-8", "surrogateescape")).hexdigest()


class _Cache:
    """JSON files under <cache>/history: the log per HEAD, blob ids, and digests per blob."""

    def __init__(self, cache_dir: Path, head: str, prefix: str, config):
        self.folder = Path(cache_dir) / "history"
        place = hashlib.sha256(prefix.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        self.log_file = self.folder / f"log-{place}-{head}.json"
        self.log_prefix = f"log-{place}-"
        self.blobs_file = self.folder / f"blobs-{place}.json"
        # The digests depend on how names are published and on the default posting periods.
        settings = json.dumps([CACHE_VERSION, config.privacy.names, sorted(config.min_posting_days.items())])
        self.digest_file = self.folder / f"digests-{hashlib.sha256(settings.encode()).hexdigest()[:16]}.json"
        # The last histories made, for this place in the repository (one file, replaced).
        self.histories_file = self.folder / f"histories-{place}.pickle"
        self.histories_key = [HISTORIES_VERSION, tool_digest(), hashlib.sha256(settings.encode()).hexdigest()]
        self._log = None

    def _load(self, path: Path):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == CACHE_VERSION else None

    def _save(self, path: Path, data: dict) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": CACHE_VERSION, **data}, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time

    def _log_data(self) -> dict:
        if self._log is None:
            self._log = self._load(self.log_file) or {}
        return self._log

    def commits(self) -> list[Commit] | None:
        raw = self._log_data().get("commits")
        if raw is None:
            return None
        return [Commit(c[0], dt.datetime.fromisoformat(c[1]), tuple(Change(*ch) for ch in c[2])) for c in raw]

    def save_commits(self, commits: list[Commit]) -> None:
        # Older HEADs' logs are never needed again.
        for stale in self.folder.glob(self.log_prefix + "*.json") if self.folder.is_dir() else []:
            if stale != self.log_file:
                stale.unlink(missing_ok=True)
        self._log = {"commits": [[c.id, c.committed.isoformat(), [[ch.status, ch.path, ch.old_path] for ch in c.changes]]
                                 for c in commits]}
        self._save(self.log_file, self._log)

    def blob_ids(self) -> dict:
        """{"commit:path": blob id}: the file a commit holds at a path never changes, so these
        are kept from one HEAD to the next."""
        blobs = (self._load(self.blobs_file) or {}).get("blobs")
        return dict(blobs) if isinstance(blobs, dict) else {}

    def save_blob_ids(self, blob_of: dict, commits: list[Commit]) -> None:
        """Keep those of the commits in the log (a rewritten history drops the others)."""
        ids = {c.id for c in commits}
        self._save(self.blobs_file, {"blobs": {pair: blob for pair, blob in blob_of.items() if pair.partition(":")[0] in ids}})

    def digests(self) -> dict[str, VersionDigest]:
        raw = (self._load(self.digest_file) or {}).get("digests", {})
        return {blob: VersionDigest(*values) for blob, values in raw.items()}

    def save_digests(self, digests: dict[str, VersionDigest]) -> None:
        self._save(self.digest_file, {"digests": {b: [d.content, d.record, d.posted] for b, d in digests.items()}})

    def histories(self) -> "_KeptHistories | None":
        """The histories made last with these settings (at whatever HEAD), or None."""
        try:
            with open(self.histories_file, "rb") as source, gc_paused():
                stored = pickle.load(source)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError,
                IndexError, KeyError, MemoryError):
            return None
        if not isinstance(stored, dict) or stored.get("key") != self.histories_key:
            return None
        kept = _KeptHistories(stored.get("head"), stored.get("inputs"), stored.get("notices"), stored.get("made_from"))
        return kept if isinstance(kept.notices, dict) and isinstance(kept.made_from_pickle, bytes) else None

    def save_histories(self, head: str, inputs: str, histories: dict, made_from: dict) -> None:
        from .speed import save_pickle

        # What each history was made from is read only after a commit: pickled apart.
        save_pickle(self.histories_file, {"key": self.histories_key, "head": head, "inputs": inputs, "notices": histories,
                                          "made_from": pickle.dumps(made_from, protocol=pickle.HIGHEST_PROTOCOL)})


@dataclass
class _KeptHistories:
    head: str
    inputs: str
    notices: dict  # notice id -> NoticeHistory
    made_from_pickle: bytes  # notice id -> its posting day and commits (as text) the history was made from

    def made_from(self) -> dict:
        try:
            with gc_paused():
                made_from = pickle.loads(self.made_from_pickle)
        except (EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError, IndexError,
                KeyError, MemoryError):
            return {}
        return made_from if isinstance(made_from, dict) else {}
