"""The leak scanner: personal data in a built site, whatever file it ended up in.

The build masks numbers and names on the way in; this scans what actually came out, so a
template, an export or a plugin that prints a raw field cannot publish it unnoticed. It
looks for:

- personal numbers (resident ID, bank card, private mobile; `privacy.find_personal_numbers`)
  in every text file, including numbers an encoder has disguised: HTML entities
  (`&#49;&#51;…`, `&nbsp;` between groups), JSON/JS escapes (`\\u0031`, or a `\\n` or
  `\\u8bdd` glued to the number), URL escapes (`%2B86…`), and inline tags inside the number
  (`138<span>1234</span>5678`). Block tags (`</td><td>`) separate numbers and are left
  alone: joining table cells would turn columns of amounts into false alarms;
- the full names of private persons (beneficiaries), also in their escaped spellings
  (`\\u5f20\\u4e09\\u4e30`, `&#24352;…`, `%E5%BC%A0…`) as JSON, XML and URL encoders write them;
- metadata left in images (`media.image_metadata_findings`).

A report never repeats what it found: each leak's context shows the text around it with
every finding in that text masked.
"""
from __future__ import annotations

import bisect
import codecs
import gzip
import heapq
import html
import os
import re
from collections.abc import Iterable
from itertools import takewhile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from . import privacy
from .inputs import read_file
from .media import image_metadata_findings

NAME = "beneficiary name"
IMAGE_METADATA = "image metadata"
NUMBER_KINDS = frozenset(privacy.LABELS.values())  # "ID number", "mobile number", "bank card number"

TEXT_SUFFIXES = frozenset(
    ".html .htm .xhtml .json .js .mjs .csv .tsv .xml .txt .svg .vcf .css .md .webmanifest .atom .rss .ics".split()
)
IMAGE_SUFFIXES = frozenset(".jpg .jpeg .png .webp .gif".split())
CONTEXT_CHARS = 15  # on each side of a finding


@dataclass(frozen=True, order=True)
class Leak:
    """Personal data found in the built site. Sorts by file, then position."""

    path: str  # relative to the site folder, with forward slashes
    line: int  # 1-based; 1 for an image
    column: int  # 1-based, in characters
    kind: str  # "ID number" | "mobile number" | "bank card number" | "beneficiary name" | "image metadata"
    context: str  # the text around it with every finding masked; for an image, what was found

    def __str__(self) -> str:
        if self.kind in NUMBER_KINDS:
            what = f"personal number found ({self.kind})"
        elif self.kind == NAME:
            what = "unmasked beneficiary name found"
        else:
            what = f"{self.kind} found"
        return f"{self.path}:{self.line}:{self.column}: {what}: {self.context}"


def scan_site(
    site_dir: Path,
    *,
    allowed_numbers: frozenset[str] = frozenset(),
    private_names: Iterable[str] = (),
    public_names: Iterable[str] = (),
    only: Iterable[str] | None = None,
    previous: Path | None = None,
    verdicts=None,
    mentions: frozenset[str] | None = None,
    met: dict[str, tuple[str, ...]] | None = None,
    previous_met=None,
    scanner: "Scanner | None" = None,
) -> list[Leak]:
    """Every leak in every file under `site_dir`, sorted by path, line and column.

    `only`: scan just these site paths (an incremental build's new files), not the tree.

    `allowed_numbers`: numbers published on purpose (officials' and supervision phones) as
    bare digits, mobiles without country code. `private_names`: beneficiaries' full names;
    the caller must leave out names that are also public (an official of the same name),
    since a page may print those in full. `public_names` (officials, villages, places) are
    matched too, and a private name is not reported where it is only part of one (a
    beneficiary 李明 inside the official 李明华).

    Text files are decoded as UTF-8 (GB18030 and UTF-16 are tried for known text types,
    as Excel-friendly exports use them); other files that are not valid UTF-8 and not
    images are binary and skipped. `.gz` files are scanned decompressed.

    `previous`: a folder whose files passed this very scan (same numbers and names) with
    nothing found: the last published site. A file also there is read only where it
    changed (`_changed_spans`); the report is the same.

    `verdicts`: the files found clean before under the same names, with the numbers each
    met (`leakgate.Verdicts`: `known()`, `key(relpath, data)`, `earlier(...)`,
    `record(passed)`): a file whose path and bytes are among them is not scanned again when
    every number it met is allowed, nor one found clean under names that differed by
    private names alone where no added name occurs (see `mentions`); those found clean now
    are added.

    `mentions`: these files are the very bytes that passed this scan under the same numbers
    (or other numbers, none of those they met given up: leakgate.Rules.unsure) and public
    names, with the same QR outlines left out, and private names that differ
    only by `mentions` (added) and by names without Latin letters or digits (removed)
    (`leakgate.Rules.added_names`). A file is then read only if one of `mentions` occurs
    in it (`_may_mention`); else it shows nothing, as before. Why: the name scan walks the
    text taking at each place it reaches the longest name there, private or public. An
    added name that occurs nowhere changes no step. A removed name without letters or
    digits was never the longest name at a place the walk reached (it always stands alone,
    so that would have been a finding), so no step changes either, and a name the walk
    takes is private now only if it was before (the added ones occur nowhere). Numbers do
    not depend on names.

    `met`: a dict given each file read whole, as {site path: the digits of every number its
    scan matched, sorted} (images and binary files: none), and each file read only where
    it changed whose file in `previous` met known numbers (`previous_met(path)`, None when
    not known): those and the ones the parts read met, a set that holds every number the
    whole file meets (a number is matched in the new text either in a part read or where
    the old text matched it too; a hypothesis test checks it). A file left out of it was
    not read, or its numbers are not known. See privacy.find_personal_numbers' `met`.

    `scanner`: a `Scanner` made once for many scans, which stands for the three arguments
    it was made from.
    """
    if scanner is None:
        scanner = Scanner(allowed_numbers, private_names, public_names)
    site_dir = Path(site_dir)
    leaks: list[Leak] = []
    known = verdicts.known() if verdicts is not None else None
    passed: list[tuple[bytes, str]] = []
    base = str(site_dir)
    for relpath in sorted(site_files(site_dir) if only is None else only):
        data = read_file(os.path.join(base, relpath))  # (40,000 files in a large site)
        if mentions is not None and not _may_mention(relpath, data, mentions):
            continue
        if known is not None:
            key = verdicts.key(relpath, data)
            earlier = known.get(key)  # the numbers it met, when it passed under these names
            since = earlier is None and (earlier := verdicts.earlier(relpath, data, known)) is not None  # or the last ones
            if earlier is not None and scanner.allowed.issuperset(earlier.split()):  # (no number given up since)
                if since:
                    passed.append((key, earlier))  # (recorded under these names too)
                if met is not None:
                    met[relpath] = tuple(earlier.split())
                continue
        if previous is not None and _read_in_parts(relpath):
            try:
                old = (previous / relpath).read_bytes()
            except OSError:  # new in this build, or no longer a file
                old = None
            in_parts: set[str] = set()
            if old is not None and scanner.changed_part_is_clean(data, old, in_parts):
                before = previous_met(relpath) if met is not None and previous_met is not None else None
                if before is not None:
                    met[relpath] = tuple(sorted(in_parts.union(before)))
                continue
        numbers: set[str] | None = set() if met is not None or known is not None else None
        found = scanner.scan_file(relpath, data, numbers)
        if met is not None:
            met[relpath] = tuple(sorted(numbers))
        if found:
            leaks += found
        elif known is not None:
            passed.append((key, " ".join(sorted(numbers))))
    if passed:
        verdicts.record(passed)
    return sorted(leaks)


def _read_in_parts(relpath: str) -> bool:
    """Whether a file may be read only where it changed (`Scanner.changed_part_is_clean`):
    not an image, nor a compressed file."""
    suffix = Path(relpath).suffix.lower()
    return suffix != ".gz" and suffix not in IMAGE_SUFFIXES


def scan_text(
    text: str,
    path: str,
    *,
    allowed_numbers: frozenset[str] = frozenset(),
    private_names: Iterable[str] = (),
    public_names: Iterable[str] = (),
) -> list[Leak]:
    """The leaks in one text, reported against `path`; see `scan_site` for the arguments."""
    return Scanner(allowed_numbers, private_names, public_names).scan_text(text, path)


def site_files(folder: Path) -> list[str]:
    """Every file under `folder` (site paths with forward slashes), wherever it came from, as
    pathlib's rglob("*") with is_file() finds them: symbolic links to files included, linked
    folders and broken links not. With os.scandir, whose entries know their type without a
    stat each: 0.07 s for 40,000 files instead of 1 s, at the end of a cold build."""
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


# --- disguised numbers -------------------------------------------------------------------------

_DIGIT = "0-9\uff10-\uff19"
# What a number may be made of as people write it: digits, X, spaces, hyphens, + and brackets.
_PLAIN = rf"[{_DIGIT}Xx ()+\-\u3000\u00a0\uff0d\uff0b\uff08\uff09]"
_INLINE_TAGS = "a|abbr|b|bdi|bdo|cite|code|data|del|dfn|em|font|i|ins|kbd|mark|q|s|samp|small|span|strong|sub|sup|time|tt|u|var|wbr"
_ESCAPE = (
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});"  # HTML/XML entity
    r"|\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtbfv/\\\"'])"  # JSON / JavaScript escape
    r"|%[0-9a-fA-F]{2}"  # URL escape
)
_INVISIBLE = "\u200b|\u200c|\u200d|\u2060|\ufeff|\u00ad"
# Escapes of what can be inside a written number: ASCII and Latin-1 (digits, spaces, no-break
# spaces, hyphens, plus signs), full-width digits and spaces, and invisible characters. A
# CJK character ends a number, so a stretch stops at its escape.
_NARROW_ESCAPE = (
    r"&(?:#[0-9]{1,3}|#[xX][0-9a-fA-F]{1,2}|#6529[6-9]|#6530[0-5]|#[xX][fF][fF]1[0-9]|[a-zA-Z][a-zA-Z0-9]{1,31}"
    r"|#820[345]|#8288|#65279|#12288|#[xX]200[bBcCdD]|#[xX]2060|#[xX][fF][eE][fF][fF]|#[xX]3000);"
    r"|\\(?:u00[0-9a-fA-F]{2}|u[fF][fF]1[0-9]|u3000|u200[bBcCdD]|u2060|u[fF][eE][fF][fF]|x[0-9a-fA-F]{2}|[nrtbfv/\\\"'])"
    r"|%[0-7][0-9a-fA-F]"
)
_ENCODED_DIGIT = (
    r"&#0*(?:4[89]|5[0-7]|6529[6-9]|6530[0-5]);|&#[xX]0*(?:3[0-9]|[fF][fF]1[0-9]);"
    r"|\\u(?:003[0-9]|[fF][fF]1[0-9])|\\x3[0-9]|%3[0-9]"
)
_TAG = rf"<!--[\s\S]*?-->|</?(?i:{_INLINE_TAGS})(?:\s[^<>]*)?/?>"
_DISGUISE = f"{_NARROW_ESCAPE}|{_INVISIBLE}|{_TAG}"
# Stretches of number characters with an escape, an invisible character or an inline tag
# in them or right before them: the only places the plain scan can miss a number. One
# pattern for stretches that start with an escape (which may hide a digit, or a boundary:
# "\u8bdd138..." is 话138...), one for those that start with a digit. Each begins with
# a plain character or class, which lets the regex engine skip quickly to candidates.
# No written number has more than 30 characters before its first disguise; the bound keeps
# long runs of space-separated figures from making the search quadratic.
_DISGUISE_START = "[&\\\\%<\u200b\u200c\u200d\u2060\ufeff\u00ad]"  # checked first: one test per position
_ESCAPED_STRETCH = re.compile(
    rf"(?:{_ESCAPE}|{_INVISIBLE})(?=[{_DIGIT}+(\uff0b\uff08]|{_ENCODED_DIGIT})(?:{_PLAIN}|(?={_DISGUISE_START})(?:{_DISGUISE}))*+"
)
_DIGIT_STRETCH = re.compile(
    rf"[{_DIGIT}+(\uff0b\uff08](?<![{_DIGIT}].){_PLAIN}{{0,30}}+(?={_DISGUISE_START})(?:{_DISGUISE})"
    rf"(?:{_PLAIN}|(?={_DISGUISE_START})(?:{_DISGUISE}))*+"
)
_PIECE = re.compile(rf"(?P<plain>{_PLAIN}+)|{_ESCAPE}|{_INVISIBLE}|{_TAG}")
_ENCODED_DIGIT_RE = re.compile(_ENCODED_DIGIT)
_DISGUISE_RE = re.compile(f"{_ESCAPE}|{_INVISIBLE}|{_TAG}")
_DIGIT_CHAR = re.compile(f"[{_DIGIT}]")
_SHORTEST_NUMBER = 11  # a mobile
_JS_ESCAPES = {"n": "\n", "r": "\n", "t": "\t", "b": " ", "f": " ", "v": " "}


_HEX_ESCAPE_AT_END = re.compile(r"(?:\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|%[0-9a-fA-F]{2})\Z")


def _follows_a_digit(text: str, offset: int) -> bool:
    """Whether a digit comes right before `offset`, and not as the last hex digit of an escape."""
    return (
        offset > 0
        and _DIGIT_CHAR.match(text, offset - 1) is not None
        and _HEX_ESCAPE_AT_END.search(text, max(0, offset - 6), offset) is None
    )


def _may_hold_number(stretch: str) -> bool:
    """Cheaply: does the stretch, decoded, have enough digits for a personal number?"""
    plain = _DISGUISE_RE.sub("", stretch)
    return len(_DIGIT_CHAR.findall(plain)) + len(_ENCODED_DIGIT_RE.findall(stretch)) >= _SHORTEST_NUMBER


_INVISIBLE_CHARS = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _decode_piece(piece: str) -> str:
    """One escape, tag or invisible character as a browser or a JSON reader shows it."""
    first = piece[0]
    if first == "&":
        decoded = html.unescape(piece)
    elif first == "\\":
        kind = piece[1]
        decoded = chr(int(piece[2:], 16)) if kind in "ux" else _JS_ESCAPES.get(kind, kind)
    elif first == "%":
        byte = int(piece[1:], 16)
        decoded = chr(byte) if byte < 0x80 else "\ufffd"  # part of a UTF-8 sequence: a boundary
    else:
        decoded = ""  # a tag, a comment or an invisible character
    return decoded.translate(_INVISIBLE_CHARS)  # a zero-width space inside a number hides nothing


def _decode(stretch: str) -> tuple[str, list[tuple[int, int, int, bool]]]:
    """The stretch decoded, and its pieces as (decoded start, raw start, raw end, plain)."""
    out: list[str] = []
    pieces: list[tuple[int, int, int, bool]] = []
    length = 0
    for match in _PIECE.finditer(stretch):
        plain = match.lastgroup == "plain"
        text = match.group() if plain else _decode_piece(match.group())
        pieces.append((length, match.start(), match.end(), plain))
        out.append(text)
        length += len(text)
    return "".join(out), pieces


def _raw_span(pieces, starts: list[int], start: int, end: int) -> tuple[int, int]:
    """Raw offsets in the stretch of the decoded span [start, end)."""

    def raw(index: int, *, at_end: bool) -> int:
        decoded_start, raw_start, raw_end, plain = pieces[bisect.bisect_right(starts, index) - 1]
        if plain:
            return raw_start + index - decoded_start + (1 if at_end else 0)
        return raw_end if at_end else raw_start

    return raw(start, at_end=False), raw(end - 1, at_end=True)


# --- names --------------------------------------------------------------------------------------


# Encoders write names as runs of escapes: JSON and JavaScript as \uXXXX (json.dumps by
# default), XML and HTML as numeric entities, URLs as %XX bytes. A run long enough for
# two characters is decoded and searched like plain text.
ESCAPED_RUN_PATTERNS = (
    r"\\u[0-9a-fA-F]{4}(?:\\u[0-9a-fA-F]{4})+",
    r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});(?:&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});)+",
    r"%[0-9a-fA-F]{2}(?:%[0-9a-fA-F]{2}){3,}",
)
# Each searched apart: a pattern that starts with a literal is searched by skipping to that
# literal, which one regex of the three alternatives cannot do (four times slower, a
# tenth of a notice page's scan). No run holds another kind's first character, so their
# matches never overlap, and merged by position they are what the one regex finds (a test
# compares them).
_ESCAPED_RUNS = tuple(re.compile(pattern) for pattern in ESCAPED_RUN_PATTERNS)
_ESCAPED_BYTE_RUNS = tuple(re.compile(pattern.encode("ascii")) for pattern in ESCAPED_RUN_PATTERNS)


def _escaped_runs(text: str | bytes):
    """The runs of escapes in `text`, in order; or in the bytes of UTF-8 text, where they
    are the same ASCII characters (matches of bytes)."""
    patterns = _ESCAPED_BYTE_RUNS if isinstance(text, bytes) else _ESCAPED_RUNS
    return heapq.merge(*(pattern.finditer(text) for pattern in patterns), key=_start)


def _start(match: re.Match) -> int:
    return match.start()
_ENTITY = re.compile(r"&#[^;]*;")


def _decode_run(run: str) -> str:
    """A run of one kind of escape, decoded."""
    if run[0] == "\\":
        units = run.encode("ascii").decode("unicode_escape")  # UTF-16 units, surrogates apart
        return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if run[0] == "&":
        return html.unescape(run)
    return unquote(run, errors="replace")


def _raw_offset(run: str, decoded: str, index: int) -> int:
    """Where in `run` the decoded character `index` starts (`len(run)` for the end)."""
    if run[0] == "\\":
        width = sum(12 if ord(char) > 0xFFFF else 6 for char in decoded[:index])
    elif run[0] == "&":
        width = sum(len(entity) for entity in _ENTITY.findall(run)[:index])
    else:  # 3 raw characters per UTF-8 byte; a damaged byte became one U+FFFD
        width = sum(3 if char == "\ufffd" else 3 * len(char.encode("utf-8")) for char in decoded[:index])
    return min(width, len(run))


def searched_names(private_names: Iterable[str], public_names: Iterable[str]) -> tuple[set[str], set[str]]:
    """The private and the public names as the scan looks for them: stripped, two characters
    or more, a name both private and public counted private."""
    private = {name.strip() for name in private_names if len(name.strip()) >= 2}
    return private, {name.strip() for name in public_names if len(name.strip()) >= 2} - private


class _Names:
    """Private names, with the public names that may contain them.

    `find` looks up, at each place where a name could start (a regex of the names' first
    and second characters finds those), the longest name there, then goes on after it. One regex of all
    the names would do the same, but Python compiles a regex of fifteen thousand names in
    more than half a second, on every build, for a rebuild that scans a dozen files."""

    def __init__(self, private_names: Iterable[str], public_names: Iterable[str]):
        private, public = searched_names(private_names, public_names)
        self.private = private  # as the scan looks for them (searched_names)
        self.owner = {name: False for name in public} | {name: True for name in private}  # name -> is private
        self.any = bool(private)
        self.lengths = sorted({len(name) for name in self.owner}, reverse=True)
        # Where a name may start: one of the names' first characters before one of their
        # second characters. Most such places (a common surname's character inside other
        # words) start no name, which a look-up of the two characters tells.
        self.pairs = frozenset(name[:2] for name in self.owner)
        firsts = "".join(re.escape(char) for char in sorted({name[0] for name in self.owner}))
        seconds = "".join(re.escape(char) for char in sorted({name[1] for name in self.owner}))
        self.starts = re.compile(f"[{firsts}](?=[{seconds}])") if private else None

    def find(self, text: str) -> list[tuple[int, int, str]]:
        if not self.any:
            return []
        found = []
        owner, lengths, pairs, search = self.owner, self.lengths, self.pairs, self.starts.search
        at = 0
        while (match := search(text, at)) is not None:
            at = match.start()
            if text[at:at + 2] not in pairs:
                at += 1
                continue
            for length in lengths:
                name = text[at:at + length]
                if len(name) == length and name in owner:
                    if owner[name] and _stands_alone(text, at, at + length):
                        found.append((at, at + length, name))
                    at += length
                    break
            else:
                at += 1
        return found


_WORD_CHAR = re.compile(r"[A-Za-z0-9]")


def _stands_alone(text: str, start: int, end: int) -> bool:
    """A Latin-script name must be a whole word ("Li" is not in "click"); CJK has no spaces."""
    word = _WORD_CHAR.match
    if word(text[start]) and start > 0 and word(text[start - 1]):
        return False
    return not (word(text[end - 1]) and end < len(text) and word(text[end]))


# --- QR codes' outlines ------------------------------------------------------------------------

# The outlines of the QR codes are a third of a built site's text (every poster, card and
# notice page has one), and the densest in digits. Path data in `d="…"` made only of digits,
# spaces, hyphens and the letters M m h v z (what qr._path_from_bits writes), with no run of
# more than eight digits, spaces and hyphens (a personal number needs eleven), holds nothing
# the scan looks for and cannot be part of it: no escape, tag or non-ASCII character, and a
# double quote on each side, which no number, name or escape can cross or look past
# (lookarounds see at most two characters beyond a match); only a disguise can hold the whole
# span (an HTML comment or inline tag inside a number), and it is one without the span too.
# A name is found there only if it is made of those characters alone, or holds a double
# quote: with such a name the scanner reads everything. Else the scan reads the text without
# those spans and maps the findings' offsets back: the report is the one of the whole text,
# in half the time on pages with codes.
_QR_PATH_START = ' d="M'
_QR_PATH_CHARS = frozenset("0123456789 -Mmhvz")
_PATH_CLASSES = bytes(ord("1") if byte in b"0123456789 -" else ord("0") if byte in b"Mmhvz" else ord("2") for byte in range(256))
_LONG_RUN = b"1" * 9


def _is_path_data(span: str) -> bool:
    try:
        classes = span.encode("ascii").translate(_PATH_CLASSES)
    except UnicodeEncodeError:
        return False
    return b"2" not in classes and _LONG_RUN not in classes


def _without_qr_paths(text: str) -> tuple[str, list[int], list[int]]:
    """`text` without the data of its QR code outlines (see above), and where they were: at
    each offset of the first list in the shorter text, the characters of the second list
    (running totals) were taken out before it."""
    at = text.find(_QR_PATH_START)
    if at < 0:
        return text, [], []
    pieces: list[str] = []
    kept, starts, removed = 0, [], []
    done = 0
    while at >= 0:
        start = at + len(_QR_PATH_START) - 1  # the M
        end = text.find('"', start)
        if end < 0:
            break
        if _is_path_data(text[start:end]):
            pieces.append(text[done:start])
            kept += start - done
            starts.append(kept)
            removed.append((removed[-1] if removed else 0) + end - start)
            done = end
        at = text.find(_QR_PATH_START, end)
    if not starts:
        return text, [], []
    pieces.append(text[done:])
    return "".join(pieces), starts, removed


def _original_offset(starts: list[int], removed: list[int], offset: int) -> int:
    """Where `offset` of the shorter text (`_without_qr_paths`) is in the whole text."""
    at = bisect.bisect_right(starts, offset)
    return offset + (removed[at - 1] if at else 0)


# --- what changed since a clean version --------------------------------------------------------

# A rebuild rewrites a few large files after an edit (the open data's tables, the supervision
# list, the search index's files): megabytes in which one record changed. The last build's
# version passed the same scan, so only the changed part and what it reaches need reading.
#
# What the scan finds never reaches across an edge: a character that cannot be part of any
# finding or of anything the scan reads as one piece (a run of digits and separators, an
# escape or a run of escapes, an inline tag or comment, a name, private or public), and
# that is not inside a tag or comment. Every pattern looks at most two characters beyond
# what it matches (privacy._CONTEXT_CHARS), and the edge itself is read. So the scan of
# the text between two edges finds what the scan of the whole text finds between them:
# nothing can start before the first edge and go on after it, and the name search (the
# longest name at each place, then on after it) is at the same place on both sides of an
# edge, since no name covers it. Before the first edge and after the last, the text and
# two characters' more are as in the old version, which the scan passed: nothing there.
# The edges are searched for at least _EDGE_MARGIN characters away from the change.
_EDGE_CHARS = '\n,"{}[]'
_EDGE_MARGIN = 256
_EDGE_TRIES = 64  # candidates looked at on each side before taking the text's own end
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _common_length(a: str, b: str, limit: int, *, at_end: bool = False) -> int:
    """How many characters (at most `limit`) `a` and `b` share at their start, or at their end:
    a binary search over slice comparisons, each done in C (a few milliseconds for megabytes)."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if at_end:
            same = a[len(a) - middle:len(a) - low] == b[len(b) - middle:len(b) - low]
        else:
            same = a[low:middle] == b[low:middle]
        low, high = (middle, high) if same else (low, middle - 1)
    return low


# How a tag the scan reads as one piece begins (_TAG: an inline tag's name, then a
# space, a slash or its end); no "<" or ">" is inside one.
_TAG_START = re.compile(rf"</?(?i:{_INLINE_TAGS})(?:\s|/|>)")


def _is_edge(text: str, at: int) -> bool:
    """Whether `text[at]` (one of the edge characters) is outside every tag and comment
    and not the second character of an escape (backslash and quote: no pattern reads one
    as part of a number today, but an escape is never cut in two). A tag holding it would
    begin at the last "<" before it, with no ">" between; a "<" that begins no tag's name
    (in a search index's encoded numbers, say) does not stop an edge."""
    if text[at] == '"' and at > 0 and text[at - 1] == "\\":
        return False
    opened = text.rfind("<", 0, at)
    if opened >= 0 and text.find(">", opened, at) < 0 and _TAG_START.match(text, opened):
        return False  # inside "<...": maybe a tag
    comment = text.rfind("<!--", 0, at)
    return comment < 0 or text.find("-->", comment + 4, at) >= 0


def _places_before(text: str, start: int, pattern: re.Pattern):
    """Where `pattern` matches before `start`, nearest first, a few thousand characters at a time."""
    while start > 0:
        low = max(0, start - 4096)
        yield from reversed([match.start() for match in pattern.finditer(text, low, start)])
        start = low


def _changed_span(text: str, before: str, edges: re.Pattern[str]) -> tuple[int, int]:
    """(start, end) of the part of `text` to read: from an edge (or the start) before what
    changed since `before` to an edge (or the end) after it, both edges in `before` too."""
    if text == before:
        return 0, 0
    shorter = min(len(text), len(before))
    prefix = _common_length(text, before, shorter)
    suffix = _common_length(text, before, shorter - prefix, at_end=True)
    start = 0
    for tries, at in enumerate(_places_before(text, prefix - _EDGE_MARGIN, edges)):
        if tries == _EDGE_TRIES:
            break
        if _is_edge(text, at):  # (the text up to it is the old one's)
            start = at
            break
    end = len(text)
    shift = len(before) - len(text)  # from a place in the common end of `text` to the same in `before`
    for tries, match in enumerate(edges.finditer(text, len(text) - suffix + _EDGE_MARGIN)):
        if tries == _EDGE_TRIES:
            break
        at = match.start()
        if _is_edge(text, at) and _is_edge(before, at + shift):
            end = at + 1
            break
    return start, end


# A long stretch inside that part may be the old text's too (a search index file after a
# notice is added: its first page's records renumbered near the start, one gap of its
# postings changed near the end, the postings between as they were). The part is then cut
# in two around the stretch, at an edge of both texts near each end of it: between those
# two edges the new text is the old text between the same edges, where the scan found
# nothing, and the scan of the text between two edges finds what the scan of the whole
# text finds there. Each of the two parts is cut again the same way.
_PROBE = 64  # characters of the new text looked for in the old one
_SPLIT_AT_LEAST = 4 * _EDGE_MARGIN  # a stretch shorter than this is read
_SPANS = 16  # parts at most


def _changed_spans(text: str, before: str, edges: re.Pattern[str]) -> list[tuple[int, int]]:
    """The parts of `text` to read (start, end), in order: `_changed_span`'s, cut around
    stretches that are the same in `before`."""
    if text == before:
        return []
    start, end = _changed_span(text, before, edges)
    todo = [(start, end, start, end + len(before) - len(text))]  # (a part, and the same in `before`)
    spans = []
    while todo:
        start, end, old_start, old_end = todo.pop()
        cut = None
        if len(spans) + len(todo) + 2 <= _SPANS:
            cut = _same_stretch(text, before, edges, start, end, old_start, old_end)
        if cut is None:
            spans.append((start, end))
            continue
        first, old_first, last, old_last = cut
        todo += [(last, end, old_last, old_end), (start, first + 1, old_start, old_first + 1)]
    return sorted(spans)


def _same_stretch(text: str, before: str, edges: re.Pattern[str], start: int, end: int, old_start: int,
                  old_end: int) -> tuple[int, int, int, int] | None:
    """Two edges (first, last) of `text[start:end]`, at the same places (old_first, old_last)
    of `before[old_start:old_end]` and edges there too, with the text between them the same
    in both; None when no long stretch in the middle of the part is found in `before`."""
    if end - start < _SPLIT_AT_LEAST + _PROBE:
        return None
    for at in ((start + end) // 2, (3 * start + end) // 4, (start + 3 * end) // 4):
        found = before.find(text[at:at + _PROBE], old_start, old_end)
        if found < 0:
            continue
        back = _common_length(text[start:at], before[old_start:found], min(at - start, found - old_start), at_end=True)
        ahead = _common_length(text[at:end], before[found:old_end], min(end - at, old_end - found))
        low, high, shift = at - back, at + ahead, found - at  # the stretch, and from it to `before`
        if high - low < _SPLIT_AT_LEAST:
            continue
        places = (match.start() for match in edges.finditer(text, low + _EDGE_MARGIN, high - _EDGE_MARGIN))
        first = next(_edges_of_both(text, before, places, shift), None)
        if first is None:
            continue
        places = takewhile(lambda at: at > first, _places_before(text, high - _EDGE_MARGIN, edges))
        last = next(_edges_of_both(text, before, places, shift), None)
        if last is not None:
            return first, first + shift, last, last + shift
    return None


def _edges_of_both(text: str, before: str, places, shift: int):
    """Of `places` (of edge characters in `text`), those that are edges of `text` and,
    `shift` further, of `before`, among the first _EDGE_TRIES."""
    for tries, at in enumerate(places):
        if tries == _EDGE_TRIES:
            return
        if _is_edge(text, at) and _is_edge(before, at + shift):
            yield at


# --- scanning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str
    mask: str  # what the context shows instead


def skips_qr_paths(names: Iterable[str]) -> bool:
    """Whether the scan leaves the QR outlines out, with these names (private and public)
    looked for: not when a name could be found in path data (see `_without_qr_paths`)."""
    names = list(names)
    if '"' in "".join(names):
        return False
    # The path's characters are ASCII: only an ASCII name can be made of them.
    return not any(set(name) <= _QR_PATH_CHARS for name in names if name.isascii())


def _may_mention(relpath: str, data: bytes, names: frozenset[str]) -> bool:
    """Whether one of `names` occurs in the file as `Scanner.scan_file` reads it: in its text
    or in one of its escaped runs decoded (the only places the name scan looks). False for
    an image (its scan reads metadata, whatever the names) or a file that is not text."""
    if not names:
        return False
    suffix = Path(relpath).suffix.lower()
    if suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return False
        suffix = Path(relpath[:-3]).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return False
    runs = None
    if not data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-8-sig")  # as `_decode_text` reads UTF-8, nearly every file
        except UnicodeDecodeError:
            pass
        else:
            # The escaped runs are ASCII: in UTF-8 they are the same characters in the bytes,
            # where the regex engine reads them in about half the time.
            runs = (match.group().decode("ascii") for match in _escaped_runs(data))
    if runs is None:
        text = _decode_text(data, known_text=suffix in TEXT_SUFFIXES)
        if text is None:
            return False
        runs = (match.group() for match in _escaped_runs(text))
    return any(name in text for name in names) or any(name in _decode_run(run) for run in runs for name in names)


class Scanner:
    """What a scan looks for, made ready: the numbers published on purpose and the names
    (scan_site). Scanning does not change it: one serves every scan of a build."""

    def __init__(self, allowed_numbers: Iterable[str], private_names: Iterable[str], public_names: Iterable[str]):
        self.allowed = frozenset(allowed_numbers)
        self.names = _Names(private_names, public_names)
        self.skip_qr_paths = skips_qr_paths(self.names.owner)
        in_names = set("".join(self.names.owner))
        edges = "".join(sorted(set(_EDGE_CHARS) - in_names))  # (see _changed_span)
        self.edges = re.compile("[" + re.escape(edges) + "]") if edges else None

    def changed_part_is_clean(self, data: bytes, old: bytes, numbers: set[str] | None = None) -> bool:
        """Whether the scan of `data` finds nothing, known by reading only around what
        changed since `old`, on which it found nothing; False also when that cannot be
        known this way (not UTF-8 text, or most of it changed): the caller reads it all.
        `numbers`: a set the numbers met in the parts read are added to (`scan_site`'s `met`)."""
        if self.edges is None or data.startswith(_UTF16_BOMS) or old.startswith(_UTF16_BOMS):
            return False
        try:  # as `_decode_text` reads them: UTF-8, without a byte-order mark
            text, before = data.decode("utf-8-sig"), old.decode("utf-8-sig")
        except UnicodeDecodeError:
            return False
        spans = _changed_spans(text, before, self.edges)
        if 2 * sum(end - start for start, end in spans) > len(text):
            return False  # no quicker than reading it all
        return not any(self.scan_text(text[start:end], "", numbers) for start, end in spans)

    def scan_file(self, relpath: str, data: bytes, numbers: set[str] | None = None) -> list[Leak]:
        """The leaks in one file, read whole. `numbers`: a set the digits of every number
        the scan matches are added to (privacy.find_personal_numbers' `met`)."""
        suffix = Path(relpath).suffix.lower()
        if suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                return []
            suffix = Path(relpath[:-3]).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            return [Leak(relpath, 1, 1, IMAGE_METADATA, found) for found in image_metadata_findings(Path(relpath), data)]
        text = _decode_text(data, known_text=suffix in TEXT_SUFFIXES)
        return [] if text is None else self.scan_text(text, relpath, numbers)

    def scan_text(self, text: str, path: str, numbers: set[str] | None = None) -> list[Leak]:
        scanned, starts, removed = _without_qr_paths(text) if self.skip_qr_paths else (text, [], [])
        hits = _first_of_overlapping(self._number_hits(scanned, numbers) + self._name_hits(scanned))
        if not hits:
            return []
        if starts:  # (a hit's first and last characters are never in a span taken out)
            hits = [_Hit(_original_offset(starts, removed, hit.start), _original_offset(starts, removed, hit.end - 1) + 1,
                         hit.kind, hit.mask) for hit in hits]
        return [self._leak(text, path, hit, hits) for hit in hits]

    def _number_hits(self, text: str, numbers: set[str] | None = None) -> list[_Hit]:
        hits = [_Hit(f.start, f.end, f.label, privacy.mask_number(f)) for f in privacy.find_personal_numbers(text, self.allowed, numbers)]
        for pattern in (_ESCAPED_STRETCH, _DIGIT_STRETCH):
            for match in pattern.finditer(text):
                stretch, offset = match.group(), match.start()
                if pattern is _ESCAPED_STRETCH and _follows_a_digit(text, offset):
                    continue  # the number started before the escape: the digit pattern has it
                if not _may_hold_number(stretch):
                    continue
                decoded, pieces = _decode(stretch)
                starts = [piece[0] for piece in pieces]
                for finding in privacy.find_personal_numbers(decoded, self.allowed, numbers):
                    start, end = _raw_span(pieces, starts, finding.start, finding.end)
                    hits.append(_Hit(offset + start, offset + end, finding.label, privacy.mask_number(finding)))
        return hits

    def _name_hits(self, text: str) -> list[_Hit]:
        found = self.names.find(text)
        if self.names.any:
            for match in _escaped_runs(text):
                run = match.group()
                decoded = _decode_run(run)
                for start, end, name in self.names.find(decoded):
                    found.append((match.start() + _raw_offset(run, decoded, start), match.start() + _raw_offset(run, decoded, end), name))
        return [_Hit(start, end, NAME, privacy.mask_name(name, "mask")) for start, end, name in found]

    def _leak(self, text: str, path: str, hit: _Hit, hits: list[_Hit]) -> Leak:
        line = text.count("\n", 0, hit.start) + 1
        column = hit.start - (text.rfind("\n", 0, hit.start) + 1) + 1
        return Leak(path, line, column, hit.kind, _context(text, hit, hits))


def _first_of_overlapping(hits: list[_Hit]) -> list[_Hit]:
    """One hit per place: the plain and the decoded scan often find the same number."""
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if kept and hit.start < kept[-1].end:
            continue
        kept.append(hit)
    return kept


def _context(text: str, hit: _Hit, hits: list[_Hit]) -> str:
    """About 30 characters around `hit`, with it and every other hit there masked.

    A hit cut by the window's edge is masked entirely (as stars for the part inside), so
    no part of any finding is shown."""
    low, high = max(0, hit.start - CONTEXT_CHARS), min(len(text), hit.end + CONTEXT_CHARS)
    pieces, pos = [], low
    for other in hits:
        if other.end <= low or other.start >= high:
            continue
        start, end = max(other.start, low), min(other.end, high)
        pieces.append(text[pos:start])
        pieces.append(other.mask if (start, end) == (other.start, other.end) else privacy.MASK * (end - start))
        pos = end
    pieces.append(text[pos:high])
    return "…" + " ".join("".join(pieces).split()) + "…"


def _decode_text(data: bytes, *, known_text: bool) -> str | None:
    """The file as text, or None for a binary file."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if not known_text:
            return None
    try:
        return data.decode("gb18030")  # what Excel in Chinese writes a CSV in
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")
