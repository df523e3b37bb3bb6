"""Build benchmark: cold, one-notice and no-change builds of synthetic counties, beside Hugo.

    python bench/bench_build.py [--large] [--sizes 1000:100,10000:1000] [--keep DIR] [--no-hugo]

For each size (default 1,000 notices over 100 villages and 10,000 over 1,000; `--large`
adds 50,000 over 5,000, which takes a long while) it writes a county with bench/corpus.py
and measures, each in a child process running `python -m generator build --root ROOT
--today 2026-11-22` exactly as a clerk would:

- the cold build: no output folder and no build cache (ROOT/.gongshi-cache) before it;
- a one-notice rebuild: one notice's title edited, then built again (the benchmark checks
  that the notice's page shows the new title, so a rebuild that skips work it should do
  cannot look fast); three such edits of different notices in turn, as a clerk's commits
  come, and the median is the figure (the first has no standby folder yet, output.py);
- one notice added: a new notice file (a copy of a published one under a new id and
  title), built again (the benchmark checks its page), beside the same target; then one
  notice removed: that file deleted again, built again (its page must be gone);
- a team's phone changed: a village's first team phone becomes a new number, built again
  (its page must show it); the phones are the numbers published on purpose, the leak gate's
  rules (a figure, without a target);
- a no-change rebuild: built again with nothing changed;
  (after a rebuild whose replaced site is not kept as the standby, a detached process
  deletes it: each timed build waits for the previous one's to end, so that it is not
  measured on a busy disk);
- a fresh output with the cache kept: the output folder deleted, built again, as a CI
  runner that restores `.gongshi-cache/` does on every push (a figure, without a target);
- the peak memory of each: the largest process's resident-set high-water mark (ru_maxrss
  from wait4), and, since a build may fork workers, all of its processes together (their
  proportional set sizes, sampled every 0.1 s from /proc);
- Hugo (Debian's `hugo`) building the same pages from the same corpus with a minimal
  equivalent theme (bench/hugo/, whose README says what is and is not compared), cold.

Each figure is printed beside its target (set for 10,000 notices: cold build at most 3x
Hugo's, one-notice rebuild under 1 s, no-change rebuild under 0.5 s, peak memory under
500 MB), with wall and CPU time: the machine may be shared, and CPU time is what a busy
machine disturbs least. At the end: the cold build's time per notice at each size and its
ratio to the smallest size's (linear growth keeps it at 1 or below), and the per-county
independence a province relies on (docs/scaling.md): the smallest county, built cold again
beside the largest one in the same province folder, takes the same time and gives the
same bytes as when it was alone. Those two verdicts compare CPU times of our own runs.

First it prints what a new file costs in the work folder (`new_file_cost`): a cold build
makes 40,000 files at 10,000 notices and Hugo 12,000, so a file system where that is slow
weighs on the ratio (docs/scaling.md: on this project's machine, 9 µs under / and 100-240
µs under folders of the same ext4 disk where many files had been made and removed). The
work folder is a new one in the system's temporary folder unless `--keep DIR` names another.

The build runs without --quiet so that its per-stage times can be shown; printing them
costs nothing measurable. Exit code 0 when everything was measured (targets met or not),
1 when a build failed, a page did not change, or Hugo is missing (`apt-get install -y
hugo`; `--no-hugo` skips the comparison on purpose).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HUGO_THEME = Path(__file__).resolve().parent / "hugo"
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from corpus import generate, pinyin_id  # noqa: E402

TODAY = "2026-11-22"
SEED = 1
DEFAULT_SIZES = [(1_000, 100), (10_000, 1_000)]
LARGE_SIZE = (50_000, 5_000)
TARGETS = {"hugo_ratio": 3.0, "one_notice_s": 1.0, "no_change_s": 0.5, "peak_mb": 500.0, "per_notice_ratio": 1.0,
           "independence": (0.8, 1.25)}
ONE_NOTICE_EDITS = 3  # successive one-notice rebuilds measured; the median is the figure
# Measurement noise allowed in the verdict on linear growth (which compares CPU times).
NOISE = 0.10
STAGE_LINE = re.compile(r"^(?P<stage>[^:\n]+): (?P<seconds>\d+\.\d+) s\b", re.M)
BUILT_LINE = re.compile(r"Built (?P<pages>\d+) pages, (?P<files>\d+) files")


class BenchError(Exception):
    pass


@dataclass
class Run:
    seconds: float  # wall
    cpu: float  # user + system, of the child, anything it waited for and anything it left running
    peak_mb: float  # the largest single process's resident high-water mark (ru_maxrss), the processes it left included
    output: str
    tree_peak_mb: float = 0.0  # all its processes together (proportional set size, sampled)
    cpu_after: float = 0.0  # of `cpu`: the processes it left running when it returned (all their time)

    def stages(self) -> list[tuple[str, float]]:
        return [(m["stage"], float(m["seconds"])) for m in STAGE_LINE.finditer(self.output)]

    def built(self) -> tuple[int, int]:
        match = BUILT_LINE.search(self.output)
        return (int(match["pages"]), int(match["files"])) if match else (0, 0)


@dataclass
class SizeResult:
    notices: int
    villages: int
    cold: Run
    one_notice: Run
    no_change: Run
    hugo: Run | None = None
    hugo_pages: int = 0
    output_digest: str = ""
    extra: dict = field(default_factory=dict)


# -- the corpus -------------------------------------------------------------------------------

def write_corpus(root: Path, notices: int, villages: int) -> None:
    generate(root, notices=notices, villages=villages, seed=SEED)


# -- running children -------------------------------------------------------------------------

def run_child(command: list[str], env: dict | None = None) -> tuple[int, Run]:
    """Run `command`, returning its exit code, wall and CPU time and peak memory."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeMemory(child.pid)
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN would only give the largest so far.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        sampler.stop()
        child.returncode = os.waitstatus_to_exitcode(status)
        cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        # What the command left running when it returned (the features' processes saving
        # their caches, the remover of the old site) is this process's now (subreaper): their
        # time (all of it: a feature's process works through the build, then saves) counts
        # in the CPU figure, not in the wall time (the site was published).
        after = 0.0
        while True:
            try:
                _, _, left = os.wait4(-1, 0)
            except ChildProcessError:
                break
            after += left.ru_utime + left.ru_stime
            peak = max(peak, left.ru_maxrss)
        out.seek(0)
        text = out.read()
    return child.returncode, Run(seconds=seconds, cpu=cpu + after, peak_mb=peak / 1024, output=text,
                                 tree_peak_mb=sampler.peak_mb, cpu_after=after)


def become_subreaper() -> bool:
    """Make the processes a build leaves behind this process's children when the build ends
    (Linux's PR_SET_CHILD_SUBREAPER), so that `run_child` waits for them and counts them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


class TreeMemory:
    """The memory of a process and its descendants together, sampled ten times a second.

    ru_maxrss is one process's peak; a build that forks workers uses the sum. Proportional
    set sizes (Pss) share each copy-on-write page between the processes that map it, so
    they add up to the memory really used. Linux only; elsewhere the figure stays 0.
    """

    INTERVAL = 0.1

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(self.INTERVAL):
            self.peak_mb = max(self.peak_mb, sum(pss_kb(pid) for pid in descendants(self.pid)) / 1024)


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sorted(tree)


def pss_kb(pid: int) -> int:
    try:
        for text in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if text.startswith("Pss:"):
                return int(text.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def build_env() -> dict:
    env = dict(os.environ, GONGSHI_LANG="en")
    # Python keeps compiled modules (__pycache__) as on any installed tool; a machine that
    # forbids it (this project's has PYTHONDONTWRITEBYTECODE=1) would compile every module
    # in every build, 0.08 s of each rebuild that no clerk's machine spends.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("GONGSHI_CACHE", None)  # the cache is ROOT/.gongshi-cache, which a cold build removes
    return env


def gongshi_build(root: Path) -> Run:
    code, run = run_child([sys.executable, "-m", "generator", "build", "--root", str(root), "--today", TODAY], build_env())
    if code != 0:
        raise BenchError(f"gongshi build --root {root} failed with exit code {code}:\n{run.output[-3000:]}")
    wait_for_old_site_removal(root)
    return run


def wait_for_old_site_removal(root: Path, limit: float = 300.0) -> None:
    """A rebuild of a large site swaps the new site in and leaves deleting the old one to a
    detached process (generator/output.py): the site is published before that ends. Wait for
    it, so that it does not slow down the next timed build."""
    deadline = time.monotonic() + limit
    while any(root.glob(".build.old-*")) and time.monotonic() < deadline:
        time.sleep(0.1)


def cold_build(root: Path) -> Run:
    shutil.rmtree(root / "build", ignore_errors=True)
    shutil.rmtree(root / ".gongshi-cache", ignore_errors=True)
    return gongshi_build(root)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# -- the one-notice edit ------------------------------------------------------------------------

CORRECTED = "（已更正）"


def _published_notices(root: Path):
    """(path, text, match of its quoted title) of each notice with a page in the built site,
    in order (one posted after the benchmark's date has none yet: an edit of it would change
    nothing a reader sees)."""
    for path in sorted((root / "content" / "notices").rglob("*.yaml")):
        if (root / "build" / "notices" / f"{path.stem}.html").is_file():
            text = path.read_text(encoding="utf-8")
            yield path, text, re.search(r'(?m)^title: (".*")$', text)


def _with_title(text: str, match: re.Match, title: str) -> str:
    return text[: match.start(1)] + json.dumps(title, ensure_ascii=False) + text[match.end(1):]


def edit_one_notice(root: Path) -> tuple[str, str]:
    """Correct the title of the first published notice not corrected yet; returns (id, new title).

    Every edit is new content (never an edit undone, which a kept copy of an older site
    would make cheap) and changes the title's length, as a clerk's correction does (so the
    search index's field lengths move and its first pages are ranked again)."""
    for path, text, match in _published_notices(root):
        title = json.loads(match.group(1))
        if not title.endswith(CORRECTED):
            title += CORRECTED
            path.write_text(_with_title(text, match, title), encoding="utf-8")
            return path.stem, title
    raise BenchError(f"every notice under {root} is corrected already: write the corpus afresh")


def add_one_notice(root: Path) -> tuple[str, str]:
    """A new notice, as the commonest commit of all adds one: a copy of the first published
    notice under a new id and a new title (its other fields as they were, so it is published
    and valid); returns (id, title). The search index numbers its documents in the order
    they are ranked among equal scores, so a new one moves every later number."""
    for path, text, match in _published_notices(root):
        number = 1
        while (path.parent / f"{path.stem}-b{number}.yaml").exists():
            number += 1
        notice_id = f"{path.stem}-b{number}"
        title = f"补充公示{number}"
        (path.parent / f"{notice_id}.yaml").write_text(_with_title(text, match, title), encoding="utf-8")
        return notice_id, title
    raise BenchError(f"no published notice under {root} to add one beside")


def remove_notice(root: Path, notice_id: str) -> None:
    """A notice withdrawn: its file deleted from the content."""
    for path in (root / "content" / "notices").glob(f"*/{notice_id}.yaml"):
        path.unlink()
        return
    raise BenchError(f"no notice {notice_id} under {root} to remove")


def change_team_phone(root: Path) -> tuple[str, str]:
    """A cadre rotates in: the first team phone of the first village that has one becomes a
    number no village file holds yet; returns (village id, new number)."""
    villages = sorted((root / "content" / "villages").glob("*.yaml"))
    texts = {path: path.read_text(encoding="utf-8") for path in villages}
    number = 0
    while any((new := f"199{number:08d}") in text for text in texts.values()):
        number += 1
    for path, text in texts.items():
        match = re.search(r'(?m)^    phone: "([^"]+)"$', text)
        if match:
            path.write_text(text[:match.start(1)] + new + text[match.end(1):], encoding="utf-8")
            return path.stem, new
    raise BenchError(f"no village under {root} has a team phone")


def check_village_shows(root: Path, village_id: str, phone: str) -> None:
    page = root / "build" / "villages" / f"{village_id}.html"
    if not page.is_file() or f"tel:{phone}" not in page.read_text(encoding="utf-8"):
        raise BenchError(f"after the team's phone changed, {page} does not show the new number {phone}")


def check_page_gone(root: Path, notice_id: str) -> None:
    page = root / "build" / "notices" / f"{notice_id}.html"
    if page.exists():
        raise BenchError(f"after the notice was removed and the site built again, {page} is still there")


def check_page_shows(root: Path, notice_id: str, title: str) -> None:
    page = root / "build" / "notices" / f"{notice_id}.html"
    if not page.is_file() or html.escape(title) not in page.read_text(encoding="utf-8"):
        raise BenchError(f"after the one-notice rebuild, {page} does not show the new title {title!r}")


# -- Hugo ---------------------------------------------------------------------------------------

def hugo_site(root: Path, site: Path) -> None:
    """The same corpus as Hugo content: one file per notice, village and township."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(HUGO_THEME, site, ignore=shutil.ignore_patterns("README.md"))
    (site / "static" / "assets").mkdir(parents=True)
    shutil.copyfile(REPO / "themes" / "default" / "static" / "assets" / "style.css", site / "static" / "assets" / "style.css")
    content = site / "content"
    (content / "notices").mkdir(parents=True)
    (content / "townships").mkdir()
    write_page(content / "_index.md", {"title": "示范县驻村帮扶公开平台"}, "")

    villages = {p.stem: yaml.load(p.read_text(encoding="utf-8"), Loader=loader) for p in sorted((root / "content" / "villages").glob("*.yaml"))}
    township_ids = {v["township"]: pinyin_id(v["township"]) for v in villages.values()}
    counts: dict[str, int] = {}
    for path in sorted((root / "content" / "notices").rglob("*.yaml")):
        notice = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        village = villages[notice["village"]]
        counts[notice["village"]] = counts.get(notice["village"], 0) + 1
        posted = notice["posted"]
        until = notice.get("until") or posted + dt.timedelta(days=notice["days"] - 1)
        front = {
            "title": notice["title"], "date": posted.isoformat(), "villages": [notice["village"]],
            "township": village["township"], "township_id": township_ids[village["township"]],
            "kind": notice["kind"], "stage": notice.get("stage"), "posted": posted.isoformat(), "until": until.isoformat(),
            "published_by": notice.get("published_by"), "reviewed_by": notice.get("reviewed_by"),
            "funds": notice.get("funds"), "project": notice.get("project"),
            # Published as gongshi publishes them: masked names, no personal numbers.
            "beneficiaries": [{"name": mask(b["name"]), "household_size": b.get("household_size"), "amount": b.get("amount"),
                               "note": b.get("note")} for b in notice.get("beneficiaries") or []],
            "postings": notice.get("postings"), "objections": notice.get("objections"),
        }
        write_page(content / "notices" / f"{path.stem}.md", front, notice.get("body") or "")
    for vid, village in villages.items():
        front = {"title": village["name"], "township": village["township"], "township_id": township_ids[village["township"]],
                 **{k: village.get(k) for k in ("households", "population", "status", "team", "plan")}}
        folder = content / "villages" / vid
        folder.mkdir(parents=True)
        write_page(folder / "_index.md", front, village.get("summary") or "")
    for township, tid in sorted(township_ids.items()):
        members = sorted(((vid, v) for vid, v in villages.items() if v["township"] == township), key=lambda item: item[1]["name"])
        write_page(content / "townships" / f"{tid}.md",
                   {"title": township, "villages": [{"id": vid, "name": v["name"], "notices": counts.get(vid, 0)} for vid, v in members]}, "")


def mask(name: str) -> str:
    return name[0] + "*" if len(name) == 2 else name[0] + "*" * (len(name) - 2) + name[-1]


def write_page(path: Path, front: dict, body: str) -> None:
    # JSON front matter: Hugo reads it, and it needs no YAML quoting rules.
    path.write_text(json.dumps(front, ensure_ascii=False, default=str, indent=1) + "\n\n" + body, encoding="utf-8")


def hugo_build(site: Path) -> tuple[Run, int]:
    out, cache = site.parent / f"{site.name}-public", site.parent / f"{site.name}-cache"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    code, run = run_child(["hugo", "--source", str(site), "--destination", str(out), "--cacheDir", str(cache), "--quiet"])
    if code != 0:
        raise BenchError(f"hugo failed with exit code {code}:\n{run.output[-3000:]}")
    return run, sum(1 for _ in out.rglob("*.html"))


def hugo_version() -> str | None:
    try:
        return subprocess.run(["hugo", "version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# -- printing -----------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def line(label: str, figure: str, target: str = "", ok: bool | None = None) -> None:
    tail = f"  target {target:<22} {verdict(ok)}" if target else ""
    print(f"  {label:<40} {figure:>24}{tail}", flush=True)


def timing(run: Run) -> str:
    after = f", {run.cpu_after:.1f} s of it in processes still running when the command returned" if run.cpu_after >= 0.05 else ""
    return f"{run.seconds:8.2f} s ({run.cpu:.1f} s CPU{after})"


def top_stages(run: Run, count: int = 5) -> str:
    stages = sorted(run.stages(), key=lambda s: -s[1])[:count]
    if stages:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stages)
    said = [text for text in run.output.strip().splitlines() if text.strip()]
    return f"no stages ran; it said: {said[-1] if said else '(nothing)'}"


# -- the benchmark ------------------------------------------------------------------------------

def bench_size(work: Path, notices: int, villages: int, with_hugo: bool) -> SizeResult:
    print(f"\n== {notices:,} notices over {villages:,} villages ==", flush=True)
    root = work / f"county-{notices}"
    if not (root / "content").exists():
        started = time.perf_counter()
        write_corpus(root, notices, villages)
        print(f"  (corpus written in {time.perf_counter() - started:.1f} s: {root})", flush=True)

    cold = cold_build(root)
    pages, files = cold.built()
    line("cold build", timing(cold))
    print(f"    {pages:,} pages, {files:,} files; slowest stages: {top_stages(cold)}", flush=True)

    # A clerk's commits come one after another: the figure is the median of successive edits
    # (the first, right after the cold build, has no standby folder yet: output.py).
    edits = []
    for _ in range(ONE_NOTICE_EDITS):
        notice_id, title = edit_one_notice(root)
        edits.append(gongshi_build(root))
        check_page_shows(root, notice_id, title)
    one = sorted(edits, key=lambda run: run.seconds)[len(edits) // 2]
    line("one-notice rebuild", timing(one), f"< {TARGETS['one_notice_s']:g} s", one.seconds < TARGETS["one_notice_s"])
    print(f"    median of {len(edits)} successive edits: {', '.join(f'{run.seconds:.2f} s' for run in edits)}; "
          f"slowest stages: {top_stages(one)}", flush=True)

    notice_id, title = add_one_notice(root)
    added = gongshi_build(root)
    check_page_shows(root, notice_id, title)
    line("one notice added", timing(added), f"< {TARGETS['one_notice_s']:g} s", added.seconds < TARGETS["one_notice_s"])
    print(f"    slowest stages: {top_stages(added)}", flush=True)

    remove_notice(root, notice_id)
    removed = gongshi_build(root)
    check_page_gone(root, notice_id)
    line("one notice removed", timing(removed), f"< {TARGETS['one_notice_s']:g} s", removed.seconds < TARGETS["one_notice_s"])
    print(f"    slowest stages: {top_stages(removed)}", flush=True)

    village_id, phone = change_team_phone(root)
    rephoned = gongshi_build(root)
    check_village_shows(root, village_id, phone)
    line("a team's phone changed", timing(rephoned))
    print(f"    slowest stages: {top_stages(rephoned)}", flush=True)

    none = gongshi_build(root)
    line("no-change rebuild", timing(none), f"< {TARGETS['no_change_s']:g} s", none.seconds < TARGETS["no_change_s"])
    print(f"    slowest stages: {top_stages(none)}", flush=True)

    # What a CI runner does on every push: no previous output, the cache restored (docs/ci/).
    shutil.rmtree(root / "build")
    warm = gongshi_build(root)
    line("fresh output, kept cache (CI runner)", timing(warm))
    print(f"    slowest stages: {top_stages(warm)}", flush=True)

    runs = (cold, one, added, removed, rephoned, none)
    peak = max(max(r.peak_mb, r.tree_peak_mb) for r in runs)
    line("peak memory, largest process", " / ".join(f"{r.peak_mb:.0f}" for r in runs) + " MB",
         f"< {TARGETS['peak_mb']:g} MB", max(r.peak_mb for r in runs) < TARGETS["peak_mb"])
    line("peak memory, all processes (sampled)", " / ".join(f"{r.tree_peak_mb:.0f}" for r in runs) + " MB",
         f"< {TARGETS['peak_mb']:g} MB", peak < TARGETS["peak_mb"])
    print("    (cold / one-notice / one added / one removed / phone changed / no-change)", flush=True)
    line("cold build per notice", f"{cold.seconds / notices * 1000:8.2f} ms")

    result = SizeResult(notices, villages, cold, one, none, output_digest=tree_digest(root / "build"))
    if with_hugo:
        started = time.perf_counter()
        site = work / f"hugo-{notices}"
        hugo_site(root, site)
        print(f"  (Hugo content written in {time.perf_counter() - started:.1f} s, not timed below)", flush=True)
        result.hugo, result.hugo_pages = hugo_build(site)
        line("Hugo cold build, minimal theme", timing(result.hugo))
        print(f"    {result.hugo_pages:,} HTML pages (ours: {pages:,} pages of {files:,} files; see bench/hugo/README.md)", flush=True)
        ratio = cold.seconds / result.hugo.seconds
        line("ours / Hugo, cold (wall)", f"{ratio:8.1f}x", f"<= {TARGETS['hugo_ratio']:g}x", ratio <= TARGETS["hugo_ratio"])
        line("ours / Hugo, cold (CPU)", f"{cold.cpu / max(result.hugo.cpu, 1e-9):8.1f}x")
        line("ours / Hugo, fresh output with kept cache", f"{warm.seconds / result.hugo.seconds:8.1f}x")
    return result


def scaling(results: list[SizeResult]) -> None:
    """Time per notice at each size, and its ratio to the smallest size's.

    The verdict reads CPU time, which other work on a shared machine disturbs least; the
    wall-time ratio is printed beside it.
    """
    print("\n== cold build: time per notice as the county grows ==", flush=True)
    base = results[0]
    for result in results:
        wall, cpu = result.cold.seconds / result.notices, result.cold.cpu / result.notices
        figure = f"{wall * 1000:6.2f} ms ({cpu * 1000:.2f} ms CPU)"
        if result is base:
            line(f"{result.notices:,} notices, per notice", figure)
            continue
        wall_ratio, cpu_ratio = wall / (base.cold.seconds / base.notices), cpu / (base.cold.cpu / base.notices)
        line(f"{result.notices:,} notices, per notice", figure)
        line(f"  ratio to {base.notices:,} notices' (CPU; wall)", f"{cpu_ratio:5.2f}x; {wall_ratio:.2f}x",
             f"<= {TARGETS['per_notice_ratio']:g}x (linear)", cpu_ratio <= TARGETS["per_notice_ratio"] + NOISE)


def independence(work: Path, small: SizeResult, large: SizeResult) -> None:
    """A county's build reads and writes only its own root: a big neighbour changes nothing.

    The small county is built cold with the big one's folder moved out of the province
    folder and then with it back beside it, twice over (alone, beside, alone, beside), and
    the fastest of each pair is compared: on a shared virtual machine the same build's CPU
    time drifts by a third over a benchmark's run, which comparing with the figure taken
    minutes earlier would count as interference."""
    print(f"\n== per-county builds are independent (docs/scaling.md) ==", flush=True)
    root = work / f"county-{small.notices}"
    big = work / f"county-{large.notices}"
    away = work.parent / f".{work.name}-away-{big.name}"  # the same file system: a rename
    if away.is_dir() and not big.exists():  # left there by a run that was stopped
        os.replace(away, big)
    alone: list[Run] = []
    beside: list[Run] = []
    for _ in range(2):
        os.replace(big, away)
        try:
            alone.append(cold_build(root))
        finally:
            os.replace(away, big)
        beside.append(cold_build(root))
        if tree_digest(root / "build") != small.output_digest:
            raise BenchError("the small county's output changed when built again beside the large one")
    fastest_alone, fastest_beside = min(alone, key=lambda r: r.cpu), min(beside, key=lambda r: r.cpu)
    ratio, wall_ratio = fastest_beside.cpu / fastest_alone.cpu, fastest_beside.seconds / fastest_alone.seconds
    low, high = TARGETS["independence"]
    line(f"{small.notices:,}-notice county, cold, alone", timing(fastest_alone))
    print(f"    fastest of two: {', '.join(f'{r.seconds:.2f} s ({r.cpu:.1f} s CPU)' for r in alone)}", flush=True)
    line(f"the same, beside a {large.notices:,}-notice county", timing(fastest_beside))
    print(f"    fastest of two: {', '.join(f'{r.seconds:.2f} s ({r.cpu:.1f} s CPU)' for r in beside)}", flush=True)
    line("ratio (CPU; wall)", f"{ratio:5.2f}; {wall_ratio:.2f}", f"{low:g}–{high:g} (unaffected)", low <= ratio <= high)
    line("its output, byte for byte", "identical", "identical", True)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        notices, _, villages = part.partition(":")
        sizes.append((int(notices), int(villages or max(1, int(notices) // 10))))
    return sizes


def new_file_cost(folder: Path, files: int = 2000) -> float:
    """Microseconds of CPU to make one new 20 kB file in a new folder under `folder`: the
    file system's figure, not ours (a cold build makes 40,000 files at 10,000 notices, Hugo
    12,000). It can differ by folder on one disk: on one machine's ext4, 9 µs in a new
    folder under / and 100-240 µs under /tmp or /var/tmp once many files had been made and
    removed there. Printed so that two runs can be told apart by it."""
    where = Path(tempfile.mkdtemp(prefix="new-file-cost-", dir=folder))
    data = b"x" * 20_000
    try:
        start = time.process_time()
        for n in range(files):
            with open(where / f"{n}.html", "wb") as out:
                out.write(data)
        return (time.process_time() - start) / files * 1e6
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="NOTICES:VILLAGES,... (default: 1000:100,10000:1000)")
    parser.add_argument("--large", action="store_true", help=f"add {LARGE_SIZE[0]:,} notices over {LARGE_SIZE[1]:,} villages (a long run)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (corpora already there are reused)")
    parser.add_argument("--no-hugo", action="store_true", help="skip the comparison with Hugo")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes + ([LARGE_SIZE] if args.large else [])))

    with_hugo = not args.no_hugo
    if with_hugo:
        version = hugo_version()
        if version is None:
            print("hugo is not installed: apt-get install -y hugo (or run with --no-hugo)", file=sys.stderr)
            return 1
        print(f"Hugo: {version}")
    print(f"gongshi build as of {TODAY}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    if not become_subreaper():
        print("(not Linux: the CPU time a build's processes spend after it returned is not counted)", flush=True)

    work = args.keep or Path(tempfile.mkdtemp(prefix="gongshi-bench-build-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"a new file costs {new_file_cost(work):.0f} µs of CPU in {work} (see new_file_cost)", flush=True)
    try:
        results = [bench_size(work, notices, villages, with_hugo) for notices, villages in sizes]
        if len(results) > 1:
            scaling(results)
            independence(work, results[0], results[-1])
    except BenchError as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (2 or more on a 2-CPU machine means the figures above were shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
