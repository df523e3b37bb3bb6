"""How search splits text into terms: the one definition the index, the CLI and the browser share.

Chinese is written without spaces, and a dictionary segmenter splits a query differently
from the sentence it was built from, so documents go missing. Instead every run of Chinese
characters is indexed as its overlapping character pairs (bigrams: 危房改造 -> 危房 房改 改造),
Latin words and numbers as words (PE, LED, 2024, 6.5, 60,000 = 60000), all with their
positions, in the weighted fields (title, tags, body). A query is split the same way:

- two or more Chinese characters: their pairs, which must occur at consecutive character
  positions in one field (a phrase), so a document matches exactly when one of its fields
  contains the query as a substring;
- a word or number: that word, in any field;
- a single Chinese character: it has no pair, so every Chinese character is also indexed
  alone, without positions, in one extra field `chars` over all of a document's text. A
  one-character query finds every document containing that character; it is ranked by
  that field alone (title and body weigh the same), which keeps the index small: one
  character queries are rare and match most documents anyway.

A query with several parts (separated by spaces, punctuation, or a change between Chinese
and Latin) finds the documents matching all of them. Positions are character offsets in
the normalised field text, so pairs from runs separated by a punctuation mark or a word
are never adjacent. themes/default/static/assets/search.js implements the same rules and
tests check that both give the same results.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# CJK Unified Ideographs, Extension A and the compatibility block: the characters of
# Chinese text. Other scripts' letters and digits form words; 60,000 is one word (60000),
# and so is a decimal such as 6.5.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
RUNS = re.compile(rf"(?P<cjk>[{CJK}]+)|(?P<word>[0-9]{{1,3}}(?:,[0-9]{{3}})+(?![0-9])|[^\W_{CJK}]+(?:\.[0-9]+)*)")
CJK_CHAR = re.compile(f"[{CJK}]")
CHARS_FIELD = "chars"

_NORMAL: dict[str, str] = {}


def normal_char(char: str) -> str:
    """One character as search sees it: NFKC (Ｐ -> P, ，-> ,), then lower case."""
    try:
        return _NORMAL[char]
    except KeyError:
        _NORMAL[char] = value = unicodedata.normalize("NFKC", char).lower()
        return value


class _Table(dict):
    """normal_char() by code point, for str.translate: filled as characters are met (making
    it for the whole Basic Multilingual Plane at once took a tenth of a second a process)."""

    def __missing__(self, code: int) -> str:
        self[code] = value = normal_char(chr(code))
        return value


_TABLE = _Table()


def normalize(text: str) -> str:
    """Character by character, so a match can be mapped back to the original text."""
    if text.isascii():
        return text.lower()
    if max(text) < "\U00010000":
        return text.translate(_TABLE)
    return "".join(map(normal_char, text))


def word_text(word: str) -> str:
    return word.replace(",", "")


def is_cjk(char: str) -> bool:
    return bool(CJK_CHAR.match(char))


@dataclass(frozen=True)
class Token:
    text: str
    pos: int  # character offset in the normalised field text
    end: int  # offset just after the token


def tokens(text: str):
    """The terms of a weighted field, in order: character pairs and words."""
    text = normalize(text)
    for match in RUNS.finditer(text):
        start = match.start()
        if match.lastgroup == "word":
            yield Token(word_text(match.group()), start, match.end())
            continue
        run = match.group()
        for i in range(len(run) - 1):
            yield Token(run[i:i + 2], start + i, start + i + 2)


def char_tokens(text: str):
    """The terms of the `chars` field: every Chinese character (positions are not used)."""
    text = normalize(text)
    for match in CJK_CHAR.finditer(text):
        yield Token(match.group(), match.start(), match.end())


def term_positions(text: str) -> tuple[dict[str, list[int]], int]:
    """{term: [positions]} of a weighted field and its length (number of terms).

    The build's hot loop: the same result as `tokens()`, without a Token each.
    """
    text = normalize(text)
    positions: dict[str, list[int]] = {}
    length = 0
    for match in RUNS.finditer(text):
        start = match.start()
        run = match.group()
        if match.lastgroup == "word":
            positions.setdefault(word_text(run), []).append(start)
            length += 1
            continue
        for i in range(len(run) - 1):
            positions.setdefault(run[i:i + 2], []).append(start + i)
        length += len(run) - 1
    return positions, length


def char_counts(text: str) -> tuple[Counter, int]:
    """{character: frequency} of the `chars` field and its length."""
    chars = CJK_CHAR.findall(normalize(text))
    return Counter(chars), len(chars)


@dataclass(frozen=True)
class QueryPart:
    """One piece of a query that a document must match: a phrase of pairs, a word, a character."""

    text: str  # the part as typed, normalised (for highlighting)
    terms: tuple[str, ...]  # the pairs of a phrase, or one word or character

    @property
    def is_char(self) -> bool:
        return len(self.terms) == 1 and len(self.text) == 1 and is_cjk(self.text)


def query_parts(query: str) -> list[QueryPart]:
    """The parts of a query; all must match (AND). A repeated part counts once."""
    parts: list[QueryPart] = []
    seen = set()
    for match in RUNS.finditer(normalize(query)):
        run = match.group()
        if match.lastgroup == "cjk" and len(run) > 1:
            part = QueryPart(run, tuple(run[i:i + 2] for i in range(len(run) - 1)))
        elif match.lastgroup == "cjk":
            part = QueryPart(run, (run,))
        else:
            part = QueryPart(word_text(run), (word_text(run),))
        if part.text not in seen:
            seen.add(part.text)
            parts.append(part)
    return parts
