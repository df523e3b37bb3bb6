"""Catalogs: the same keys in every language, and every key a template uses exists."""
import re
from pathlib import Path

from generator.i18n import LANGUAGES, catalog

THEME = Path(__file__).parent.parent / "themes" / "default" / "templates"


def test_catalogs_have_the_same_keys():
    keys = [set(catalog(lang)) for lang in LANGUAGES]
    assert keys[0] == keys[1], keys[0] ^ keys[1]


def test_every_literal_key_used_by_templates_and_code_exists():
    used = set()
    sources = list(THEME.glob("*")) + list((Path(__file__).parent.parent / "generator").rglob("*.py"))
    for path in sources:
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_]+\.[a-z_.]+)['"]""", path.read_text(encoding="utf-8")))
    assert used, "no keys found: the pattern is wrong"
    for lang in LANGUAGES:
        keys = set(catalog(lang))
        # `t('kind.' ~ notice.kind)`: a dynamic key's prefix must at least start some keys.
        missing = {k for k in used if k not in keys and not (k.endswith(("_", ".")) and any(x.startswith(k) for x in keys))}
        assert missing == set(), lang


def test_templates_have_no_hard_coded_chinese_text():
    for path in THEME.glob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
        han = re.findall(r"[\u4e00-\u9fff]+", text)
        assert han == [], f"{path.name}: {han}"
