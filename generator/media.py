"""Publishing photos: the board and site photos that evidence a notice's posting.

A phone photo carries far more than its pixels: GPS coordinates of the household it was
taken at, the phone's make, model and serial number, editing history in XMP, comments.
So a photo is never copied; it is decoded and re-encoded from its pixels alone:

- EXIF orientation is applied to the pixels (then the tag is not needed any more);
- colours are converted to sRGB using the photo's ICC profile, then the profile dropped;
- transparency (PNG, WebP, GIF) is flattened onto white, and the output is always a JPEG:
  board photos and scans need no alpha, and one format keeps photo URLs predictable;
- the image is scaled down to fit `max_side`, and a `<stem>.thumb.jpg` thumbnail is made;
- the JPEG has no EXIF, XMP, IPTC, ICC or comment: only the JFIF header and pixels.

Encoding is byte-for-byte deterministic, so a rebuild changes nothing.

`image_metadata_findings` is the other side: it reads a file's structure (JPEG segments,
PNG chunks, WebP chunks) and lists any metadata left, for the leak gate.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Pillow (10-15 ms to import) is imported where an image is read or made: a rebuild after
# an edit that publishes no photo and writes no image does not need it.

# Formats a phone, a scanner or a clerk's PC produces (Pillow reads MPO, the JPEG of
# phones with several cameras, as JPEG). Pillow can open more (EPS runs Ghostscript, for
# one); limiting them keeps a stray file from reaching those decoders.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
BACKGROUND = (255, 255, 255)  # what transparent areas become; notice boards are paper


class MediaError(Exception):
    """A photo that cannot be published; the message is for the clerk who added it."""


@dataclass(frozen=True)
class PublishedImage:
    path: Path  # the JPEG written
    thumb_path: Path  # `<stem>.thumb.jpg` next to it
    width: int
    height: int
    thumb_width: int
    thumb_height: int


def publish_image(src: Path, dest: Path, *, max_side: int = 1600, thumb_side: int = 480, quality: int = 82) -> PublishedImage:
    """Re-encode the photo `src` as a metadata-free JPEG at `dest`, plus its thumbnail.

    `dest` gets the suffix `.jpg` unless it already ends in `.jpg` or `.jpeg`. Raises
    `MediaError` when `src` is missing, damaged, too large or not an image.
    """
    picture = _read_pixels(Path(src), max_side)
    full = _fit(picture, max_side)
    thumb = _fit(full, thumb_side)
    dest = Path(dest)
    if dest.suffix.lower() not in (".jpg", ".jpeg"):
        dest = dest.with_suffix(".jpg")
    thumb_path = dest.with_name(dest.stem + ".thumb.jpg")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(_encode_jpeg(full, quality))
    thumb_path.write_bytes(_encode_jpeg(thumb, quality))
    return PublishedImage(dest, thumb_path, *full.size, *thumb.size)


def _read_pixels(src: Path, max_side: int) -> Image.Image:
    """The photo upright, in sRGB, as a new image that carries nothing but its pixels."""
    from PIL import Image, ImageOps

    try:
        with Image.open(src, formats=ACCEPTED_FORMATS) as image:
            _decode_small(image, max_side)
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _to_srgb(upright)
    except FileNotFoundError:
        raise MediaError("the file does not exist") from None
    except Image.DecompressionBombError:
        raise MediaError("the image has too many pixels to be a photo; resize it before adding it") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        # Pillow signals damaged data with any of these, depending on the format and where
        # the damage is; for the clerk they all mean the same thing.
        raise MediaError("the file is damaged or is not a photo in a format that can be published (JPEG, PNG, WebP or GIF)") from exc
    # A fresh image: Pillow's encoders copy some of `info` (the JPEG comment, for one) into
    # the output on their own, so nothing from the source may travel with the pixels.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def _decode_small(image: Image.Image, max_side: int) -> None:
    """Let libjpeg decode a big JPEG at 1/2, 1/4 or 1/8 scale when that is still larger than
    the output: a 12-megapixel phone photo then decodes several times faster."""
    width, height = image.size
    scale = max_side / max(width, height)
    if scale < 1:
        image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))


def _to_srgb(image: Image.Image) -> Image.Image:
    from PIL import Image, ImageCms

    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, BACKGROUND + (255,)), rgba).convert("RGB")
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")  # 16-bit grey
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK", "L"):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain conversion below is the best guess
    return image.convert("RGB")


def _fit(image: Image.Image, side: int) -> Image.Image:
    """`image` scaled down so that its longer side is at most `side` (never scaled up)."""
    from PIL import Image

    width, height = image.size
    longer = max(width, height)
    if longer <= side:
        return image
    size = (max(1, round(width * side / longer)), max(1, round(height * side / longer)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # Everything explicit, so that a change of Pillow's defaults cannot change the bytes
    # silently; baseline (not progressive) decodes on every old phone browser.
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=False, subsampling="4:2:0")
    return out.getvalue()


# --- metadata left in a file -------------------------------------------------------------

UNREADABLE = "unreadable image: its metadata cannot be checked"


def image_metadata_findings(path: Path, data: bytes | None = None) -> list[str]:
    """Every kind of metadata in the image file, as short messages; [] for a clean image.

    Reports EXIF (naming its tags, and GPS separately), XMP, IPTC, JPEG comments and
    extra segments, PNG text chunks, WebP metadata chunks, GIF comments, and data hidden
    after the end of the image. An image whose structure cannot be read is a finding too:
    what cannot be checked cannot be published. ICC colour profiles are not reported:
    they describe colours, not people. `data`, when given, is the file's bytes.
    """
    data = Path(path).read_bytes() if data is None else data
    if data.startswith(b"\xff\xd8"):
        return _jpeg_findings(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_findings(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_findings(data)
    return _pillow_findings(data)


def _exif_findings(payload: bytes, where: str) -> list[str]:
    from PIL import ExifTags, Image

    exif = Image.Exif()
    try:
        exif.load(payload)
        names = {ExifTags.TAGS.get(tag, f"0x{tag:04x}") for tag in exif}
        for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop):
            if ifd in exif:
                sub = exif.get_ifd(ifd)
                table = ExifTags.GPSTAGS if ifd == ExifTags.IFD.GPSInfo else ExifTags.TAGS
                names |= {table.get(tag, f"0x{tag:04x}") for tag in sub}
        gps = bool(exif.get_ifd(ExifTags.IFD.GPSInfo)) if ExifTags.IFD.GPSInfo in exif else False
    except Exception:  # noqa: BLE001 - any failure to parse is itself the finding
        return [f"EXIF metadata ({where}, unreadable)"]
    found = [f"EXIF metadata ({where}): {', '.join(sorted(names)) or 'empty'}"]
    if gps:
        found.append(f"GPS location ({where})")
    return found


_JFIF = b"JFIF\x00"
_EXIF = b"Exif\x00\x00"
_XMP = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # after entropy-coded data


def _jpeg_findings(data: bytes) -> list[str]:
    found: list[str] = []
    pos = 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            return found + [UNREADABLE]
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a segment
            pos += 2
            continue
        if marker == 0xD9:  # end of image
            trailer = data[pos + 2:]
            if trailer.strip(b"\x00\r\n\t "):
                # MPO files and some phones append a second image or a data block here
                found.append(f"{len(trailer)} bytes of data after the end of the image")
            return found
        if pos + 4 > len(data):
            return found + [UNREADABLE]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        segment = data[pos + 4:pos + 2 + length]
        found += _jpeg_segment_findings(marker, segment)
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip the compressed data to the next marker
            following = _NEXT_MARKER.search(data, pos)
            if following is None:
                return found + [UNREADABLE]
            pos = following.start()


def _jpeg_segment_findings(marker: int, segment: bytes) -> list[str]:
    if marker == 0xFE:
        return ["JPEG comment"]
    if not 0xE0 <= marker <= 0xEF:
        return []  # tables, frame and scan headers: pixels only
    app = marker - 0xE0
    if app == 0:
        return [] if segment.startswith(_JFIF) else ["JFIF thumbnail or extension (APP0)"]
    if app == 1 and segment.startswith(_EXIF):
        return _exif_findings(segment, "JPEG APP1")
    if app == 1 and segment.startswith(_XMP):
        return ["XMP metadata (JPEG APP1)"]
    if app == 2 and segment.startswith(b"ICC_PROFILE\x00"):
        return []
    if app == 13:
        return ["IPTC/Photoshop metadata (JPEG APP13)"]
    if app == 14 and segment.startswith(b"Adobe"):
        return []  # colour transform flag
    name = segment[:16].split(b"\x00")[0].decode("latin-1", "replace")
    return [f"JPEG APP{app} segment{f' ({name})' if name.isprintable() and name else ''}"]


def _png_findings(data: bytes) -> list[str]:
    found: list[str] = []
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            return found + [UNREADABLE]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            keyword = body.split(b"\x00")[0].decode("latin-1", "replace")
            if keyword == "XML:com.adobe.xmp":
                found.append("XMP metadata (PNG iTXt)")
            else:
                found.append(f"PNG text chunk {keyword!r}")
        elif kind == b"eXIf":
            found += _exif_findings(body, "PNG eXIf")
        pos += 12 + length
        if kind == b"IEND":
            if data[pos:].strip(b"\x00\r\n\t "):
                found.append(f"{len(data) - pos} bytes of data after the end of the image")
            return found
    return found + [UNREADABLE]


def _webp_findings(data: bytes) -> list[str]:
    found: list[str] = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + length]
        if kind == b"EXIF":
            found += _exif_findings(body, "WebP EXIF")
        elif kind == b"XMP ":
            found.append("XMP metadata (WebP)")
        pos += 8 + length + (length & 1)
    return found


def _pillow_findings(data: bytes) -> list[str]:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            info = dict(image.info)
            exif = image.getexif()
    except Exception:  # noqa: BLE001 - what cannot be opened cannot be checked
        return [UNREADABLE]
    found = []
    if exif:
        found += _exif_findings(exif.tobytes(), image.format or "image")
    for key, message in (("comment", "comment"), ("xmp", "XMP metadata"), ("XML:com.adobe.xmp", "XMP metadata")):
        if info.get(key):
            found.append(f"{message} ({image.format})")
    return found
