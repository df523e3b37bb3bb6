"""The browser's search index brought up to date after edits is the index made afresh.

After an edit a build takes the previous export's state from the build cache and replaces
only the edited documents (search_export.export_changes). These tests edit documents at
random, many steps in a row, each step's state passed through pickle as the cache keeps it,
and compare every file with a whole export of the same documents.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import pickle
import random
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, make_site, tree_bytes
from generator import search_export
from generator.content import load_content
from generator.i18n import Translator
from generator.search import documents, kind_labels
from generator.site import Site

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from corpus import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    root = generate(tmp_path_factory.mktemp("county") / "site", notices=240, villages=12, seed=11)
    content = load_content(root)
    site = Site.from_content(content, TODAY)
    t = Translator(content.config.language)
    return documents(site, t), kind_labels(t), site


@pytest.fixture
def small_thresholds(monkeypatch):
    """Every kind of index file on a small county: big terms, page files, several groups."""
    monkeypatch.setattr(search_export, "BIG_BYTES", 400)
    monkeypatch.setattr(search_export, "GROUP_SIZE", 4)
    monkeypatch.setattr(search_export, "PAGE_FILES_FROM_GROUPS", 10)
    monkeypatch.setattr(search_export, "PAGE_FILE_MIN_DOCS", 5)
    monkeypatch.setattr(search_export, "PAGE_SIZE", 4)
    monkeypatch.setattr(search_export, "SHARD_BYTES", 1500)
    monkeypatch.setattr(search_export, "BLOCK_DOCS", 8)  # a big term's postings in many blocks


def edit(rng: random.Random, doc, donors):
    """One clerk's edit, from a typo to a rewrite: titles and texts taken from other
    documents make common terms rarer or commoner, change first pages and field totals."""
    donor = rng.choice(donors)
    choice = rng.randrange(8)
    if choice >= 6:  # a typo fixed: one character for another, the field's length the same
        name = "body" if choice == 6 and doc.body else "title"
        text = getattr(doc, name)
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice("村组户元公示") + text[at + 1:]
        return dataclasses.replace(doc, **{name: text, **({"snippet": text} if name == "body" else {})})
    if choice == 0:
        return dataclasses.replace(doc, title=doc.title + rng.choice(["（更正）", "（第二次）", "公示", " LED 2026"]))
    if choice == 1:
        cut = rng.randrange(len(doc.body) + 1)
        return dataclasses.replace(doc, body=doc.body[:cut], snippet=doc.snippet[:cut])
    if choice == 2:
        return dataclasses.replace(doc, body=doc.body + "\n" + donor.body, snippet=doc.snippet + donor.title)
    if choice == 3:
        return dataclasses.replace(doc, title=donor.title, tags=donor.tags)
    if choice == 4:
        return dataclasses.replace(doc, body="", title=doc.title[:2])
    return dataclasses.replace(doc, body=donor.body * 3, kind=donor.kind, year=donor.year, date=donor.date)


def checksums(files: dict[str, str]) -> dict[str, str]:
    return {path: hashlib.sha256(text.encode("utf-8")).hexdigest() for path, text in files.items()}


def exported_and_kept(docs, kinds, site) -> tuple[dict[str, str], object]:
    """A whole export's files, and its state as the build cache keeps it (through pickle,
    the postings packed), with the files' checksums."""
    first = search_export.export_all(docs, kinds, site, "v")
    files = first.files()
    first.state.sums = checksums(files)
    return files, pickle.loads(pickle.dumps(first.state))


def tighten(monkeypatch) -> None:
    """Pages of two and summaries keeping one page a group: groups that were cut lose members."""
    monkeypatch.setattr(search_export, "PAGE_SIZE", 2)
    monkeypatch.setattr(search_export, "KEPT", 1)


def same_files(exported, whole: dict[str, str], step: int) -> dict[str, str]:
    """Checks that what `exported` makes and what it leaves as the last build wrote it are
    the files of a whole export (`whole`); returns the files it made."""
    assert exported.paths() == sorted(whole)
    made = {path: exported.text(path) for path in exported.paths() if path not in exported.unchanged}
    for path, text in whole.items():
        if path in made:
            assert made[path] == text, (step, path)
        else:  # left as the previous build wrote it: its bytes must be right
            assert exported.unchanged[path] == hashlib.sha256(text.encode("utf-8")).hexdigest(), (step, path)
    return made


@pytest.mark.parametrize("seed, tight", [(0, False), (1, False), (2, True), (3, True)])
def test_random_edits_give_the_files_of_a_whole_export(county, small_thresholds, monkeypatch, seed, tight):
    """`tight`: pages of two and summaries keeping one page a group, with edits mostly among
    the first documents (which the summaries keep): groups that were cut lose members."""
    docs, kinds, site = county
    rng = random.Random(seed)
    if tight:
        tighten(monkeypatch)
    files, state = exported_and_kept(docs, kinds, site)
    kinds_of_files = {path.split("/")[1] for path in files if "/" in path[7:]}
    assert kinds_of_files == ({"b", "r", "t"} if tight else {"b", "p", "r", "t"})  # a page of two spans two groups at most
    current = list(docs)
    fewer = 0
    for step in range(8):
        chosen = rng.sample(range(30 if tight and rng.random() < 0.7 else len(current)), rng.choice([1, 1, 2, 5]))
        for n in chosen:
            current[n] = edit(rng, current[n], docs) if rng.random() < 0.85 else docs[n]  # or undone
        published = files  # what the last build published: big terms' unchanged blocks come from there
        exported = search_export.export_changes(current, kinds, site, state, read=published.get)
        assert exported is not None
        whole = search_export.export_all(current, kinds, site, "v").files()
        made = same_files(exported, whole, step)
        fewer += len(made) < len(whole) // 2
        exported.state.sums = checksums(whole)
        state = pickle.loads(pickle.dumps(exported.state))
        files = whole
    assert fewer  # an edit does not make the whole index again


def test_big_terms_unchanged_blocks_come_from_the_published_files_when_their_checksums_are_right(county, small_thresholds, monkeypatch):
    """After an edit a big term's blocks that did not change are copied from the file the last
    build published, but only from a file whose checksum is the one the state recorded: a file
    changed since (by hand, or by a build into another folder) is not trusted."""
    docs, kinds, site = county
    first = search_export.export_all(docs, kinds, site, "v")
    files = first.files()
    first.state.sums = checksums(files)
    saved = pickle.dumps(first.state)
    current = list(docs)
    current[7] = dataclasses.replace(docs[7], title=docs[7].title + "（更正）")
    whole = search_export.export_all(current, kinds, site, "v").files()
    used: list[int] = []
    real = search_export.published_terms
    monkeypatch.setattr(search_export, "published_terms", lambda path, text: (used.append(1), real(path, text))[1])
    tampered = {path: text.replace('":"', '":"A', 1) for path, text in files.items()}  # still JSON, other postings
    for read, trusted in ((files.get, True), (tampered.get, False), ({}.get, False)):
        used.clear()
        exported = search_export.export_changes(current, kinds, site, pickle.loads(saved), read=read)
        for path in exported.paths():
            if path not in exported.unchanged:
                assert exported.text(path) == whole[path], path
        assert bool(used) == trusted


def test_one_title_edit_remakes_few_files(county, small_thresholds):
    docs, kinds, site = county
    first = search_export.export_all(docs, kinds, site, "v")
    files = first.files()
    first.state.sums = checksums(files)
    edited = list(docs)
    edited[100] = dataclasses.replace(docs[100], title=docs[100].title + "（更正）")
    exported = search_export.export_changes(edited, kinds, site, pickle.loads(pickle.dumps(first.state)))
    made = [path for path in exported.paths() if path not in exported.unchanged]
    assert f"search/r/{100 // search_export.GROUP_SIZE}.js" in made and "search/meta.js" in made
    assert len(made) < len(files) / 3, len(made)


def test_a_length_change_ranks_again_only_the_first_pages_it_could_change(county, small_thresholds, monkeypatch):
    """A title made longer moves every title score a little; a first page whose groups are
    further apart than that is not ranked again, and the files are still a whole export's."""
    docs, kinds, site = county
    first = search_export.export_all(docs, kinds, site, "v")
    first.state.sums = checksums(first.files())
    edited = list(docs)
    edited[7] = dataclasses.replace(docs[7], title=docs[7].title + "（更正）")
    title = search_export.FIELDS.index("title")
    ranked = []
    real = search_export.IndexBuilder.ranked
    monkeypatch.setattr(search_export.IndexBuilder, "ranked", lambda self, entry, summary: (ranked.append(1), real(self, entry, summary))[1])
    exported = search_export.export_changes(edited, kinds, site, pickle.loads(pickle.dumps(first.state)))
    pages = [term for term, info in first.terms.items() if info.first is not None and title in info.summary.fields]
    assert 0 < len(ranked) < len(pages) / 2, (len(ranked), len(pages))
    whole = search_export.export_all(edited, kinds, site, "v").files()
    for path, text in whole.items():
        if path in exported.unchanged:
            assert exported.unchanged[path] == hashlib.sha256(text.encode("utf-8")).hexdigest(), path
        else:
            assert exported.text(path) == text, path


def test_score_shift_bounds_every_score_change():
    """The bound `export_changes` trusts: no document's score moves more, whatever its
    frequency, length and the term's rarity, when only a field's total length changes."""
    from whoosh.util.numeric import byte_to_length

    rng = random.Random(5)
    for _ in range(20000):
        n = rng.randint(2, 50000)
        old = [rng.randint(1, 40 * n) for _ in search_export.ALL_FIELDS]
        new = [max(1, total + rng.randint(-200, 200)) if rng.random() < 0.5 else total for total in old]
        shift = search_export.score_shift(old, new)
        f = rng.randrange(len(old))
        tf, df = rng.randint(1, 60), rng.randint(1, n)
        fl = byte_to_length(rng.randrange(1, 256))
        term_idf, boost = search_export.idf(n, df), search_export.ALL_BOOSTS[f]
        before = search_export.bm25(term_idf, tf, fl, old[f] / n) * boost
        after = search_export.bm25(term_idf, tf, fl, new[f] / n) * boost
        assert abs(after - before) <= term_idf * boost * shift[f] * (1 + 1e-9), (n, old[f], new[f], tf, df, fl)


def test_score_bound_holds_when_the_document_count_moves_too():
    """The bound `export_moved` trusts: a document added or removed moves every idf and every
    field's average length; no score of a term whose postings stayed moves more."""
    from whoosh.util.numeric import byte_to_length

    rng = random.Random(6)
    for _ in range(20000):
        n = rng.randint(2, 50000)
        after_n = max(2, n + rng.randint(-3, 3))
        old = [rng.randint(1, 40 * n) for _ in search_export.ALL_FIELDS]
        new = [max(1, total + rng.randint(-200, 200)) if rng.random() < 0.7 else total for total in old]
        shift = search_export.score_shift([total / n for total in old], [total / after_n for total in new])
        f = rng.randrange(len(old))
        tf, df = rng.randint(1, 60), rng.randint(1, min(n, after_n))
        fl = byte_to_length(rng.randrange(1, 256))
        boost = search_export.ALL_BOOSTS[f]
        before = search_export.bm25(search_export.idf(n, df), tf, fl, old[f] / n) * boost
        weight = search_export.idf(after_n, df) * boost
        after = search_export.bm25(search_export.idf(after_n, df), tf, fl, new[f] / after_n) * boost
        bound = search_export.score_bound((weight,), (f,), shift, search_export.count_shift(n, after_n))
        assert abs(after - before) <= bound * (1 + 1e-9), (n, after_n, old[f], new[f], tf, df, fl)


def test_a_page_is_ranked_again_whenever_its_order_could_change():
    """The rule `export_changes` skips re-ranking by: when a page's margin is more than twice
    what any score can move, the page ranked again is the same. Random groups of close scores
    and random changes of field totals; some pages do change, so the check can tell."""
    from array import array

    from whoosh.util.numeric import length_to_byte

    rng = random.Random(9)
    changed = 0
    for _ in range(4000):
        n = rng.randint(30, 300)
        fields = rng.choice([(0,), (2,), (3,), (0, 1), (0, 2), (0, 1, 2)])
        index = search_export.IndexBuilder.__new__(search_export.IndexBuilder)
        index.docs = [None] * n
        index.totals = [rng.randint(3 * n, 30 * n) for _ in search_export.ALL_FIELDS]
        entry = [None] * len(search_export.ALL_FIELDS)
        for f in fields:
            entry[f] = search_export.Postings(False)
            entry[f].docs = array("I", range(rng.randint(1, n)))
        groups, free = {}, list(range(n))
        rng.shuffle(free)
        for _ in range(rng.randint(2, 12)):
            key = 0
            for i, _f in enumerate(fields):
                if i == 0 or rng.random() < 0.7:
                    key |= (1 + (rng.randint(1, 4) << 8 | length_to_byte(rng.randint(1, 60)))) << (search_export.KEY_BITS * i)
            members = sorted(free.pop() for _ in range(min(len(free), rng.randint(1, 6))))
            if key not in groups and members:
                groups[key] = members
        summary = search_export.Summary.of(fields, groups)
        first, margin, weights = index.ranked(entry, summary)
        new_totals = list(index.totals)
        f = rng.choice(fields)
        new_totals[f] = max(1, new_totals[f] + rng.randint(-n, n))
        if rng.random() < 0.5:  # only field lengths changed (an edit)
            shift = search_export.score_shift(index.totals, new_totals)
            moved = search_export.score_bound(weights, fields, shift)
        else:  # and the document count (documents added or removed: export_moved)
            after_n = n + rng.randint(-3, 6)
            shift = search_export.score_shift([t / n for t in index.totals], [t / after_n for t in new_totals])
            index.docs = [None] * after_n
            weights = tuple(search_export.idf(after_n, len(entry[g].docs)) * search_export.ALL_BOOSTS[g] for g in fields)
            moved = search_export.score_bound(weights, fields, shift, search_export.count_shift(n, after_n))
        index.totals = new_totals
        again = index.ranked(entry, summary)[0]
        if margin > 2 * moved * (1 + 1e-6) + 1e-9:
            assert again == first
        changed += again != first
    assert changed


def test_a_typo_fixed_changes_only_the_terms_around_it(county):
    """Same field length: the body's other terms keep their postings (and their files)."""
    docs, _, _ = county
    doc = max(docs, key=lambda d: len(d.body))
    at = len(doc.body) // 2
    fixed = dataclasses.replace(doc, body=doc.body[:at] + ("村" if doc.body[at] != "村" else "组") + doc.body[at + 1:])
    index = search_export.IndexBuilder([doc])
    changed = index.replace(0, doc, fixed) - set(search_export.facet_terms(doc))
    assert 0 < len(changed) <= 6, changed  # the old and new character and the pairs around them
    fresh = search_export.IndexBuilder([fixed])
    for term in set(fresh.terms) | set(search_export.IndexBuilder([doc]).terms):
        mine, theirs = index.entry(term), fresh.entry(term)
        assert [(p.docs, p.tfs, p.positions) if p else None for p in mine] == \
            [(p.docs, p.tfs, p.positions) if p else None for p in theirs], term
    assert index.totals == fresh.totals and index.codes == fresh.codes


def test_added_or_removed_documents_mean_a_whole_export(county):
    docs, kinds, site = county
    state = search_export.export_all(docs, kinds, site, "v").state
    assert search_export.export_changes(docs[:-1], kinds, site, state) is None
    assert search_export.export_changes(docs[1:] + docs[:1], kinds, site, state) is None


def _postings(index) -> tuple:
    """Everything an index holds, as plain values (packed fields unpacked)."""
    fields = [{term: (list(field[term].docs), list(field[term].tfs),
                      None if field[term].positions is None else list(field[term].positions)) for term in sorted(field)}
              for field in index.fields]
    return fields, list(index.totals), [bytes(codes) for codes in index.codes], \
        {facet: list(numbers) for facet, numbers in sorted(index.facets.items())}, [doc.key for doc in index.docs]


@pytest.mark.parametrize("seed, tight", [(0, False), (1, False), (2, False), (3, True), (4, True), (5, False)])
def test_documents_added_or_removed_renumber_the_index_into_the_one_made_afresh(county, small_thresholds, monkeypatch,
                                                                                 seed, tight):
    """A notice added, removed or renamed (with edits beside it): the previous build's postings with
    every number moved are those of an index made afresh, and so are the files made from
    them (big terms' texts from the files the last build published, first pages from the
    summaries), step after step, the state passed through pickle as the cache keeps it."""
    docs, kinds, site = county
    rng = random.Random(seed)
    if tight:
        tighten(monkeypatch)
    files, state = exported_and_kept(docs, kinds, site)
    current = list(docs)
    shifted = 0
    for step in range(6):
        new = list(current)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            if rng.random() < 0.2:  # a notice renamed (or replaced by another): removed, and added in its place
                at = rng.randrange(len(new))
                donor = new[at] if rng.random() < 0.5 else rng.choice(docs)
                new[at] = dataclasses.replace(donor, key=f"notice:renamed-{seed}-{step}-{rng.randrange(10 ** 6)}")
            elif rng.random() < 0.4 and len(new) > 2:
                del new[rng.randrange(len(new))]
            else:
                donor = rng.choice(docs)
                added = dataclasses.replace(edit(rng, donor, docs), key=f"notice:added-{seed}-{step}-{rng.randrange(10 ** 6)}")
                new.insert(rng.randrange(len(new) + 1), added)
        for n in rng.sample(range(len(new)), rng.choice([0, 0, 1, 2])):
            new[n] = edit(rng, new[n], docs)
        index = pickle.loads(pickle.dumps(state)).index
        assert index.renumber(new)
        assert _postings(index) == _postings(search_export.IndexBuilder(list(new)))
        calls = []
        shift_big = search_export.shift_big
        monkeypatch.setattr(search_export, "shift_big", lambda *a: calls.append(shift_big(*a)) or calls[-1])
        exported = search_export.export_moved(new, kinds, site, state, read=files.get)
        monkeypatch.setattr(search_export, "shift_big", shift_big)
        assert exported is not None
        whole = search_export.export_all(new, kinds, site, "v").files()
        same_files(exported, whole, step)
        shifted += sum(made is not None for made in calls)
        files = whole
        exported.state.sums = checksums(whole)
        state = pickle.loads(pickle.dumps(exported.state))
        assert _postings(state.index) == _postings(search_export.IndexBuilder(list(new)))
        current = new
    assert shifted > 10  # big terms were made from their published texts, not encoded whole
    # A document moved among the others: no renumbering, the index untouched.
    moved = current[1:] + current[:1]
    before = _postings(state.index)
    assert not state.index.renumber(moved)
    assert _postings(state.index) == before
    assert search_export.export_moved(moved, kinds, site, state) is None


def test_many_documents_added_renumber_the_postings_and_make_every_term_again(county, small_thresholds, monkeypatch):
    """More documents than MOVED_DOCUMENTS came or went (a batch imported): every term is made
    again from the renumbered postings, not brought up to date one document at a time."""
    docs, kinds, site = county
    monkeypatch.setattr(search_export, "MOVED_DOCUMENTS", 2)
    files, state = exported_and_kept(docs, kinds, site)
    new = list(docs)
    for n in (3, 50, 100):
        new.insert(n, dataclasses.replace(docs[n + 7], key=f"notice:batch-{n}"))
    del new[10]
    monkeypatch.setattr(search_export, "shift_big", lambda *a: pytest.fail("brought up to date term by term"))
    exported = search_export.export_moved(new, kinds, site, state, read=files.get)
    assert exported is not None and exported.files() == search_export.export_all(new, kinds, site, "v").files()


def test_summary_ranks_like_whoosh_scores_for_every_term(county, small_thresholds):
    """The first page from a summary equals a plain sort of every document's score."""
    docs, _, _ = county
    index = search_export.IndexBuilder(list(docs))
    n = len(docs)
    for term in index.terms[::7]:
        entry = index.entry(term)
        fields = index.ranked_fields(entry)
        totals: dict[int, float] = {}
        for f in reversed(fields):  # body, then tags, then title: whoosh's order of sums
            postings = entry[f]
            term_idf, avgfl = search_export.idf(n, len(postings.docs)), index.totals[f] / n
            for doc, tf in zip(postings.docs, postings.tfs):
                value = search_export.bm25(term_idf, tf, search_export.byte_to_length(index.codes[f][doc]), avgfl)
                value *= search_export.ALL_BOOSTS[f]
                totals[doc] = value + totals[doc] if doc in totals else value
        expected = sorted(totals, key=lambda doc: (-totals[doc], doc))[:search_export.PAGE_SIZE]
        assert list(index.first_page(entry)) == expected, term


def test_a_build_after_an_edit_updates_the_index_instead_of_making_it_again(tmp_path, monkeypatch):
    from generator.build import build

    root = make_site(tmp_path)
    build(root, tmp_path / "out", TODAY)
    made = []
    whole = search_export.export_all
    monkeypatch.setattr(search_export, "export_all", lambda *args: made.append(1) or whole(*args))
    notice = root / "content" / "notices" / "xiaohe" / "road.yaml"
    notice.write_text(notice.read_text(encoding="utf-8").replace("title: ", "title: 更正", 1), encoding="utf-8")
    build(root, tmp_path / "out", TODAY)
    assert made == []
    records = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out" / "search" / "r").glob("*.js"))
    assert "更正" in records
    # The same content exported whole, without the kept state: the same files.
    (root / ".gongshi-cache" / "search" / "export.pickle").unlink()
    build(root, tmp_path / "fresh", TODAY)
    assert made == [1]
    assert tree_bytes(tmp_path / "out" / "search") == tree_bytes(tmp_path / "fresh" / "search")


def test_documents_from_the_previous_build_are_given_back_only_when_unchanged(tmp_path):
    root = make_site(tmp_path)
    content = load_content(root)
    t = Translator(content.config.language)
    sources: dict = {}
    before = documents(Site.from_content(content, TODAY), t, None, sources)
    known = {doc.key: (sources[doc.key], doc) for doc in before}
    village = next((root / "content" / "villages").glob("*.yaml"))
    village.write_text(village.read_text(encoding="utf-8").replace("name: ", "name: 新", 1), encoding="utf-8")
    edited = load_content(root)
    site = Site.from_content(edited, TODAY)
    again = documents(site, t, known, {})
    assert again == documents(site, t)  # the village's new name reached its notices' documents too
    assert any("新" in doc.village_name for doc in again) and again != before
    same = documents(Site.from_content(content, TODAY), t, known, {})
    assert same == before and all(a is b for a, b in zip(same, before))  # given back, not made again


PAGE = 3  # the page size these summaries are made for


@st.composite
def _summary_moves(draw):
    """A summary of random groups (some cut, some empty), a document and where it moves."""
    keys = draw(st.lists(st.integers(1, 12), unique=True, max_size=8))
    free = list(range(60))
    groups, cut = {}, set()
    for key in keys:
        size = draw(st.integers(0, search_export.KEPT * PAGE))  # a group keeps at most this many
        chosen = draw(st.lists(st.sampled_from(free), unique=True, min_size=size, max_size=size))
        free = [doc for doc in free if doc not in chosen]
        if not chosen and not draw(st.booleans()):
            continue
        groups[key] = sorted(chosen)
        if draw(st.booleans()):
            cut.add(key)
    summary = search_export.Summary.of((0,), groups, cut)
    somewhere = st.sampled_from(sorted(groups)) if groups else st.just(0)
    number = draw(st.one_of(st.integers(0, 64), st.sampled_from([d for g in groups.values() for d in g] or [0])))
    old = draw(st.one_of(st.just(0), somewhere, st.integers(1, 14)))
    new = draw(st.one_of(st.just(0), st.just(old), somewhere, st.integers(1, 14)))
    return summary, number, old, new


@settings(max_examples=1500, deadline=None)
@given(_summary_moves())
def test_a_summary_moved_in_place_is_the_summary_taken_apart_and_put_together(case):
    """`Summary.moved` edits the flat arrays where the groups concerned lie; `moved_whole`
    (the reference) rebuilds every group. A page of three, two pages kept per group: cut
    groups, groups emptied, made, made again and cut by the move all occur."""
    summary, number, old, new = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_export, "PAGE_SIZE", PAGE)
        fast, whole = summary.moved(number, old, new), summary.moved_whole(number, old, new)
    if whole is None:
        assert fast is None
    else:
        assert fast is not None
        assert (fast.fields, fast.keys, list(fast.members)) == (whole.fields, whole.keys, list(whole.members))
