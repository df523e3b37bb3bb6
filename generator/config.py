"""`site_config.yaml`: the site's settings, typed, defaulted and documented.

Every option is listed in `OPTIONS_DOC` (printed by `gongshi config --help` and copied into
docs/configuration.md); unknown keys are errors, custom keys go under `extra:`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import schema
from .errors import ContentError
from .i18n import DEFAULT_LANGUAGE, LANGUAGES
from .yamlfile import YamlFile

CONFIG_FILE = "site_config.yaml"
NOTICE_KINDS = ("fund", "project", "beneficiaries", "plan", "general")
DEFAULT_MIN_POSTING_DAYS = {"fund": 10, "project": 10, "beneficiaries": 10, "plan": 10, "general": 7}


@dataclass(frozen=True)
class PrivacyPolicy:
    names: str = "mask"  # how private persons' names are shown: mask | full | hide
    on_unmasked_pii: str = "fail"  # ID/bank/phone numbers in free text: fail the build | mask them


@dataclass(frozen=True)
class SiteConfig:
    title: str
    base_url: str  # absolute, ends with "/"
    county: str
    language: str = DEFAULT_LANGUAGE
    supervision_phones: tuple[str, ...] = ()
    privacy: PrivacyPolicy = field(default_factory=PrivacyPolicy)
    min_posting_days: dict = field(default_factory=lambda: dict(DEFAULT_MIN_POSTING_DAYS))
    theme: str = "default"
    deploy: str | None = None
    extra: dict = field(default_factory=dict)

    def absolute_url(self, site_path: str) -> str:
        """`notices/x.html` -> `https://host/sub/notices/x.html` (for QR codes, feeds, sitemap)."""
        return self.base_url + site_path.lstrip("/")


OPTIONS_DOC = """\
title               (required) the portal's title, shown on every page
base_url            (required) absolute https:// address where the site is published; QR codes,
                    feeds and the sitemap use it. A trailing "/" is added if missing
county              (required) the county's name
language            zh-CN (default) or en: the language of the site's interface
supervision_phones  list of phone numbers printed on every notice and poster (e.g. "12317")
privacy.names       mask (default: 张*丰) | full | hide: how private persons' names are shown
privacy.on_unmasked_pii
                    fail (default) | mask: what to do when an ID, bank card or private phone
                    number is found in free text
notice_rules.min_posting_days
                    minimum days on the board per notice kind; defaults fund 10, project 10,
                    beneficiaries 10, plan 10, general 7
theme               name of the theme folder (default: the built-in "default")
deploy              optional shell command run after a build by the commit hook
extra               a map of your own keys, passed to templates as config.extra
"""


def _base_url(value, where) -> str:
    url = schema.text(value, where)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise schema.Invalid(f"'{url}' must be an absolute address such as https://example.gov.cn/portal/")
    return url if url.endswith("/") else url + "/"


def _privacy(fields: schema.Fields) -> PrivacyPolicy:
    return PrivacyPolicy(
        names=fields.get("names", schema.choice("mask", "full", "hide"), "mask"),
        on_unmasked_pii=fields.get("on_unmasked_pii", schema.choice("fail", "mask"), "fail"),
    )


def _min_days(fields: schema.Fields) -> dict:
    days = dict(DEFAULT_MIN_POSTING_DAYS)
    for kind in NOTICE_KINDS:
        days[kind] = fields.get(kind, schema.whole_number(0, 366), days[kind])
    return days


def _notice_rules(fields: schema.Fields) -> dict:
    return fields.get("min_posting_days", schema.record(_min_days), dict(DEFAULT_MIN_POSTING_DAYS))


def read_config(source: YamlFile) -> SiteConfig | None:
    fields = schema.Fields(source, source.root)
    values = dict(
        title=fields.get("title", schema.text),
        base_url=fields.get("base_url", _base_url),
        county=fields.get("county", schema.text),
        language=fields.get("language", schema.choice(*LANGUAGES), DEFAULT_LANGUAGE),
        supervision_phones=tuple(fields.get("supervision_phones", schema.sequence(schema.phone), [])),
        privacy=fields.get("privacy", schema.record(_privacy), PrivacyPolicy()),
        min_posting_days=fields.get("notice_rules", schema.record(_notice_rules), dict(DEFAULT_MIN_POSTING_DAYS)),
        theme=fields.get("theme", schema.identifier, "default"),
        deploy=fields.get("deploy", schema.text, None),
    )
    fields.finish()
    if source.problems or any(values[k] is None for k in ("title", "base_url", "county")):
        return None
    return SiteConfig(extra=fields.extra(), **values)


def load_config(root: Path) -> SiteConfig:
    """The config alone (for commands that need no content); raises ContentError."""
    path = root / CONFIG_FILE
    if not path.is_file():
        from .errors import Problem

        raise ContentError([Problem(CONFIG_FILE, 1, 1, "", "file not found: is this a site root?")])
    source = YamlFile(CONFIG_FILE, path.read_text(encoding="utf-8"))
    config = read_config(source) if source.root is not None else None
    if config is None:
        raise ContentError(source.problems)
    return config
