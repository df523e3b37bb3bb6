"""Message catalogs: every string a user sees comes from here, in zh-CN or en.

Catalogs are YAML files in `generator/locales/<language>/`, one file per feature
(`core.yaml`, `search.yaml`, …), merged into one catalog per language. Every language has
the same keys (a test checks). Messages use `str.format` placeholders (`{days}`), so
translators see whole sentences.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

LOCALES_DIR = Path(__file__).parent / "locales"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # safe either way; libyaml's is faster
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


@lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.yaml")):
        with open(path, encoding="utf-8") as f:
            for key, text in _flatten(yaml.load(f, Loader=_LOADER) or {}):
                if key in messages:
                    raise ValueError(f"{path.name}: message {key!r} is defined twice in the {language} catalog")
                messages[key] = text
    return messages


def _flatten(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, str(value)


class Translator:
    """`t("status.posting", days=3)`: a message of one catalog, formatted."""

    def __init__(self, language: str):
        self.language = language
        self.messages = catalog(language)

    def __call__(self, key: str, **values) -> str:
        try:
            text = self.messages[key]
        except KeyError:
            # A missing key is a bug in the tool, never in the user's content.
            raise KeyError(f"message {key!r} is missing from the {self.language} catalog") from None
        return text.format(**values) if values else text


def cli_language() -> str:
    """The language of command-line messages: GONGSHI_LANG, else the locale, else English."""
    wanted = os.environ.get("GONGSHI_LANG") or os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    if wanted in LANGUAGES:
        return wanted
    return "zh-CN" if wanted.lower().startswith("zh") else "en"
