#!/usr/bin/env python3
"""Generate the demo county's posting photos (content/media/**.jpg), deterministically.

The demo notices refer to photos of notice boards (村务公开栏) and project sites. Real photos
of real boards would carry real names, so these are drawn: a wall, a board with a red header
and sheets of "text" (grey bars), a red seal, some sensor-like noise. No text is drawn.

A few photos carry camera metadata on purpose (GPS position, camera make/model, body serial
number, an Orientation other than 1, stored sideways the way a phone does it), so that the
tool's metadata stripping and orientation handling are exercised by the demo build.

Run:  python scripts/make_demo_media.py          (needs Pillow)
The same Pillow/libjpeg produce byte-identical files on every run.
"""
from __future__ import annotations

import random
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "content" / "media"
SIZE = (1200, 900)

# (path under content/media, seed text, kind, exif) -- exif: None or a dict of tags below.
PHOTOS = [
    ("boards/xinglinping-board.jpg", "杏林坪", "board", None),
    ("boards/donggou-board.jpg", "东沟", "board", None),
    ("boards/shinianzi-board.jpg", "石碾子", "board", None),
    ("boards/shanghewan-board.jpg", "上河湾", "board", None),
    ("boards/huashuling-board.jpg", "桦树岭", "board",
     {"make": "Xiaomi", "model": "Redmi Note 12", "serial": "RN12-DEMO-000731",
      "lat": (36, 41, 27.35), "lat_ref": "N", "lon": (112, 58, 3.18), "lon_ref": "E", "alt": 1286.0,
      "datetime": "2025:06:30 09:12:44", "orientation": 6}),
    ("boards/nanpo-board.jpg", "南坡", "board", None),
    ("boards/yangjiaogou-board.jpg", "羊角沟", "board", None),
    ("boards/qingshikou-board.jpg", "青石口", "board", None),
    ("boards/liuxi-board.jpg", "柳溪", "board", None),
    ("boards/maliantan-board.jpg", "马莲滩", "board", None),
    ("boards/xinzhuang-board.jpg", "新庄", "board", None),
    ("boards/baituliang-board.jpg", "白土梁", "board", None),
    ("boards/hefeng-town-board.jpg", "禾丰镇便民服务中心", "board", None),
    ("sites/qingshikou-water-works.jpg", "青石口饮水", "site",
     {"make": "HUAWEI", "model": "nova 9", "serial": "NOVA9-DEMO-552817",
      "lat": (36, 39, 52.9), "lat_ref": "N", "lon": (113, 1, 44.61), "lon_ref": "E", "alt": 1102.5,
      "datetime": "2025:09:18 15:40:02", "orientation": 6}),
    ("sites/liuxi-road.jpg", "柳溪道路", "site",
     {"make": "OPPO", "model": "A57", "serial": "OPPOA57-DEMO-19034",
      "lat": (36, 52, 8.02), "lat_ref": "N", "lon": (112, 47, 30.77), "lon_ref": "E", "alt": 874.0,
      "datetime": "2024:11:05 10:03:55", "orientation": 8}),
]


def rng_for(seed: str) -> random.Random:
    return random.Random(zlib.crc32(seed.encode("utf-8")))


def noise_layer(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    return Image.frombytes("L", size, rng.randbytes(w * h)).convert("RGB")


def draw_board(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, (200, 214, 226))
    d = ImageDraw.Draw(img)
    # sky gradient
    for y in range(int(h * 0.22)):
        t = y / (h * 0.22)
        d.line([(0, y), (w, y)], fill=(int(150 + 60 * t), int(185 + 35 * t), int(225 + 10 * t)))
    # wall with bricks
    wall_top = int(h * 0.22)
    base = (178 + rng.randint(-10, 10), 160 + rng.randint(-10, 10), 140 + rng.randint(-10, 10))
    d.rectangle([0, wall_top, w, h], fill=base)
    bh = 28
    for row, y in enumerate(range(wall_top, h, bh)):
        off = 0 if row % 2 else 38
        for x in range(-off, w, 76):
            tone = rng.randint(-18, 18)
            d.rectangle([x + 2, y + 2, x + 74, y + bh - 2],
                        fill=(base[0] + tone, base[1] + tone - 4, base[2] + tone - 8))
    # ground
    d.rectangle([0, int(h * 0.9), w, h], fill=(120 + rng.randint(-8, 8), 112, 98))
    # the board: frame, red header, blue panel
    bx0, by0, bx1, by1 = int(w * 0.08), int(h * 0.12), int(w * 0.92), int(h * 0.84)
    d.rectangle([bx0 - 14, by0 - 14, bx1 + 14, by1 + 14], fill=(90, 92, 98))
    d.rectangle([bx0, by0, bx1, by1], fill=(36, 84, 150))
    d.rectangle([bx0, by0, bx1, by0 + int(h * 0.09)], fill=(196, 30, 36))
    # header "characters" as pale blocks
    cx = bx0 + (bx1 - bx0) // 2 - 5 * 44
    for i in range(10):
        d.rectangle([cx + i * 44, by0 + 16, cx + i * 44 + 34, by0 + 16 + 40], fill=(250, 222, 120))
    # sheets of paper
    cols = rng.choice([3, 4])
    top = by0 + int(h * 0.12)
    gap = 18
    sheet_w = ((bx1 - bx0) - gap * (cols + 1)) // cols
    for c in range(cols):
        sx = bx0 + gap + c * (sheet_w + gap)
        sh = rng.randint(int((by1 - top) * 0.7), by1 - top - gap)
        tilt = rng.randint(-3, 3)
        paper = (246 - rng.randint(0, 12), 244 - rng.randint(0, 12), 236 - rng.randint(0, 16))
        d.polygon([(sx, top + tilt), (sx + sheet_w, top), (sx + sheet_w, top + sh), (sx, top + sh + tilt)], fill=paper)
        # title line
        d.rectangle([sx + 30, top + 20, sx + sheet_w - 30, top + 34], fill=(60, 60, 60))
        y = top + 56
        while y < top + sh - 40:
            if rng.random() < 0.18:  # a table block
                rows = rng.randint(3, 6)
                for r in range(rows):
                    d.rectangle([sx + 16, y, sx + sheet_w - 16, y + 16], outline=(90, 90, 90))
                    for k in range(1, 4):
                        xx = sx + 16 + k * (sheet_w - 32) // 4
                        d.line([(xx, y), (xx, y + 16)], fill=(90, 90, 90))
                    y += 16
                y += 10
            else:
                length = rng.randint(int(sheet_w * 0.5), sheet_w - 34)
                g = rng.randint(70, 120)
                d.rectangle([sx + 18, y, sx + 18 + length, y + 7], fill=(g, g, g))
                y += 15
        # red seal
        if rng.random() < 0.8:
            r = 34
            ex, ey = sx + sheet_w - 80, top + sh - 80
            d.ellipse([ex - r, ey - r, ex + r, ey + r], outline=(210, 40, 40), width=5)
            d.regular_polygon((ex, ey, 10), 5, fill=(210, 40, 40))
    return img


def draw_site(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, (170, 200, 230))
    d = ImageDraw.Draw(img)
    horizon = int(h * 0.45)
    for y in range(horizon):
        t = y / horizon
        d.line([(0, y), (w, y)], fill=(int(120 + 90 * t), int(165 + 60 * t), int(220 + 20 * t)))
    # hills
    for layer in range(3):
        pts = [(0, horizon)]
        for x in range(0, w + 60, 60):
            pts.append((x, horizon - rng.randint(20, 110) + layer * 40))
        pts.append((w, h))
        pts.append((0, h))
        g = 110 + layer * 25
        d.polygon(pts, fill=(70 + layer * 10, g, 60 + layer * 8))
    # field / road
    d.polygon([(int(w * 0.42), horizon + 40), (int(w * 0.58), horizon + 40), (int(w * 0.95), h), (int(w * 0.05), h)],
              fill=(150, 150, 146))
    for i in range(8):
        y = horizon + 60 + i * (h - horizon) // 8
        d.rectangle([w // 2 - 4 - i, y, w // 2 + 4 + i, y + 18 + i * 2], fill=(235, 235, 225))
    # a project sign board on two posts (公示牌)
    sx, sy = int(w * 0.68), int(h * 0.40)
    d.rectangle([sx + 20, sy + 160, sx + 30, sy + 330], fill=(80, 80, 80))
    d.rectangle([sx + 230, sy + 160, sx + 240, sy + 330], fill=(80, 80, 80))
    d.rectangle([sx, sy, sx + 260, sy + 170], fill=(30, 90, 170))
    d.rectangle([sx, sy, sx + 260, sy + 30], fill=(196, 30, 36))
    for i in range(8):
        d.rectangle([sx + 16, sy + 44 + i * 15, sx + 16 + rng.randint(120, 228), sy + 50 + i * 15], fill=(235, 235, 235))
    # a water tank / pipe stack
    d.rectangle([int(w * 0.1), int(h * 0.5), int(w * 0.3), int(h * 0.7)], fill=(196, 196, 190))
    d.rectangle([int(w * 0.1), int(h * 0.5), int(w * 0.3), int(h * 0.53)], fill=(120, 120, 118))
    return img


def exif_for(info: dict) -> Image.Exif:
    from PIL.ExifTags import GPS, IFD, Base

    exif = Image.Exif()
    exif[Base.Make] = info["make"]
    exif[Base.Model] = info["model"]
    exif[Base.Orientation] = info["orientation"]
    exif[Base.DateTime] = info["datetime"]
    exif[Base.Software] = "GongshiDemoCamera 1.0"
    sub = exif.get_ifd(IFD.Exif)
    sub[Base.BodySerialNumber] = info["serial"]
    sub[Base.DateTimeOriginal] = info["datetime"]
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSVersionID] = b"\x02\x02\x00\x00"
    gps[GPS.GPSLatitudeRef] = info["lat_ref"]
    gps[GPS.GPSLatitude] = tuple(float(v) for v in info["lat"])
    gps[GPS.GPSLongitudeRef] = info["lon_ref"]
    gps[GPS.GPSLongitude] = tuple(float(v) for v in info["lon"])
    gps[GPS.GPSAltitudeRef] = b"\x00"
    gps[GPS.GPSAltitude] = float(info["alt"])
    return exif


def render(seed: str, kind: str, exif: dict | None) -> tuple[Image.Image, Image.Exif | None]:
    rng = rng_for(seed)
    upright_size = SIZE
    if exif:  # a phone held upright: a portrait scene stored sideways plus an Orientation tag
        upright_size = (SIZE[1], SIZE[0])
    scene = draw_board(rng, upright_size) if kind == "board" else draw_site(rng, upright_size)
    scene = scene.filter(ImageFilter.GaussianBlur(0.8))
    scene = Image.blend(scene, noise_layer(rng, upright_size), 0.07)
    if exif:
        # Orientation 6: display = stored rotated 90° clockwise, so store it 90° counter-clockwise.
        # Orientation 8: the other way round.
        turn = Image.Transpose.ROTATE_90 if exif["orientation"] == 6 else Image.Transpose.ROTATE_270
        scene = scene.transpose(turn)
        return scene, exif_for(exif)
    return scene, None


def main() -> None:
    for rel, seed, kind, exif in PHOTOS:
        path = MEDIA / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image, tags = render(seed, kind, exif)
        options = {"quality": 72, "optimize": True}
        if tags is not None:
            options["exif"] = tags.tobytes()
        image.save(path, "JPEG", **options)
        print(f"{path.relative_to(ROOT)}  {image.size[0]}x{image.size[1]}  {path.stat().st_size // 1024} KB"
              + ("  (EXIF: GPS, camera, serial, orientation %d)" % exif["orientation"] if exif else ""))


if __name__ == "__main__":
    main()
