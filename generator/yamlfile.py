"""Safe YAML loading that remembers where every value came from.

Content is loaded with a safe loader (the C one when available: it parses several times
faster), but instead of plain data we keep the composed node tree so each problem can be
reported at the line and column of the value it is about. Any explicit tag that is not a
plain YAML type (`!!python/object`, `!include`, …) is refused: content is data, not code.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import yaml

try:  # libyaml's parser: same safety, several times faster on large repositories
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader

from .errors import Problem

_STD = "tag:yaml.org,2002:"
ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}


@dataclass
class Loc:
    """A position in a source file, 1-based."""

    line: int
    column: int


@dataclass
class Value:
    """A loaded value with its position. Mappings hold `dict[str, Value]`, sequences `list[Value]`."""

    data: object
    loc: Loc
    key_locs: dict = field(default_factory=dict)  # for mappings: key -> Loc of the key itself

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.data, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.data, list)

    def plain(self):
        """The value without positions (for `extra:` maps and tests)."""
        if isinstance(self.data, dict):
            return {k: v.plain() for k, v in self.data.items()}
        if isinstance(self.data, list):
            return [v.plain() for v in self.data]
        return self.data


class _Scalars(yaml.constructor.SafeConstructor):
    pass


def _loc(node) -> Loc:
    return Loc(node.start_mark.line + 1, node.start_mark.column + 1)


class YamlFile:
    """Loads one file; problems are collected, never raised one by one."""

    def __init__(self, relpath: str, text: str):
        self.relpath = relpath
        self.problems: list[Problem] = []
        self.root: Value | None = None
        self._scalars = _Scalars()
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = exc.problem or exc.context or "invalid YAML"
            self.problem(Loc(line, col), "", f"invalid YAML: {reason}")
            return
        except yaml.YAMLError as exc:
            self.problem(Loc(1, 1), "", f"invalid YAML: {exc}")
            return
        if node is None:
            self.root = Value({}, Loc(1, 1))
            return
        self.root = self._convert(node, "")

    def problem(self, loc: Loc, fieldpath: str, message: str) -> None:
        self.problems.append(Problem(self.relpath, loc.line, loc.column, fieldpath, message))

    def _convert(self, node, path: str) -> Value | None:
        loc = _loc(node)
        if node.tag not in ALLOWED_TAGS:
            self.problem(loc, path, f"YAML tag {node.tag.replace(_STD, '!!')} is not allowed")
            return None
        if isinstance(node, yaml.MappingNode):
            items: dict[str, Value] = {}
            key_locs: dict[str, Loc] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in ALLOWED_TAGS:
                    self.problem(_loc(key_node), path, "keys must be plain names")
                    continue
                key = str(self._scalars.construct_object(key_node))
                sub = f"{path}.{key}" if path else key
                if key in items:
                    self.problem(_loc(key_node), sub, "appears twice in the same map")
                    continue
                converted = self._convert(value_node, sub)
                if converted is not None:
                    items[key] = converted
                    key_locs[key] = _loc(key_node)
            return Value(items, loc, key_locs)
        if isinstance(node, yaml.SequenceNode):
            values = []
            for i, child in enumerate(node.value):
                converted = self._convert(child, f"{path}[{i}]")
                if converted is not None:
                    values.append(converted)
            return Value(values, loc)
        try:
            data = self._scalars.construct_object(node)
        except ValueError:
            # e.g. 2024-02-30: looks like a date, is not one.
            self.problem(loc, path, f"{node.value} is not a real date")
            return None
        if isinstance(data, dt.datetime):
            data = data  # kept; the schema decides whether a time is acceptable
        return Value(data, loc)
