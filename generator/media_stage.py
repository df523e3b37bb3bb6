"""The media stage: every photo a published notice refers to, re-encoded and cached.

Photos are published through `media.publish_image` (metadata stripped, orientation applied,
resized, with a thumbnail). Re-encoding is slow, so results are cached by the hash of the
original's bytes and the encoding settings; the originals are never copied to the output.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from .errors import ContentError, Problem

SETTINGS = {"max_side": 1600, "thumb_side": 480, "quality": 82, "version": 1}


@dataclass(frozen=True)
class PublishedPhoto:
    url: str  # site path of the full image
    thumb_url: str
    width: int
    height: int
    thumb_width: int
    thumb_height: int


def cache_dir(root: Path) -> Path:
    return Path(os.environ.get("GONGSHI_CACHE", root / ".gongshi-cache"))


def publish_media(site, root: Path, output, advance) -> dict[str, PublishedPhoto]:
    from .media import MediaError, publish_image

    photos: dict[str, list[str]] = {}
    for page in site.notices.values():
        for posting in page.notice.postings:
            if posting.photo:
                photos.setdefault(posting.photo, []).append(page.notice.source)
    cache = cache_dir(root) / "media"
    published: dict[str, PublishedPhoto] = {}
    problems = []
    for photo in sorted(photos):
        source = root / "content" / photo
        data = source.read_bytes()
        key = hashlib.sha256(data + json.dumps(SETTINGS, sort_keys=True).encode()).hexdigest()
        entry = cache / key[:2] / key
        meta_file = entry / "meta.json"
        if not meta_file.is_file():
            tmp = entry.with_name(key + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                image = publish_image(source, tmp / "image.jpg", max_side=SETTINGS["max_side"], thumb_side=SETTINGS["thumb_side"], quality=SETTINGS["quality"])
            except MediaError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                problems.append(Problem(photos[photo][0], 0, 0, "postings.photo", f"content/{photo}: {exc}"))
                continue
            meta = {"width": image.width, "height": image.height, "thumb_width": image.thumb_width, "thumb_height": image.thumb_height,
                    "image": Path(image.path).name, "thumb": Path(image.thumb_path).name}
            (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True))
            shutil.rmtree(entry, ignore_errors=True)
            os.replace(tmp, entry)
        meta = json.loads(meta_file.read_text())
        stem = PurePosixPath("media") / PurePosixPath(photo).with_suffix("")
        url, thumb_url = f"{stem}.jpg", f"{stem}.thumb.jpg"
        output.copy(url, entry / meta["image"], f"content/{photo}")
        output.copy(thumb_url, entry / meta["thumb"], f"content/{photo}")
        published[photo] = PublishedPhoto(url, thumb_url, meta["width"], meta["height"], meta["thumb_width"], meta["thumb_height"])
        advance()
    if problems:
        raise ContentError(problems)
    return published


__all__ = ["PublishedPhoto", "publish_media", "asdict"]
