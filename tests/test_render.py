import pytest

from generator.render import relative


@pytest.mark.parametrize("target, page, expected", [
    ("index.html", "index.html", "index.html"),
    ("index.html", "notices/a.html", "../index.html"),
    ("villages/x.html", "notices/a.html", "../villages/x.html"),
    ("assets/style.css", "data/notices/a.html", "../../assets/style.css"),
    ("notices/a.html#funds", "villages/x.html", "../notices/a.html#funds"),
    ("https://example.gov.cn/", "notices/a.html", "https://example.gov.cn/"),
    ("tel:12317", "index.html", "tel:12317"),
])
def test_relative_links(target, page, expected):
    assert relative(target, page) == expected
