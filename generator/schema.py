"""Reading located YAML values into typed records, collecting every problem.

Each record type (config, village, notice) is read by a small function that asks a
`Fields` reader for its fields one by one. The reader converts and checks each value,
records a located problem instead of raising, and finally reports unknown fields with a
"did you mean" hint. Values are checked here, at load time, never later in templates.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from decimal import Decimal
from typing import Callable

from .money import AmountError, parse_amount
from .yamlfile import INVALID, Value, YamlFile

MISSING = object()
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Invalid(Exception):
    """Raised by a converter; the reader turns it into a located problem."""


Converter = Callable[[Value, "Fields"], object]


class Fields:
    """The fields of one YAML mapping, read with converters and checked for strays."""

    def __init__(self, source: YamlFile, value: Value | None, path: str = "", *, allow_extra: bool = False):
        self.source = source
        self.path = path
        self.value = value
        self.seen: set[str] = set()
        self.allow_extra = allow_extra
        self.ok = True
        if value is not None and not value.is_mapping:
            self.problem(value, "", "must be a map of fields")
            self.value = None

    # -- reporting ---------------------------------------------------------------------
    def sub(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def problem(self, at: Value | None, name: str, message: str) -> None:
        self.ok = False
        loc = at.loc if at is not None else (self.value.loc if self.value is not None else None)
        fieldpath = self.sub(name) if name else self.path
        if loc is None:
            from .yamlfile import Loc

            loc = Loc(1, 1)
        self.source.problem(loc, fieldpath, message)

    # -- reading -----------------------------------------------------------------------
    def raw(self, name: str) -> Value | None:
        self.seen.add(name)
        if self.value is None:
            return None
        return self.value.data.get(name)

    def get(self, name: str, convert: Converter, default=MISSING, *, required_message: str | None = None):
        """The converted value of a field; a problem (and None) when missing or invalid."""
        raw = self.raw(name)
        if raw is not None and raw.data is INVALID:
            return None  # already reported where it was read
        if raw is None or raw.data is None:
            if default is MISSING:
                if self.value is not None:
                    self.problem(None, name, required_message or "is required")
                return None
            return default
        try:
            return convert(raw, self.child_path(name))
        except Invalid as exc:
            self.problem(raw, name, str(exc))
            return None

    def child_path(self, name: str) -> "FieldPath":
        return FieldPath(self.source, self.sub(name))

    def finish(self, known_extra: tuple[str, ...] = ()) -> None:
        """Report fields nobody asked for (typos), except inside `extra:`."""
        if self.value is None:
            return
        self.seen.add("extra")
        extra = self.value.data.get("extra")
        if extra is not None and not extra.is_mapping:
            self.problem(extra, "extra", "must be a map of your own fields")
        known = sorted(self.seen | set(known_extra))
        for key, key_loc in self.value.key_locs.items():
            if key in self.seen or self.allow_extra:
                continue
            hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            message = "unknown field"
            if hint:
                message += f" (did you mean '{hint[0]}'?)"
            else:
                message += " (custom fields go under 'extra:')"
            from .yamlfile import Value as V

            self.problem(V(None, key_loc), key, message)

    def extra(self) -> dict:
        raw = self.value.data.get("extra") if self.value is not None else None
        return raw.plain() if raw is not None and raw.is_mapping else {}


class FieldPath:
    """Where a nested value lives: lets converters open nested `Fields` and report problems."""

    def __init__(self, source: YamlFile, path: str):
        self.source = source
        self.path = path

    def fields(self, value: Value) -> Fields:
        return Fields(self.source, value, self.path)

    def item(self, index: int) -> "FieldPath":
        return FieldPath(self.source, f"{self.path}[{index}]")

    def problem(self, at: Value, message: str) -> None:
        self.source.problem(at.loc, self.path, message)


# -- converters: (value, FieldPath) -> python value, raising Invalid -----------------------

def text(value: Value, where: FieldPath) -> str:
    if isinstance(value.data, (dict, list)):
        raise Invalid("must be text")
    if isinstance(value.data, (dt.date, bool)):
        raise Invalid("must be text (put it in quotes)")
    result = str(value.data).strip()
    if not result:
        raise Invalid("must not be empty")
    return result


def phone(value: Value, where: FieldPath) -> str:
    if isinstance(value.data, int) and not isinstance(value.data, bool):
        # 13812345678 unquoted is an int; 0310… would lose its leading zero, so ask for quotes.
        return str(value.data)
    result = text(value, where)
    if not re.fullmatch(r"[+0-9][0-9 ()\-－]*[0-9]", result):
        raise Invalid(f"'{result}' is not a phone number")
    return result


def whole_number(minimum: int = 0, maximum: int | None = None) -> Converter:
    def convert(value: Value, where: FieldPath) -> int:
        if isinstance(value.data, bool) or not isinstance(value.data, int):
            raise Invalid("must be a whole number")
        if value.data < minimum:
            raise Invalid(f"must be at least {minimum}")
        if maximum is not None and value.data > maximum:
            raise Invalid(f"must be at most {maximum}")
        return value.data

    return convert


def date(value: Value, where: FieldPath) -> dt.date:
    data = value.data
    if isinstance(data, dt.datetime):
        return data.date()
    if isinstance(data, dt.date):
        return data
    if isinstance(data, str):
        match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", data.strip())
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                raise Invalid(f"{data} is not a real date") from None
    raise Invalid(f"'{data}' is not a date (write YYYY-MM-DD)")


def amount(value: Value, where: FieldPath) -> Decimal:
    try:
        result = parse_amount(value.data)
    except AmountError as exc:
        raise Invalid(str(exc)) from None
    if result < 0:
        raise Invalid("must not be negative")
    return result


def choice(*options: str) -> Converter:
    def convert(value: Value, where: FieldPath) -> str:
        result = text(value, where)
        if result not in options:
            hint = difflib.get_close_matches(result, options, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise Invalid(f"'{result}' is not one of {', '.join(options)}{suggestion}")
        return result

    return convert


def identifier(value: Value, where: FieldPath) -> str:
    result = text(value, where)
    if not ID_PATTERN.match(result):
        raise Invalid(f"'{result}' is not an id (lower-case letters, digits and '-')")
    return result


def sequence(item: Converter) -> Converter:
    """A list whose items are converted one by one; bad items are reported, good ones kept."""

    def convert(value: Value, where: FieldPath) -> list:
        if not value.is_sequence:
            raise Invalid("must be a list")
        results = []
        for index, child in enumerate(value.data):
            child_where = where.item(index)
            if child.data is INVALID:
                continue
            try:
                converted = item(child, child_where)
            except Invalid as exc:
                child_where.problem(child, str(exc))
                continue
            if converted is not None:
                results.append(converted)
        return results

    return convert


def record(reader: Callable[[Fields], object]) -> Converter:
    """A nested map read by `reader(fields)`; returns None when the map had problems."""

    def convert(value: Value, where: FieldPath):
        if not value.is_mapping:
            raise Invalid("must be a map of fields")
        fields = where.fields(value)
        result = reader(fields)
        fields.finish()
        return result if fields.ok else None

    return convert
