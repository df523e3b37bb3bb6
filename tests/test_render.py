import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


@settings(max_examples=500, deadline=None)
@given(
    path=st.lists(st.sampled_from(["a", "b", "x.html", ".", "..", ""]), min_size=1, max_size=4).map("/".join),
    start=st.lists(st.sampled_from(["a", "b", ".", "..", ""]), min_size=1, max_size=3).map("/".join),
)
def test_relpath_is_posixpaths(path, start):
    """The fast path for plain site paths gives posixpath.relpath's answer, whatever the input."""
    import posixpath

    from generator.render import relpath

    try:
        expected = posixpath.relpath(path, start or ".")
    except ValueError:
        with pytest.raises(ValueError):
            relpath(path, start or ".")
        return
    assert relpath(path, start or ".") == expected


@settings(max_examples=1000, deadline=None)
@given(
    target=st.lists(st.sampled_from(["a", "b", "x.html", ".", "..", ""]), min_size=1, max_size=4).map("/".join),
    page=st.lists(st.sampled_from(["a", "b", "p.html", ".", "..", ""]), min_size=1, max_size=3).map("/".join),
    anchor=st.sampled_from(["", "#funds"]),
)
def test_relative_is_posixpaths_relpath_from_the_pages_folder(target, page, anchor):
    """Links are made per folder (`_folder_link`), yet are posixpath.relpath's from the page's folder."""
    import posixpath

    assume(target or not anchor)  # ("#funds" alone is a link within the page)

    try:
        expected = posixpath.relpath(target, posixpath.dirname(page) or ".") + anchor
    except ValueError:
        with pytest.raises(ValueError):
            relative(target + anchor, page)
        return
    assert relative(target + anchor, page) == expected
