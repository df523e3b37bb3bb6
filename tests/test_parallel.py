"""Rendering in several processes gives the same bytes as one process."""
from __future__ import annotations

import datetime as dt
import sys

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
    monkeypatch.setattr(leakgate, "PARALLEL_FILES", 1)
    monkeypatch.setattr(parallel, "MIN_JOBS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "3")
    with pytest.raises(BuildError) as err:
        leakgate.gate(load_content(root), site)
    lines = str(err.value).splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == ["p13.html", "p6.html"]


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
    single, _ = search_export.export(docs, kind_labels(t), site)
    assert any(path.startswith("search/p/") for path in single) and any(path.startswith("search/b/") for path in single)
    monkeypatch.setattr(search_export, "PARALLEL_DOCS", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "3")
    several, _ = search_export.export(docs, kind_labels(t), site)
    assert len(ran_in_workers) == 2  # analysis, then encoding
    assert several == single
