"""The whoosh index behind `gongshi search`: the reference engine and the ranking oracle.

It holds the same documents, through the same analyzer, as the browser's index, and is
kept in the build cache (`.gongshi-cache/search/whoosh/`), in segments of SEGMENT_DOCS
documents. Each update compares content hashes and re-indexes only the segments holding a
changed or removed document, so the statistics BM25F uses (document count, document
frequencies, field lengths) are always exactly those of a fresh index, as the browser's
index states them.

A query becomes, for each of its parts, an `Or` over the weighted fields of a `Phrase` of
character pairs (or a `Term` for a word) with the field's boost, or a `Term` in the
`chars` field for a single character; parts are joined by nested two-way `And`s. Results
are ordered by score, then by the documents' order (search.documents()), which the
browser uses as document numbers, so the order is the same everywhere.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from whoosh import fields, index, query
from whoosh.analysis import Tokenizer
from whoosh.analysis.acore import Token as WhooshToken
from whoosh.query.compound import DefaultOr
from whoosh.reading import SegmentReader

from .search import BOOSTS, FIELDS, SearchDoc
from .search_analysis import CHARS_FIELD, char_tokens, query_parts, tokens

SCHEMA_VERSION = 1


class FieldsOr(DefaultOr):
    """An Or over the weighted fields whose scores add up in the fields' order.

    whoosh's DefaultOr builds its tree by estimated sizes, so the order of the floating
    point additions would depend on the index; a fixed order (title + (tags + body)) is
    what search.js reproduces, to the last bit.
    """

    def _matcher(self, subs, searcher, context):
        from whoosh.matching import UnionMatcher

        return self._tree_matcher(subs, UnionMatcher, searcher, context, None)


class _Tokens(Tokenizer):
    produce = staticmethod(tokens)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for token in self.produce(value):
            t.text = token.text
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = start_pos + token.pos
            if chars:
                t.startchar, t.endchar = start_char + token.pos, start_char + token.end
            yield t


class PairTokenizer(_Tokens):
    """search_analysis.tokens(): character pairs and words, positions = character offsets."""

    produce = staticmethod(tokens)


class CharTokenizer(_Tokens):
    """search_analysis.char_tokens(): every Chinese character alone."""

    produce = staticmethod(char_tokens)


def schema() -> fields.Schema:
    weighted = {name: fields.TEXT(analyzer=PairTokenizer(), phrase=True) for name in FIELDS}
    return fields.Schema(
        key=fields.ID(stored=True, unique=True), digest=fields.ID(stored=True),
        village=fields.ID, township=fields.ID, kind=fields.ID, year=fields.ID,
        **weighted, **{CHARS_FIELD: fields.TEXT(analyzer=CharTokenizer(), phrase=False)},
    )


def _fields_of(doc: SearchDoc) -> dict:
    values = {name: doc.field(name) for name in FIELDS}
    values[CHARS_FIELD] = "\n".join(doc.field(name) for name in FIELDS)
    values.update(key=doc.key, digest=doc.digest, village=doc.village, township=doc.township, kind=doc.kind, year=doc.year or "-")
    return values


def open_index(folder: Path):
    """The index in `folder`, created (or re-created after a format change) when needed."""
    stamp = folder / "gongshi.json"
    wanted = {"schema": SCHEMA_VERSION, "fields": list(FIELDS), "boosts": BOOSTS}
    if folder.is_dir() and index.exists_in(str(folder)):
        try:
            if json.loads(stamp.read_text()) == wanted:
                return index.open_dir(str(folder))
        except (OSError, ValueError):
            pass
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ix = index.create_in(str(folder), schema())
    stamp.write_text(json.dumps(wanted))
    return ix


SEGMENT_DOCS = 500  # documents per segment: an edit re-indexes the segment it is in
MAX_SEGMENTS = 40


def _segment_keys(ix) -> list[tuple[object, dict[str, str]]]:
    """[(segment, {key: digest})] of the index as it is."""
    found = []
    for segment in ix._segments():
        reader = SegmentReader(ix.storage, ix.schema, segment)
        try:
            found.append((segment, {stored["key"]: stored["digest"] for stored in reader.all_stored_fields()}))
        finally:
            reader.close()
    return found


def update(folder: Path, docs: list[SearchDoc], on_change=None) -> int:
    """Re-index what changed; returns how many documents were (re)written.

    Whoosh merges segments from their stored, rounded field lengths, which would leave the
    statistics slightly off a fresh index. So nothing is ever deleted or merged: a segment
    holding a changed or removed document is dropped whole, and its other documents are
    indexed again from the content, with the changed ones.
    """
    ix = open_index(folder)
    wanted = {doc.key: doc for doc in docs}
    segments = _segment_keys(ix)
    dirty = {id(seg) for seg, keys in segments if any(wanted.get(k) is None or wanted[k].digest != d for k, d in keys.items())}
    if len(segments) - len(dirty) > MAX_SEGMENTS:  # too many small segments: rewrite the smallest
        for seg, _ in sorted((item for item in segments if id(item[0]) not in dirty), key=lambda item: len(item[1]))[:len(segments) // 2]:
            dirty.add(id(seg))
    kept = {key for seg, keys in segments if id(seg) not in dirty for key in keys}
    todo = [doc for doc in docs if doc.key not in kept]
    if not todo and not dirty:
        return 0
    if on_change:
        on_change(len(todo), len(docs))
    for start in range(0, max(len(todo), 1), SEGMENT_DOCS):
        writer = ix.writer(limitmb=128)
        for doc in todo[start:start + SEGMENT_DOCS]:
            writer.add_document(**_fields_of(doc))
        if start == 0:
            writer.commit(mergetype=lambda w, segs: _keep(segs, dirty, segments))
        else:
            writer.commit(merge=False)
    return len(todo)


def _keep(current, dirty, before) -> list:
    dropped = {seg.segment_id() for seg, _ in before if id(seg) in dirty}
    return [seg for seg in current if seg.segment_id() not in dropped]


def build_query(text: str):
    """The whoosh query for what a user typed (None when it has no searchable part)."""
    ands = []
    for part in query_parts(text):
        if part.is_char:
            ands.append(query.Term(CHARS_FIELD, part.text))
            continue
        per_field = []
        for name in FIELDS:
            if len(part.terms) == 1:
                per_field.append(query.Term(name, part.terms[0], boost=BOOSTS[name]))
            else:
                per_field.append(query.Phrase(name, list(part.terms), slop=1, boost=BOOSTS[name]))
        ands.append(FieldsOr(per_field))
    if not ands:
        return None
    combined = ands[-1]
    for part_query in reversed(ands[:-1]):
        combined = query.And([part_query, combined])  # two at a time: a fixed order of sums
    return combined


def search(folder: Path, docs: list[SearchDoc], text: str, *, kind=None, village=None, township=None, year=None) -> list[tuple[SearchDoc, float]]:
    """Every matching document with its score, best first; ties in the documents' order."""
    q = build_query(text)
    if q is None:
        return []
    facets = [query.Term(name, value) for name, value in (("kind", kind), ("village", village), ("township", township), ("year", year)) if value]
    ix = open_index(folder)
    rank = {doc.key: n for n, doc in enumerate(docs)}
    by_key = {doc.key: doc for doc in docs}
    with ix.searcher() as searcher:
        hits = searcher.search(q, limit=None, filter=query.And(facets) if facets else None, scored=True)
        found = [(hit["key"], hit.score) for hit in hits]
    found.sort(key=lambda item: (-item[1], rank[item[0]]))
    return [(by_key[key], score) for key, score in found]
