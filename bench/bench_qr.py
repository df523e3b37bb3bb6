"""QR benchmark: encoding cost, cache cost, SVG size against the naive output, and the QR
stages of a whole build of the demo site with a cold and a warm cache.

Run from anywhere: ``python bench/bench_qr.py``. Plain text, one figure per line with its unit.
"""
from __future__ import annotations

import datetime as dt
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generator.qr import QrCache, path_from_matrix, qr_matrix, qr_svg  # noqa: E402
from generator.vcard import vcard  # noqa: E402

N_CODES = 200
LABEL = "扫码查看公示"
URLS = [f"https://gongshi.example.gov.cn/qinghe/notices/{2026_0000 + 37 * i}.html" for i in range(N_CODES)]
CARD = vcard(
    name="欧阳建国",
    role="驻村第一书记、工作队队长",
    org="清河县乡村振兴局驻王家营村工作队",
    phones=[("cell", "13812345678"), ("work", "0371-12345678")],
)


def naive_svg(matrix, label: str) -> str:
    n = len(matrix)
    rects = "".join(
        f'<rect x="{x}" y="{y}" width="1" height="1"/>' for y, row in enumerate(matrix) for x, m in enumerate(row) if m
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" role="img" aria-label="{label}" class="qr"'
        f' shape-rendering="crispEdges"><title>{label}</title><rect width="{n}" height="{n}" fill="#fff"/>'
        f'<g fill="#000">{rects}</g></svg>'
    )


def runs_path(matrix) -> str:
    """The simpler alternative: one subpath per horizontal run of dark modules."""
    parts, pen = [], None
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                w = x - start
                move = f"M{start} {y}" if pen is None else f"m{start - pen[0]} {y - pen[1]}"
                parts.append(f"{move}h{w}v1h-{w}z")
                pen = (start, y)
            else:
                x += 1
    return "".join(parts)


def ms_each(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    qr_svg(URLS[0], label=LABEL)  # warm imports

    encode = statistics.median(ms_each(qr_matrix, URLS))
    matrices = [qr_matrix(u) for u in URLS]
    path = statistics.median(ms_each(path_from_matrix, matrices))
    uncached = statistics.median(ms_each(lambda u: qr_svg(u, label=LABEL), URLS))

    with tempfile.TemporaryDirectory() as tmp:
        cold = QrCache(Path(tmp))
        first = statistics.median(ms_each(lambda u: cold.svg(u, LABEL), URLS))
        memory = statistics.median(ms_each(lambda u: cold.svg(u, LABEL), URLS))
        warm = QrCache(Path(tmp))  # what the next build sees
        disk = statistics.median(ms_each(lambda u: warm.svg(u, LABEL), URLS))
        assert warm.stats.misses == 0 and cold.stats.misses == N_CODES
        cold.close()
        warm.close()  # the last connection: its log is folded into the database
        database = sum(f.stat().st_size for f in Path(tmp).glob(QrCache.FILE_NAME + "*"))

    ours = [qr_svg(u, label=LABEL).encode() for u in URLS]
    naive = [naive_svg(m, LABEL).encode() for m in matrices]
    runs = [
        qr_svg(u, label=LABEL).replace(path_from_matrix(m), runs_path(m)).encode() for u, m in zip(URLS, matrices)
    ]
    med = lambda xs: statistics.median(len(x) for x in xs)  # noqa: E731
    gz = lambda xs: statistics.median(len(gzip.compress(x, 9, mtime=0)) for x in xs)  # noqa: E731

    card_matrix = qr_matrix(CARD)
    card_svg = qr_svg(CARD, label="联系人").encode()

    print(f"codes: {N_CODES} URLs like {URLS[0]}")
    print(f"modules per side (quiet zone included): {len(matrices[0])} modules")
    print(f"encode (qrcode matrix) per code, median: {encode:.2f} ms")
    print(f"path tracing per code, median: {path:.2f} ms")
    print(f"uncached qr_svg per code, median: {uncached:.2f} ms")
    print(f"QrCache first build (encode + store a row) per code, median: {first:.2f} ms")
    print(f"QrCache memory hit per code, median: {memory * 1000:.1f} us")
    print(f"QrCache next build (read a row, no encoding) per code, median: {disk:.2f} ms")
    print(f"cache database per code, mean: {database / N_CODES:.0f} bytes")
    print(f"SVG per code, ours (outline path): {med(ours):.0f} bytes")
    print(f"SVG per code, one subpath per horizontal run: {med(runs):.0f} bytes")
    print(f"SVG per code, naive one rect per module: {med(naive):.0f} bytes")
    print(f"SVG size ratio naive/ours: {med(naive) / med(ours):.1f} x")
    print(f"SVG size ratio runs/ours: {med(runs) / med(ours):.2f} x")
    print(f"SVG per code gzipped, ours: {gz(ours):.0f} bytes")
    print(f"SVG per code gzipped, naive: {gz(naive):.0f} bytes")
    print(f"vCard payload: {len(CARD.encode('utf-8'))} bytes")
    print(f"vCard QR modules per side (quiet zone included): {len(card_matrix)} modules")
    print(f"vCard QR SVG, ours: {len(card_svg)} bytes")
    print(f"vCard QR SVG, naive: {len(naive_svg(card_matrix, '联系人').encode())} bytes")



def build_figures() -> None:
    """The demo site built twice into a fresh cache: what the QR stages cost cold and warm."""
    from generator.build import build
    from generator.plugins import default_plugins
    from generator.qrpages import QrPlugin

    today = dt.date(2026, 11, 22)  # the demo date (tests/conftest.py DEMO_TODAY)
    saved = os.environ.get("GONGSHI_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GONGSHI_CACHE"] = str(Path(tmp) / "cache")
        try:
            for run in ("cold", "warm"):
                plugins = default_plugins()
                qr = next(p for p in plugins if isinstance(p, QrPlugin))
                # A folder per run: into the same folder, an unchanged site is not built again.
                result = build(REPO, Path(tmp) / run, today, plugins=plugins)
                (stage,) = [seconds for key, seconds in result.timings if key == "qr"]
                stats = qr.cache.stats
                codes = stats.misses + stats.disk_hits
                print(f"demo build, {run} cache: QR codes encoded: {stats.misses} of {codes} codes")
                print(f"demo build, {run} cache: QR stage (encode every code, write posters, card sheets, vCards): {stage * 1000:.0f} ms")
                print(f"demo build, {run} cache: whole build: {sum(s for _, s in result.timings) * 1000:.0f} ms")
            out = Path(tmp) / "warm"
            notices = [len(gzip.compress(p.read_bytes(), 9, mtime=0)) for p in (out / "notices").glob("*.html")]
            print(f"demo notice pages gzipped (QR included), median: {statistics.median(notices):.0f} bytes")
            print(f"demo notice pages gzipped (QR included), largest: {max(notices)} bytes")
            posters = [p.stat().st_size for p in (out / "posters").glob("*.html")]
            print(f"demo posters: {len(posters)} files, median {statistics.median(posters):.0f} bytes")
        finally:
            if saved is None:
                os.environ.pop("GONGSHI_CACHE", None)
            else:
                os.environ["GONGSHI_CACHE"] = saved


if __name__ == "__main__":
    main()
    build_figures()
