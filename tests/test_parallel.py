"""Rendering in several processes gives the same bytes as one process."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from conftest import REPO, tree_bytes
from generator import parallel
from generator.build import build

sys.path.insert(0, str(REPO / "bench"))
from corpus import generate  # noqa: E402


@pytest.fixture
def ran_in_workers(monkeypatch) -> list[str]:
    """The start method of every worker pool started, in order."""
    started: list[str] = []
    real_context = parallel.multiprocessing.get_context
    monkeypatch.setattr(parallel.multiprocessing, "get_context", lambda method: (started.append(method), real_context(method))[1])
    return started


def test_parallel_build_equals_single_process_build(tmp_path, monkeypatch, ran_in_workers):
    root = generate(tmp_path / "site", notices=40, villages=5, seed=11)
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)  # make the small site take the parallel path
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    single = tree_bytes(build(root, tmp_path / "one", dt.date(2026, 11, 22)).out_dir)
    assert ran_in_workers == []
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    several = tree_bytes(build(root, tmp_path / "two", dt.date(2026, 11, 22)).out_dir)
    assert ran_in_workers and set(ran_in_workers) == {"fork"}
    assert several == single


def test_an_error_in_a_worker_fails_the_build(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "2")

    def broken():
        raise ValueError("template error in a worker")

    with pytest.raises(ValueError, match="template error in a worker"):
        parallel.run_parallel([lambda: None, broken, lambda: None])


def test_this_process_does_a_share_and_its_error_is_raised(monkeypatch):
    import os

    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "3")
    here = os.getpid()
    pids = parallel.run_parallel([os.getpid for _ in range(7)])
    assert pids[0::3] == [here] * 3  # the first share, in order
    # The other shares ran in the pool's processes (which of them takes which share is the
    # pool's choice: on a busy machine one may take both, so the count of processes is not asserted).
    assert here not in pids[1::3] + pids[2::3]

    def broken():
        raise ValueError("template error here")

    with pytest.raises(ValueError, match="template error here"):
        parallel.run_parallel([broken, lambda: None, lambda: None])


def test_run_apart_runs_elsewhere_and_keeps_the_slug_dictionaries_out_of_the_build(tmp_path, monkeypatch):
    import os
    import subprocess

    monkeypatch.setenv("GONGSHI_JOBS", "2")
    assert parallel.run_apart(os.getpid) != os.getpid()
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    assert parallel.run_apart(os.getpid) == os.getpid()
    # A cold build makes the townships' slugs (pypinyin) in a process of its own.
    root = generate(tmp_path / "site", notices=10, villages=3, seed=5)
    script = ("import sys, datetime; from generator.build import build; "
              f"build({str(root)!r}, {str(tmp_path / 'out')!r}, datetime.date(2026, 11, 22)); print('pypinyin' in sys.modules)")
    env = dict(os.environ, GONGSHI_JOBS="2", GONGSHI_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"
    assert sorted(p.name for p in (tmp_path / "out" / "townships").iterdir())  # the slugs were made


def test_a_job_started_apart_answers_later_and_one_not_wanted_is_stopped(tmp_path, monkeypatch):
    import os
    import time

    monkeypatch.setenv("GONGSHI_JOBS", "2")
    flag = tmp_path / "ran"

    def job():
        flag.write_text(str(os.getpid()), encoding="utf-8")
        return [os.getpid(), "值"]

    pending = parallel.start_apart(job)
    pid, text = pending.result()
    assert pid != os.getpid() and text == "值" and flag.read_text(encoding="utf-8") == str(pid)

    def broken():
        raise KeyError("no such township")

    with pytest.raises(KeyError, match="no such township"):
        parallel.start_apart(broken).result()
    # A job whose answer is not wanted after all: its process is stopped and collected.
    endless = parallel.start_apart(lambda: time.sleep(120))
    child = endless._pid
    started = time.monotonic()
    endless.close()
    assert time.monotonic() - started < 60
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # gone, not a zombie: collected
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    assert parallel.start_apart(os.getpid).result() == os.getpid()


def test_content_with_problems_stops_the_slug_process_and_good_content_caches_the_slugs(tmp_path, monkeypatch):
    from generator import content, inputs
    from generator.errors import ContentError

    monkeypatch.setenv("GONGSHI_JOBS", "2")
    started, closed = [], []
    real_init, real_close = inputs.Apart.__init__, inputs.Apart.close
    monkeypatch.setattr(inputs.Apart, "__init__", lambda self, *a, **k: (started.append(1), real_init(self, *a, **k))[1])
    monkeypatch.setattr(inputs.Apart, "close", lambda self: (closed.append(self._pid), real_close(self))[1])
    root = generate(tmp_path / "site", notices=4, villages=2, seed=3)
    broken = sorted((root / "content" / "notices").rglob("*.yaml"))[0]
    good = broken.read_text(encoding="utf-8")
    broken.write_text(good.replace("title:", "title: [", 1), encoding="utf-8")
    with pytest.raises(ContentError):
        content.load_content(root, tmp_path / "cache")
    assert started and closed and closed[-1] is not None  # stopped while it ran or had answered
    broken.write_text(good, encoding="utf-8")
    started.clear()
    loaded = content.load_content(root, tmp_path / "cache")
    assert started  # the slugs were made apart
    started.clear()
    again = content.load_content(root, tmp_path / "cache")
    assert not started and again.slug_bases == loaded.slug_bases  # and kept in the parse cache
    assert set(loaded.slug_bases) == {v.township for v in loaded.villages.values()}


def test_the_leak_gate_finds_leaks_when_it_scans_in_slices(tmp_path, monkeypatch):
    from generator import leakgate
    from generator.content import load_content
    from generator.errors import BuildError

    root = generate(tmp_path / "site", notices=5, villages=1, seed=2)
    site = tmp_path / "built"
    for n in range(20):
        (site / f"p{n}.html").parent.mkdir(parents=True, exist_ok=True)
        (site / f"p{n}.html").write_text("<p>公示</p>", encoding="utf-8")
    (site / "p13.html").write_text("<p>身份证 11010519491231002X</p>", encoding="utf-8")
    (site / "p6.html").write_text("<p>电话 13912345678</p>", encoding="utf-8")
    monkeypatch.setattr(leakgate, "SPLIT_FILES", 1)
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "3")
    with pytest.raises(BuildError) as err:
        leakgate.gate(load_content(root), site)
    lines = str(err.value).splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["p13.html", "p6.html"]


def test_the_gate_scans_a_batch_of_split_files_or_more_on_the_cores_it_is_given(tmp_path, monkeypatch, ran_in_workers):
    """`Rules.leaks` scans a batch of `SPLIT_FILES` files or more in slices, one per process
    it is given (the gate's last step after a notice is added: the search index's renumbered
    files, while the other cores idle), a smaller batch or a single process here, finding
    the same leaks and numbers either way."""
    from generator import leakgate
    from generator.content import load_content

    root = generate(tmp_path / "site", notices=5, villages=1, seed=2)
    site = tmp_path / "built"
    site.mkdir()
    for n in range(12):
        (site / f"p{n:02}.html").write_text(f"<p>公示 {n}，电话 1391234{5670 + n}</p>", encoding="utf-8")
    rules = leakgate.Rules(load_content(root))
    monkeypatch.setattr(leakgate, "SPLIT_FILES", 10)
    files = sorted(p.name for p in site.iterdir())
    runs = []
    for batch, jobs in ((files[:9], 2), (files[:10], 2), (files, 2), (files, 1)):
        met: dict = {}
        found = rules.leaks(site, batch, met=met, jobs=jobs)
        runs.append((len(ran_in_workers), [leak.path for leak in found], met))
    assert [pools for pools, _, _ in runs] == [0, 1, 2, 2]  # a pool for each batch of ten or more on two cores
    assert runs[0][1] == files[:9] and runs[1][1] == files[:10]
    assert runs[2][1:] == runs[3][1:] and runs[2][1] == files and len(runs[2][2]) == 12


def test_search_index_made_in_shares_equals_one_process(tmp_path, monkeypatch, ran_in_workers):
    """Analysis and encoding of the search index in several processes: the same files."""
    from generator import search_export
    from generator.content import load_content
    from generator.i18n import Translator
    from generator.search import documents, kind_labels
    from generator.site import Site

    # Enough documents for page files (at least PAGE_FILES_FROM_GROUPS record groups).
    root = generate(tmp_path / "site", notices=700, villages=20, seed=5)
    content = load_content(root)
    site = Site.from_content(content, dt.date(2026, 11, 22))
    t = Translator(content.config.language)
    docs = documents(site, t)
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    started = len(ran_in_workers)  # (the content was parsed in workers)
    single, _ = search_export.export(docs, kind_labels(t), site)
    assert any(path.startswith("search/p/") for path in single) and any(path.startswith("search/b/") for path in single)
    monkeypatch.setattr(search_export, "PARALLEL_DOCS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "3")
    several, _ = search_export.export(docs, kind_labels(t), site)
    assert len(ran_in_workers) - started == 2  # analysis, then encoding
    assert several == single


def test_content_parsed_on_several_cores_is_read_as_in_one(tmp_path, monkeypatch, ran_in_workers):
    """A cold build parses the files the cache lacks on every core: the same records, the
    same problems and the same masked numbers, in the same order, as one process."""
    from generator.content import load_content
    from generator.errors import ContentError

    root = generate(tmp_path / "site", notices=60, villages=5, seed=8)
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("on_unmasked_pii: fail", "on_unmasked_pii: mask"), encoding="utf-8")
    files = sorted((root / "content" / "notices").rglob("*.yaml"))
    for n in (5, 40):  # a mobile number in the text: masked, and reported
        files[n].write_text(files[n].read_text(encoding="utf-8").replace("body: |\n", "body: |\n  联系电话 13912345678。\n", 1), encoding="utf-8")
    for n in (7, 33):  # problems
        files[n].write_text(files[n].read_text(encoding="utf-8") + "colour: red\n", encoding="utf-8")
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)

    def read(jobs: str):
        monkeypatch.setenv("GONGSHI_JOBS", jobs)
        with pytest.raises(ContentError) as err:
            load_content(root)  # no cache: every file is parsed
        return [str(p) for p in err.value.problems]

    assert read("1") == read("2") and len(read("1")) == 2
    assert set(ran_in_workers) == {"fork"}
    for n in (7, 33):
        files[n].write_text(files[n].read_text(encoding="utf-8").replace("colour: red\n", ""), encoding="utf-8")
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    one = load_content(root)
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    several = load_content(root)
    assert several.notices == one.notices and several.villages == one.villages
    assert [str(m) for m in several.masked] == [str(m) for m in one.masked] and len(one.masked) == 2


def test_a_job_of_this_process_s_share_may_run_jobs_in_parallel_itself(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "2")

    def nested(n: int) -> int:
        return sum(parallel.run_parallel([lambda i=i: i * n for i in range(3)]))

    # Jobs 0 and 2 run here (the first share), and each starts workers of its own; the
    # others run in a worker (where processes may not start processes).
    jobs = [lambda: nested(1), lambda: 10, lambda: nested(2), lambda: 20]
    assert parallel.run_parallel(jobs) == [3, 10, 6, 20]


def test_a_poster_is_made_in_its_pages_job_and_reuses_its_markdown(tmp_path, monkeypatch):
    """Files a feature makes from one page (`Plugin.page_files`: the notice's poster) are made
    in the page's job, just after it, in the same process: the poster finds the page's
    rendered Markdown body in the cache, so each body is parsed once, not twice. Checked in
    worker processes, and against the files' bytes of a build without grouping."""
    import os
    from collections import Counter

    from generator import markdown, output

    root = generate(tmp_path / "site", notices=40, villages=5, seed=5)
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    log = tmp_path / "writes.log"  # (workers are other processes: they append to a file)
    real_write, real_parse = output._write, markdown._MD.parse

    def write(target, data):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"write {os.getpid()} {Path(target).parent.name}/{Path(target).name}\n")
        real_write(target, data)

    def parse(text, *args, **kwargs):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"parse {os.getpid()} {text!r}\n")
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(output, "_write", write)
    monkeypatch.setattr(markdown._MD, "parse", parse)
    markdown.render_markdown.cache_clear()
    built = build(root, tmp_path / "out", dt.date(2026, 11, 22)).out_dir
    lines = log.read_text(encoding="utf-8").splitlines()
    writer = {line.split()[2]: line.split()[1] for line in lines if line.startswith("write ")}
    posters = sorted(path for path in writer if path.startswith("posters/"))
    assert len(posters) >= 30
    assert {writer[poster] for poster in posters} != {str(os.getpid())}, "no poster was made in a worker"
    for poster in posters:
        assert writer[poster] == writer[f"notices/{poster.split('/')[1]}"], f"{poster} was made apart from its page"
    parsed = Counter(line.split(" ", 2)[2] for line in lines if line.startswith("parse "))
    assert len(parsed) >= len(posters)  # the notices' bodies (and the villages' summaries)
    assert parsed.most_common(1)[0][1] == 1, "a text was parsed as Markdown more than once"
    monkeypatch.setattr(output, "_write", real_write)
    monkeypatch.setattr(markdown._MD, "parse", real_parse)
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    assert tree_bytes(built) == tree_bytes(build(root, tmp_path / "one", dt.date(2026, 11, 22)).out_dir)
