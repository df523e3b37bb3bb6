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
"""
from __future__ import annotations

import heapq
import json
from array import array
from itertools import chain
from math import log

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


DIGITS = [encode_number(v) for v in range(1 << 14)]


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


class Postings:
    """One term's postings in one field, in document order."""

    __slots__ = ("docs", "tfs", "positions")

    def __init__(self, with_positions: bool):
        self.docs = array("I")
        self.tfs = array("I")
        self.positions = array("I") if with_positions else None


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
        texts = []
        at = number - self.start
        for f, name in enumerate(FIELDS):
            text = doc.field(name)
            texts.append(text)
            positions, length = term_positions(text)
            if not length:
                continue
            self.totals[f] += length
            self.codes[f][at] = length_to_byte(length)
            field = self.fields[f]
            for term, where in positions.items():
                postings = field.get(term)
                if postings is None:
                    postings = field[term] = Postings(is_pair(term))
                postings.docs.append(number)
                postings.tfs.append(len(where))
                if postings.positions is not None:
                    postings.positions.extend(where)
        counts, length = char_counts("\n".join(texts))
        if length:
            self.totals[CHARS] += length
            self.codes[CHARS][at] = length_to_byte(length)
            field = self.fields[CHARS]
            for char, tf in counts.items():
                postings = field.get(char)
                if postings is None:
                    postings = field[char] = Postings(False)
                postings.docs.append(number)
                postings.tfs.append(tf)
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


class IndexBuilder:
    """Postings and statistics of every term, as a fresh whoosh index would hold them.

    A large site's documents are analysed in shares, one process per core (`parallel`), and
    the shares merged in document order: the same postings as one process makes.
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
        terms = set().union(*self.fields)
        self.terms = {term: [field.get(term) for field in self.fields] for term in sorted(terms)}

    def doc_count(self, entry: list) -> int:
        present = [p for p in entry if p is not None]
        return len(present[0].docs) if len(present) == 1 else len({doc for p in present for doc in p.docs})

    def lengths(self, f: int, postings: Postings) -> list[int]:
        codes = self.codes[f]
        return [codes[doc] for doc in postings.docs]

    # -- a one-term query's first page, ranked exactly as whoosh and search.js do ------------
    def scores(self, f: int, postings: Postings) -> list[float]:
        n = len(self.docs)
        term_idf, avgfl, boost = idf(n, len(postings.docs)), self.totals[f] / n, ALL_BOOSTS[f]
        keys = [tf << 8 | code for tf, code in zip(postings.tfs, self.lengths(f, postings))]
        table = {key: bm25(term_idf, key >> 8, byte_to_length(key & 255), avgfl) * boost for key in set(keys)}
        return [table[key] for key in keys]

    def first_page(self, entry: list) -> list[int]:
        present = [f for f, p in enumerate(entry) if p is not None]
        if len(present) == 1:
            total = dict(zip(entry[present[0]].docs, self.scores(present[0], entry[present[0]])))
        else:
            # Fields are summed as whoosh's matcher tree does: title + (tags + body).
            title, tags, body = ({} if p is None else dict(zip(p.docs, self.scores(f, p))) for f, p in enumerate(entry[:CHARS]))
            for doc, value in tags.items():
                body[doc] = value + body[doc] if doc in body else value
            for doc, value in title.items():
                body[doc] = value + body[doc] if doc in body else value
            total = body
        if len(total) <= PAGE_SIZE:
            return sorted(total, key=lambda doc: (-total[doc], doc))
        best = heapq.nlargest(PAGE_SIZE, zip(total.values(), (-doc for doc in total)))
        return [-negative for _, negative in best]


def facet_terms(doc: SearchDoc) -> list[str]:
    """Filter values as terms no analyzer can produce (they hold a colon)."""
    facets = [f"k:{doc.kind}", f"v:{doc.village}", f"t:{doc.township}"]
    if doc.year:
        facets.append(f"y:{doc.year}")
    return facets


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
        positions = postings.positions
        if positions is not None:
            before = [-1, *positions[:-1]]
            at = 0
            for tf in postings.tfs:  # each posting's first position counts from -1
                before[at] = -1
                at += tf
            out.append(digits([p - q - 1 for p, q in zip(positions, before)]))
    return "".join(out)


def encode_facet(docs: array) -> str:
    out = [enc(FACETS), enc(len(docs))]
    previous = -1
    for doc in docs:
        out.append(enc(doc - previous - 1))
        previous = doc
    return "".join(out)


def window(text: str, term: str) -> str:
    """What a result quotes for `term`: its first occurrence in `text` and some context."""
    normal = normalize(text)
    if len(normal) == len(text):
        found, origin = normal.find(term), None
    else:  # normalising changed lengths (… -> ...): map offsets back to the original
        pieces = [(i, normal_char(char)) for i, char in enumerate(text)]
        origin = [i for i, piece in pieces for _ in piece]
        found = "".join(piece for _, piece in pieces).find(term)
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


def export_terms(index: IndexBuilder) -> dict:
    """Small terms encoded for the shards; big terms and first pages as files of their own.

    {"small": {term: text}, "pages": [small terms with a page file], "big": [terms],
     "files": {site path: {"terms": {...}, "docs": {...}}}}

    On a large site the terms are shared out between processes in runs of the sorted order
    and the parts merged in that order: the same result as one process.
    """
    from .parallel import run_parallel, workers

    terms = list(index.terms)
    count = workers() if len(index.docs) >= PARALLEL_DOCS else 1
    bounds = [len(terms) * share // count for share in range(count + 1)]
    parts = run_parallel([lambda start=start, end=end: _export_share(index, terms[start:end])
                          for start, end in zip(bounds, bounds[1:])], min_jobs=2)
    small, pages, big, files = {}, set(), [], {}
    for part in parts:
        small.update(part["small"])
        pages |= part["pages"]
        big += part["big"]
        for path, data in part["files"].items():
            into = files.setdefault(path, {key: {} for key in data})
            for key, values in data.items():
                into[key].update(values)
    small.update({facet: encode_facet(numbers) for facet, numbers in index.facets.items()})
    return {"small": small, "pages": pages, "big": big, "files": files}


def _export_share(index: IndexBuilder, terms: list[str]) -> dict:
    docs = index.docs
    small, pages, big, files = {}, set(), [], {}
    page_files = -(-len(docs) // GROUP_SIZE) >= PAGE_FILES_FROM_GROUPS

    def first_page_records(term: str, first: list[int]) -> dict:
        return {str(n): record(docs[n], window(docs[n].snippet, term)) for n in first}

    for term in terms:
        entry = index.terms[term]
        text = encode_term(index, entry)
        if len(text) >= BIG_BYTES:
            big.append(term)
            data = files.setdefault(f"search/b/{file_key(term)}.js", {"terms": {}, "docs": {}})
            data["terms"][term] = text
            data["docs"].update(first_page_records(term, index.first_page(entry)))
            continue
        small[term] = text
        if page_files and index.doc_count(entry) >= PAGE_FILE_MIN_DOCS:
            first = index.first_page(entry)
            if len({n // GROUP_SIZE for n in first}) > 2:
                pages.add(term)
                files.setdefault(f"search/p/{file_key(term)}.js", {"docs": {}})["docs"].update(first_page_records(term, first))
    return {"small": small, "pages": pages, "big": big, "files": files}


def export(docs: list[SearchDoc], kinds: list[tuple[str, str]], site) -> tuple[dict[str, str], dict]:
    """{site path: file text} of the browser's index, and a summary for the search page."""
    index = IndexBuilder(docs)
    terms = export_terms(index)
    small, pages, big, data_files = terms["small"], terms["pages"], sorted(terms["big"]), terms["files"]
    small_bytes = sum(len(term) + len(text) + 6 for term, text in small.items())
    shard_count = max(1, min(4096, -(-small_bytes // SHARD_BYTES)))
    shards: dict[int, dict] = {n: {"terms": {}, "pages": []} for n in range(shard_count)}
    for term in sorted(small):
        shard = shards[term_hash(term) % shard_count]
        shard["terms"][term] = small[term]
        if term in pages:
            shard["pages"].append(term)
    files = {f"search/t/{n}.js": script("shard", f"t/{n}", shard) for n, shard in shards.items()}
    for path in sorted(data_files):
        files[path] = script("shard" if path.startswith("search/b/") else "page", path[len("search/"):-len(".js")], data_files[path])
    group_count = -(-len(docs) // GROUP_SIZE)
    for g in range(group_count):
        members = docs[g * GROUP_SIZE:(g + 1) * GROUP_SIZE]
        files[f"search/r/{g}.js"] = script("records", f"r/{g}", [record(doc, doc.snippet) for doc in members])
    villages = [[v.id, v.village.name, t.slug] for t in site.townships for v in sorted(t.villages, key=lambda v: v.id)]
    files["search/v.js"] = script("villages", "v", villages)
    years = sorted({doc.year for doc in docs if doc.year}, reverse=True)
    meta = {
        "version": FORMAT_VERSION, "docs": len(docs), "fields": list(ALL_FIELDS), "boosts": list(ALL_BOOSTS),
        "lengths": index.totals, "k1": K1, "b": B, "shards": shard_count, "group": GROUP_SIZE, "page": PAGE_SIZE,
        "radius": SNIPPET_RADIUS, "townships": [[t.slug, t.name] for t in site.townships], "kinds": [list(k) for k in kinds],
        "years": years, "big": " ".join(big), "lengthTable": [byte_to_length(code) for code in range(256)],
    }
    files["search/meta.js"] = script("meta", "meta", meta)
    summary = {"documents": len(docs), "shards": shard_count, "big": len(big), "groups": group_count, "years": years,
               "kinds": kinds, "townships": [(t.slug, t.name) for t in site.townships]}
    return files, summary
