"""The leak gate: the last step of every build, before the new site replaces the old one.

Whatever path personal data might take into the output (a template, the search index, a
data export), it ends up in a file, so the gate scans every written file for personal
numbers, unmasked beneficiary names and image metadata. Any finding fails the build.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import BuildError

PARALLEL_FILES = 2000  # a site this large is scanned on every core


def allowed_numbers(content) -> frozenset[str]:
    """Numbers published on purpose: the work teams' phones and the supervision phones."""
    numbers = list(content.config.supervision_phones)
    for village in content.villages.values():
        for member in village.team:
            numbers += [n for n in (member.phone, member.unit_phone) if n]
    return frozenset(digits for n in numbers if (digits := normalize_phone(n)))


def normalize_phone(number: str) -> str:
    from .privacy import normalize_digits

    digits = re.sub(r"\D", "", normalize_digits(number))
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


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

    def __init__(self, content):
        from . import leakcheck  # noqa: F401 - imported once here, not again in each forked feature's process
        from .output import digest

        self.options = dict(allowed_numbers=allowed_numbers(content), private_names=private_names(content),
                            public_names=public_names(content))
        self.key = digest(sorted(self.options["allowed_numbers"]), sorted(self.options["private_names"]),
                          sorted(self.options["public_names"]))
        # The last published site, when it passed the gate under these rules (the same key):
        # a file also there is read only where it changed (leakcheck.scan_site's `previous`).
        self.published: Path | None = None
        # The processes a large batch is scanned in, as the build's process counts them: a
        # feature's process (background.py), which runs its feature alone (GONGSHI_JOBS=1
        # there), still scans its files on every core. It does so last, while the build's
        # process, done with its own files, waits for it: 1.2 s of one core at 10,000 notices.
        from .parallel import workers

        self.jobs = workers()

    def leaks(self, site_dir: Path, files: list[str]) -> list:
        """The leaks in these site paths, sorted; a large batch is scanned on every core."""
        from .leakcheck import scan_site
        from .parallel import run_parallel

        files = sorted(files)
        count = self.jobs
        slices = [files[start::count] for start in range(count)] if len(files) >= PARALLEL_FILES else [files]
        found = run_parallel([lambda part=part: scan_site(site_dir, only=part, previous=self.published, **self.options)
                              for part in slices], min_jobs=2, count=count)
        return sorted(leak for part in found for leak in part)


def site_files(folder: Path) -> list[str]:
    """Every file under `folder` (site paths with forward slashes), wherever it came from, as
    pathlib's rglob("*") with is_file() finds them: symbolic links to files included, linked
    folders not entered. With os.scandir, whose entries know their type without a stat each:
    0.07 s for 40,000 files instead of 1 s, at the end of a cold build."""
    found: list[str] = []
    pending = [(os.fspath(folder), "")]
    while pending:
        path, prefix = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir() and not entry.is_symlink():
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.is_file():
                    found.append(prefix + entry.name)
    return found


def gate(content, site_dir: Path, only=None, *, rules: Rules | None = None, checked=frozenset(), found=()) -> None:
    """Scan the built files (`only` these site paths, when given) and fail on any finding.
    `checked`: paths already scanned (by a feature in its own process), whose leaks are `found`."""
    rules = rules or Rules(content)
    files = sorted(site_files(site_dir) if only is None else only)
    leaks = sorted([*rules.leaks(site_dir, [f for f in files if f not in checked]), *found])
    if leaks:
        raise BuildError("personal data found in the output; nothing was published:\n" + "\n".join(str(leak) for leak in leaks))
