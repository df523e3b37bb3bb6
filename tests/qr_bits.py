"""Reads a QR symbol's bitstream back: its mask and its segments (mode and content).

A test helper, independent of how generator/qr.py encodes: it finds the mask from the
format information, undoes it, reads the codewords in the standard zigzag order,
de-interleaves the data codewords of the blocks and parses the segments, so a test can say
what is inside a symbol (one byte-mode segment? an ECI header? Kanji mode?), which a decoder's
text alone does not tell. Function-pattern positions (through generator/qr.py's `_blank`,
which only calls qrcode's own setup) and the block table come from the qrcode library (level M).
"""
from __future__ import annotations

import qrcode
from qrcode import base, util
from qrcode.constants import ERROR_CORRECT_M

from generator.qr import _blank

MODES = {0: "terminator", 1: "numeric", 2: "alphanumeric", 4: "byte", 7: "eci", 8: "kanji", 3: "structured-append", 5: "fnc1", 9: "fnc1", 13: "hanzi"}
_LENGTH_MODE = {"numeric": 1, "alphanumeric": 2, "byte": 4, "kanji": 8}


def _layout(version: int, mask: int) -> list[list[bool | None]]:
    """Function patterns, format and version information for `mask`; None = a data module.
    (The function patterns are qrcode's, as generator/qr.py's `_blank` lays them; a symbol
    they did not fit would not decode, which the tests' zxing-cpp reads check.)"""
    code = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    code.modules_count = version * 4 + 17
    code.modules = _blank(version)
    code.setup_type_info(False, mask)
    if version >= 7:
        code.setup_type_number(False)
    return code.modules


def read_symbol(core) -> tuple[int, int, list[tuple[str, object]]]:
    """(version, mask, segments) of a level-M symbol given as rows of modules, no quiet zone."""
    n = len(core)
    version = (n - 17) // 4
    masks = [
        k for k in range(8)
        if all(m is None or m == bool(core[r][c]) for r, row in enumerate(_layout(version, k)) for c, m in enumerate(row))
    ]
    assert len(masks) == 1, f"format information matches masks {masks}, not exactly one (level M expected)"
    mask = masks[0]
    layout = _layout(version, mask)
    flipped = util.mask_func(mask)
    bits: list[str] = []
    row, step = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1  # the vertical timing pattern is skipped
        while 0 <= row < n:
            for c in (col, col - 1):
                if layout[row][c] is None:
                    bits.append("1" if bool(core[row][c]) ^ bool(flipped(row, c)) else "0")
            row += step
        row -= step
        step = -step
    codewords = [int("".join(bits[i:i + 8]), 2) for i in range(0, len(bits) - 7, 8)]
    blocks = base.rs_blocks(version, ERROR_CORRECT_M)
    data: list[list[int]] = [[] for _ in blocks]
    i = 0
    for j in range(max(b.data_count for b in blocks)):
        for k, block in enumerate(blocks):
            if j < block.data_count:
                data[k].append(codewords[i])
                i += 1
    return version, mask, _segments("".join(f"{x:08b}" for block in data for x in block), version)


def _segments(stream: str, version: int) -> list[tuple[str, object]]:
    pos = 0
    out: list[tuple[str, object]] = []
    alnum = util.ALPHA_NUM.decode("ascii")

    def take(k: int) -> int:
        nonlocal pos
        value = int(stream[pos:pos + k], 2)
        pos += k
        return value

    while pos + 4 <= len(stream):
        name = MODES.get(take(4), "unknown")
        if name == "terminator":
            break
        if name == "eci":
            first = take(8)
            if first >> 7 == 0:
                out.append((name, first))
            elif first >> 6 == 0b10:
                out.append((name, (first & 0x3F) << 8 | take(8)))
            else:
                out.append((name, (first & 0x1F) << 16 | take(16)))
            continue
        if name not in _LENGTH_MODE:
            out.append((name, None))
            break
        length = take(util.length_in_bits(_LENGTH_MODE[name], version))
        if name == "byte":
            out.append((name, bytes(take(8) for _ in range(length))))
        elif name == "numeric":
            digits = ""
            while len(digits) < length:
                k = min(3, length - len(digits))
                digits += str(take({3: 10, 2: 7, 1: 4}[k])).zfill(k)
            out.append((name, digits))
        elif name == "alphanumeric":
            chars = ""
            while len(chars) < length:
                if length - len(chars) >= 2:
                    v = take(11)
                    chars += alnum[v // 45] + alnum[v % 45]
                else:
                    chars += alnum[take(6)]
            out.append((name, chars))
        else:  # kanji: 13 bits a character
            pos += 13 * length
            out.append((name, length))
    return out
