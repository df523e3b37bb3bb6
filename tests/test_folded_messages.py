"""Fixed messages folded into the compiled templates (render.FoldedMessages): the same pages
as calling `t` on every render, in both languages; never where a template uses `t` otherwise."""
from __future__ import annotations

import datetime as dt
import re

import jinja2
import pytest
from markupsafe import escape

from conftest import REPO, make_site, tree_bytes
from generator.build import build
from generator.render import FoldedMessages, Renderer, only_calls_t

THEMES = REPO / "themes"


def test_the_built_in_templates_use_t_only_to_call_it():
    lexer = jinja2.Environment().lexer
    templates = [path for path in THEMES.rglob("templates/*") if path.is_file()]
    assert len(templates) > 20
    for path in templates:
        assert only_calls_t(list(lexer.tokenize(path.read_text(encoding="utf-8")))), path


@pytest.mark.parametrize("source, calls_only", [
    ('{{ t("nav.home") }} {{ t("kind." ~ k) }} {{ x.t }} {{ t("a", n=1) }}', True),
    ('{% set t = f %}{{ t("nav.home") }}', False),
    ('{% for t in fs %}{{ t("nav.home") }}{% endfor %}', False),
    ('{% macro t(k) %}{{ k }}{% endmacro %}{{ t("nav.home") }}', False),
    ('{% macro m(t) %}{{ t("nav.home") }}{% endmacro %}', False),
    ('{% from "x.html" import t %}', False),
    ('{% import "x.html" as t %}', False),
    ('{{ f(t) }}', False),
])
def test_only_calls_t(source, calls_only):
    assert only_calls_t(list(jinja2.Environment().lexer.tokenize(source))) is calls_only


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_folded_pages_are_the_pages_of_calls(tmp_path, monkeypatch, language):
    """The demo site built with its fixed messages folded, and built calling `t` on every
    render, byte for byte; in English too."""
    if language == "en":
        root = tmp_path / "demo"
        import shutil

        shutil.copytree(REPO / "content", root / "content")
        shutil.copy(REPO / "site_config.yaml", root / "site_config.yaml")
        config = root / "site_config.yaml"
        text = re.sub(r"(?m)^language:.*\n", "", config.read_text(encoding="utf-8"))
        config.write_text(text + "language: en\n", encoding="utf-8")
    else:
        root = REPO
    today = dt.date(2026, 11, 22)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache-folded"))
    folded = tree_bytes(build(root, tmp_path / "folded", today).out_dir)
    monkeypatch.setattr(FoldedMessages, "filter_stream", lambda self, stream: stream)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache-calls"))
    calls = tree_bytes(build(root, tmp_path / "calls", today).out_dir)
    assert folded.keys() == calls.keys()
    assert [path for path in folded if folded[path] != calls[path]] == []


def test_a_fixed_message_becomes_a_constant_and_the_others_stay_calls(tmp_path):
    site = make_site(tmp_path, files={"themes/mine/templates/x.html":
                                      '{% if k == 0 %}{{ t("no.such.key") }}{% else %}{{ t("nav.home") }}|{{ t("kind." ~ k) }}|{% endif %}',
                                      "site_config.yaml": (REPO / "tests/sites/minimal/site_config.yaml").read_text(encoding="utf-8")
                                      + "theme: mine\n"})
    from generator.config import load_config

    renderer = Renderer(site, load_config(site), dt.date(2026, 11, 22), cache_dir=tmp_path / "cache")
    assert renderer.env.folded_messages is not None
    source = renderer.env.loader.get_source(renderer.env, "x.html")[0]
    code = renderer.env.compile(source, "x.html", raw=True)
    home = renderer.t("nav.home")
    assert str(escape(home)) in code  # a constant in the code
    assert "'nav.home'" not in code and "'kind.'" in code  # ... and the dynamic key still a call
    assert renderer.render("x.html", "x.html", k="fund").startswith(f"{home}|{renderer.t('kind.fund')}|")
    with pytest.raises(KeyError, match="no.such.key"):  # a missing key fails when rendered, as before
        renderer.render("x.html", "x.html", k=0)


def test_a_site_template_that_rebinds_t_turns_folding_off(tmp_path):
    """`t` set to something else in the site's own theme: every call is a call, so a template
    included from the built-in theme sees that `t` too."""
    site = make_site(tmp_path, files={
        "themes/mine/templates/x.html": '{% set t = shout %}{% include "y.html" %}',
        "themes/mine/templates/y.html": '{{ t("nav.home") }}',
        "site_config.yaml": (REPO / "tests/sites/minimal/site_config.yaml").read_text(encoding="utf-8") + "theme: mine\n",
    })
    from generator.config import load_config

    renderer = Renderer(site, load_config(site), dt.date(2026, 11, 22), cache_dir=tmp_path / "cache")
    assert renderer.env.folded_messages is None
    assert renderer.render("x.html", "x.html", shout=lambda key: key.upper()) == "NAV.HOME"


def test_the_compiled_templates_follow_the_language(tmp_path):
    """One cache folder, the language changed between builds: the pages change language (the
    compiled templates are kept by the messages folded into them)."""
    site = make_site(tmp_path)
    cache = tmp_path / "cache"
    from generator.config import load_config

    texts = {}
    for language in ("zh-CN", "en", "zh-CN"):
        config = _with_language(load_config(site), language)
        renderer = Renderer(site, config, dt.date(2026, 11, 22), cache_dir=cache)
        texts.setdefault(language, []).append(renderer.render("404.html", "404.html"))
        assert len([p for p in (cache / "templates").iterdir()]) == 1  # the other language's, removed
    assert texts["zh-CN"][0] == texts["zh-CN"][1] != texts["en"][0]
    assert Renderer(site, _with_language(load_config(site), "en"), dt.date(2026, 11, 22)).t("notfound.title") in texts["en"][0]


def _with_language(config, language):
    import dataclasses

    return dataclasses.replace(config, language=language)


def test_a_broken_site_template_is_reported_when_rendered_not_before(tmp_path):
    site = make_site(tmp_path, files={
        "themes/mine/templates/x.html": "{{ t('nav.home') }",
        "site_config.yaml": (REPO / "tests/sites/minimal/site_config.yaml").read_text(encoding="utf-8") + "theme: mine\n",
    })
    from generator.config import load_config

    renderer = Renderer(site, load_config(site), dt.date(2026, 11, 22), cache_dir=tmp_path / "cache")
    assert renderer.env.folded_messages is None
    with pytest.raises(jinja2.TemplateSyntaxError):
        renderer.render("x.html", "x.html")
