"""QR codes as compact inline SVG, with a build cache.

Field rules (shared/DOMAIN.md, "QR codes that work in the field"): error correction M, a
4-module quiet zone, the smallest version that fits, and a plain ``https://`` URL as payload
(WeChat's scanner follows URLs only; a vCard QR may be offered in addition). On paper a code
should print at least about 35-40 mm wide: pass ``size="40mm"`` for print.

The SVG carries no width/height unless asked, so CSS sizes it; its ``viewBox`` is in modules.
The dark modules are drawn as ONE path made of the outlines of the dark regions (each region
traced once, holes included), not one shape per module or per row: that is several times
smaller than one rect per module and, unlike abutting rectangles, leaves no hairline seams
when a PDF viewer or printer anti-aliases at a scale that is not a whole number of pixels.

``QrCache`` memoizes the expensive part (encoding: version fit, mask choice) in memory and on
disk, in one SQLite database, so a code whose payload did not change is never encoded
twice, across builds too.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import sqlite3
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from itertools import chain
from pathlib import Path
from typing import Sequence

from .speed import sqlite_damaged

__all__ = [
    "QUIET_ZONE",
    "ERROR_CORRECTION",
    "QrCache",
    "QrStats",
    "qr_matrix",
    "path_from_matrix",
    "qr_svg",
    "qr_png",
]

#: Quiet zone around the symbol, in modules (ISO/IEC 18004 asks for 4).
QUIET_ZONE = 4
#: Error-correction level: M restores about 15% damaged codewords (posters get dirty).
ERROR_CORRECTION = "M"

#: Bump when the cached file layout or the encoding parameters change.
_FORMAT = "5"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover - vendored or odd installs
        return "unknown"


_ENCODERS = f"qrcode {_version('qrcode')}"  # its layout and tables make the symbols

Matrix = list[list[bool]]


# --------------------------------------------------------------------------- encoding


def _too_long(payload: str) -> ValueError:
    return ValueError(f"payload of {len(payload.encode('utf-8'))} bytes does not fit in a QR code at level M")


def _encode_bits(payload: str) -> tuple[int, str]:
    """(n, the n x n modules of the symbol without the quiet zone as `_bits` text). The slow part.

    Every code, page address or vCard, is the symbol ``qrcode.QRCode(error_correction=M)
    .make(fit=True)`` makes (tests/test_qr.py compares them): text with Chinese characters as
    UTF-8 bytes in byte mode without an ECI header, the form Chinese phone scanners expect.
    (zxing-cpp's encoder, which made the page addresses' codes until it was the slower,
    would put Chinese characters that Shift JIS also has into Kanji-mode segments, or add an
    ECI header, which some phone scanners read badly.) Faster than qrcode itself: when
    qrcode makes one byte-mode segment of the text (nearly always), the version, the
    codewords, the layout and the mask are `_byte_version`'s, `_byte_codewords`'s,
    `_layout`'s and `_best_mask`'s; else qrcode lays the segments out and `_best_mask` picks
    the mask. About 0.24 ms for a page address, 0.34 ms for a vCard (qrcode takes some 20 ms).
    """
    # Imported here: qrcode imports Pillow, time that a rebuild with every code already in
    # the cache need not pay.
    from qrcode import util

    segments = list(util.optimal_data_chunks(payload, minimum=20))  # what QRCode.add_data makes
    if len(segments) == 1 and segments[0].mode == util.MODE_8BIT_BYTE:
        data = segments[0].data
        try:
            version = _byte_version(len(data))
        except ValueError as exc:
            raise _too_long(payload) from exc
        rows, cols = _layout(version, _byte_codewords(version, data))
    else:
        version, rows, cols = _segments_layout(payload)
    n = version * 4 + 17
    mask, symbol = _best_mask(version, rows, cols)
    return n, format(symbol | _format_bits(version)[mask], f"0{n * n}b")


def _segments_layout(payload: str) -> tuple[int, int, int]:
    """(version, rows, cols) of qrcode's layout of a text it cuts into several segments."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.exceptions import DataOverflowError

    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    code.add_data(payload)
    try:
        code.best_fit()  # the smallest version that fits
        code.makeImpl(True, 0)  # the layout qrcode scores: mask 0, format and version information blank
    except (DataOverflowError, ValueError) as exc:
        raise _too_long(payload) from exc
    rows, cols = _packed(_bits(code.modules), code.modules_count)
    flip_rows, flip_cols = _mask_flips(code.version)[0]
    return code.version, rows ^ flip_rows, cols ^ flip_cols  # (mask 0 taken off again)


def _qrcode_layout(version: int, fill: bool | None):
    """A qrcode.QRCode of `version` at level M whose modules are all `fill`, for its setup_*
    methods to lay patterns on."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    n = version * 4 + 17
    layout = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    layout.modules_count = n
    layout.modules = [[fill] * n for _ in range(n)]
    return layout


def _blank(version: int) -> list[list[bool | None]]:
    """qrcode's layout of a symbol before its data: the function patterns, the format and
    version information blank (light), None where the data goes."""
    layout = _qrcode_layout(version, None)
    n = layout.modules_count
    layout.setup_position_probe_pattern(0, 0)
    layout.setup_position_probe_pattern(n - 7, 0)
    layout.setup_position_probe_pattern(0, n - 7)
    layout.setup_position_adjust_pattern()
    layout.setup_timing_pattern()
    layout.setup_type_info(True, 0)
    if version >= 7:
        layout.setup_type_number(True)
    return layout.modules


@lru_cache(maxsize=None)
def _placement(version: int):
    """Where qrcode's map_data puts each data bit: (how many data modules there are, and two
    itemgetters that take the text `data bits + "0" + "1"` to the unmasked symbol, row after
    row and column after column, as `_packed` reads them)."""
    from operator import itemgetter

    modules = _blank(version)
    n = len(modules)
    order: dict[tuple[int, int], int] = {}  # map_data's walk: two columns at a time, up and down
    row, step = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1  # the vertical timing pattern is skipped
        while True:
            for c in (col, col - 1):
                if modules[row][c] is None:
                    order[(row, c)] = len(order)
            row += step
            if row < 0 or row >= n:
                row -= step
                step = -step
                break
    count = len(order)

    def source(r: int, c: int) -> int:
        place = order.get((r, c))
        return place if place is not None else count + (1 if modules[r][c] else 0)

    by_rows = itemgetter(*[source(r, c) for r in range(n) for c in range(n)])
    by_cols = itemgetter(*[source(r, c) for c in range(n) for r in range(n)])
    return count, by_rows, by_cols


def _layout(version: int, codewords: bytes) -> tuple[int, int]:
    """The symbol of these codewords before masking, as `_packed` ints (rows, columns): what
    qrcode's map_data lays out (the bits after the codewords, light), without the mask."""
    count, by_rows, by_cols = _placement(version)
    bits = format(int.from_bytes(codewords, "big"), f"0{8 * len(codewords)}b")
    source = bits + "0" * (count - len(bits)) + "01"
    return int("".join(by_rows(source)), 2), int("".join(by_cols(source)), 2)


@lru_cache(maxsize=None)
def _format_bits(version: int) -> tuple[int, ...]:
    """For each mask: the dark modules of the format (and version) information, `_packed`
    by rows; they are light in the layout that is scored, so OR puts them in."""
    found = []
    for mask in range(8):
        layout = _qrcode_layout(version, False)
        layout.setup_type_info(False, mask)
        if version >= 7:
            layout.setup_type_number(False)
        found.append(int(_bits(layout.modules), 2))
    return tuple(found)


# --------------------------------------------------------------------------- codewords
#
# qrcode builds the bit stream one bit at a time and computes the error correction with a
# polynomial class, about 3 ms for a vCard. A payload that is one byte-mode segment (what
# qrcode makes of nearly every text: `_encode_bits`) is cheaper as whole numbers: the stream
# is the mode, the length and the bytes, then qrcode's terminator and padding; each block's
# error correction is the remainder of its data by qrcode's generator polynomial, computed a
# byte at a time with a table of the generator times each byte value. The codewords are the
# ones qrcode's util.create_data returns (tests/test_qr.py compares them), interleaved the
# same way, in about 0.2 ms. (reedsolo, the Reed-Solomon library, is pure Python too and
# no faster than qrcode's own: it would add a dependency for nothing.)


def _byte_version(length: int) -> int:
    """The smallest version at level M holding one byte-mode segment of `length` bytes, as
    qrcode's best_fit finds it."""
    from qrcode import util
    from qrcode.constants import ERROR_CORRECT_M

    limits = util.BIT_LIMIT_TABLE[ERROR_CORRECT_M]
    for version in range(1, 41):
        if 4 + util.length_in_bits(util.MODE_8BIT_BYTE, version) + 8 * length <= limits[version]:
            return version
    raise ValueError("does not fit")


@lru_cache(maxsize=None)
def _remainder_table(ec_count: int) -> tuple[int, ...]:
    """For each byte value c: qrcode's generator polynomial of `ec_count` codewords (its
    leading 1 left out) times c in GF(256), as one number of `ec_count` bytes."""
    from qrcode import LUT, base

    if ec_count in LUT.rsPoly_LUT:
        generator = list(LUT.rsPoly_LUT[ec_count])
    else:
        poly = base.Polynomial([1], 0)
        for i in range(ec_count):
            poly = poly * base.Polynomial([1, base.gexp(i)], 0)
        generator = [poly[i] for i in range(len(poly))]
    coefficients = generator[1:]
    table = [0]
    for c in range(1, 256):
        log_c = base.glog(c)
        table.append(int.from_bytes(bytes(base.gexp((base.glog(g) + log_c) % 255) if g else 0 for g in coefficients), "big"))
    return tuple(table)


def _byte_codewords(version: int, data: bytes) -> bytes:
    """util.create_data(version, M, [QRData(data, MODE_8BIT_BYTE)]): data and error-correction
    codewords, interleaved."""
    from qrcode import base, util
    from qrcode.constants import ERROR_CORRECT_M

    blocks = base.rs_blocks(version, ERROR_CORRECT_M)
    limit = sum(block.data_count for block in blocks) * 8
    count_bits = util.length_in_bits(util.MODE_8BIT_BYTE, version)
    used = 4 + count_bits + 8 * len(data)
    if used > limit:
        raise ValueError("does not fit")
    stream = (((util.MODE_8BIT_BYTE << count_bits) | len(data)) << (8 * len(data))) | int.from_bytes(data, "big")
    terminator = min(limit - used, 4)
    used += terminator
    padding = -used % 8  # to a whole byte
    stream <<= terminator + padding
    used += padding
    body = stream.to_bytes(used // 8, "big")
    fill = (limit - used) // 8
    body += (bytes((util.PAD0, util.PAD1)) * (fill // 2 + 1))[:fill]
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        ec_count = block.total_count - block.data_count
        chunk = body[offset:offset + block.data_count]
        offset += block.data_count
        table = _remainder_table(ec_count)
        top, keep = 8 * (ec_count - 1), (1 << (8 * ec_count)) - 1
        remainder = 0
        for byte in chunk:
            remainder = ((remainder << 8) & keep) ^ table[(remainder >> top) ^ byte]
        data_blocks.append(chunk)
        ec_blocks.append(remainder.to_bytes(ec_count, "big"))
    out = bytearray()
    for group in (data_blocks, ec_blocks):
        out.extend(chain.from_iterable(zip(*group)))  # column by column, as far as the shortest
        for i in range(min(len(b) for b in group), max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return bytes(out)


# --------------------------------------------------------------------------- mask choice
#
# ISO/IEC 18004 picks the mask whose symbol scores the fewest penalty points: N1, runs of 5
# or more modules of one colour in a row or column (3 + each module past 5); N2, 2x2 blocks
# of one colour (3 each); N3, the finder-like 1:1:3:1:1 pattern with 4 light modules on one
# side, in rows and columns (40 each); N4, 10 for each whole 5% the dark share is away from
# 50%. qrcode scores exactly these (util.lost_point) on the symbol with blank format and
# version information, laid out anew for each mask, in pure Python: about 20 ms a vCard.
#
# Here the whole symbol is one Python int of n*n bits, its rows one after the other (row 0,
# column 0 the highest bit), and a second int holds its columns the same way; each rule is
# a few shifts, ANDs and bit counts over all rows at once, with masks that keep a run or a
# pattern from reaching across the end of a row. A mask flips a fixed set of data modules,
# so mask k's symbol is the unmasked layout XOR (flips of k): one layout, eight scores,
# about 0.3 ms for a vCard.

# The finder-like pattern, both ways round, as text left to right (top to bottom).
_FINDER_LIKE = ("10111010000", "00001011101")


def _repeat(slot: int, n: int) -> int:
    """`slot` (an n-bit value) in each of n slots of n bits."""
    return int(format(slot, f"0{n}b") * n, 2)


@lru_cache(maxsize=None)
def _slot_masks(n: int) -> tuple[int, int, int]:
    """For n lines of n bits packed (`_packed`): (the cells whose next cell is in the same line;
    those followed by 10 more in their line; those not in the first line)."""
    pairs = _repeat((1 << (n - 1)) - 1, n)
    windows = _repeat((1 << (n - 10)) - 1, n) if n > 10 else 0
    not_first = (1 << (n * n - n)) - 1
    return pairs, windows, not_first


def _packed(bits: str, n: int) -> tuple[int, int]:
    """The n x n symbol whose `_bits` these are as two ints: its rows one after the other,
    and its columns the same way (row 0, column 0 the highest bit of each)."""
    return int(bits, 2), int("".join(bits[column::n] for column in range(n)), 2)


@lru_cache(maxsize=None)
def _mask_flips(version: int) -> tuple[tuple[int, int], ...]:
    """For each mask: the data modules it flips, as (rows, columns) `_packed`."""
    from qrcode import util

    data = [[m is None for m in row] for row in _blank(version)]  # what map_data fills (and masks)
    n = len(data)
    flips = []
    for k in range(8):
        flipped = util.mask_func(k)
        flips.append(_packed("".join("1" if data[r][c] and flipped(r, c) else "0" for r in range(n) for c in range(n)), n))
    return tuple(flips)


def _lines_score(bits: int, n: int, pairs: int, windows: int) -> tuple[int, int]:
    """(N1 + N3 points of the n lines packed in `bits`, the cells equal to the next in their line)."""
    same = ~(bits ^ (bits >> 1)) & pairs  # cell equal to the next one in its line
    # Five equal cells in a row from here: four equal neighbours in a row. A run of L >= 5
    # has L - 4 such starts and scores L - 2: the starts plus 2 for each run.
    fives = same & (same >> 1) & (same >> 2) & (same >> 3)
    runs = fives & ~(fives >> 1)  # the last start of each run (the starts of a run are adjacent)
    score = fives.bit_count() + 2 * runs.bit_count()
    if windows:
        shifted = [bits >> k for k in range(11)]  # cell + k, for the text's character 10 - k
        for pattern in _FINDER_LIKE:
            found = windows
            for j, char in enumerate(pattern):
                found &= shifted[10 - j] if char == "1" else ~shifted[10 - j]
            score += 40 * found.bit_count()
    return score, same


def _packed_penalty(rows: int, cols: int, n: int) -> int:
    """util.lost_point of the symbol whose rows and columns are these `_packed` ints (tests
    compare them)."""
    pairs, windows, not_first = _slot_masks(n)
    score, same_next = _lines_score(rows, n, pairs, windows)
    score += _lines_score(cols, n, pairs, windows)[0]
    same_above = ~(rows ^ (rows >> n)) & not_first  # cell equal to the one a line before
    score += 3 * (same_next & same_above & (same_above >> 1)).bit_count()
    # The same float arithmetic as qrcode's level 4, so that ties break the same way.
    score += int(abs(float(rows.bit_count()) / (n**2) * 100 - 50) / 5) * 10
    return score


def _best_mask(version: int, rows: int, cols: int) -> tuple[int, int]:
    """The mask qrcode's best_mask_pattern picks (the first of the lowest) and that symbol,
    `_packed` by rows, from the unmasked layout (`_packed` rows and columns) with blank format
    and version information."""
    n = version * 4 + 17
    best: tuple[int, int, int] | None = None
    for k, (flip_rows, flip_cols) in enumerate(_mask_flips(version)):
        masked = rows ^ flip_rows
        score = _packed_penalty(masked, cols ^ flip_cols, n)
        if best is None or score < best[0]:
            best = (score, k, masked)
    assert best is not None
    return best[1], best[2]


def _bits(matrix: Sequence[Sequence[bool]]) -> str:
    """The modules row after row as text: "1" dark, "0" light."""
    return "".join("".join("1" if m else "0" for m in row) for row in matrix)


def _rows(n: int, bits: str) -> Matrix:
    """`_bits` back into rows of booleans."""
    return [[c == "1" for c in bits[r * n:r * n + n]] for r in range(n)]


def _encode_core(payload: str) -> Matrix:
    """The symbol's modules without the quiet zone (True = dark)."""
    return _rows(*_encode_bits(payload))


def _with_quiet_zone(core: Matrix) -> Matrix:
    n = len(core) + 2 * QUIET_ZONE
    blank = [False] * n
    pad = [False] * QUIET_ZONE
    return [list(blank) for _ in range(QUIET_ZONE)] + [pad + row + pad for row in core] + [
        list(blank) for _ in range(QUIET_ZONE)
    ]


def qr_matrix(payload: str) -> Matrix:
    """Modules of the code for `payload`, quiet zone included (True = dark); N = 17 + 4*version + 8."""
    return _with_quiet_zone(_encode_core(payload))


# --------------------------------------------------------------------------- path data


_HEX_VALUES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_R, _D, _L, _U = 1, 2, 4, 8  # a vertex's edges, one bit each: right, down, left, up


def _straight_on(way: int, right: int) -> bytes:
    """A translation of vertices' edge bytes: 1 where a walk going `way` goes straight on (an
    edge that way, none to its right), else 0."""
    return bytes(1 if value & (way | right) == way else 0 for value in range(256))


_STRAIGHT_R, _STRAIGHT_D = _straight_on(_R, _D), _straight_on(_D, _L)
_STRAIGHT_L, _STRAIGHT_U = _straight_on(_L, _U), _straight_on(_U, _R)
_HAS_R = bytes(value & _R for value in range(256))


def path_from_matrix(matrix: Sequence[Sequence[bool]], margin: int = 0) -> str:
    """SVG path data whose filled area (nonzero or evenodd) is exactly the dark modules.

    `margin`: light modules around the matrix that are not in it (a quiet zone): the
    coordinates are shifted by it, and the path is the one of the matrix with that margin
    added, without walking its empty rows and columns.

    Every boundary edge between a dark and a light module is oriented with the dark side on
    its right (clockwise outlines, counter-clockwise holes), so the winding number is 1 on
    dark modules and 0 elsewhere whatever the fill rule. Edges are chained into closed loops
    (at a vertex where two dark modules touch only by a corner the loop turns right, keeping
    them apart), collinear edges are merged, and each loop is written as
    ``m dx dy h.. v.. h.. … z`` with the closing ``v`` left to ``z``.
    """
    rows = len(matrix)
    cols = len(matrix[0]) if rows else 0
    return _path_from_bits(rows, cols, _bits(matrix), margin)


def _path_from_bits(rows: int, cols: int, bits: str, margin: int = 0) -> str:
    """`path_from_matrix` of the matrix whose `_bits` these are."""
    # Vertices (module corners) are numbered y * w + x; the edges leaving a vertex are bits of
    # its byte in `edges` (_R, _D, _L, _U). Flat integers and bytes keep this fast (a page
    # address's code takes about 0.4 ms).
    w = cols + 1
    size = (rows + 1) * w
    R, D, L, U = _R, _D, _L, _U
    # The edges of every vertex at once: the dark modules as one int, module (x, y) at vertex
    # y * w + x (vertex 0 the highest bit; a light column at x = cols keeps rows apart), so
    # "the module before / above" is a shift by 1 / w. Each direction's vertices, written in
    # binary and read back in hexadecimal, put one bit per hex digit; summed with the
    # direction's weight, the hex digits are the vertices' edges, and a translation makes
    # them bytes.
    dark = int("".join(bits[start:start + cols] + "0" for start in range(0, rows * cols, cols or 1)) + "0" * w, 2)
    planes = (
        (dark & ~(dark >> w), R),  # tops: dark, with light above
        ((dark >> 1) & ~dark, D),  # right sides, at the vertex after a dark module
        ((dark >> (w + 1)) & ~(dark >> 1), L),  # bottoms, at the vertex below and after
        ((dark >> w) & ~(dark >> (w + 1)), U),  # left sides, at the vertex below
    )
    width = f"0{size}b"
    total = sum(int(format(plane, width), 16) * weight for plane, weight in planes)
    edges = format(total, f"0{size}x").encode("ascii").translate(_HEX_VALUES)

    # The loops are walked a straight run at a time. Each direction has a map of the
    # vertices a walk going that way passes straight through (it has an edge on that way and
    # none to its right, which a walk takes first); at the others it turns right where it
    # can (at a vertex where two dark modules touch only by a corner, that keeps them
    # apart), else left. Which way a walk goes on never depends on what was walked before,
    # with one exception: the right-going edges are crossed off as they are walked
    # (`unwalked`), and a walk going up turns right only onto one not walked yet: at a
    # vertex where two light modules touch by a corner, a loop that started there may have
    # closed from above and left the way on to this one's left. A loop is found by its first
    # unwalked right-going edge in row-major order: at a corner whose previous edge is
    # vertical (at a corner-touch vertex both incoming edges are vertical), so the loop is
    # h, v, h, …, v; it ends when a vertical run reaches the start, and that last run is
    # left to "z".
    straight_r, straight_l = edges.translate(_STRAIGHT_R), edges.translate(_STRAIGHT_L)
    straight_d, straight_u = edges.translate(_STRAIGHT_D), edges.translate(_STRAIGHT_U)
    unwalked = bytearray(edges.translate(_HAS_R))
    # A dark module whose four neighbours are light is a loop of its own whatever its corners
    # touch (the walk turns right at each of its corners): "h1v1h-1z" from its top-left
    # vertex, two loops in five of a code's. Those vertices, found at once like the edges.
    alone = dark & ~(dark >> 1) & ~(dark << 1) & ~(dark >> w) & ~(dark << w)
    alone_at = format(alone, width).encode("ascii").translate(_HEX_VALUES)
    parts: list[str] = []
    add_part = parts.append
    px = py = -1  # the start of the last subpath (where "z" leaves the pen); -1: none yet
    start = unwalked.find(1)
    while start >= 0:
        y, x = divmod(start, w)
        x, y = x + margin, y + margin
        # The subpath's start: relative to the last one's unless that is longer than the
        # absolute move (by the numbers' widths: a sign counts, and a minus sign separates
        # numbers in path data, "3-2" reads as 3, -2, so no space goes before it).
        if px < 0:
            add_part(f"M{x} {y}")
        else:
            dx, dy = x - px, y - py
            if _WIDTH[dx] + _WIDTH[dy] + (dy >= 0) <= _WIDTH[x] + _WIDTH[y] + 1:
                add_part(f"m{dx} {dy}" if dy >= 0 else f"m{dx}{dy}")
            else:
                add_part(f"M{x} {y}")
        px, py = x, y
        if alone_at[start]:
            add_part("h1v1h-1z")
            unwalked[start] = 0
            start = unwalked.find(1, start + 1)
            continue
        runs: list[int] = []  # h, v, h, v, …, h
        add = runs.append
        v, rightwards = start, True
        while True:
            begin = v
            if rightwards:
                unwalked[v] = 0
                v += 1
                while straight_r[v]:
                    unwalked[v] = 0
                    v += 1
                down = edges[v] & D  # (right)
            else:
                v -= 1
                while straight_l[v]:
                    v -= 1
                down = not edges[v] & U  # (else right: up)
            add(v - begin)
            begin = v
            if down:
                v += w
                while straight_d[v]:
                    v += w
                if v == start:
                    break
                rightwards = not edges[v] & L  # (else right: left)
            else:
                v -= w
                while straight_u[v]:
                    v -= w
                if v == start:
                    break
                rightwards = unwalked[v]  # (right, if not walked yet)
            add((v - begin) // w)
        add_part(_loop_text(len(runs)) % tuple(runs))
        start = unwalked.find(1, start + 1)
    return "".join(parts)


class _Widths(dict):
    """len(str(n)) of an int: looked up for the coordinates of any code, worked out beyond."""

    def __missing__(self, n: int) -> int:
        return len(str(n))


_WIDTH = _Widths((n, len(str(n))) for n in range(-256, 257))


@lru_cache(maxsize=None)
def _loop_text(runs: int) -> str:
    """The %-format of a loop's commands after its start: `runs` runs, h and v in turn, and z."""
    return "h%dv%d" * (runs // 2) + "h%dz"


# --------------------------------------------------------------------------- SVG

_PATH_DATA = re.compile(r"[Mm][0-9 Mmhvz\-]*")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CSS_LENGTH = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:mm|cm|in|pt|pc|px|em|rem|vw|vh|vmin|vmax|%)?")


def _xml_escape(text: str) -> str:
    """Escaped for both XML text and a double-quoted attribute; drops characters XML forbids."""
    text = _XML_INVALID.sub("", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")
    )


def _svg(n: int, path: str, label: str, module_px: int | None, size: str | None) -> str:
    if module_px is not None and size is not None:
        raise ValueError("give module_px or size, not both")
    dims = ""
    if module_px is not None:
        if not isinstance(module_px, int) or isinstance(module_px, bool) or module_px < 1:
            raise ValueError(f"module_px must be a positive integer, not {module_px!r}")
        dims = f' width="{n * module_px}" height="{n * module_px}"'
    elif size is not None:
        if not _CSS_LENGTH.fullmatch(size):
            raise ValueError(f"size must be a CSS length such as '40mm', not {size!r}")
        dims = f' width="{size}" height="{size}"'
    text = _xml_escape(label)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}"{dims} role="img"'
        f' aria-label="{text}" class="qr" shape-rendering="crispEdges"><title>{text}</title>'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d="{path}"/></svg>'
    )


_SYMBOL_TEXT = str.maketrans("10", "#.")  # how the cache keeps the modules
_NOT_SYMBOL = dict.fromkeys(map(ord, "#.\n"))  # what translate takes out of a valid symbol


def qr_svg(payload: str, *, label: str, module_px: int | None = None, size: str | None = None) -> str:
    """Inline SVG of the QR code for `payload` (level M, 4-module quiet zone).

    `label` is the accessible name (aria-label and <title>), XML-escaped. Without
    `module_px`/`size` the SVG has no width/height and CSS sizes it; `module_px` sets
    width/height to a whole number of CSS pixels per module (crisp on screens); `size` sets
    both to a CSS length, e.g. ``"40mm"`` for print. Deterministic. Encodes every call:
    a build should use `QrCache`.
    """
    n, bits = _encode_bits(payload)
    return _svg(n + 2 * QUIET_ZONE, _path_from_bits(n, n, bits, QUIET_ZONE), label, module_px, size)


def qr_png(payload: str, scale: int = 8) -> bytes:
    """PNG (1-bit) of the code, `scale` pixels per module, quiet zone included. Needs Pillow."""
    return _png(qr_matrix(payload), scale)


def _png(matrix: Matrix, scale: int) -> bytes:
    from PIL import Image  # only this helper needs Pillow

    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, not {scale!r}")
    n = len(matrix)
    img = Image.new("1", (n, n), 1)
    img.putdata([0 if m else 1 for row in matrix for m in row])
    if scale != 1:
        img = img.resize((n * scale, n * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# --------------------------------------------------------------------------- cache


@dataclass
class QrStats:
    """Counters of a QrCache. `misses` is the number of payloads actually encoded."""

    hits: int = 0  # served from memory
    disk_hits: int = 0  # read back from a file written by an earlier build
    misses: int = 0  # encoded (and written to disk when there is a cache_dir)
    disk_errors: int = 0  # unreadable/corrupt files (re-encoded) or failed writes (ignored)


class QrCache:
    """Memoizes QR encoding in memory and, when `cache_dir` is given, on disk.

    On disk: one SQLite database, ``cache_dir/qr.sqlite3``, a row per payload. The key covers
    the payload, the encoding parameters, a format version and the encoders' versions; a row
    holds the SVG path data, the symbol's rows ('#' dark, '.' light, no quiet zone, '\\n'
    between them) and a checksum of both, so a damaged row is ignored and encoded again. One
    database rather than a file per code: a county has tens of thousands of codes, and
    creating a file costs far more than its bytes (on this project's benchmark machine, ext4
    took 0.6 ms of kernel time to allocate each inode). Worker processes write their codes in
    one transaction each (WAL mode lets them read while another writes). A cache that cannot
    be opened or written only costs speed. Safe to share between threads; connections are
    closed before a fork and opened again by whichever process next needs one. The label
    and size are applied after the cache.
    """

    MEMORY_ENTRIES = 1024
    FILE_NAME = "qr.sqlite3"

    def __init__(self, cache_dir: Path | None):
        self.file = Path(cache_dir) / self.FILE_NAME if cache_dir is not None else None
        self.stats = QrStats()
        # key -> (n, path data, rows), the most recently used MEMORY_ENTRIES of them: a village's
        # codes are asked for by its page, its contact page and its card sheet; a large site
        # has tens of thousands, which the disk cache holds (a row is read in some ten
        # microseconds). The rows are one string, '\n' between them: one object, not forty.
        self._memory: OrderedDict[str, tuple[int, str, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._db_lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._db_pid = 0
        self._unusable = False
        if cache_dir is not None:
            _remove_old_layout(Path(cache_dir) / "qr")
        _OPEN_CACHES.add(self)

    @staticmethod
    def key(payload: str) -> str:
        material = f"gongshi-qr\0{_FORMAT}\0{_ENCODERS}\0{ERROR_CORRECTION}\0{QUIET_ZONE}\0{payload}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _entry(self, payload: str) -> tuple[int, str, str]:
        key = self.key(payload)
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
                self.stats.hits += 1
                return entry
        stored = self._read(key)
        if stored is not None:
            n, path, rows = stored
            with self._lock:
                self.stats.disk_hits += 1
        else:
            n, path, rows = self._encode(payload)
            self._store([(key, path, rows)])
        entry = (n + 2 * QUIET_ZONE, path, rows)
        self._remember(key, entry)
        return entry

    def _remember(self, key: str, entry: tuple[int, str, str]) -> None:
        with self._lock:
            self._memory[key] = entry
            if len(self._memory) > self.MEMORY_ENTRIES:
                self._memory.popitem(last=False)

    def _encode(self, payload: str) -> tuple[int, str, str]:
        n, bits = _encode_bits(payload)
        with self._lock:
            self.stats.misses += 1
        symbol = bits.translate(_SYMBOL_TEXT)
        return n, _path_from_bits(n, n, bits, QUIET_ZONE), "\n".join(symbol[start:start + n] for start in range(0, n * n, n))

    def missing(self, payloads: list[str]) -> list[str]:
        """The payloads not encoded yet, from one reading of the disk cache's keys."""
        stored: set[str] = set()
        with self._db_lock:
            db = self._connect()
            if db is not None:
                try:
                    stored = {key for (key,) in db.execute("SELECT key FROM codes")}
                except sqlite3.Error as exc:
                    self._failed(exc)
        return [payload for payload in payloads if (key := self.key(payload)) not in self._memory and key not in stored]

    def prepare_many(self, payloads: Sequence[str]) -> None:
        """Encode the codes (`missing` ones) and store them in one transaction; they are kept
        in memory too (the most recent `MEMORY_ENTRIES`). Returns nothing, so a worker
        process sends nothing back."""
        rows = []
        for payload in payloads:
            n, path, symbol = self._encode(payload)
            key = self.key(payload)
            rows.append((key, path, symbol))
            self._remember(key, (n + 2 * QUIET_ZONE, path, symbol))
        self._store(rows)

    def matrix(self, payload: str) -> Matrix:
        """Modules with the quiet zone (True = dark), as `qr_matrix` gives them."""
        return _with_quiet_zone([[c == "#" for c in row] for row in self._entry(payload)[2].split("\n")])

    def modules(self, payload: str) -> int:
        """The code's width in modules, quiet zone included: ``len(self.matrix(payload))``."""
        return self._entry(payload)[0]

    def svg(self, payload: str, label: str, *, module_px: int | None = None, size: str | None = None) -> str:
        """Same output as `qr_svg(payload, label=label, ...)`, encoding each payload once."""
        n, path, _ = self._entry(payload)
        return _svg(n, path, label, module_px, size)

    def png(self, payload: str, scale: int = 8) -> bytes:
        """Same output as `qr_png(payload, scale)`, from the cached matrix."""
        return _png(self.matrix(payload), scale)

    # -- the database

    def _connect(self) -> sqlite3.Connection | None:
        """This process's connection, opened (and the table made) on first use; None when
        there is no disk cache or it cannot be used. Called with `_db_lock` held."""
        if self.file is None or self._unusable:
            return None
        if self._db is not None and self._db_pid == os.getpid():
            return self._db
        self._db = None  # (a connection is never inherited: see `_close_before_fork`)
        for attempt in range(2):
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.file, timeout=60, isolation_level=None, check_same_thread=False)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    # A cache: a crash may lose the last codes written, never damage the rest.
                    db.execute("PRAGMA synchronous=NORMAL")
                    db.execute("CREATE TABLE IF NOT EXISTS codes (key TEXT PRIMARY KEY, path TEXT NOT NULL,"
                               " rows TEXT NOT NULL, checksum TEXT NOT NULL) WITHOUT ROWID")
                except BaseException:
                    db.close()
                    raise
            except (sqlite3.Error, OSError) as exc:
                if attempt == 0 and sqlite_damaged(exc) and self._remove_file():
                    with self._lock:
                        self.stats.disk_errors += 1
                    continue  # a damaged file (or another program's) is replaced by a new database
                self._failed(exc)  # cannot be made or opened: only costs speed
                return None
            self._db, self._db_pid = db, os.getpid()
            return db
        return None

    def _remove_file(self) -> bool:
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.file}{suffix}").unlink(missing_ok=True)
        except OSError:
            return False
        return True

    def _failed(self, exc: BaseException) -> None:
        """A read or write failed: count it and go on without the disk cache; a damaged
        database is removed, so the next build starts a new one."""
        with self._lock:
            self.stats.disk_errors += 1
        self._unusable = True
        self.close()
        if sqlite_damaged(exc):
            self._remove_file()

    def close(self) -> None:
        with self._db_lock:
            if self._db is not None and self._db_pid == os.getpid():
                try:
                    self._db.close()
                except sqlite3.Error:
                    pass
            self._db = None

    @staticmethod
    def _checksum(path: str, rows: str) -> str:
        return hashlib.sha256(f"{path}\n{rows}".encode("ascii")).hexdigest()[:16]

    def _read(self, key: str) -> tuple[int, str, str] | None:
        with self._db_lock:
            db = self._connect()
            if db is None:
                return None
            try:
                found = db.execute("SELECT path, rows, checksum FROM codes WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                self._failed(exc)
                return None
        if found is None:
            return None
        path, rows, checksum = found
        if not (isinstance(path, str) and isinstance(rows, str)) or not self._valid(path, rows, checksum):
            with self._lock:
                self.stats.disk_errors += 1
            return None
        return rows.count("\n") + 1, path, rows

    def _valid(self, path: str, rows: str, checksum) -> bool:
        """The row's checksum, path data and symbol hold together: n rows of n '#'/'.' each,
        '\\n' between them (each line's end where it should be, and no other character)."""
        n = rows.count("\n") + 1
        return (
            checksum == self._checksum(path, rows)
            and _PATH_DATA.fullmatch(path) is not None
            and 21 <= n <= 177
            and (n - 17) % 4 == 0
            and len(rows) == n * (n + 1) - 1
            and rows[n::n + 1] == "\n" * (n - 1)
            and not rows.translate(_NOT_SYMBOL)
        )

    def _store(self, entries: list[tuple[str, str, str]]) -> None:
        """Write (key, path data, rows) entries in one transaction; a failure only costs speed."""
        if not entries:
            return
        records = [(key, path, rows, self._checksum(path, rows)) for key, path, rows in entries]
        with self._db_lock:
            db = self._connect()
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("INSERT OR REPLACE INTO codes (key, path, rows, checksum) VALUES (?, ?, ?, ?)", records)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed(exc)


# Every open cache, so that their connections are closed before the process forks: SQLite
# connections must not be used, or even closed, in a child (the child opens its own).
_OPEN_CACHES: "weakref.WeakSet[QrCache]" = weakref.WeakSet()


def _close_before_fork() -> None:
    for cache in list(_OPEN_CACHES):
        cache.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_before_fork)


def _remove_old_layout(folder: Path) -> None:
    """Earlier versions kept a file per code under ``qr/``: removed once, it is never read."""
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
