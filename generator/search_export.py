"""The browser's search index: small script files under `search/`, fetched only as needed.

Built straight from the analyzer (search_analysis.py), without whoosh's writer (which is
ten times slower): the statistics are exactly those a fresh whoosh index of the same
documents holds, and tests check the browser's ranking against whoosh's.

Every file is a script calling one global function, so it loads with a <script> element
both from a web server and from disk (file://, where fetch() of JSON is refused):

- `search/meta.js`: document count, field boosts and total lengths, townships, kinds,
  years, the number of shards and the list of big terms.
- `search/t/<n>.js`: a shard: the terms whose hash falls in shard n, each with its
  postings per field (document number, frequency, the field-length byte whoosh stores, and
  for character pairs their positions, for phrases).
- `search/b/<hash>.js`: one big term (meta lists them) alone, with the result records
  of its first page, so a common word costs one request for its own postings, not a
  shard of other common words (and the pages of a phrase's pairs cover its first page).
- `search/r/<n>.js`: the records (address, title, kind, date, village, text quoted
  around a match) of documents GROUP_SIZE*n and on; a village and its notices are
  neighbours, so a village's results come in one or two of these.
- `search/v.js`: the villages, for the village filter, loaded when that is used.

On a site with at least PAGE_FILES_FROM_GROUPS record groups, a smaller term found in at
least PAGE_FILE_MIN_DOCS documents, whose first page would need more than two record
groups, gets a page file `search/p/<hash>.js` with the records of that page (windows of text around the term, not the whole text).
Numbers are written as digits of an 82-character alphabet without 0-9: one character
below 64, two below 1,216 (`decode` in search.js).

Rebuilding after an edit: the export's state (the index, what was made of each term, each
file's checksum) is kept in the build cache. When the next build has the same documents in
the same order, only the edited ones are analysed again (`IndexBuilder.replace`), only their
terms encoded again (of a big term, only the `Blocks` of its postings that hold an edited
document), and first pages whose field totals moved are ranked again from a small
`Summary` each (documents grouped by what their score is computed from), never from all the
postings. Files nothing changed in are linked from the previous build. A document added or
removed renumbers the documents after it (`export_moved`): the postings are renumbered, a big
term's text is the published one but where documents came or went or its numbers stopped
moving together, and first pages come from their summaries, numbered anew.
"""
from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left, insort
from functools import lru_cache
from array import array
from itertools import accumulate, chain
from math import log
from typing import NamedTuple

from whoosh.util.numeric import byte_to_length, length_to_byte

from .search import BOOSTS, FIELDS, SearchDoc
from .search_analysis import CHARS_FIELD, char_counts, is_cjk, normal_char, normalize, term_positions

K1, B = 1.2, 0.75  # whoosh's BM25F defaults
ALL_FIELDS = FIELDS + (CHARS_FIELD,)
ALL_BOOSTS = tuple(BOOSTS[f] for f in FIELDS) + (1.0,)
CHARS = len(FIELDS)  # section number of the `chars` field
FACETS = CHARS + 1  # section number of facet postings (no frequencies)
PAGE_SIZE = 10
GROUP_SIZE = 12
SNIPPET_RADIUS = 24  # characters quoted each side of a match
BIG_BYTES = 3000  # a term this large gets a file of its own
SHARD_BYTES = 4000  # the size aimed at for shards of small terms
# Page files pay for themselves on big sites only: with fewer record groups than this, a
# first page simply loads the groups it needs.
PAGE_FILES_FROM_GROUPS = 50
PAGE_FILE_MIN_DOCS = 30  # rarer terms are rarely searched for: their pages load groups
# From this many documents, analysis and encoding run on every core (parallel.py).
PARALLEL_DOCS = 2000
# At most this many documents added and removed together are brought up to date in the
# previous export (`export_moved`); with more, every term is made again from the renumbered postings.
MOVED_DOCUMENTS = 64
FORMAT_VERSION = 1

# No digits: a run of encoded numbers must never look like a phone, ID or bank card number
# to the leak gate (or to anyone reading the file).
FINAL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/!#$%&()*,."
CONTINUE = "-:;<=>?@[]^_`{|}~'"


def encode_number(value: int) -> str:
    """A final digit (base 64) after continuation digits (bijective base 18), high first."""
    q, r = divmod(value, 64)
    digits = []
    while q > 0:
        d = (q - 1) % 18 + 1
        digits.append(CONTINUE[d - 1])
        q = (q - d) // 18
    return "".join(reversed(digits)) + FINAL[r]


# Every number below 2**14 (a final digit after those of value // 64), made at import: a
# prefix per 64 values, not a call per value.
DIGITS = [prefix + final for prefix in (encode_number(q * 64)[:-1] for q in range(1 << 8)) for final in FINAL]


def enc(value: int) -> str:
    return DIGITS[value] if value < 16384 else encode_number(value)


def decode_numbers(text: str) -> list[int]:
    values, acc = [], 0
    for char in text:
        at = FINAL.find(char)
        if at >= 0:
            values.append(acc * 64 + at)
            acc = 0
        else:
            acc = acc * 18 + CONTINUE.index(char) + 1
    return values


def term_hash(term: str) -> int:
    """FNV-1a over UTF-16 code units, as search.js computes it."""
    h = 0x811C9DC5
    data = term.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def is_pair(term: str) -> bool:
    """Character pairs carry positions: only they are ever part of a phrase."""
    return len(term) == 2 and is_cjk(term[0]) and is_cjk(term[1])


def bm25(idf: float, tf: float, fl: float, avgfl: float) -> float:
    # whoosh.scoring.bm25, operation for operation, so the floating-point result is the same.
    return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))


def idf(doc_count: int, df: int) -> float:
    return log(doc_count / (df + 1)) + 1


def score_shift(old_totals: list[int], new_totals: list[int]) -> list[float]:
    """Per field, the most by which any document's score in it can move, per unit of the
    term's idf times the field's boost, when the field's total length goes from old to new
    (the documents and the term's frequencies staying the same: only the average length
    changed in `bm25`).

    With x = length / average, bm25 is idf * c / (a + d x) (c = tf (K1 + 1), a = tf + K1
    (1 - B), d = K1 B). The average moving by a factor 1/r moves x to r x, and
    |c/(a + d r x) - c/(a + d x)| = (c/a) |1 - r| y / ((1 + y)(1 + r y)) with y = d x / a,
    at most (c/a) |1 - r| / (1 + sqrt(r))^2 (at y = 1/sqrt(r)), and c/a < K1 + 1."""
    shifts = []
    for old, new in zip(old_totals, new_totals):
        if old == new:
            shifts.append(0.0)
        elif old <= 0 or new <= 0:
            shifts.append(float("inf"))
        else:
            r = old / new
            shifts.append((K1 + 1) * abs(1 - r) / (1 + r ** 0.5) ** 2)
    return shifts


def count_shift(old_count: int, count: int) -> float:
    """Per unit of a field's boost, the most by which a term's score in it can move through
    its idf alone when the document count goes from old to new, the term's document count
    the same: idf moves by |log(count / old count)|, and the rest of bm25 is below K1 + 1."""
    return abs(log(count / old_count)) * (K1 + 1)


def score_bound(weights: tuple[float, ...], fields: tuple[int, ...], shift: list[float], counted: float = 0.0) -> float:
    """The most by which a term's score (its ranked `fields`, its idf times boost `weights`
    after the change) can move: `shift` from `score_shift`, `counted` from `count_shift`."""
    return sum(weight * shift[f] + counted * ALL_BOOSTS[f] for weight, f in zip(weights, fields))


class Postings:
    """One term's postings in one field, in document order."""

    __slots__ = ("docs", "tfs", "positions")

    def __init__(self, with_positions: bool):
        self.docs = array("I")
        self.tfs = array("I")
        self.positions = array("I") if with_positions else None


def analyse(doc: SearchDoc) -> list[tuple[dict, int]]:
    """One document's terms per field and the field's length: {term: [positions]} for the
    weighted fields, then {character: frequency} for `chars`."""
    texts = [doc.field(name) for name in FIELDS]
    return [*map(term_positions, texts), char_counts("\n".join(texts))]


class _Partial:
    """Postings, field totals, length bytes and facets of documents start..end-1 (numbered as in
    the whole list): a share of the work that one process can do and another can merge."""

    def __init__(self, docs: list[SearchDoc], start: int, end: int):
        self.fields: list[dict[str, Postings]] = [{} for _ in ALL_FIELDS]
        self.totals = [0] * len(ALL_FIELDS)
        self.codes = [bytearray(end - start) for _ in ALL_FIELDS]  # from `start`
        self.facets: dict[str, array] = {}
        self.start = start
        for number in range(start, end):
            self._add(number, docs[number])

    def _add(self, number: int, doc: SearchDoc) -> None:
        at = number - self.start
        for f, (terms, length) in enumerate(analyse(doc)):
            if not length:
                continue
            self.totals[f] += length
            self.codes[f][at] = length_to_byte(length)
            field = self.fields[f]
            for term, where in terms.items():
                postings = field.get(term)
                if postings is None:
                    postings = field[term] = Postings(f != CHARS and is_pair(term))
                postings.docs.append(number)
                if f == CHARS:
                    postings.tfs.append(where)
                    continue
                postings.tfs.append(len(where))
                if postings.positions is not None:
                    postings.positions.extend(where)
        for facet in facet_terms(doc):
            self.facets.setdefault(facet, array("I")).append(number)

    def merge(self, later: "_Partial") -> None:
        """Append the postings of the documents that follow this share's."""
        for mine, theirs in zip(self.fields, later.fields):
            for term, postings in theirs.items():
                own = mine.get(term)
                if own is None:
                    mine[term] = postings
                    continue
                own.docs.extend(postings.docs)
                own.tfs.extend(postings.tfs)
                if own.positions is not None:
                    own.positions.extend(postings.positions)
        self.totals = [a + b for a, b in zip(self.totals, later.totals)]
        for f, codes in enumerate(later.codes):
            self.codes[f] += codes
        for facet, numbers in later.facets.items():
            self.facets.setdefault(facet, array("I")).extend(numbers)


class Renumbered(NamedTuple):
    """What `IndexBuilder.renumber` did: documents added or removed, the others kept in order."""

    moved: list[int]  # old number -> new number (-1: removed)
    back: list[int]  # new number -> old number (-1: added)
    touched: set[str]  # terms and facets whose postings changed beyond their numbers
    changed: set[str]  # of those, the terms and facets of documents edited
    added: list[int]  # the new numbers of documents added, in order
    removed: list[tuple[int, list[dict[str, int]]]]  # documents removed: (old number, per field {term: frequency})
    edited: frozenset[int]  # the new numbers of documents kept and edited
    first: int  # the first new number whose document is not the one numbered so before

    def steps(self) -> list[int]:
        """The kept documents' new numbers where the shift (new number - old) differs from the
        kept document before: between two steps, gaps between numbers are the old ones."""
        steps, shift = [], 0
        for number, before in enumerate(self.back):
            if before >= 0:
                if number - before != shift:
                    steps.append(number)
                    shift = number - before
        return steps


class IndexBuilder:
    """Postings and statistics of every term, as a fresh whoosh index would hold them.

    A large site's documents are analysed in shares, one process per core (`parallel`), and
    the shares merged in document order: the same postings as one process makes. The next
    build takes the index over (`ExportState`) and replaces only its edited documents.
    """

    def __init__(self, docs: list[SearchDoc]):
        from .parallel import run_parallel, workers

        self.docs = docs
        count = workers() if len(docs) >= PARALLEL_DOCS else 1
        bounds = [len(docs) * share // count for share in range(count + 1)]
        shares = run_parallel([lambda start=start, end=end: _Partial(docs, start, end)
                               for start, end in zip(bounds, bounds[1:])], min_jobs=2)
        whole = shares[0]
        for share in shares[1:]:
            whole.merge(share)
        self.fields, self.totals, self.codes, self.facets = whole.fields, whole.totals, whole.codes, whole.facets

    @property
    def terms(self) -> list[str]:
        return sorted(set().union(*self.fields))

    def entry(self, term: str) -> list:
        """The term's postings in each field (None where it does not occur)."""
        return [field.get(term) for field in self.fields]

    # -- replacing one document (the same number, other content) ----------------------------
    def replace(self, number: int, old: SearchDoc, new: SearchDoc) -> set[str]:
        """Put `new` in place of `old` as document `number`; returns the terms (and facets)
        whose postings changed. In a field whose length byte stays the same, only the terms
        whose occurrences in the document differ change (an edited title leaves the body's
        hundreds of terms as they were)."""
        self.docs[number] = new
        changed: set[str] = set()
        for f, ((old_terms, old_length), (new_terms, new_length)) in enumerate(zip(analyse(old), analyse(new))):
            if old_length and new_length and length_to_byte(old_length) == length_to_byte(new_length):
                gone = [term for term, where in old_terms.items() if new_terms.get(term) != where]
                came = {term: where for term, where in new_terms.items() if old_terms.get(term) != where}
            else:
                gone, came = list(old_terms), new_terms
                self.codes[f][number] = length_to_byte(new_length) if new_length else 0
            self.totals[f] += new_length - old_length
            self._remove(f, number, gone)
            self._insert(f, number, came)
            changed.update(gone)
            changed.update(came)
        self._facets_out(number, old)
        self._facets_in(number, new)
        return changed | (set(facet_terms(old)) ^ set(facet_terms(new)))  # a facet both have is as it was

    def _facets_out(self, number: int, doc: SearchDoc) -> None:
        for facet in facet_terms(doc):
            numbers = self.facets[facet]
            del numbers[bisect_left(numbers, number)]
            if not numbers:
                del self.facets[facet]

    def _facets_in(self, number: int, doc: SearchDoc) -> None:
        for facet in facet_terms(doc):
            numbers = self.facets.setdefault(facet, array("I"))
            numbers.insert(bisect_left(numbers, number), number)

    # -- documents added or removed: the others' numbers move, their order kept -------------
    def renumber(self, docs: list[SearchDoc]) -> "Renumbered | None":
        """Make this the index of `docs` when the documents it holds that `docs` still has come
        in the same order there: the others are taken out, the new ones put in, the edited
        ones replaced, and every number moved to its document's place in `docs` (the same
        postings as an index made afresh of `docs`). What moved where, and the terms whose
        postings changed otherwise; None, the index untouched, when a document moved among
        the others."""
        at = {doc.key: number for number, doc in enumerate(docs)}
        old = self.docs
        kept = [(number, at[doc.key]) for number, doc in enumerate(old) if doc.key in at]
        if any(a[1] >= b[1] for a, b in zip(kept, kept[1:])):
            return None
        touched: set[str] = set()
        removed = []
        for number, doc in enumerate(old):
            if doc.key not in at:
                frequencies = self._take_out(number, doc)
                touched |= set().union(*frequencies, facet_terms(doc))
                removed.append((number, frequencies))
        moved = [-1] * len(old)
        back = [-1] * len(docs)
        for before, after in kept:
            moved[before] = after
            back[after] = before
        # The first number whose document is not the one numbered so before (in both numberings).
        first = next((number for number, before in enumerate(back) if before != number), len(back))
        self.fields = [self._moved(field, moved, first) for field in self.fields]
        for facet, numbers in self.facets.items():
            self.facets[facet] = array("I", [moved[number] for number in numbers])
        for f, codes in enumerate(self.codes):
            new = bytearray(len(docs))
            for before, after in kept:
                new[after] = codes[before]
            self.codes[f] = new
        current: list = [None] * len(docs)
        for before, after in kept:
            current[after] = old[before]
        self.docs = current
        edited, added = [], []
        changed: set[str] = set()
        for number, doc in enumerate(docs):
            was = current[number]
            if was is None:
                touched |= _terms_of(doc)
                self._put_in(number, doc)
                added.append(number)
            elif was is not doc and was != doc:
                changed |= self.replace(number, was, doc)
                edited.append(number)
        self.docs = list(docs)
        return Renumbered(moved, back, touched | changed, changed, added, removed, frozenset(edited), first)

    @staticmethod
    def _moved(field: dict, moved: list[int], same: int) -> dict:
        """A field's postings (all unpacked) with each document number moved (those below
        `same` stay)."""
        plain = {}
        for term in list(field):
            postings = field[term]
            docs = postings.docs
            at = bisect_left(docs, same)
            if at < len(docs):
                docs[at:] = array("I", [moved[number] for number in docs[at:]])
            plain[term] = postings
        return plain

    def _take_out(self, number: int, doc: SearchDoc) -> list[dict[str, int]]:
        """Takes document `number` out; returns its terms' frequencies per field."""
        frequencies = []
        for f, (terms, length) in enumerate(analyse(doc)):
            frequencies.append({term: where if f == CHARS else len(where) for term, where in terms.items()})
            if length:
                self.totals[f] -= length
                self._remove(f, number, terms)
        self._facets_out(number, doc)
        return frequencies

    def _put_in(self, number: int, doc: SearchDoc) -> None:
        """Document `number`, whose place is free (no posting holds its number)."""
        self.docs[number] = doc
        for f, (terms, length) in enumerate(analyse(doc)):
            if length:
                self.totals[f] += length
                self.codes[f][number] = length_to_byte(length)
                self._insert(f, number, terms)
        self._facets_in(number, doc)

    def _remove(self, f: int, number: int, terms) -> None:
        field = self.fields[f]
        for term in terms:
            postings = field[term]
            at = bisect_left(postings.docs, number)
            if postings.positions is not None:
                first = sum(postings.tfs[:at])
                del postings.positions[first:first + postings.tfs[at]]
            del postings.docs[at]
            del postings.tfs[at]
            if not postings.docs:
                del field[term]

    def _insert(self, f: int, number: int, terms: dict) -> None:
        field = self.fields[f]
        for term, where in terms.items():
            postings = field.get(term)
            if postings is None:
                postings = field[term] = Postings(f != CHARS and is_pair(term))
            at = bisect_left(postings.docs, number)
            tf = where if f == CHARS else len(where)
            if postings.positions is not None:
                first = sum(postings.tfs[:at])
                postings.positions[first:first] = array("I", where)
            postings.docs.insert(at, number)
            postings.tfs.insert(at, tf)

    # -- statistics ------------------------------------------------------------------------
    def doc_count(self, entry: list) -> int:
        present = [p for p in entry if p is not None]
        return len(present[0].docs) if len(present) == 1 else len({doc for p in present for doc in p.docs})

    def lengths(self, f: int, postings: Postings) -> list[int]:
        codes = self.codes[f]
        return [codes[doc] for doc in postings.docs]

    # -- a one-term query's first page, ranked exactly as whoosh and search.js do ------------
    @staticmethod
    def ranked_fields(entry: list) -> tuple[int, ...]:
        """The fields a one-term query's score sums: the term's only field, or its weighted
        fields (whoosh's matcher tree for a word leaves `chars` out)."""
        present = tuple(f for f, p in enumerate(entry) if p is not None)
        return present if len(present) == 1 else tuple(f for f in present if f < CHARS)

    def combo(self, entry: list, fields: tuple[int, ...], number: int) -> int:
        """What document `number`'s score for the term is computed from, as one number: per
        ranked field (KEY_BITS each) 1 + (frequency << 8 | length byte), or 0 where absent."""
        combo = 0
        for i, f in enumerate(fields):
            postings = entry[f]
            if postings is None:
                continue
            at = bisect_left(postings.docs, number)
            if at < len(postings.docs) and postings.docs[at] == number:
                combo |= (1 + (postings.tfs[at] << 8 | self.codes[f][number])) << (KEY_BITS * i)
        return combo

    def summary(self, entry: list) -> Summary:
        """What a first page depends on, in little: the documents grouped by `combo`, and of
        each group its first PAGE_SIZE documents (equal scores rank by document number).
        When only field totals change, `page` ranks the first page again from this alone."""
        fields = self.ranked_fields(entry)
        combos: dict[int, int] = {}
        for i, f in enumerate(fields):
            postings = entry[f]
            shift = KEY_BITS * i
            codes = self.codes[f]
            get = combos.get
            for doc, tf in zip(postings.docs, postings.tfs):
                combos[doc] = get(doc, 0) | (1 + (tf << 8 | codes[doc])) << shift
        groups: dict[int, list[int]] = {}
        kept = KEPT * PAGE_SIZE
        for doc in (sorted(combos) if len(fields) > 1 else combos):
            key = combos[doc]
            group = groups.get(key)
            if group is None:
                groups[key] = [doc]
            elif len(group) <= kept:  # one more than kept: the group is marked as cut
                group.append(doc)
        return Summary.of(fields, groups)

    def page(self, entry: list, summary: Summary) -> tuple[int, ...]:
        """The first page from a `summary`: whoosh's BM25F sum per document (the title's score
        added to the sum of the tags' and the body's), best first, then by document number."""
        return self.ranked(entry, summary)[0]

    def ranked(self, entry: list, summary: Summary) -> tuple[tuple[int, ...], float, tuple[float, ...]]:
        """The first page (see `page`); its margin: the smallest difference in score between
        two groups next to each other in the ranking, from the best one to the first group
        left off the page (while every score moves by less than half of it, the page stays
        the same: `export_changes`); and per ranked field the term's idf times the boost."""
        n = len(self.docs)
        fields = summary.fields
        parts = []  # per ranked field, body first: (shift, idf, average length, boost, scores)
        for i in reversed(range(len(fields))):
            f = fields[i]
            parts.append((KEY_BITS * i, idf(n, len(entry[f].docs)), self.totals[f] / n, ALL_BOOSTS[f], {}))
        scored = []
        members = summary.members
        at = 0
        page_size = PAGE_SIZE
        for key in summary.keys:
            total = None
            for shift, term_idf, avgfl, boost, known in parts:
                k = (key >> shift) & KEY_MASK
                if not k:
                    continue
                value = known.get(k)
                if value is None:
                    k -= 1
                    value = known[k + 1] = bm25(term_idf, k >> 8, byte_to_length(k & 255), avgfl) * boost
                total = value if total is None else value + total
            count = members[at] & COUNT_MASK
            scored.append((-total, at + 1, min(count, page_size)))
            at += count + 1
        scored.sort(key=_score)
        # Whole groups, best first, until a page is full; then the groups tied with the last.
        ranked, count, last = [], 0, None
        margin = float("inf")
        for negative, start, size in scored:
            if last is not None:
                margin = min(margin, negative - last)
            if count >= PAGE_SIZE and negative != last:
                break
            ranked.extend((negative, doc) for doc in members[start:start + size])
            count += size
            last = negative
        ranked.sort()
        weights = tuple(part[1] * part[3] for part in reversed(parts))  # in the order of `fields`
        return tuple(doc for _, doc in ranked[:PAGE_SIZE]), margin, weights

    def first_page(self, entry: list) -> tuple[int, ...]:
        return self.page(entry, self.summary(entry))


KEY_BITS = 32
KEY_MASK = (1 << KEY_BITS) - 1
# A summary keeps this many pages' worth of each group's first documents, so that most
# edits (a document leaving a group) can be applied to it without all the postings.
KEPT = 2
CUT = 1 << 31  # flag on a group's size: it has more documents than the summary keeps
COUNT_MASK = CUT - 1


def _score(item: tuple) -> float:
    return item[0]


class Summary(NamedTuple):
    """A first page's `summary`, flat (it is kept in the build cache for thousands of terms):
    the ranked fields, each group's combo, and per group its size (with the CUT flag when
    the group has more documents than kept) then its first documents."""

    fields: tuple[int, ...]
    keys: list[int]
    members: array

    @classmethod
    def of(cls, fields: tuple[int, ...], groups: dict[int, list[int]], cut: set[int] = frozenset()) -> "Summary":
        """From {combo: documents}; a group with more than KEPT pages of documents is cut."""
        kept = KEPT * PAGE_SIZE
        members = array("I")
        for key, docs in groups.items():
            if len(docs) > kept or key in cut:
                docs = docs[:kept]
                members.append(len(docs) | CUT)
            else:
                members.append(len(docs))
            members.extend(docs)
        return cls(fields, list(groups), members)

    def groups(self) -> tuple[dict[int, list[int]], set[int]]:
        groups, cut, at = {}, set(), 0
        members = self.members
        for key in self.keys:
            size = members[at]
            count = size & COUNT_MASK
            groups[key] = list(members[at + 1:at + 1 + count])
            if size & CUT:
                cut.add(key)
            at += count + 1
        return groups, cut

    def moved(self, number: int, old: int, new: int) -> "Summary | None":
        """The summary once document `number` went from combo `old` to `new` (0: not there),
        or None when that cannot be known from the summary (a cut group fell below a page).

        Only the one or two groups concerned are taken out of the flat arrays and put back
        (a one-notice edit moves a document in hundreds of summaries, some of thousands of
        groups). The result is `moved_whole`'s, to the order of the groups: a group emptied
        and not cut is dropped, and a group made (again) goes last."""
        keys, members = self.keys, self.members
        where: dict[int, int] = {}  # combo -> its group's place among the keys
        for key in (old, new):
            if key and key not in where:
                try:
                    where[key] = keys.index(key)
                except ValueError:
                    pass
        if old and old not in where:
            return None
        starts, at = [], 0
        for _ in range(max(where.values(), default=-1) + 1):
            starts.append(at)
            at += (members[at] & COUNT_MASK) + 1
        groups = {}  # combo -> [its documents, cut]
        for key, i in where.items():
            size = members[starts[i]]
            groups[key] = [list(members[starts[i] + 1:starts[i] + 1 + (size & COUNT_MASK)]), bool(size & CUT)]
        if old:
            docs, cut = groups[old]
            if number in docs:
                docs.remove(number)
                if cut and len(docs) < PAGE_SIZE:
                    return None  # its next documents were not kept
                if not docs and not cut:
                    del groups[old]
        made = None  # a group that goes last
        if new:
            if new not in groups:
                made = groups[new] = [[], False]
            docs, cut = groups[new]
            if not cut or (docs and number < docs[-1]):
                insort(docs, number)
                if len(docs) > KEPT * PAGE_SIZE:
                    del docs[KEPT * PAGE_SIZE:]
                    groups[new][1] = True
        keys, members = list(keys), array("I", members)
        for key, i in sorted(where.items(), key=lambda item: -item[1]):  # the later group first
            start = starts[i]
            stop = start + 1 + (members[start] & COUNT_MASK)
            group = groups.get(key)
            if group is None or group is made:
                del members[start:stop]
                del keys[i]
            else:
                members[start:stop] = _group(*group)
        if made is not None:
            keys.append(new)
            members.extend(_group(*made))
        return Summary(self.fields, keys, members)

    def moved_whole(self, number: int, old: int, new: int) -> "Summary | None":
        """`moved` by taking every group apart and putting them together again (slower: the
        reference the tests compare `moved` with)."""
        groups, cut = self.groups()
        if old:
            group = groups.get(old)
            if group is None:
                return None
            if number in group:
                group.remove(number)
                if old in cut and len(group) < PAGE_SIZE:
                    return None  # its next documents were not kept
                if not group and old not in cut:
                    del groups[old]
        if new:
            group = groups.setdefault(new, [])
            if new not in cut or (group and number < group[-1]):
                insort(group, number)
                if len(group) > KEPT * PAGE_SIZE:
                    del group[KEPT * PAGE_SIZE:]
                    cut.add(new)
        return Summary.of(self.fields, groups, cut)

    def renumbered(self, moved: list[int]) -> "Summary":
        """The same summary with every document's number moved (`Renumbered.moved`; none of
        them removed): the order in a group, and of the groups, is kept."""
        members = array("I", self.members)
        at, end = 0, len(members)
        while at < end:
            stop = at + 1 + (members[at] & COUNT_MASK)
            members[at + 1:stop] = array("I", [moved[doc] for doc in members[at + 1:stop]])
            at = stop
        return Summary(self.fields, self.keys, members)


def _group(docs: list[int], cut: bool) -> array:
    """One group of a summary's `members`: its size (flagged when cut), then its documents."""
    return array("I", [len(docs) | (CUT if cut else 0), *docs])


def facet_terms(doc: SearchDoc) -> list[str]:
    """Filter values as terms no analyzer can produce (they hold a colon)."""
    facets = [f"k:{doc.kind}", f"v:{doc.village}", f"t:{doc.township}"]
    if doc.year:
        facets.append(f"y:{doc.year}")
    return facets


def _terms_of(doc: SearchDoc) -> set[str]:
    """Every term and facet a document holds."""
    return set().union(*(terms for terms, _ in analyse(doc)), facet_terms(doc))


def digits(values) -> str:
    """Many numbers at once (the common case: all below the table's size, joined in C)."""
    values = values if isinstance(values, list) else list(values)
    if values and max(values) >= len(DIGITS):
        return "".join(map(enc, values))
    return "".join(map(DIGITS.__getitem__, values))


def encode_term(index: IndexBuilder, entry: list) -> str:
    """Per field: its number, the count n, n triples (document gap, frequency, length byte),
    then for a character pair the positions of each posting in turn (gaps within a posting)."""
    out = []
    for f, postings in enumerate(entry):
        if postings is None:
            continue
        docs = postings.docs
        gaps = [doc - before - 1 for before, doc in zip(chain((-1,), docs), docs)]
        out.append(digits([f, len(docs), *chain.from_iterable(zip(gaps, postings.tfs, index.lengths(f, postings)))]))
        if postings.positions is not None:
            out.append(_position_gaps(postings.positions, postings.tfs))
    return "".join(out)


def _position_gaps(positions, tfs) -> str:
    """`encode_term`'s positions of some postings: gaps within each posting, its first from -1."""
    before = [-1, *positions[:-1]]
    at = 0
    for tf in tfs:
        before[at] = -1
        at += tf
    return digits([p - q - 1 for p, q in zip(positions, before)])


class Blocks(NamedTuple):
    """Where a big term's encoded postings in one field lie in its text (`encode_term`'s), cut
    by document number into blocks of BLOCK_DOCS: after an edit only the blocks that changed
    are encoded again, the others copied from the text the last build published
    (`encode_big`). Only this layout is kept in the export's state, not the text."""

    field: int
    start: int  # where the field's triples begin in the term's text (after its number and count)
    numbers: array  # the blocks that have postings (document number // BLOCK_DOCS), in order
    cuts: array  # where each block's triples begin, from `start`, then their end
    places: array  # where each block's positions begin, from the triples' end, then their end


BLOCK_DOCS = 256  # document numbers per block of `Blocks`


def _encode_field(index: IndexBuilder, f: int, postings: Postings, previous: Blocks | None, old_text: str,
                  dirty: frozenset[int]) -> tuple[str, str, array, array, array]:
    """(triples, positions, block numbers, cuts, places) of `postings` (field `f`). `previous`:
    the field's layout in `old_text` before the documents in the blocks `dirty` were edited
    (the same documents, numbered alike). A block is copied from there unless it is dirty,
    or its first gap counts from a posting that may have moved (a dirty block lies between
    it and the block with postings before it): only an edited document's postings and
    length bytes change, and a gap spans only empty blocks."""
    docs, tfs, positions = postings.docs, postings.tfs, postings.positions
    codes = index.codes[f]
    old = {k: i for i, k in enumerate(previous.numbers)} if previous is not None else {}
    if previous is not None:
        triples_at, spots_at = previous.start, previous.start + previous.cuts[-1]
    made = _Made()
    start = first = 0  # the block's first posting, and its first position
    last = -1  # the block with postings before this one
    count = len(docs)
    while start < count:
        k = docs[start] // BLOCK_DOCS
        end = bisect_left(docs, (k + 1) * BLOCK_DOCS, start)
        used = sum(tfs[start:end]) if positions is not None else 0
        i = old.get(k)
        if i is not None and not any(last <= d <= k for d in dirty):
            made.add(k, old_text[triples_at + previous.cuts[i]:triples_at + previous.cuts[i + 1]],
                     old_text[spots_at + previous.places[i]:spots_at + previous.places[i + 1]])
        else:
            made.add(k, *_encoded_block(postings, codes, start, end, first, used))
        first += used
        last, start = k, end
    return made.result()


class _Made:
    """A field's blocks as they are made: their texts, and where each begins (`Blocks`)."""

    def __init__(self, numbers: array | None = None, cuts: array | None = None, places: array | None = None,
                 triples: str = "", spots: str = ""):
        self.numbers = numbers if numbers is not None else array("I")
        self.cuts = cuts if cuts is not None else array("I", [0])
        self.places = places if places is not None else array("I", [0])
        self.triples, self.spots = [triples], [spots]
        self.size, self.spread = self.cuts[-1], self.places[-1]

    def add(self, k: int, triple: str, spot: str) -> None:
        self.numbers.append(k)
        self.triples.append(triple)
        self.spots.append(spot)
        self.size += len(triple)
        self.spread += len(spot)
        self.cuts.append(self.size)
        self.places.append(self.spread)

    def result(self) -> tuple[str, str, array, array, array]:
        return "".join(self.triples), "".join(self.spots), self.numbers, self.cuts, self.places


def _encoded_block(postings: Postings, codes, start: int, end: int, first: int, used: int) -> tuple[str, str]:
    """The triples and positions of postings start..end-1 (the first gap from the posting
    before), encoded; `first`: where their positions begin, `used`: how many there are."""
    docs, block_tfs = postings.docs, postings.tfs[start:end]
    block_docs = docs[start:end]
    gaps = [doc - before - 1 for before, doc in zip(chain((docs[start - 1] if start else -1,), block_docs), block_docs)]
    triple = digits([*chain.from_iterable(zip(gaps, block_tfs, [codes[doc] for doc in block_docs]))])
    positions = postings.positions
    return triple, _position_gaps(positions[first:first + used], block_tfs) if positions is not None else ""


def encode_big(index: IndexBuilder, entry: list, previous: tuple[Blocks, ...] = (), old_text: str = "",
               dirty: frozenset[int] = frozenset()) -> tuple[str, tuple[Blocks, ...]]:
    """A big term's text (`encode_term`'s) and its layout; after an edit, from its `previous`
    layout in the text the last build published (`old_text`), encoding only what changed."""
    before = {b.field: b for b in previous} if old_text else {}
    parts: list[str] = []
    layout = []
    at = 0
    for f, postings in enumerate(entry):
        if postings is None:
            continue
        head = digits([f, len(postings.docs)])
        triples, spots, numbers, cuts, places = _encode_field(index, f, postings, before.get(f), old_text, dirty)
        layout.append(Blocks(f, at + len(head), numbers, cuts, places))
        parts += (head, triples, spots)
        at += len(head) + len(triples) + len(spots)
    return "".join(parts), tuple(layout)


_NUMBERS: dict[int, re.Pattern] = {}  # count -> a pattern matching that many encoded numbers
_CONTINUED = frozenset(CONTINUE)


def _after(text: str, at: int, count: int) -> int:
    """Where the `count` encoded numbers from `at` end (each ends with a final digit)."""
    if not count:
        return at
    pattern = _NUMBERS.get(count)
    if pattern is None:
        if len(_NUMBERS) > 4096:
            _NUMBERS.clear()
        pattern = _NUMBERS[count] = re.compile("(?:[%s]*[%s]){%d}" % (re.escape(CONTINUE), re.escape(FINAL), count))
    found = pattern.match(text, at)
    if found is None:
        raise ValueError("fewer numbers than expected")
    return found.end()


def _before(text: str, end: int, count: int, start: int) -> int:
    """Where the last `count` encoded numbers before `end` begin (none of them before `start`)."""
    at = end
    for _ in range(count):
        at -= 1  # the number's final digit
        while at > start and text[at - 1] in _CONTINUED:
            at -= 1
    return at


_BACKWARDS = 12  # a few numbers are found quicker from the end of their block than by the regex from its start


def _shift_field(index: IndexBuilder, f: int, postings: Postings, previous: Blocks, old_text: str,
                 renumbered: Renumbered, steps: list[int], gone: list[tuple[int, int]]) -> tuple[str, str, array, array, array]:
    """`_encode_field`'s result for a term's postings that no edited document touched, from
    its text as the last build published it (`previous`: the field's layout there), when
    document numbers moved and documents were added or removed (`gone`: the old number and
    frequency of each removed document's posting in this field). A new block without an
    added document, whose postings all moved by the same amount with no removed posting
    between them, is its old postings' text but for its first gap; the others are encoded.
    Raises ValueError or KeyError when the old text is not what the layout says."""
    docs, tfs, positions = postings.docs, postings.tfs, postings.positions
    codes, back = index.codes[f], renumbered.back
    count = len(docs)
    # The postings of added documents: the old text holds the others (`kept`).
    adds = [at for at, number in ((bisect_left(docs, number), number) for number in renumbered.added)
            if at < count and docs[at] == number]
    kept_docs, kept_tfs = docs, tfs
    if adds:
        kept_docs, kept_tfs = array("I", docs), array("I", tfs)
        for at in reversed(adds):
            del kept_docs[at], kept_tfs[at]
    kept_count = len(kept_docs)
    triples_at = previous.start
    spots_at = triples_at + previous.cuts[-1]
    ends = (spots_at, spots_at + previous.places[-1])
    old_blocks = {k: i for i, k in enumerate(previous.numbers)}
    old_number = back.__getitem__
    gone_numbers = [number for number, _ in gone]

    def where(i: int) -> tuple[int, int]:
        """Where the kept posting i's triple and positions begin in the old text."""
        if i == kept_count:
            return ends
        old = old_number(kept_docs[i])
        k = old // BLOCK_DOCS
        b = old_blocks[k]
        first = bisect_left(kept_docs, k * BLOCK_DOCS, 0, i + 1, key=old_number)  # the old block's first posting
        t0, s0 = triples_at + previous.cuts[b], spots_at + previous.places[b]
        g0 = bisect_left(gone_numbers, k * BLOCK_DOCS)  # removed postings in the old block before it
        g1 = bisect_left(gone_numbers, old, g0)
        if i == first and g0 == g1:
            return t0, s0
        last = bisect_left(kept_docs, (k + 1) * BLOCK_DOCS, i, kept_count, key=old_number)  # the one after its last
        t1, s1 = triples_at + previous.cuts[b + 1], spots_at + previous.places[b + 1]
        g2 = bisect_left(gone_numbers, (k + 1) * BLOCK_DOCS, g1)  # and after it
        after = 3 * (last - i + g2 - g1)
        t = _before(old_text, t1, after, t0) if after <= _BACKWARDS else _after(old_text, t0, 3 * (i - first + g1 - g0))
        if positions is None:
            return t, s0
        after = sum(kept_tfs[i:last]) + sum(tf for _, tf in gone[g1:g2])
        if after <= _BACKWARDS:
            return t, _before(old_text, s1, after, s0)
        return t, _after(old_text, s0, sum(kept_tfs[first:i]) + sum(tf for _, tf in gone[g0:g1]))

    # The blocks before the first number that moved are the old ones, text and layout.
    same = bisect_left(previous.numbers, renumbered.first // BLOCK_DOCS)
    made = _Made(previous.numbers[:same], previous.cuts[:same + 1], previous.places[:same + 1],
                 old_text[triples_at:triples_at + previous.cuts[same]], old_text[spots_at:spots_at + previous.places[same]])
    start = bisect_left(docs, renumbered.first // BLOCK_DOCS * BLOCK_DOCS)
    first = sum(tfs[:start]) if positions is not None else 0
    known = None  # where() of this block's first posting, when the block before worked it out
    while start < count:
        k = docs[start] // BLOCK_DOCS
        end = bisect_left(docs, (k + 1) * BLOCK_DOCS, start)
        low, high = docs[start], docs[end - 1]
        block_tfs = tfs[start:end]
        used = sum(block_tfs) if positions is not None else 0
        gap = low - (docs[start - 1] if start else -1) - 1
        added_before = bisect_left(adds, start)
        at = bisect_left(steps, low + 1)
        if (at == len(steps) or steps[at] > high) and (added_before == len(adds) or adds[added_before] >= end) \
                and not _between(gone_numbers, back[low], back[high]):
            # No document added or removed among these, and one shift throughout: the old text.
            t_start, s_start = known if known is not None else where(start - added_before)
            if not gone:
                known = t_end, s_end = where(end - added_before)
            else:  # (a removed posting may come next in the old text)
                known = None
                t_end, s_end = where(end - 1 - added_before)
                t_end = _after(old_text, t_end, 3)
                s_end = _after(old_text, s_end, block_tfs[-1]) if positions is not None else s_end
            made.add(k, digits([gap, block_tfs[0], codes[low]]) + old_text[_after(old_text, t_start, 3):t_end],
                     old_text[s_start:s_end])
        else:
            known = None
            made.add(k, *_encoded_block(postings, codes, start, end, first, used))
        first += used
        start = end
    return made.result()


def _holds(docs: array, number: int) -> bool:
    at = bisect_left(docs, number)
    return at < len(docs) and docs[at] == number


def _between(numbers: list[int], low: int, high: int) -> bool:
    """Whether one of the sorted `numbers` is above `low` and below `high`."""
    at = bisect_left(numbers, low + 1)
    return at < len(numbers) and numbers[at] < high


def shift_big(index: IndexBuilder, term: str, entry: list, previous: tuple[Blocks, ...], old_text: str,
              renumbered: Renumbered, steps: list[int]) -> tuple[str, tuple[Blocks, ...]] | None:
    """`encode_big`'s result for a big term that no edited document holds, made from its
    `previous` layout in the text the last build published (`old_text`); None when that
    text does not fit the layout (the caller encodes the term whole)."""
    before = {b.field: b for b in previous}
    parts: list[str] = []
    layout = []
    at = 0
    try:
        for f, postings in enumerate(entry):
            if postings is None:
                continue
            head = digits([f, len(postings.docs)])
            old = before.get(f)
            added = sum(1 for number in renumbered.added if _holds(postings.docs, number))
            gone = [(number, terms[f][term]) for number, terms in renumbered.removed if term in terms[f]]
            old_head = digits([f, len(postings.docs) - added + len(gone)])
            if old is None or old_text[old.start - len(old_head):old.start] != old_head:
                return None
            triples, spots, numbers, cuts, places = _shift_field(index, f, postings, old, old_text, renumbered, steps, gone)
            layout.append(Blocks(f, at + len(head), numbers, cuts, places))
            parts += (head, triples, spots)
            at += len(head) + len(triples) + len(spots)
    except (KeyError, ValueError, IndexError):
        return None
    return "".join(parts), tuple(layout)


def published_terms(path: str, text: str) -> dict[str, str]:
    """The big terms' texts in a file `search/b/<hash>.js` as `Exported.text` wrote it."""
    prefix = f"gongshiSearch.shard({json.dumps(path[len('search/'):-len('.js')])},"
    if not text.startswith(prefix) or not text.endswith("}});\n"):
        return {}
    # {"docs":{...},"terms":{...}} (keys sorted): only the terms are read, not the records
    # before them. No string holds an unescaped quote, so this is the top-level key.
    at = text.rfind(',"terms":{')
    if at < len(prefix):
        return {}
    try:
        terms = json.loads(text[at + len(',"terms":'):-len("});\n")])
    except ValueError:
        return {}
    return terms if isinstance(terms, dict) else {}


def encode_facet(docs: array) -> str:
    out = [enc(FACETS), enc(len(docs))]
    previous = -1
    for doc in docs:
        out.append(enc(doc - previous - 1))
        previous = doc
    return "".join(out)


@lru_cache(maxsize=2048)
def _normalized(text: str) -> tuple[str, list[int] | None]:
    """`text` as search sees it and, when normalising changed lengths (… -> ...), the original
    offset of each of its characters. Kept for the last texts: a document is quoted by the
    first pages of many terms."""
    normal = normalize(text)
    if len(normal) == len(text):
        return normal, None
    pieces = [(i, normal_char(char)) for i, char in enumerate(text)]
    return "".join(piece for _, piece in pieces), [i for i, piece in pieces for _ in piece]


def window(text: str, term: str) -> str:
    """What a result quotes for `term`: its first occurrence in `text` and some context."""
    normal, origin = _normalized(text)
    found = normal.find(term)
    if found < 0:
        start, end = 0, 2 * SNIPPET_RADIUS
    else:
        at = origin[found] if origin is not None else found
        start, end = max(0, at - SNIPPET_RADIUS), at + len(term) + SNIPPET_RADIUS
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def record(doc: SearchDoc, text: str) -> list:
    return [doc.url, doc.title, doc.kind, doc.date, doc.village_name, text]


def script(call: str, key: str, data) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return f"gongshiSearch.{call}({json.dumps(key)},{body});\n"


def file_key(term: str) -> str:
    return "%08x" % term_hash(term)


class Term(NamedTuple):
    """What the export made of one term (or facet)."""

    hash: int  # term_hash: its shard, its file's name
    size: int  # characters of its encoded postings
    small: str | None  # a small term's encoded postings (a big term's are made again when needed)
    big: bool  # a file of its own under search/b/
    page: bool  # a small term with a page file under search/p/
    first: tuple | None  # its first page: of big terms, and of small ones that may have a page file
    summary: Summary | None  # what `first` was ranked from, to rank it again when totals change
    margin: float = 0.0  # how far `first`'s scores are from changing its order (IndexBuilder.ranked), at least
    weights: tuple = ()  # per field of `summary`, the term's idf times the field's boost


def term_result(index: IndexBuilder, term: str, page_files: bool, summary: Summary | None = None,
                previous: tuple[Blocks, ...] = (), old_text: str = "", edited: frozenset[int] = frozenset()
                ) -> tuple[Term, tuple[str, tuple[Blocks, ...]] | None, dict | None]:
    """(what the export made of `term`, a big term's text and layout, its first page's
    records or None). `summary` is the term's up-to-date summary when the caller has it;
    `previous` and `old_text`, a big term's layout and the text the last build published,
    before the documents of the blocks `edited` were edited."""
    if term in index.facets:
        text = encode_facet(index.facets[term])
        return Term(term_hash(term), len(text), text, False, False, None, None), None, None
    entry = index.entry(term)
    layout = None
    # Every posting takes three characters or more: a term with a thousand is big for sure.
    if old_text or sum(2 + 3 * len(p.docs) for p in entry if p is not None) >= BIG_BYTES:
        text, layout = encode_big(index, entry, previous, old_text, edited)
    else:
        text = encode_term(index, entry)
    big = len(text) >= BIG_BYTES
    if big and layout is None:  # (a term of a few hundred postings with long gaps: encoded twice)
        text, layout = encode_big(index, entry)
    first, margin, weights = None, 0.0, ()
    if big or (page_files and index.doc_count(entry) >= PAGE_FILE_MIN_DOCS):
        if summary is None or summary.fields != index.ranked_fields(entry):
            summary = index.summary(entry)
        first, margin, weights = index.ranked(entry, summary)
    else:
        summary = None
    page = first is not None and _has_page_file(big, first)
    records = first_page_records(index.docs, term, first) if big or page else None
    return (Term(term_hash(term), len(text), None if big else text, big, page, first, summary, margin, weights),
            (text, layout) if big else None, records)


def _has_page_file(big: bool, first: tuple) -> bool:
    """A small term whose first page draws on more than two document groups gets a page file."""
    return not big and len({n // GROUP_SIZE for n in first}) > 2


def first_page_records(docs: list[SearchDoc], term: str, first) -> dict:
    return {str(n): record(docs[n], window(docs[n].snippet, term)) for n in first}


def _term_results(index: IndexBuilder, terms: list[str], page_files: bool) -> dict:
    return {term: term_result(index, term, page_files) for term in terms}


def has_page_files(doc_count: int) -> bool:
    return -(-doc_count // GROUP_SIZE) >= PAGE_FILES_FROM_GROUPS


class _PackedField(dict):
    """term -> Postings of one field loaded from a saved state: each term's postings stay in
    the packed arrays until asked for (an edit asks for a few hundred of fifteen thousand)."""

    def __init__(self, names: list[str], counts: array, sizes: array, docs: bytes, tfs: bytes, positions: bytes):
        super().__init__(zip(names, range(len(names))))
        self.counts, self.sizes = counts, sizes
        self.starts = array("Q", accumulate(counts, initial=0))
        self.places = array("Q", accumulate(sizes, initial=0))
        self.docs, self.tfs, self.positions = memoryview(docs), memoryview(tfs), memoryview(positions)

    def raw(self, i: int) -> tuple[int, int, tuple]:
        """(count, positions, (docs, tfs, positions bytes)) of the i-th packed term."""
        at, count, place, size = self.starts[i], self.counts[i], self.places[i], self.sizes[i]
        return count, size, (self.docs[4 * at:4 * (at + count)], self.tfs[4 * at:4 * (at + count)],
                             self.positions[4 * place:4 * (place + size)])

    def _unpack(self, term: str, i: int) -> Postings:
        _, size, pieces = self.raw(i)
        postings = Postings.__new__(Postings)
        postings.docs, postings.tfs, postings.positions = array("I"), array("I"), array("I") if size else None
        for target, piece in zip((postings.docs, postings.tfs, postings.positions), pieces):
            if target is not None:
                target.frombytes(piece)
        dict.__setitem__(self, term, postings)
        return postings

    def __getitem__(self, term: str) -> Postings:
        value = dict.__getitem__(self, term)
        return self._unpack(term, value) if value.__class__ is int else value

    def get(self, term: str, default=None):
        value = dict.get(self, term, default)
        return self._unpack(term, value) if value.__class__ is int else value


class ExportState:
    """Everything the next build needs to export again after a few documents were edited:
    the documents, the index, what was made of each term and the checksum of each file.
    Kept in the build cache (`state_path`)."""

    VERSION = 7

    def __init__(self, version: str, index: IndexBuilder, terms: dict[str, Term], layouts: dict[str, tuple[Blocks, ...]],
                 shard_count: int):
        self.version = version
        self.index = index
        self.terms = terms
        self.layouts = layouts  # big term -> where its postings lie in its published text (`encode_big`)
        self.shard_count = shard_count
        self.sums: dict[str, str] = {}  # site path -> sha256 of the file as written
        self.sources: dict[str, bytes] = {}  # document key -> what it was made from, hashed (search.documents)
        # (old number -> new, terms) whose summaries still number the documents as before
        # `export_moved` renumbered them: done when the state is saved, after the site is published
        self.later: tuple[list[int], set[str]] | None = None

    def known_documents(self) -> dict:
        """{key: (source, document)}: the documents to give back when their source is the same."""
        return {doc.key: (self.sources[doc.key], doc) for doc in self.index.docs if doc.key in self.sources}

    def __getstate__(self) -> dict:
        """The postings packed field by field into a few long arrays: pickling thirty thousand
        small arrays and their objects costs ten times as much. Terms still packed from the
        state this one was loaded from are copied over as they are."""
        state = dict(self.__dict__)
        later = state.pop("later", None)
        if later is not None:
            moved, terms = later
            state["terms"] = {term: info._replace(summary=info.summary.renumbered(moved)) if term in terms else info
                              for term, info in self.terms.items()}
        index = self.index
        packed = []
        for field in index.fields:
            names = list(field)
            counts, sizes, docs, tfs, positions = array("I"), array("I"), [], [], []
            for name in names:
                value = dict.__getitem__(field, name)
                if value.__class__ is int:  # never unpacked: its bytes as they were
                    count, size, pieces = field.raw(value)
                    counts.append(count)
                    sizes.append(size)
                    docs.append(pieces[0])
                    tfs.append(pieces[1])
                    positions.append(pieces[2])
                    continue
                counts.append(len(value.docs))
                sizes.append(0 if value.positions is None else len(value.positions))
                docs.append(value.docs.tobytes())
                tfs.append(value.tfs.tobytes())
                if value.positions is not None:
                    positions.append(value.positions.tobytes())
            packed.append((names, counts, sizes, b"".join(docs), b"".join(tfs), b"".join(positions)))
        state["index"] = (packed, index.docs, index.totals, index.codes, index.facets)
        return state

    def __setstate__(self, state: dict) -> None:
        packed, docs, totals, codes, facets = state["index"]
        index = IndexBuilder.__new__(IndexBuilder)
        index.docs, index.totals, index.codes, index.facets = docs, totals, codes, facets
        index.fields = [_PackedField(*field) for field in packed]
        self.__dict__.update(state)
        self.index = index
        self.later = None

    def save(self, path) -> None:
        from .speed import save_pickle

        save_pickle(path, self)

    @classmethod
    def load(cls, path, version: str) -> "ExportState | None":
        import pickle

        from .speed import gc_paused

        try:
            with open(path, "rb") as source, gc_paused(keep=True):
                state = pickle.load(source)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
            return None  # missing or damaged: only costs a whole export
        if not isinstance(state, cls) or state.version != version:
            return None
        return state


def state_version() -> str:
    from .inputs import digest, tool_digest

    return digest(ExportState.VERSION, FORMAT_VERSION, tool_digest())


class Exported:
    """The browser's index: its files (each made on demand), which of them are the same as
    in the previous export (`unchanged`: path -> checksum), a summary for the search page and
    the state to keep for the next build."""

    def __init__(self, index: IndexBuilder, terms: dict[str, Term], layouts: dict[str, tuple[Blocks, ...]], kinds, site,
                 version: str, texts: dict | None = None, records: dict | None = None, published=None):
        self.index, self.terms = index, terms
        self.texts = texts or {}  # big term -> its text, made by this export
        self.records = records or {}  # term -> first page records already made
        # big term -> its text as the last build published it, when its postings did not change
        self.published = published or (lambda term: None)
        self.unchanged: dict[str, str] = {}  # set by export_changes
        self.edited: int | None = None  # documents replaced in the previous state (None: made afresh)
        docs = index.docs
        small_bytes = sum(len(term) + info.size + 6 for term, info in terms.items() if not info.big)
        self.shard_count = max(1, min(4096, -(-small_bytes // SHARD_BYTES)))
        self.big = sorted(term for term, info in terms.items() if info.big)
        self.group_count = -(-len(docs) // GROUP_SIZE)
        self._members: dict[str, list[str]] | None = None
        years = sorted({doc.year for doc in docs if doc.year}, reverse=True)
        self.meta = {
            "version": FORMAT_VERSION, "docs": len(docs), "fields": list(ALL_FIELDS), "boosts": list(ALL_BOOSTS),
            "lengths": index.totals, "k1": K1, "b": B, "shards": self.shard_count, "group": GROUP_SIZE, "page": PAGE_SIZE,
            "radius": SNIPPET_RADIUS, "townships": [[t.slug, t.name] for t in site.townships], "kinds": [list(k) for k in kinds],
            "years": years, "big": " ".join(self.big), "lengthTable": [byte_to_length(code) for code in range(256)],
        }
        self.villages = [[v.id, v.village.name, t.slug] for t in site.townships for v in sorted(t.villages, key=lambda v: v.id)]
        self.summary = {"documents": len(docs), "shards": self.shard_count, "big": len(self.big), "groups": self.group_count,
                        "years": years, "kinds": kinds, "townships": [(t.slug, t.name) for t in site.townships]}
        self.state = ExportState(version, index, terms, layouts, self.shard_count)

    def paths(self) -> list[str]:
        paths = {f"search/t/{n}.js" for n in range(self.shard_count)}
        paths.update(f"search/r/{g}.js" for g in range(self.group_count))
        paths.update(self.members())
        return sorted(paths | {"search/meta.js", "search/v.js"})

    def members(self) -> dict[str, list[str]]:
        """{path: its terms, in order} of every shard, big term file and page file."""
        if self._members is None:
            members: dict[str, list[str]] = {}
            for term in sorted(self.terms):
                info = self.terms[term]
                if info.big:
                    members.setdefault("search/b/%08x.js" % info.hash, []).append(term)
                    continue
                members.setdefault(f"search/t/{info.hash % self.shard_count}.js", []).append(term)
                if info.page:
                    members.setdefault("search/p/%08x.js" % info.hash, []).append(term)
            self._members = members
        return self._members

    def _text(self, term: str) -> str:
        text = self.texts.get(term)
        if text is None:
            text = self.published(term)
        return text if text is not None else encode_term(self.index, self.index.entry(term))

    def _records(self, term: str) -> dict:
        records = self.records.get(term)
        if records is None:
            records = first_page_records(self.index.docs, term, self.terms[term].first)
        return records

    def text(self, path: str) -> str:
        """The file at `path`, made from the index."""
        name = path[len("search/"):-len(".js")]
        docs = self.index.docs
        if name == "meta":
            return script("meta", "meta", self.meta)
        if name == "v":
            return script("villages", "v", self.villages)
        if name.startswith("r/"):
            g = int(name[2:])
            return script("records", name, [record(doc, doc.snippet) for doc in docs[g * GROUP_SIZE:(g + 1) * GROUP_SIZE]])
        terms = self.members().get(path, [])
        if name.startswith("t/"):
            shard = {"terms": {term: self.terms[term].small for term in terms},
                     "pages": [term for term in terms if self.terms[term].page]}
            return script("shard", name, shard)
        data: dict = {"docs": {}}
        if name.startswith("b/"):
            data["terms"] = {term: self._text(term) for term in terms}
        for term in terms:
            data["docs"].update(self._records(term))
        return script("shard" if name.startswith("b/") else "page", name, data)

    def files(self) -> dict[str, str]:
        return {path: self.text(path) for path in self.paths()}


def export_all(docs: list[SearchDoc], kinds: list[tuple[str, str]], site, version: str = "",
               index: IndexBuilder | None = None) -> Exported:
    """The whole index made afresh (`index`: the postings of `docs`, when they are there
    already: `IndexBuilder.renumber`). On a large site the terms are shared out between
    processes in runs of the sorted order: the same result as one process."""
    from .parallel import run_parallel, workers

    index = IndexBuilder(list(docs)) if index is None else index
    terms = index.terms + sorted(index.facets)
    page_files = has_page_files(len(docs))
    count = workers() if len(docs) >= PARALLEL_DOCS else 1
    bounds = [len(terms) * share // count for share in range(count + 1)]
    parts = run_parallel([lambda start=start, end=end: _term_results(index, terms[start:end], page_files)
                          for start, end in zip(bounds, bounds[1:])], min_jobs=2)
    infos, texts, layouts, records = {}, {}, {}, {}
    for part in parts:
        for term, (info, big, made) in part.items():
            infos[term] = info
            if big is not None:
                texts[term], layouts[term] = big
            if made is not None:
                records[term] = made
    return Exported(index, infos, layouts, kinds, site, version, texts=texts, records=records)


def export_changes(docs: list[SearchDoc], kinds: list[tuple[str, str]], site, state: ExportState,
                   read=lambda path: None) -> Exported | None:
    """The index of `docs` from the previous export's state, when the documents are the same
    ones in the same order and only some were edited (None otherwise: export everything).

    Only the edited documents are analysed again, only their terms encoded again (of a big
    term, only its blocks that changed), and a first page is ranked again only from its
    summary when a field's total length changed. Files that nothing changed in are
    `unchanged`; the result is the same as `export_all`'s.
    `read(path)`: the text of the site's file at `path` as the last build published it, or
    None; a big term's unchanged blocks are taken from it when its checksum is the one the
    state recorded (else the term is encoded whole)."""
    index = state.index
    old_docs = list(index.docs)
    if len(old_docs) != len(docs) or any(a.key != b.key for a, b in zip(old_docs, docs)):
        return None
    edited = [n for n, (a, b) in enumerate(zip(old_docs, docs)) if a is not b and a != b]  # (unchanged: the same object)
    old_terms = state.terms
    totals = list(index.totals)
    touched: set[str] = set()
    summaries: dict[str, Summary | None] = {}  # touched terms' summaries, kept up to date
    for n in edited:
        words = set().union(*(terms for terms, _ in analyse(old_docs[n]) + analyse(docs[n])))
        before = {}
        for term in words:
            summary = summaries[term] if term in summaries else getattr(old_terms.get(term), "summary", None)
            if summary is not None:
                before[term] = (summary, index.combo(index.entry(term), summary.fields, n))
            else:
                summaries[term] = None
        touched |= index.replace(n, old_docs[n], docs[n])
        for term, (summary, combo) in before.items():
            entry = index.entry(term)
            if summary.fields != index.ranked_fields(entry):
                summaries[term] = None
                continue
            summaries[term] = summary.moved(n, combo, index.combo(entry, summary.fields, n))
    index.docs = list(docs)
    new_totals = {f for f, (a, b) in enumerate(zip(totals, index.totals)) if a != b}
    page_files = has_page_files(len(docs))
    terms = dict(old_terms)
    layouts = dict(state.layouts)
    published = _published_reader(state, read)
    edited_blocks = frozenset(n // BLOCK_DOCS for n in edited)
    changed: set[str] = set()  # terms whose files must be made again
    texts, records = {}, {}
    for term in touched:
        layout = layouts.pop(term, None)
        old_text = (published(term) or "") if layout is not None else ""
        if term in index.facets or any(term in field for field in index.fields):
            info, big, made = term_result(index, term, page_files, summaries.get(term), layout or (), old_text, edited_blocks)
            terms[term] = info
            if big is not None:
                texts[term], layouts[term] = big
            if made is not None:
                records[term] = made
        else:
            del terms[term]
        changed.add(term)
    edited_set = set(edited)
    if new_totals:
        shift = score_shift(totals, index.totals)
        for term, info in old_terms.items():
            if term in touched or info.first is None or new_totals.isdisjoint(info.summary.fields):
                continue
            # Its postings, hence its idf, are the same: only the average lengths moved.
            moved = score_bound(info.weights, info.summary.fields, shift)
            if info.weights and info.margin > 2 * moved * (1 + 1e-6) + 1e-9:  # no two groups can change places
                terms[term] = info._replace(margin=info.margin - 2 * moved)
                continue
            first, margin, weights = index.ranked(index.entry(term), info.summary)
            terms[term] = info._replace(first=first, page=_has_page_file(info.big, first), margin=margin, weights=weights)
            if first != info.first:
                changed.add(term)
    for term, info in terms.items():  # records quoting an edited document
        if (info.big or info.page) and not edited_set.isdisjoint(info.first):
            changed.add(term)
    exported = Exported(index, terms, layouts, kinds, site, state.version, texts=texts, records=records,
                        published=published)
    exported.edited = len(edited)
    dirty = {"search/meta.js", "search/v.js"} | {f"search/r/{n // GROUP_SIZE}.js" for n in edited}
    for term in changed:
        for info, count in ((old_terms.get(term), state.shard_count), (terms.get(term), exported.shard_count)):
            if info is None:
                continue
            if info.big:
                dirty.add("search/b/%08x.js" % info.hash)
                continue
            dirty.add(f"search/t/{info.hash % count}.js")
            if info.page:
                dirty.add("search/p/%08x.js" % info.hash)
    if exported.shard_count != state.shard_count:
        dirty |= {path for path in exported.paths() if path.startswith("search/t/")}
    exported.unchanged = {path: state.sums[path] for path in exported.paths() if path not in dirty and path in state.sums}
    return exported


class _Moving(NamedTuple):
    """What `export_moved` works out once for every term."""

    renumbered: Renumbered
    steps: list[int]  # Renumbered.steps()
    gone: dict[str, list[tuple[int, int]]]  # term -> (old number, combo) of each removed document holding it
    shift: list[float]  # score_shift of the field's average lengths
    counted: float  # count_shift


def _moved_term(index: IndexBuilder, term: str, info: Term, page_files: bool, old_text: str | None,
                layout: tuple[Blocks, ...] | None, moving: _Moving) -> tuple | None:
    """`export_moved`'s (Term, big term's text and layout, first page's records, whether the
    summary still numbers documents as before) for a term no edited document holds (`info`:
    what the last export made of it), or None: made as `export_all` makes it."""
    renumbered = moving.renumbered
    entry = index.entry(term)
    if info.big:
        made = shift_big(index, term, entry, layout, old_text, renumbered, moving.steps) if old_text and layout else None
        text, layout = made if made is not None else encode_big(index, entry)
    elif term not in renumbered.touched and all(p is None or p.docs[-1] < renumbered.first for p in entry):
        text, layout = info.small, None  # numbered as before
    else:
        text, layout = encode_term(index, entry), None
    big = len(text) >= BIG_BYTES
    if big != info.big:
        return None
    first, margin, weights, summary, before = None, 0.0, (), None, False
    if big or (page_files and index.doc_count(entry) >= PAGE_FILE_MIN_DOCS):
        fields = index.ranked_fields(entry)
        if info.summary is None or info.summary.fields != fields:
            return None
        if term in renumbered.touched:  # an added or removed document holds it
            summary = info.summary
            for number, combo in moving.gone.get(term, ()):  # the removed ones taken out, as numbered before
                summary = summary.moved(number, combo, 0)
                if summary is None:
                    return None  # (a group of which the summary kept too few)
            summary = summary.renumbered(renumbered.moved)
            for number in renumbered.added:
                combo = index.combo(entry, fields, number)
                if combo:
                    summary = summary.moved(number, 0, combo)
            first, margin, weights = index.ranked(entry, summary)
        else:  # the same postings: the same groups, their scores moved by the count and the lengths
            summary, before = info.summary, True
            weights = tuple(idf(len(index.docs), len(entry[f].docs)) * ALL_BOOSTS[f] for f in fields)
            bound = score_bound(weights, fields, moving.shift, moving.counted)
            if info.weights and info.margin > 2 * bound * (1 + 1e-6) + 1e-9:  # no two groups can change places
                first, margin = info.first, info.margin - 2 * bound
            else:
                first, margin, weights = index.ranked(entry, summary)
            first = tuple(renumbered.moved[doc] for doc in first)
    page = first is not None and _has_page_file(big, first)
    records = first_page_records(index.docs, term, first) if big or page else None
    return (Term(info.hash, len(text), None if big else text, big, page, first, summary, margin, weights),
            (text, layout) if big else None, records, before)


def _published_reader(state: ExportState, read):
    """term -> a big term's text as the last build published it (None when that file is gone
    or is not the one the state recorded)."""
    files: dict[str, dict[str, str]] = {}  # path -> the big terms' texts published in it

    def published(term: str) -> str | None:
        info = state.terms.get(term)
        if info is None or not info.big:
            return None
        path = "search/b/%08x.js" % info.hash
        if path not in files:
            text = read(path)
            ok = text is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() == state.sums.get(path)
            files[path] = published_terms(path, text) if ok else {}
        return files[path].get(term)

    return published


def export_moved(docs: list[SearchDoc], kinds: list[tuple[str, str]], site, state: ExportState,
                 read=lambda path: None) -> Exported | None:
    """The index of `docs` from the previous export's state when documents were added or
    removed (some perhaps edited) and the others kept their order (None otherwise), the
    result `export_all`'s.

    The state's postings are renumbered (`IndexBuilder.renumber`). A term that no edited
    document holds keeps its postings but for their numbers and the added and removed
    documents' (`_moved_term`): a big one's text is the one the last build published, but
    for the blocks of postings where a document was added or removed or numbers did not
    move together (`shift_big`), and its first page comes from its summary, the removed
    documents taken out and the added ones put in (ranked again). Where no added or removed
    document holds the term, that is the page the summary gave, numbered anew, ranked again
    only when the document count and the field lengths moved its scores by more than its
    margin allows. Other terms are made as `export_all` makes them. Record groups before
    the first document that moved are kept."""
    index = state.index
    old_count, old_totals = len(index.docs), list(index.totals)
    keys, old_keys = {doc.key for doc in docs}, {doc.key for doc in index.docs}
    removed = [number for number, doc in enumerate(index.docs) if doc.key not in keys]
    if len(removed) + sum(1 for doc in docs if doc.key not in old_keys) > MOVED_DOCUMENTS:
        # Many came or went: the postings renumbered, every term made again from them.
        return export_all(docs, kinds, site, state.version, index=index) if index.renumber(docs) else None
    gone: dict[str, list[tuple[int, int]]] = {}  # what each removed document's summaries group it by
    for number in removed:
        for term in set().union(*(terms for terms, _ in analyse(index.docs[number]))):
            info = state.terms.get(term)
            if info is not None and info.summary is not None:
                gone.setdefault(term, []).append((number, index.combo(index.entry(term), info.summary.fields, number)))
    renumbered = index.renumber(docs)
    if renumbered is None:
        return None
    count = len(docs)
    page_files = has_page_files(count)
    if not count or not old_count or page_files != has_page_files(old_count):
        return export_all(docs, kinds, site, state.version, index=index)
    published = _published_reader(state, read)
    # Every score of a term kept moves with the field's average length and with its idf,
    # by log(count / old count) in every field (its document counts are the same).
    moving = _Moving(renumbered, renumbered.steps(), gone,
                     score_shift([total / old_count for total in old_totals], [total / count for total in index.totals]),
                     count_shift(old_count, count))
    infos, texts, layouts, records = {}, {}, {}, {}
    later = set()  # terms whose summary still numbers documents as before
    for term in index.terms + sorted(index.facets):
        if term in index.facets:
            text = encode_facet(index.facets[term])
            infos[term] = Term(term_hash(term), len(text), text, False, False, None, None)
            continue
        info = state.terms.get(term)
        made = None
        if info is not None and term not in renumbered.changed:
            made = _moved_term(index, term, info, page_files, published(term) if info.big else None,
                               state.layouts.get(term), moving)
        if made is None:
            info, big, first_records = term_result(index, term, page_files)
        else:
            info, big, first_records, numbered_before = made
            if numbered_before:
                later.add(term)
        infos[term] = info
        if big is not None:
            texts[term], layouts[term] = big
        if first_records is not None:
            records[term] = first_records
    exported = Exported(index, infos, layouts, kinds, site, state.version, texts=texts, records=records)
    exported.state.later = (renumbered.moved, later)
    # Record groups before the first document that moved hold the same documents, unless edited.
    kept = set(range(renumbered.first // GROUP_SIZE)) - {number // GROUP_SIZE for number in renumbered.edited}
    exported.unchanged = {path: state.sums[path] for path in (f"search/r/{g}.js" for g in sorted(kept))
                          if path in state.sums}
    return exported


def export(docs: list[SearchDoc], kinds: list[tuple[str, str]], site) -> tuple[dict[str, str], dict]:
    """{site path: file text} of the browser's index, and a summary for the search page."""
    exported = export_all(docs, kinds, site)
    return exported.files(), exported.summary
