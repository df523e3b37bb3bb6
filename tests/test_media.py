"""Publishing photos: every byte of metadata gone, orientation applied, size capped, stable."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from generator.media import MediaError, PublishedImage, image_metadata_findings, publish_image

FIXTURES = Path(__file__).parent / "fixtures" / "photos"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Zhang San</dc:creator>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)
RED, BLUE, WHITE = (220, 30, 30), (0, 0, 255), (255, 255, 255)


def camera_exif(orientation: int = 6) -> Image.Exif:
    """What a phone writes: where, with what, which way up."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Xiaomi"
    exif[ExifTags.Base.Model] = "Redmi Note 12"
    exif[ExifTags.Base.DateTime] = "2024:04:01 09:30:00"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.BodySerialNumber] = "SN-2024-0001"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (36.0, 47.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 5.0, 30.0)
    return exif


def landscape(size: tuple[int, int]) -> Image.Image:
    """A red picture with a blue mark in its top-left corner, to see which way it turned."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (0, 0, size[0] // 4, size[1] // 4))
    return image


def phone_photo(path: Path, size: tuple[int, int] = (640, 480), **extra) -> Path:
    options = dict(exif=camera_exif(), xmp=XMP, comment=b"taken at household 3", quality=90)
    landscape(size).save(path, "JPEG", **(options | extra))
    return path


@pytest.fixture
def photo(tmp_path) -> Path:
    return phone_photo(tmp_path / "board.jpg")


def test_fixture_photo_really_carries_the_metadata(photo):
    with Image.open(photo) as image:
        assert image.getexif()[ExifTags.Base.Orientation] == 6
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert {"exif", "xmp", "comment"} <= set(image.info)
    found = image_metadata_findings(photo)
    assert any("GPS location" in f for f in found)
    assert any("BodySerialNumber" in f and "Make" in f and "Model" in f for f in found)
    assert "XMP metadata (JPEG APP1)" in found and "JPEG comment" in found


def test_published_photo_has_no_metadata_at_all(photo, tmp_path):
    published = publish_image(photo, tmp_path / "out" / "board.jpg")
    for path in (published.path, published.thumb_path):
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert not image.getexif()
            assert not {"exif", "xmp", "comment", "icc_profile", "photoshop", "dpi"} & set(image.info)
            assert image.applist == [("APP0", image.applist[0][1])] and image.applist[0][1].startswith(b"JFIF")
        assert image_metadata_findings(path) == []
        data = path.read_bytes()
        for secret in (b"Xiaomi", b"Redmi", b"SN-2024", b"Zhang", b"household", b"Exif"):
            assert secret not in data


def test_orientation_is_applied_to_the_pixels(photo, tmp_path):
    published = publish_image(photo, tmp_path / "board.jpg")
    assert (published.width, published.height) == (480, 640)  # turned a quarter
    with Image.open(published.path) as image:
        assert image.size == (480, 640)
        # Orientation 6: the top-left corner of the stored picture is shown top right.
        assert near(image.getpixel((image.width - 10, 10)), BLUE)
        assert near(image.getpixel((10, 10)), RED)


def test_size_is_capped_and_a_thumbnail_is_written(tmp_path):
    src = tmp_path / "big.jpg"
    landscape((3000, 2000)).save(src, quality=90)
    published = publish_image(src, tmp_path / "media" / "big.jpg", max_side=1600, thumb_side=480)
    assert published == PublishedImage(tmp_path / "media" / "big.jpg", tmp_path / "media" / "big.thumb.jpg", 1600, 1067, 480, 320)
    with Image.open(published.path) as image:
        assert image.size == (1600, 1067)
    with Image.open(published.thumb_path) as thumb:
        assert thumb.size == (480, 320)
    assert not (tmp_path / "media" / "big.jpg").samefile(src)


def test_small_images_are_not_enlarged(tmp_path):
    src = tmp_path / "small.png"
    landscape((300, 200)).save(src)
    published = publish_image(src, tmp_path / "small.jpg")
    assert (published.width, published.height, published.thumb_width, published.thumb_height) == (300, 200, 300, 200)


def test_output_is_byte_for_byte_the_same_every_time(photo, tmp_path):
    first = publish_image(photo, tmp_path / "a" / "board.jpg")
    second = publish_image(photo, tmp_path / "b" / "board.jpg")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.thumb_path.read_bytes() == second.thumb_path.read_bytes()


def test_png_with_text_chunks_and_transparency_becomes_a_clean_jpeg_on_white(tmp_path):
    src = tmp_path / "scan.png"
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 100, 100))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "张三丰")
    info.add_itxt("Comment", "身份证130424198001011237")
    image.save(src, pnginfo=info)
    assert image_metadata_findings(src) == ["PNG text chunk 'Author'", "PNG text chunk 'Comment'"]

    published = publish_image(src, tmp_path / "scan.png")
    assert published.path == tmp_path / "scan.jpg"  # always a JPEG
    with Image.open(published.path) as out:
        assert out.format == "JPEG" and out.mode == "RGB"
        assert near(out.getpixel((50, 50)), BLUE)
        assert near(out.getpixel((150, 50)), WHITE)  # transparent areas are paper-white
        assert not {"Author", "Comment", "exif"} & set(out.info)
    assert image_metadata_findings(published.path) == []


def test_colour_profile_is_applied_then_dropped(tmp_path):
    src = tmp_path / "icc.jpg"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    landscape((64, 48)).save(src, icc_profile=srgb)
    published = publish_image(src, tmp_path / "icc-out.jpg")
    with Image.open(published.path) as out:
        assert "icc_profile" not in out.info
        assert near(out.getpixel((40, 40)), RED)


def test_cmyk_palette_and_multi_picture_images_are_published(tmp_path):
    landscape((64, 48)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    landscape((64, 48)).convert("P").save(tmp_path / "palette.gif", comment=b"secret")
    # MPO: a phone with two cameras stores a second picture, with its own EXIF, after the first.
    landscape((48, 64)).save(tmp_path / "two.jpg", "MPO", save_all=True, append_images=[landscape((24, 32))], exif=camera_exif(1))
    assert "JPEG APP2 segment (MPF)" in image_metadata_findings(tmp_path / "two.jpg")
    assert any(f.endswith("bytes of data after the end of the image") for f in image_metadata_findings(tmp_path / "two.jpg"))
    for name in ("cmyk.jpg", "palette.gif", "two.jpg"):
        published = publish_image(tmp_path / name, tmp_path / "out" / name)
        with Image.open(published.path) as out:
            assert out.mode == "RGB" and sorted(out.size) == [48, 64]
        assert image_metadata_findings(published.path) == []


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the file is damaged"),
        (b"not a photo, a text file called .jpg", "the file is damaged"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "the file is damaged"),  # no Ghostscript
    ],
)
def test_unreadable_files_raise_media_error(tmp_path, content, message):
    src = tmp_path / "board.jpg"
    src.write_bytes(content)
    with pytest.raises(MediaError, match=message):
        publish_image(src, tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()


def test_truncated_jpeg_raises_media_error(photo, tmp_path):
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(photo.read_bytes()[:-400])
    with pytest.raises(MediaError, match="damaged or is not a photo"):
        publish_image(damaged, tmp_path / "out.jpg")


def test_missing_file_raises_media_error(tmp_path):
    with pytest.raises(MediaError, match="the file does not exist"):
        publish_image(tmp_path / "nowhere.jpg", tmp_path / "out.jpg")


# --- metadata findings -----------------------------------------------------------------------


def test_findings_in_committed_fixtures():
    assert image_metadata_findings(FIXTURES / "clean.jpg") == []
    found = image_metadata_findings(FIXTURES / "gps-xmp-comment.jpg")
    assert "GPS location (JPEG APP1)" in found and "XMP metadata (JPEG APP1)" in found and "JPEG comment" in found


def test_findings_name_each_kind_of_metadata(tmp_path):
    clean = tmp_path / "clean.jpg"
    landscape((32, 32)).save(clean)
    assert image_metadata_findings(clean) == []

    clean_bytes = clean.read_bytes()
    assert image_metadata_findings(clean, clean_bytes + b"GPS 36.78N 116.09E") == ["18 bytes of data after the end of the image"]

    exif_only = io.BytesIO()
    landscape((32, 32)).save(exif_only, "JPEG", exif=camera_exif(orientation=1))
    assert image_metadata_findings(tmp_path / "x.jpg", exif_only.getvalue()) == [
        "EXIF metadata (JPEG APP1): BodySerialNumber, DateTime, ExifOffset, GPSInfo, GPSLatitude, GPSLatitudeRef, "
        "GPSLongitude, GPSLongitudeRef, Make, Model, Orientation",
        "GPS location (JPEG APP1)",
    ]

    webp = io.BytesIO()
    landscape((32, 32)).save(webp, "WEBP", exif=camera_exif(), xmp=XMP)
    found = image_metadata_findings(tmp_path / "x.webp", webp.getvalue())
    assert "GPS location (WebP EXIF)" in found and "XMP metadata (WebP)" in found

    png = io.BytesIO()
    landscape((32, 32)).save(png, "PNG", exif=camera_exif())
    assert "GPS location (PNG eXIf)" in image_metadata_findings(tmp_path / "x.png", png.getvalue())

    gif = io.BytesIO()
    landscape((32, 32)).convert("P").save(gif, "GIF", comment=b"household 3")
    assert image_metadata_findings(tmp_path / "x.gif", gif.getvalue()) == ["comment (GIF)"]


def test_unreadable_image_is_a_finding(tmp_path):
    assert image_metadata_findings(tmp_path / "x.jpg", b"\xff\xd8\xff\xe1\x00") == ["unreadable image: its metadata cannot be checked"]
    assert image_metadata_findings(tmp_path / "x.gif", b"GIF89a") == ["unreadable image: its metadata cannot be checked"]


def near(colour, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected))
